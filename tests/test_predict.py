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


# --- long songs: bounded memory -----------------------------------------------------------

@pytest.mark.parametrize("model_name", ["AT_4", "BAT_4"])
def test_attention_in_row_blocks_equals_the_batched_attention(monkeypatch, model_name):
    # a 1-hour song (T = 7200) would need a (1, T, T, A) tanh: 6.6 GB at A = 32
    import torch

    from mer.models import attention, build_model
    from mer.training import predict

    model = build_model(model_name, input_dim=5).eval()
    x = np.random.default_rng(0).standard_normal((1, 300, 5)).astype(np.float32)
    whole, whole_map = predict(model, x)
    monkeypatch.setattr(attention, "ENERGY_CHUNK_ELEMENTS", 7 * 300 * 4)  # 7 rows a block
    calls = []
    original = torch.tanh
    monkeypatch.setattr(torch, "tanh", lambda t: calls.append(t.shape) or original(t))
    blocked, blocked_map = predict(model, x)
    assert len(calls) == 43 and max(c[1] for c in calls) == 7  # ceil(300 / 7) blocks
    np.testing.assert_allclose(blocked, whole, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(blocked_map, whole_map, rtol=1e-6, atol=1e-9)


def test_prediction_keeps_attention_only_for_the_plot(setup):
    from mer.predict import display_map, load_bundles, predict_song

    root, songs = setup
    bundles = load_bundles(models_root=root / "models")
    without = predict_song(songs / "short.mp3", bundles, keep_attention=False)
    assert without.attention == {} and len(without.curves) == 16
    weights = np.random.default_rng(0).random((2500, 2500)).astype(np.float32)
    shown = display_map(weights, max_pixels=1000)
    assert shown.shape == (834, 834)  # 3 x 3 frames per cell
    np.testing.assert_allclose(shown[0, 0], weights[:3, :3].mean(), rtol=1e-6)
    assert display_map(weights[:900, :900]) is not None and display_map(weights[:900, :900]).shape == (900, 900)


def test_a_truncated_or_too_short_song_fails_with_the_reason(setup, tmp_path, capsys):
    root, _ = setup
    full = tmp_path / "full.mp3"
    sf.write(full, tone(45.0, 44_100, 1), 44_100, format="MP3")
    truncated = tmp_path / "truncated.mp3"
    truncated.write_bytes(full.read_bytes()[:10_240])  # today: a ~1-2 s song, exit 0
    short = tmp_path / "short.wav"
    sf.write(short, tone(2.0, 44_100, 1), 44_100)
    code = main(["predict", str(truncated), str(short), "--models-root", str(root / "models"),
                 "--out", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 1 and not (tmp_path / "out" / "truncated.csv").exists()
    assert "truncated.mp3: truncated: decoded" in err and "45.00 s its header declares" in err
    assert "short.wav: audio is 2.00 s long; the spectral features need at least 3 s" in err
    assert "too large" not in err
