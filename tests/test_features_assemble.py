"""A set cut from other sets' files is the set extracted from audio, byte for byte."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from mer.errors import DataError
from mer.features import (FEATURE_SETS, FeatureSet, assemble_feature_set, extract_shard,
                          merge_shards, plan_extraction)
from mer.frames import SAMPLE_RATE


def test_the_default_grid_extracts_three_of_its_five_sets():
    plan = plan_extraction(["compare", "chroma", "cqt", "chroma_cqt", "spectral"])
    assert {name for name, sources in plan.items() if not sources} == {"compare", "cqt",
                                                                        "spectral"}
    assert plan["chroma"] == ("spectral",)
    assert plan["chroma_cqt"] == ("spectral", "cqt")  # chroma blocks from spectral, cqt from cqt


def test_sets_without_shared_blocks_and_shipped_sets_are_extracted():
    assert plan_extraction(["spectral", "compare"]) == {"spectral": (), "compare": ()}
    assert plan_extraction(["chroma"]) == {"chroma": ()}
    # deam260 is read from DEAM's files and deam_features shares only its column names
    assert plan_extraction(["deam260", "deam_features"]) == {"deam260": (), "deam_features": ()}
    # of two sets where one holds the other, the larger is extracted once
    assert plan_extraction(["cqt", "chroma_cqt"]) == {"cqt": ("chroma_cqt",), "chroma_cqt": ()}


@pytest.fixture
def small_sets(monkeypatch):
    """Three cheap sets: 'wide' holds all of 'narrow'; 'mixed' takes a block from each."""
    sets = [FeatureSet("wide", ("rms", "zcr", "centroid"), 3, "test"),
            FeatureSet("flat", ("flatness",), 1, "test"),
            FeatureSet("narrow", ("zcr", "rms"), 2, "test"),
            FeatureSet("mixed", ("flatness", "centroid"), 2, "test")]
    for fset in sets:
        monkeypatch.setitem(FEATURE_SETS, fset.name, fset)
    return [fset.name for fset in sets]


def _extracted(tmp_path, clips, name):
    shard = tmp_path / f"{name}.npz"
    extract_shard(list(clips.values()), list(clips), name, shard, progress=False)
    values, index = tmp_path / f"{name}.npy", tmp_path / f"{name}.json"
    merge_shards([shard], values, index)
    return values, index


def test_assembled_files_are_the_extracted_files_byte_for_byte(tmp_path, small_sets):
    rng = np.random.default_rng(0)
    clips = {}
    for song in (4, 2):
        clips[song] = tmp_path / f"{song}.wav"
        soundfile.write(clips[song], 0.1 * rng.standard_normal(int(45.1 * SAMPLE_RATE)),
                        SAMPLE_RATE, subtype="FLOAT")
    plan = plan_extraction(small_sets)
    assert plan == {"wide": (), "flat": (), "narrow": ("wide",), "mixed": ("flat", "wide")}
    files = {name: _extracted(tmp_path, clips, name) for name in small_sets}
    for name in ("narrow", "mixed"):
        out = tmp_path / "assembled"
        out.mkdir(exist_ok=True)
        assemble_feature_set(name, [files[source] for source in plan[name]],
                             out / f"{name}.npy", out / f"{name}.json")
        assert (out / f"{name}.npy").read_bytes() == files[name][0].read_bytes()
        assert (out / f"{name}.json").read_text() == files[name][1].read_text()


def test_sources_of_other_songs_or_without_the_columns_are_refused(tmp_path, small_sets):
    rng = np.random.default_rng(1)
    clip = tmp_path / "1.wav"
    soundfile.write(clip, 0.1 * rng.standard_normal(int(45.1 * SAMPLE_RATE)), SAMPLE_RATE)
    wide = _extracted(tmp_path, {1: clip}, "wide")
    flat = _extracted(tmp_path, {1: clip}, "flat")
    with pytest.raises(DataError, match=r"column\(s\) \['flatness'\] are in none of"):
        assemble_feature_set("mixed", [wide], tmp_path / "m.npy", tmp_path / "m.json")
    other = tmp_path / "other"
    other.mkdir()
    other_wide = _extracted(other, {7: clip}, "wide")
    with pytest.raises(DataError, match="songs or frames differ"):
        assemble_feature_set("mixed", [flat, other_wide], tmp_path / "m.npy", tmp_path / "m.json")
    assert not (tmp_path / "m.npy").exists() and not (tmp_path / "m.json").exists()
