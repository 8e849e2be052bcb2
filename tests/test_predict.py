"""``mer predict`` on real audio files with a tiny model exported in the test."""

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from mer.audio import load_audio
from mer.cli import main
from mer.frames import n_whole_frames
from mer.predict import output_stems
from test_bundle import export_tiny_bundles  # tests/ is on sys.path (pytest rootdir import)

WAV_SECONDS = 70.0


def tone(seconds, rate, channels, seed=0):
    """A chord with slowly changing loudness and a little noise, (samples, channels)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    signal = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    signal = signal * (0.2 + 0.15 * np.sin(2 * np.pi * t / 9.0))
    out = np.stack([signal * (1 - 0.3 * c) + 0.01 * rng.standard_normal(t.size)
                    for c in range(channels)], axis=1)
    return (0.3 * out).astype(np.float32)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict")
    export_tiny_bundles(root)  # AT_4 for arousal and valence, on spectral features
    songs = root / "songs"
    songs.mkdir()
    sf.write(songs / "long stereo.wav", tone(WAV_SECONDS, 48_000, 2), 48_000, subtype="PCM_16")
    sf.write(songs / "short.mp3", tone(8.3, 22_050, 1, seed=1), 22_050, format="MP3")
    (songs / "broken.mp3").write_bytes(b"ID3 this is not audio at all" * 10)
    return root, songs


@pytest.fixture(scope="module")
def run(setup):
    """One CLI run over good and corrupt files together (one model load for all)."""
    root, songs = setup
    out = root / "out"
    files = [songs / "long stereo.wav", songs / "broken.mp3", songs / "short.mp3"]
    code = main(["predict", *map(str, files), "--models-root", str(root / "models"),
                 "--out", str(out), "--plot", "--quiet"])
    return code, out, songs


def test_wav_csv_has_one_row_per_whole_frame(run):
    code, out, _ = run
    table = pd.read_csv(out / "long stereo.csv")
    assert list(table.columns) == ["time_s", "arousal", "valence"]
    assert len(table) == int(WAV_SECONDS / 0.5) == 140
    np.testing.assert_allclose(table["time_s"], 0.5 * np.arange(1, 141))  # frame ends


def test_mp3_csv_has_one_row_per_whole_frame(run):
    _, out, songs = run
    table = pd.read_csv(out / "short.csv")
    assert len(table) == n_whole_frames(load_audio(songs / "short.mp3").size) >= 16


@pytest.mark.parametrize("stem", ["long stereo", "short"])
def test_values_are_finite_and_in_range(run, stem):
    _, out, _ = run
    values = pd.read_csv(out / f"{stem}.csv")[["arousal", "valence"]].to_numpy()
    assert np.isfinite(values).all() and (np.abs(values) <= 1).all()
    assert values.std(axis=0).min() > 0  # a curve, not a constant


def test_plot_is_written(run):
    _, out, _ = run
    for stem in ("long stereo", "short"):
        png = out / f"{stem}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_corrupt_file_is_skipped_and_reported(run, capsys):
    code, out, _ = run
    assert code == 1
    assert not (out / "broken.csv").exists()
    assert (out / "long stereo.csv").exists() and (out / "short.csv").exists()


def test_summary_and_error_name_the_corrupt_file(setup, tmp_path, capsys):
    root, songs = setup
    code = main(["predict", str(songs / "broken.mp3"), "--models-root", str(root / "models"),
                 "--out", str(tmp_path), "--quiet"])
    captured = capsys.readouterr()
    assert code == 1
    assert "broken.mp3" in captured.err and "FAILED" in captured.out
    assert "0 of 1 song(s) predicted" in captured.out


def test_all_good_files_exit_zero(setup, tmp_path, capsys):
    root, songs = setup
    code = main(["predict", str(songs / "short.mp3"), "--models-root", str(root / "models"),
                 "--out", str(tmp_path), "--quiet"])
    assert code == 0, capsys.readouterr().err
    assert "1 of 1 song(s) predicted" in capsys.readouterr().out
    assert (tmp_path / "short.csv").is_file()


def test_no_trained_model_says_how_to_get_one(setup, tmp_path, capsys):
    _, songs = setup
    code = main(["predict", str(songs / "short.mp3"), "--models-root", str(tmp_path / "models"),
                 "--out", str(tmp_path)])
    assert code == 2
    assert "snakemake --cores 8 export" in capsys.readouterr().err


def test_mismatched_feature_set_is_a_clear_error(setup, tmp_path, capsys):
    root, songs = setup
    bundle = next((root / "models").rglob("model.pt")).parent
    code = main(["predict", str(songs / "short.mp3"), "--model", str(bundle), "--features", "chroma",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "trained on feature set 'spectral'" in err and "'chroma' was requested" in err


def test_repeated_stems_get_distinct_outputs():
    assert output_stems(["a/x.mp3", "b/x.wav", "y.ogg"]) == ["x", "x_2", "y"]
