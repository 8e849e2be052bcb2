"""`mer data check` and the local-copy import: good copies pass, every breakage is reported."""

import copy
import json

import numpy as np
import pytest
import yaml

from dataset_builders import REPO, SAMPLE_IDS, make_emomusic_copy, write_mp3
from mer.audio import load_audio
from mer.cli import main
from mer.config import validate_params
from mer.data.check import check_dataset
from mer.data.imports import import_local_dataset
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
    assert "1 annotated song(s) have no audio" in out and ": 3. Add the clips, or set " \
        "`datasets.local.allow_missing_audio: true`" in out
    assert "1 clip(s) are empty (0 bytes): 5.mp3" in out
    assert "1 clip(s) have audio but no annotations and are skipped by the pipeline: 999" in out
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
    write_mp3(tmp_path / "clips" / "2.mp3")
    assert main(["data", "check", str(tmp_path)]) == 1
    out = capsys.readouterr().out  # the clips are there: only the annotations are missing
    assert f"audio:       {tmp_path / 'clips'}" in out and "audio:       not found" not in out
    assert "annotations: not found" in out
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
    assert out.count("decodes to 1.00 s of audio, but its annotations need 45.0 s; replace "
                     "it with a complete copy") == 4 and "2.mp3: " not in out


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


def test_empty_clips_folder_still_finds_the_annotations(good_copy, capsys):
    for clip in (good_copy / "clips_45seconds").iterdir():
        clip.unlink()
    assert main(["data", "check", str(good_copy)]) == 1
    out = capsys.readouterr().out
    assert f"annotations: {good_copy / 'annotations'}" in out and "annotations: not found" not in out
    assert "no <song_id>.mp3 files anywhere inside" in out


def test_a_partial_copy_fails_by_default_and_trains_on_complete_songs_when_allowed(good_copy, tmp_path):
    from mer.data.layouts import dataset_layout, import_record
    for song in (3, 7):
        (good_copy / "clips_45seconds" / f"{song}.mp3").unlink()
    with pytest.raises(DataError, match=r"2 annotated song\(s\) have no audio .*: 3, 7. Add the "
                                        r"clips, or set `datasets.local.allow_missing_audio: true`"):
        import_local_dataset(good_copy, tmp_path / "refused")
    assert not (tmp_path / "refused").exists()
    raw = tmp_path / "data/raw/local"
    report = import_local_dataset(good_copy, raw, allow_missing_audio=True)
    assert report.ok and report.missing_audio == [3, 7] and report.used == [2, 4, 5]
    record = import_record(raw)
    assert record["song_ids"] == [2, 4, 5] and record["missing_audio"] == [3, 7]
    assert any("2 annotated song(s) have no audio" in n and "uses the 3 complete song(s)" in n
               for n in record["notes"])
    assert dataset_layout("local").load_annotations(raw).song_ids.tolist() == [2, 4, 5]
    assert record["audio_sources"]["2"] == str((good_copy / "clips_45seconds/2.mp3").resolve())

    from mer.data.imports import write_dataset_notes
    notes = write_dataset_notes(raw, "local", tmp_path / "results/local/dataset_notes.json")
    assert notes["n_songs"] == 3 and notes == json.loads((tmp_path / "results/local/dataset_notes.json").read_text())


def test_errors_about_an_imported_clip_name_the_users_file(good_copy, tmp_path):
    from mer.data.layouts import name_user_files
    raw = tmp_path / "data/raw/local"
    import_local_dataset(good_copy, raw)
    message = f"1 of 5 clips failed:\n  {raw / 'clips_45seconds' / '4.mp3'}: cannot decode audio"
    named = name_user_files(message, raw)
    assert f"{(good_copy / 'clips_45seconds' / '4.mp3').resolve()} (imported as {raw}" in named


def test_dataset_notes_of_a_synthetic_and_a_downloaded_copy(good_copy, tmp_path):
    from mer.data.imports import write_dataset_notes
    notes = write_dataset_notes(good_copy, "emomusic", tmp_path / "n.json", extra=["figure skipped"])
    assert notes["n_songs"] == 5 and notes["notes"][-1] == "figure skipped"
    assert any("the full emomusic set has 744" in n for n in notes["notes"])
