"""DEAM loader: the zip layouts, variable-length dynamic annotations, static-file quirks."""

import numpy as np
import pytest

from dataset_builders import (DEAM_DYNAMIC, deam_sequence, make_deam_copy, write_mp3,
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
    with pytest.raises(DataError, match=r"arousal.csv: song 2 has an empty or NaN value at "
                                        r"sample_19500ms inside its sequence \(line 2\)"):
        read_dynamic(path)
    cells[10] = "NaN"  # written out as text: the same
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"song 2 has an empty or NaN value at sample_19500ms"):
        read_dynamic(path)
    cells[10], cells[60] = "0.1", "NaN"  # song 2's last value: a trailing NaN ends it
    lines[1] = ",".join(cells)
    path.write_text("\n".join(lines) + "\n")
    assert len(read_dynamic(path)[1][0]) == 59


def test_lengths_differing_by_more_than_a_sample_and_bad_header_are_errors(deam_root):
    path = deam_root / DEAM_DYNAMIC / "valence.csv"
    text = path.read_text().splitlines()
    cells = text[-1].split(",")
    cells[-2:] = ["", ""]  # song 2001 two samples shorter in valence than in arousal
    path.write_text("\n".join(text[:-1] + [",".join(cells)]) + "\n")
    with pytest.raises(DataError, match=r"lengths differ by more than 1 sample for song\(s\) "
                                        r"2001 \(arousal 75, valence 73\)"):
        load_deam_annotations(deam_root)
    path.write_text(path.read_text().replace("sample_16000ms", "sample_16001ms"))
    with pytest.raises(DataError, match="'sample_16001ms' where 'sample_16000ms' was expected"):
        read_dynamic(path)


def test_duplicated_song_ids_are_errors_naming_file_and_lines(deam_root, capsys):
    for target in ("arousal", "valence"):
        path = deam_root / DEAM_DYNAMIC / f"{target}.csv"
        original = path.read_text()
        lines = original.splitlines()
        path.write_text("\n".join(lines + [lines[2]]) + "\n")  # song 3 again at the end
        with pytest.raises(DataError, match=rf"{target}.csv: song 3 is listed twice \(lines 3 and 5\)"):
            read_dynamic(path)
        assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 1
        assert f"{target}.csv: song 3 is listed twice" in capsys.readouterr().out
        path.write_text(original)
    static = next(deam_root.rglob("static_annotations_averaged_songs_2000_2058.csv"))
    static.write_text(static.read_text() + "3, 4.5, 1.2, 7, 5.5, 1.3\n")  # 3 is in 1_2000 too
    with pytest.raises(DataError, match=r"song id\(s\) \[3\] appear in two static files "
                                        r"\(static_annotations_averaged_songs_1_2000.csv, "
                                        r"static_annotations_averaged_songs_2000_2058.csv\)"):
        load_deam_annotations(deam_root)


# --- DEAM exactly as distributed: every quirk of the real annotation files -----------------

@pytest.fixture
def distributed(tmp_path):
    from dataset_builders import make_deam_distributed
    return make_deam_distributed(tmp_path / "DEAM")


def test_distributed_files_have_every_quirk(distributed):
    # the builder itself: the facts measured on DEAM's own files
    arousal = (distributed / DEAM_DYNAMIC / "arousal.csv").read_text().splitlines()
    valence = (distributed / DEAM_DYNAMIC / "valence.csv").read_text().splitlines()
    assert len(arousal[0].split(",")) == 1225 and arousal[0].endswith("sample_626500ms")
    assert len(valence[0].split(",")) == 1224 and valence[0].endswith("sample_626000ms")
    assert len(arousal[1].split(",")) == 61  # ragged: song 2's row ends after its 60 values
    assert "-2.77555756156e-18" in arousal[2]
    static = next(distributed.rglob("static_annotations_averaged_songs_2000_2058.csv"))
    assert "valence_ max_mean" in static.read_text().splitlines()[0]
    assert not list((distributed / "MEMD_audio").iterdir())


