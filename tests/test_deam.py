"""DEAM loader: the zip layouts, variable-length dynamic annotations, static-file quirks."""

import numpy as np
import pytest

from dataset_builders import (DEAM_DYNAMIC, deam_sequence, make_deam_copy,
                              zip_folder)
from mer.cli import main
from mer.data.deam import audio_path, load_deam_annotations, read_dynamic
from mer.data.download import safe_extract
from mer.errors import DataError


@pytest.fixture
def deam_root(tmp_path):
    return make_deam_copy(tmp_path / "deam")


def test_loads_the_zips_unpacked_into_one_folder(tmp_path, deam_root):
    annotations = zip_folder(deam_root, tmp_path / "DEAM_Annotations.zip", ["annotations"])
    audio = zip_folder(deam_root, tmp_path / "DEAM_audio.zip", ["MEMD_audio"])
    root = tmp_path / "unpacked"
    safe_extract(annotations, root)
    safe_extract(audio, root)
    loaded = load_deam_annotations(root)
    assert loaded.song_ids.tolist() == [2, 3, 2001]
    assert loaded.lengths.tolist() == [60, 60, 75]  # the full song is longer
    np.testing.assert_allclose(loaded.values["valence"][2], deam_sequence(2001, "valence", 75), atol=1e-6)
    assert audio_path(root, 2001) == root / "MEMD_audio" / "2001.mp3" and audio_path(root, 2001).is_file()
    np.testing.assert_allclose(loaded.sample_times(2)[[0, -1]], [15.0, 44.5])


def test_padded_matrix_and_mask(deam_root):
    loaded = load_deam_annotations(deam_root)
    values, mask = loaded.padded("arousal")
    assert values.shape == mask.shape == (3, 75)
    assert mask.sum(axis=1).tolist() == [60, 60, 75]
    assert np.isnan(values[0, 60:]).all() and not np.isnan(values[mask]).any()
    np.testing.assert_allclose(values[1, :60], deam_sequence(3, "arousal", 60), atol=1e-6)


def test_static_files_with_spaces_and_valence_first(deam_root):
    static = load_deam_annotations(deam_root).static
    assert list(static.columns) == ["valence_mean", "valence_std", "arousal_mean", "arousal_std"]
    assert static.loc[2, "valence_mean"] == 3.0 and static.loc[2, "arousal_mean"] == 6.0
    assert static.loc[2001, "arousal_mean"] == 5.5  # from the 2000_2058 file, extra column ignored


def test_gap_inside_a_sequence_is_an_error(deam_root):
    path = deam_root / DEAM_DYNAMIC / "arousal.csv"
    lines = path.read_text().splitlines()
    cells = lines[1].split(",")
    cells[10] = ""
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"arousal.csv: song 2 has an empty value at sample_19500ms"):
        read_dynamic(path)


def test_mismatched_lengths_and_bad_header_are_errors(deam_root):
    path = deam_root / DEAM_DYNAMIC / "valence.csv"
    text = path.read_text().splitlines()
    cells = text[-1].split(",")
    cells[-1] = ""  # song 2001 one sample shorter in valence than in arousal
    path.write_text("\n".join(text[:-1] + [",".join(cells)]) + "\n")
    with pytest.raises(DataError, match=r"different lengths for song\(s\) \[2001\]"):
        load_deam_annotations(deam_root)
    path.write_text(path.read_text().replace("sample_16000ms", "sample_16001ms"))
    with pytest.raises(DataError, match="'sample_16001ms' where 'sample_16000ms' was expected"):
        read_dynamic(path)


def test_data_check_deam(deam_root, capsys):
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 0
    out = capsys.readouterr().out
    assert "3 song(s) with both audio and annotations" in out and "60..75 samples" in out
    (deam_root / "MEMD_audio" / "3.mp3").unlink()
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 1
    out = capsys.readouterr().out
    assert "1 annotated song(s) have no audio" in out and "FAILED" in out
