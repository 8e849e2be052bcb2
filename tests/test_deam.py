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
    assert "no features/ folder" in out
    (deam_root / "features").mkdir()
    (deam_root / "features" / "2.csv").write_text("frameTime;x\n0;1\n")
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 0
    assert "features/: 1 of 3 annotated song(s) have a feature file (the deam260 set needs all); " \
           "missing: 3, 2001" in capsys.readouterr().out
    (deam_root / "MEMD_audio" / "3.mp3").unlink()
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 1
    out = capsys.readouterr().out
    assert "1 annotated song(s) have no audio" in out and "FAILED" in out


# --- DEAM in the pipeline: import, variable-length features, deam260 ---------------------

LENGTHS = {2: 6, 3: 9, 2001: 13}  # frames 29.. per song: audio must reach 14.5 + 0.5 * length s


@pytest.fixture
def deam_with_features(tmp_path):
    return make_deam_copy(tmp_path / "deam", lengths=LENGTHS, audio_seconds=22.0, features=True)


def test_import_copies_one_read_only_layout_and_loads_as_annotations(tmp_path, deam_with_features):
    from mer.data.check import import_deam_dataset
    from mer.data.layouts import dataset_layout

    (deam_with_features / "MEMD_audio" / "._2.mp3").write_bytes(b"mac")  # skipped, not copied
    raw = tmp_path / "raw"
    import_deam_dataset(deam_with_features, raw)
    layout = dataset_layout("deam")
    annotations = layout.load_annotations(raw)
    assert annotations.song_ids.tolist() == [2, 3, 2001]
    assert annotations.lengths_of([2001, 2]).tolist() == [13, 6]
    values = annotations.target("valence")
    assert values.shape == (3, 13) and np.isnan(values[0, 6:]).all()
    np.testing.assert_allclose(values[1, :9], deam_sequence(3, "valence", 9), atol=1e-6)
    assert sorted(p.name for p in (raw / "MEMD_audio").iterdir()) == ["2.mp3", "2001.mp3", "3.mp3"]
    assert layout.input_paths(raw, [3], "deam260") == [raw / "features" / "3.csv"]
    assert layout.input_paths(raw, [3], "spectral") == [raw / "MEMD_audio" / "3.mp3"]
    assert not (raw / "features" / "3.csv").stat().st_mode & 0o222  # raw data is read-only


def test_import_refuses_a_copy_that_fails_the_check(tmp_path, deam_with_features):
    from mer.data.check import import_deam_dataset

    (deam_with_features / "MEMD_audio" / "3.mp3").unlink()
    with pytest.raises(DataError, match=r"datasets.deam.path.*does not pass the check"):
        import_deam_dataset(deam_with_features, tmp_path / "raw")
    assert not (tmp_path / "raw").exists()


def test_variable_length_shards_merge_into_a_ragged_table(tmp_path, deam_with_features):
    from mer.data.layouts import dataset_layout
    from mer.features import extract_file_features, extract_shard, load_features, merge_shards
    from mer.features.storage import annotated_frames

    layout, ids = dataset_layout("deam"), [2001, 2, 3]
    for name, part in (("a", ids[:1]), ("b", ids[1:])):
        extract_shard(layout.input_paths(deam_with_features, part, "spectral"), part, "spectral",
                      tmp_path / f"{name}.npz", lengths=[LENGTHS[s] for s in part], progress=False)
    merge_shards([tmp_path / "a.npz", tmp_path / "b.npz"], tmp_path / "v.npy", tmp_path / "i.json")
    table = load_features(tmp_path / "v.npy", tmp_path / "i.json")
    assert table.song_ids.tolist() == [2, 3, 2001] and table.lengths.tolist() == [6, 9, 13]
    assert table.values.shape == (28, 197)
    alone = extract_file_features(layout.audio_path(deam_with_features, 2001), ["spectral"],
                                  frames=annotated_frames(13))["spectral"]
    np.testing.assert_array_equal(table.song(2001), alone)
    padded = table.rows([3, 2001])
    assert padded.shape == (2, 13, 197) and (padded[0, 9:] == 0).all()
    np.testing.assert_array_equal(padded[1], alone)


def test_deam260_reads_the_rows_of_the_annotated_frames(tmp_path, deam_with_features):
    from dataset_builders import DEAM_FEATURE_COLUMNS
    from mer.data.deam import feature_path, read_frame_features
    from mer.features import extract_shard

    path = feature_path(deam_with_features, 3)
    values, columns = read_frame_features(path, np.array([29, 30]))
    assert columns == DEAM_FEATURE_COLUMNS and values.shape == (2, 260)
    rows = np.loadtxt(path, delimiter=";", skiprows=1, dtype=np.float32)
    np.testing.assert_array_equal(values, rows[[29, 30], 1:])  # frameTime 14.5 s and 15.0 s
    extract_shard([path], [3], "deam260", tmp_path / "s.npz", lengths=[9], progress=False)
    with np.load(tmp_path / "s.npz") as shard:
        assert shard["columns"].tolist() == DEAM_FEATURE_COLUMNS
        np.testing.assert_array_equal(shard["values"], rows[29:38, 1:])
    with pytest.raises(DataError, match=r"3.csv: no row for frame\(s\) \[44"):
        read_frame_features(path, np.array([43, 44]))  # 22 s of rows: frames 0..43
    path.chmod(0o644)
    path.write_text("frameTime,a,b\n0,1,2\n")
    with pytest.raises(DataError, match="no frameTime column"):
        read_frame_features(path, np.array([0]))


def test_download_the_deam_zips_then_extract_check_and_lay_out(tmp_path, deam_with_features):
    from dataset_builders import FileServer
    from mer.data.check import extract_deam
    from mer.data.download import LOCK_FILE, dataset_remotes, fetch_archives
    from mer.data.layouts import dataset_layout

    zips = {name: zip_folder(deam_with_features, tmp_path / name, [member]).read_bytes()
            for name, member in (("DEAM_audio.zip", "MEMD_audio"),
                                 ("DEAM_Annotations.zip", "annotations"),
                                 ("features.zip", "features"))}
    with FileServer({f"/DEAM/{name}": data for name, data in zips.items()}) as server:
        urls = {key: f"{server.url}/DEAM/{name}" for key, name in
                (("audio", "DEAM_audio.zip"), ("annotations", "DEAM_Annotations.zip"),
                 ("features", "features.zip"))}
        folder = tmp_path / "data/raw/deam-archives"
        paths = fetch_archives(dataset_remotes("deam", urls), folder, progress=False)
    raw = extract_deam(list(paths.values()), tmp_path / "data/raw/deam")
    assert (folder / LOCK_FILE).is_file()  # recorded once the archives extracted
    annotations = dataset_layout("deam").load_annotations(raw)
    assert annotations.lengths_of([2, 3, 2001]).tolist() == [6, 9, 13]
    assert (raw / "features" / "2001.csv").is_file() and (raw / "MEMD_audio" / "3.mp3").is_file()
    assert not list(raw.parent.glob(".deam.*"))  # no scratch left behind

    # an archive without the audio is refused with the check's report, and nothing is written
    with pytest.raises(DataError, match="downloaded DEAM archives.*does not pass the check"):
        extract_deam([paths["annotations"]], tmp_path / "other")
    assert not (tmp_path / "other").exists()