def test_distributed_ragged_rows_and_unequal_headers_load(distributed):
    from dataset_builders import DEAM_UNEQUAL, deam_distributed_sequence
    loaded = load_deam_annotations(distributed)
    assert len(loaded.song_ids) == 17
    excerpts = loaded.song_ids[loaded.song_ids <= 2000]
    assert (loaded.lengths[:len(excerpts)] == 60).all()  # 15.0 .. 44.5 s
    np.testing.assert_allclose(loaded.sample_times(1001)[[0, -1]], [15.0, 44.5])
    assert loaded.values["arousal"][1][5] == np.float32(-2.77555756156e-18)
    for song_id, pair in DEAM_UNEQUAL.items():  # the seven songs keep their common length
        row = int(np.searchsorted(loaded.song_ids, song_id))
        assert loaded.lengths[row] == min(pair)
        for target in ("arousal", "valence"):
            n = pair[0 if target == "arousal" else 1]
            np.testing.assert_allclose(loaded.values[target][row],
                                       deam_distributed_sequence(song_id, target, n)[:min(pair)], atol=1e-6)
    assert loaded.lengths.max() == 1223  # song 2011: arousal reaches the last header column
    assert "7 song(s) have one annotation sample more in one target" in loaded.notes[0]
    assert "2011 (arousal 1224, valence 1223)" in loaded.notes[0]


def test_distributed_static_swap_is_detected_from_the_data_and_corrected(distributed):
    from dataset_builders import deam_distributed_lengths, deam_distributed_sequence
    loaded = load_deam_annotations(distributed)
    static = loaded.static
    assert list(static.columns) == ["valence_mean", "valence_std", "arousal_mean", "arousal_std"]
    lengths = deam_distributed_lengths()
    for song_id in (2, 3, 1001, 2002):  # after the correction, arousal_mean follows dynamic arousal
        n = min(lengths[song_id])
        for target in ("arousal", "valence"):
            dynamic_mean = deam_distributed_sequence(song_id, target, n).mean()
            assert abs(static.loc[song_id, f"{target}_mean"] - (5 + 4 * dynamic_mean)) < 0.3
    raw = next(distributed.rglob("static_annotations_averaged_songs_1_2000.csv")).read_text()
    assert raw.splitlines()[1].startswith(f"2, {static.loc[2, 'arousal_mean']:.1f}, ")  # swapped in the file
    swap = [n for n in loaded.notes if "swapped in the file and were exchanged back" in n]
    assert len(swap) == 1 and "ids 1..1000 (2013, 5 songs)" in swap[0]
    assert sum("columns are as labelled" in n for n in loaded.notes) == 2  # 2014 and 2015 checked


def test_static_swap_left_alone_when_the_data_cannot_tell(distributed):
    from mer.data.deam import correct_static_swap
    loaded = load_deam_annotations(distributed)
    few = loaded.static.loc[[2, 3, 4]]
    _, notes = correct_static_swap(few, loaded.song_ids, loaded.values)
    assert notes == ["static annotations of ids 1..1000 (2013, 3 songs): too few songs to check "
                     "arousal against valence from the data (at least 4); kept as labelled"]
    flat = loaded.static.copy()
    flat.loc[[2, 3, 4, 5, 7], ["arousal_mean", "valence_mean"]] = 5.0
    kept, notes = correct_static_swap(flat, loaded.song_ids, loaded.values)
    assert "cannot tell from the data" in notes[0] and (kept.loc[2] == flat.loc[2]).all()


def test_distributed_annotations_pass_the_data_check_with_notes_only(distributed, capsys):
    assert main(["data", "check", str(distributed), "--dataset", "deam"]) == 0
    out = capsys.readouterr().out
    assert "problems" not in out and "result: OK" in out
    assert "7 song(s) have one annotation sample more" in out
    assert "arousal and valence columns are swapped in the file and were exchanged back" in out
    assert "no audio in" in out and "only the features DEAM ships (feature set deam260" in out


def test_data_check_deam(deam_root, capsys):
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 0
    out = capsys.readouterr().out
    assert "3 song(s) with both audio and annotations" in out and "60..75 samples" in out
    assert "no features/ folder" in out
    (deam_root / "features").mkdir()
    (deam_root / "features" / "2.csv").write_text("frameTime;x\n0;1\n")
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 0
    assert "features/: 1 of 3 usable song(s) have a feature file (the deam260 set needs all); " \
           "missing: 3, 2001" in capsys.readouterr().out
    write_mp3(deam_root / "MEMD_audio" / "999.mp3")  # audio without annotations: a note
    (deam_root / "MEMD_audio" / "3.mp3").unlink()
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 1
    out = capsys.readouterr().out
    assert "1 annotated song(s) have no audio" in out and "FAILED" in out
    assert "datasets.deam.allow_missing_audio: true` to train on the 2 complete song(s)" in out
    assert "1 clip(s) have audio but no annotations and are skipped by the pipeline: 999" in out


