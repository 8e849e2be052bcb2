"""`mer data check` and the local-copy import: good copies pass, every breakage is reported."""

import copy

import numpy as np
import pytest
import yaml

from dataset_builders import REPO, SAMPLE_IDS, make_emomusic_copy, write_mp3
from mer.audio import load_audio
from mer.cli import main
from mer.config import validate_params
from mer.data.check import check_dataset, import_local_dataset
from mer.data.emomusic import load_annotations
from mer.errors import ConfigError, DataError
from mer.frames import SAMPLE_RATE

SCHEMA = REPO / "workflow/schemas/params.schema.yaml"


@pytest.fixture
def good_copy(tmp_path):
    return make_emomusic_copy(tmp_path / "emomusic")


def _edit(path, old, new):
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_good_copy_passes(good_copy, capsys):
    assert main(["data", "check", str(good_copy)]) == 0
    out = capsys.readouterr().out
    assert "5 song(s) with both audio and annotations" in out and "result: OK" in out
    assert "the full emomusic set has 744" in out


def test_broken_copy_lists_every_problem(good_copy, capsys):
    notes = good_copy / "annotations"
    (good_copy / "clips_45seconds" / "3.mp3").unlink()                     # annotated, no audio
    write_mp3(good_copy / "clips_45seconds" / "999.mp3")                   # audio, no annotation
    (good_copy / "clips_45seconds" / "5.mp3").write_bytes(b"")            # empty clip
    _edit(notes / "valence_cont_average.csv", "sample_30000ms", "sample_30000")  # column renamed
    lines = (notes / "arousal_cont_average.csv").read_text().splitlines()
    lines[3] = lines[3].replace(",", ",1.5,", 1).rsplit(",", 1)[0]          # song 4: 1.5, shifted
    (notes / "arousal_cont_average.csv").write_text("\n".join(lines) + "\n")
    _edit(notes / "static_annotations.csv", "7,5.8", "7,12")               # static out of 1..9
    assert main(["data", "check", str(good_copy)]) == 1
    out = capsys.readouterr().out
    assert "valence_cont_average.csv: missing column(s) ['sample_30000ms']" in out
    assert "arousal_cont_average.csv: value outside [-1, 1]" in out and "song(s) 4;" in out
    assert "static_annotations.csv: mean_arousal outside [1, 9]" in out
    assert "1 annotated song(s) have no audio" in out and ": 3\n" in out
    assert "1 clip(s) are empty (0 bytes): 5.mp3" in out
    assert "1 clip(s) have no annotations and are skipped by the pipeline: 999" in out
    assert "result: FAILED" in out


def test_nan_is_reported(good_copy):
    notes = good_copy / "annotations"
    lines = (notes / "arousal_cont_average.csv").read_text().splitlines()
    cells = lines[2].split(",")
    cells[7] = ""
    lines[2] = ",".join(cells)
    (notes / "arousal_cont_average.csv").write_text("\n".join(lines) + "\n")
    report = check_dataset(good_copy, "emomusic")
    text = report.format()
    assert "missing values for song(s) [3]" in text
    assert not report.ok


def test_valence_without_a_song_of_arousal(good_copy):
    lines = (good_copy / "annotations/valence_cont_average.csv").read_text().splitlines()
    (good_copy / "annotations/valence_cont_average.csv").write_text("\n".join(lines[:-1]) + "\n")
    report = check_dataset(good_copy, "emomusic")
    assert "arousal and valence files list different songs: 7" in report.format()


def test_missing_annotations_folder_and_not_a_folder(tmp_path, capsys):
    (tmp_path / "clips").mkdir()
    assert main(["data", "check", str(tmp_path)]) == 1
    assert "no arousal_cont_average.csv anywhere inside" in capsys.readouterr().out
    assert main(["data", "check", str(tmp_path / "nope")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_real_length_clip_with_id3_cover_art_decodes(tmp_path):
    path = write_mp3(tmp_path / "2.mp3", 45.07, cover_art=True)
    assert path.read_bytes()[:3] == b"ID3"
    audio = load_audio(path)
    assert 45.0 <= audio.size / SAMPLE_RATE <= 45.2
    assert np.abs(audio).max() > 0.1


def test_decode_flags_clips_too_short_for_their_annotations(good_copy, capsys):
    write_mp3(good_copy / "clips_45seconds" / "2.mp3", 45.07, cover_art=True)
    assert main(["data", "check", str(good_copy), "--decode"]) == 1
    out = capsys.readouterr().out
    assert out.count("but its annotations run to 45.0 s") == 4 and "2.mp3: " not in out


def test_import_local_copies_read_only_and_refuses_broken(good_copy, tmp_path):
    target = import_local_dataset(good_copy, tmp_path / "data/raw/local")
    raw = tmp_path / "data/raw/local"
    assert load_annotations(raw).song_ids.tolist() == SAMPLE_IDS
    assert all(p.stat().st_mode & 0o222 == 0 for p in raw.rglob("*") if p.is_file())  # immutable
    assert (good_copy / "clips_45seconds/2.mp3").is_file()  # the user's copy is untouched
    assert target.ok
    (good_copy / "clips_45seconds/7.mp3").unlink()
    with pytest.raises(DataError, match="datasets.local.path: the copy at .* does not pass"):
        import_local_dataset(good_copy, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_dataset_local_needs_a_path():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    local = copy.deepcopy(params)
    local["dataset"] = "local"
    with pytest.raises(ConfigError, match=r"`datasets.local.path`: required when `dataset` is local"):
        validate_params(local, SCHEMA)
    local["datasets"]["local"]["path"] = "/data/emoMusic"
    validate_params(local, SCHEMA)
    local["datasets"]["emomusic"]["sha256"]["clips"] = "abc"
    with pytest.raises(ConfigError, match="datasets.emomusic.sha256.clips"):
        validate_params(local, SCHEMA)