# --- DEAM in the pipeline: import, variable-length features, deam260 ---------------------

LENGTHS = {2: 6, 3: 9, 2001: 13}  # frames 29.. per song: audio must reach 14.5 + 0.5 * length s


@pytest.fixture
def deam_with_features(tmp_path):
    return make_deam_copy(tmp_path / "deam", lengths=LENGTHS, audio_seconds=22.0, features=True)


def test_import_copies_one_read_only_layout_and_loads_as_annotations(tmp_path, deam_with_features):
    from mer.data.imports import import_deam_dataset
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
    assert layout.input_paths(raw, [3], precomputed=True) == [raw / "features" / "3.csv"]
    assert layout.input_paths(raw, [3], precomputed=False) == [raw / "MEMD_audio" / "3.mp3"]
    assert not (raw / "features" / "3.csv").stat().st_mode & 0o222  # raw data is read-only


def test_import_refuses_a_copy_that_fails_the_check(tmp_path, deam_with_features):
    from mer.data.imports import import_deam_dataset

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
        extract_shard(layout.input_paths(deam_with_features, part, False), part, "spectral",
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
    from mer.data.imports import extract_deam
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


def test_deam_partial_audio_fails_by_default_and_uses_the_complete_songs_when_allowed(tmp_path):
    from dataset_builders import make_deam_distributed
    from mer.data.imports import import_deam_dataset
    from mer.data.layouts import dataset_layout, import_record
    copy = make_deam_distributed(tmp_path / "DEAM", short=True, audio_seconds=0.6, audio_ids=[2, 1001, 2002])
    with pytest.raises(DataError, match=r"14 annotated song\(s\) have no audio .* set "
                                        r"`datasets.deam.allow_missing_audio: true` to train on the 3"):
        import_deam_dataset(copy, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    raw = tmp_path / "raw"
    import_deam_dataset(copy, raw, allow_missing_audio=True)
    assert import_record(raw)["song_ids"] == [2, 1001, 2002] and len(import_record(raw)["missing_audio"]) == 14
    annotations = dataset_layout("deam").load_annotations(raw)
    assert annotations.song_ids.tolist() == [2, 1001, 2002] and annotations.lengths.tolist() == [60, 60, 11]
    # a grid on DEAM's shipped features alone needs no audio: every song, a note
    raw_all = tmp_path / "raw_all"
    report = import_deam_dataset(copy, raw_all, needs_audio=False)
    assert len(report.used) == 17 and any("not needed" in n for n in report.notes)
    with pytest.raises(DataError, match=r"no features/ folder .* which the grid uses"):
        import_deam_dataset(copy, tmp_path / "x", needs_audio=False, needs_features=True)


def test_check_without_annotations_still_reports_the_audio(deam_root, capsys):
    import shutil
    shutil.rmtree(deam_root / "annotations")
    assert main(["data", "check", str(deam_root), "--dataset", "deam"]) == 1
    out = capsys.readouterr().out
    assert f"audio:       {deam_root / 'MEMD_audio'}" in out and "annotations: not found" in out
    assert "no 'dynamic (per second annotations)' folder inside" in out


def test_damaged_dynamic_files_raise_only_data_errors(tmp_path):
    # random damage to a real-format file: a DataError naming the file, or a clean load
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    from dataset_builders import deam_dynamic_csv
    original = deam_dynamic_csv("arousal", {2: 8, 3: 5, 2001: 10})

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(st.tuples(st.integers(0, len(original) - 1),
                              st.sampled_from(["", ",", "\n", "x", "nan", "inf", "1e999", "-", "\"", "3"])),
                    min_size=1, max_size=6))
    def damaged(edits):
        text = original
        for position, insert in edits:
            text = text[:position] + insert + text[position + 1:]
        path = tmp_path / "arousal.csv"
        path.write_text(text)
        try:
            ids, sequences = read_dynamic(path)
        except DataError as error:
            assert str(path) in str(error)
            return
        assert len(ids) == len(sequences) and all(np.isfinite(s).all() and len(s) for s in sequences)

    damaged()
