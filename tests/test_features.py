"""mer.features: registry, frame pooling, block sharing, ComParE modes, shard files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile

from mer.errors import AudioError, ConfigError, DataError
from mer.features import (
    FEATURE_SETS,
    FeatureSet,
    extract_clip_features,
    extract_file_features,
    extract_shard,
    feature_set,
    load_features,
    merge_shards,
    spectra,
)
from mer.features.registry import BLOCKS
from mer.frames import FRAME_SAMPLES, N_ANNOTATED_FRAMES, SAMPLE_RATE, n_whole_frames

SR = SAMPLE_RATE
PAPER_DIMS = {"compare": 6373, "chroma": 24, "cqt": 252, "chroma_cqt": 276, "spectral": 197}
SPECTRAL_ORDER = ["chroma_stft", "chroma_cqt", "cens", "mfcc", "rms", "mel", "centroid",
                  "bandwidth", "contrast", "flatness", "rolloff", "zcr"]


def _music(seconds, seed=0):
    """Noise plus an amplitude-modulated tone: every block gets non-trivial values."""
    t = np.arange(int(seconds * SR)) / SR
    rng = np.random.default_rng(seed)
    tone = 0.2 * np.sin(2 * np.pi * 330 * t) * (1 + np.sin(2 * np.pi * 0.7 * t))
    return (0.05 * rng.standard_normal(t.size) + tone).astype(np.float32)


# --- registry -------------------------------------------------------------------------

def test_set_dims_match_paper_blocks_and_columns():
    # every set computed from audio is one of the paper's; deam260 ships with DEAM
    assert {n for n, s in FEATURE_SETS.items() if not s.precomputed} == {*PAPER_DIMS, "deam_features"}
    assert [n for n, s in FEATURE_SETS.items() if s.precomputed] == ["deam260"]
    assert feature_set("deam260").dims == 260
    for name, dims in PAPER_DIMS.items():
        fset = feature_set(name)
        assert fset.dims == dims == sum(BLOCKS[b].dims for b in fset.blocks)
        assert len(fset.columns) == dims == len(set(fset.columns))
    spectral_columns = feature_set("spectral").columns
    assert "mfcc_03" in spectral_columns and "mel_127" in spectral_columns
    assert "pcm_RMSenergy_sma_amean" in feature_set("compare").columns


def test_a_shipped_set_cannot_be_computed_from_audio(tmp_path):
    with pytest.raises(DataError, match="deam260.*DEAM.*choose one of compare"):
        extract_clip_features(_music(2.0), ["spectral", "deam260"])


def test_unknown_set_lists_valid_names():
    with pytest.raises(ConfigError, match="chroma_cqt.*compare|compare.*spectral"):
        feature_set("spectrum")


# --- extraction: shapes, values -------------------------------------------------------

@pytest.mark.parametrize("mode", ["per_segment", "one_pass"])
def test_every_set_has_its_dims_and_finite_values(mode):
    for audio in (_music(3.0), np.zeros(3 * SR, np.float32)):
        values = extract_clip_features(audio, list(PAPER_DIMS), frames=np.array([1, 4]),
                                       compare_mode=mode)
        for name, array in values.items():
            assert array.shape == (2, PAPER_DIMS[name]) and array.dtype == np.float32
            assert np.isfinite(array).all(), name


def test_default_frames_are_all_whole_frames_and_outside_frames_fail():
    audio = _music(3.2)
    assert extract_clip_features(audio, ["chroma"])["chroma"].shape == (6, 24)
    with pytest.raises(AudioError, match=r"\[6\].*outside"):
        extract_clip_features(audio, ["chroma"], frames=[5, 6])
    with pytest.raises(ConfigError):
        extract_clip_features(audio, ["compare"], frames=[0], compare_mode="fast")


def _naive_librosa_blocks(audio):
    """Each block straight from librosa on the whole clip, without shared spectra."""
    from mer.runtime import import_librosa
    librosa = import_librosa()
    stft_kw = dict(sr=SR, n_fft=2048, hop_length=512)
    cqt_kw = dict(sr=SR, hop_length=512, fmin=librosa.note_to_hz("C1"),
                  bins_per_octave=36, n_octaves=7, tuning=0.0)
    mel = librosa.feature.melspectrogram(y=audio, **stft_kw)
    return {
        "chroma_stft": librosa.feature.chroma_stft(y=audio, tuning=0.0, **stft_kw),
        "chroma_cqt": librosa.feature.chroma_cqt(y=audio, **cqt_kw),
        "cens": librosa.feature.chroma_cens(y=audio, **cqt_kw),
        "mfcc": librosa.feature.mfcc(S=librosa.power_to_db(mel, top_db=None), n_mfcc=20),
        "rms": librosa.feature.rms(y=audio, frame_length=2048, hop_length=512),
        "mel": mel,
        "centroid": librosa.feature.spectral_centroid(y=audio, **stft_kw),
        "bandwidth": librosa.feature.spectral_bandwidth(y=audio, **stft_kw),
        "contrast": librosa.feature.spectral_contrast(y=audio, **stft_kw),
        "flatness": librosa.feature.spectral_flatness(y=audio, n_fft=2048, hop_length=512),
        "rolloff": librosa.feature.spectral_rolloff(y=audio, **stft_kw),
        "zcr": librosa.feature.zero_crossing_rate(audio, frame_length=2048, hop_length=512),
        "cqt": np.abs(librosa.cqt(audio, sr=SR, hop_length=512, n_bins=252,
                                  fmin=librosa.note_to_hz("C1"), bins_per_octave=36,
                                  tuning=0.0)),
    }


def _pool_by_centre_time(hop_values, frame):
    """The pooling convention written out: hops whose centre time lies in the frame."""
    centres = np.arange(hop_values.shape[1]) * 512 / SR
    inside = (centres >= 0.5 * frame) & (centres < 0.5 * frame + 0.5)
    return hop_values[:, inside].mean(axis=1)


def test_fast_path_equals_whole_clip_blocks_pooled_naively():
    """Shared STFT/CQT + cropping to the frames + pooling == each block computed alone on
    the whole clip and pooled by hop centre times. Tolerance rtol 1e-4 (float32 rounding;
    the CQT's resampling of a cropped signal differs in the last bits)."""
    audio = _music(8.0)
    frames = np.array([6, 7, 8, 14])  # 6..8 need cropping at both ends; 14 = clip end
    fast = extract_clip_features(audio, ["spectral", "cqt"], frames=frames)
    naive = _naive_librosa_blocks(audio)
    for set_name, blocks in (("spectral", SPECTRAL_ORDER), ("cqt", ["cqt"])):
        expected = np.stack([np.concatenate([_pool_by_centre_time(naive[b], k)
                                             for b in blocks]) for k in frames])
        np.testing.assert_allclose(fast[set_name], expected, rtol=1e-4,
                                   atol=1e-6 * np.abs(expected).max(), err_msg=set_name)


def test_pooling_is_mean_of_hops_centred_inside_frame():
    hop_values = np.arange(200, dtype=np.float64)[None, :]  # value = hop index
    frames = np.array([0, 1, 2, 3])
    pooled = spectra.pool_frames(hop_values, frames)[:, 0]
    # frame 1 = [22050, 44100) samples: hop centres 512 i inside are i = 44..86
    assert spectra.hop_range(1) == (44, 87)
    np.testing.assert_array_equal(pooled, [_pool_by_centre_time(hop_values, k)[0]
                                           for k in frames])
    # a signal starting at clip sample 10 * 512 has the same hops, renumbered
    shifted = spectra.pool_frames(hop_values[:, 10:], frames[1:], offset=10 * 512)
    np.testing.assert_array_equal(shifted[:, 0], pooled[1:])


def test_stft_and_cqt_computed_once_per_call(monkeypatch):
    from mer.runtime import import_librosa
    librosa = import_librosa()
    calls = {"stft": 0, "cqt": 0}
    for name in calls:
        original = getattr(librosa, name)

        def counting(*args, _name=name, _original=original, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)
        monkeypatch.setattr(librosa, name, counting)
    extract_clip_features(_music(3.0), ["chroma", "cqt", "chroma_cqt", "spectral"],
                          frames=[2])
    assert calls == {"stft": 1, "cqt": 1}


# --- known signals --------------------------------------------------------------------

def test_burst_in_one_frame_shows_only_there():
    audio = np.zeros(4 * SR, np.float32)
    burst = slice(4 * FRAME_SAMPLES, 5 * FRAME_SAMPLES)  # frame 4 = [2.0, 2.5) s
    audio[burst] = 0.5 * np.sin(2 * np.pi * 1000 * np.arange(FRAME_SAMPLES) / SR)
    values = extract_clip_features(audio, ["spectral", "compare"], frames=[3, 4, 5])
    rms = values["spectral"][:, feature_set("spectral").columns.index("rms")]
    # neighbours only see the burst through the few 2048-sample windows at their edge
    assert rms[1] > 0.3 and rms[0] < 0.05 * rms[1] and rms[2] < 0.05 * rms[1]
    energy = values["compare"][:, feature_set("compare").columns.index(
        "pcm_RMSenergy_sma_amean")]
    assert energy[1] > 0.1 and energy[0] == energy[2] == pytest.approx(0, abs=1e-6)


def test_a4_sine_peaks_at_a4_cqt_bin_and_pitch_class_a():
    t = np.arange(3 * SR) / SR
    audio = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)
    values = extract_clip_features(audio, ["cqt", "chroma"], frames=[2])
    a4_bin = 45 * 3  # A4 is 45 semitones above C1 (3 octaves + 9), 3 bins per semitone
    assert int(np.argmax(values["cqt"][0])) == a4_bin
    columns = feature_set("cqt").columns
    assert columns[a4_bin] == "cqt_135"
    chroma = values["chroma"][0]
    assert int(np.argmax(chroma[:12])) == 9 and int(np.argmax(chroma[12:])) == 9  # C=0..A=9


# --- ComParE --------------------------------------------------------------------------

def test_compare_per_segment_equals_opensmile_on_each_segment():
    import opensmile
    audio = _music(3.0, seed=3)
    frames = [1, 4]
    ours = extract_clip_features(audio, ["compare"], frames=frames)["compare"]
    smile = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                            opensmile.FeatureLevel.Functionals)
    for row, k in enumerate(frames):
        segment = audio[k * FRAME_SAMPLES:(k + 1) * FRAME_SAMPLES]
        expected = smile.process_signal(segment, SR).to_numpy()[0].astype(np.float32)
        np.testing.assert_array_equal(ours[row], expected)  # exactly


def test_compare_one_pass_is_independent_of_requested_frames():
    audio = _music(3.0, seed=4)
    every = extract_clip_features(audio, ["compare"], compare_mode="one_pass")["compare"]
    assert every.shape == (6, 6373)  # the last frame is kept
    some = extract_clip_features(audio, ["compare"], frames=[2, 5],
                                 compare_mode="one_pass")["compare"]
    np.testing.assert_array_equal(some, every[[2, 5]])
    per_segment = extract_clip_features(audio, ["compare"], frames=[2, 5])["compare"]
    assert not np.allclose(per_segment, some)  # documented: LLDs span segment edges


# --- files and shards -----------------------------------------------------------------

def _write_clip(path, seconds, seed):
    soundfile.write(path, _music(seconds, seed), SR, subtype="FLOAT")
    return path


def test_file_features_of_a_46_s_clip(tmp_path):
    path = _write_clip(tmp_path / "clip.wav", 46.0, seed=5)
    annotated = extract_file_features(path, ["spectral"])["spectral"]
    every = extract_file_features(path, ["spectral"], annotated_only=False)["spectral"]
    assert annotated.shape == (N_ANNOTATED_FRAMES, 197) and every.shape == (92, 197)
    np.testing.assert_allclose(annotated, every[29:90], rtol=1e-4,
                               atol=1e-6 * np.abs(every).max())


def test_file_too_short_for_annotations_names_file(tmp_path):
    path = _write_clip(tmp_path / "short.wav", 44.0, seed=6)
    with pytest.raises(AudioError, match=r"short\.wav.*outside"):
        extract_file_features(path, ["chroma"])


@pytest.fixture
def cheap_set(monkeypatch):
    """A registered two-block set, so shard tests on 46 s clips stay fast."""
    fset = FeatureSet("rms_zcr", ("rms", "zcr"), 2, "test set")
    monkeypatch.setitem(FEATURE_SETS, fset.name, fset)
    return fset.name


@pytest.fixture
def clips(tmp_path):
    return {song: _write_clip(tmp_path / f"{song}.wav", 45.1, seed=song)
            for song in (7, 3, 11)}


def test_two_shards_merged_equal_one_shard(tmp_path, clips, cheap_set):
    ids = list(clips)
    one = tmp_path / "one.npz"
    extract_shard([clips[s] for s in ids], ids, cheap_set, one, progress=False)
    first, second = tmp_path / "a.npz", tmp_path / "b.npz"
    extract_shard([clips[s] for s in ids[:2]], ids[:2], cheap_set, first, progress=False)
    extract_shard([clips[s] for s in ids[2:]], ids[2:], cheap_set, second, progress=False)
    merge_shards([one], tmp_path / "one.npy", tmp_path / "one.json")
    merge_shards([second, first], tmp_path / "two.npy", tmp_path / "two.json")
    one_table = load_features(tmp_path / "one.npy", tmp_path / "one.json")
    two_table = load_features(tmp_path / "two.npy", tmp_path / "two.json")
    np.testing.assert_array_equal(np.asarray(one_table.values), np.asarray(two_table.values))
    assert two_table.song_ids.tolist() == [3, 7, 11]
    assert isinstance(two_table.values, np.memmap) and two_table.values.dtype == np.float32
    assert two_table.values.shape == (3 * N_ANNOTATED_FRAMES, 2)  # ragged: songs one after another
    assert two_table.lengths.tolist() == [N_ANNOTATED_FRAMES] * 3
    assert two_table.columns == ["rms", "zcr"] and two_table.feature_set == cheap_set
    single = extract_file_features(clips[11], [cheap_set])[cheap_set]
    np.testing.assert_array_equal(two_table.rows([11])[0], single)
    index = json.loads((tmp_path / "two.json").read_text())
    assert index["lengths"] == [N_ANNOTATED_FRAMES] * 3 and "frame" in index["frame_convention"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    with pytest.raises(DataError, match="99"):
        two_table.rows([3, 99])


def test_failing_clips_leave_no_shard_and_are_all_named(tmp_path, clips, cheap_set):
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF garbage " * 50)
    short = _write_clip(tmp_path / "short.wav", 10.0, seed=1)
    out = tmp_path / "shard.npz"
    with pytest.raises(AudioError) as error:
        extract_shard([clips[7], corrupt, short], [7, 1, 2], cheap_set, out, progress=False)
    assert "corrupt.wav" in str(error.value) and "short.wav" in str(error.value)
    assert "2 of 3" in str(error.value)
    assert not out.exists() and not list(tmp_path.glob(".shard*"))


def test_merge_rejects_repeated_ids_and_mixed_sets(tmp_path, clips, cheap_set, monkeypatch):
    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    extract_shard([clips[7]], [7], cheap_set, a, progress=False)
    extract_shard([clips[3]], [7], cheap_set, b, progress=False)
    with pytest.raises(DataError, match="7"):
        merge_shards([a, b], tmp_path / "v.npy", tmp_path / "i.json")
    monkeypatch.setitem(FEATURE_SETS, "rms_only", FeatureSet("rms_only", ("rms",), 1, "t"))
    extract_shard([clips[3]], [3], "rms_only", b, progress=False)
    with pytest.raises(DataError, match="rms_only"):
        merge_shards([a, b], tmp_path / "v.npy", tmp_path / "i.json")
    assert not (tmp_path / "v.npy").exists() and not (tmp_path / "i.json").exists()


def test_n_whole_frames_of_real_clip_length():
    assert n_whole_frames(int(45.07 * SR)) == 90


# --- frame alignment with annotations -------------------------------------------------

def test_click_in_a_known_frame_shows_only_there():
    """A single-sample click at 2.25 s (the middle of frame 4 = [2.0, 2.5) s) in silence:
    every 2048-sample window that holds it is centred inside frame 4, so frames 3 and 5
    are exactly silent in the librosa energy blocks and in openSMILE's."""
    audio = np.zeros(4 * SR, np.float32)
    audio[int(2.25 * SR)] = 1.0
    values = extract_clip_features(audio, ["spectral", "compare"], frames=[3, 4, 5])
    columns = feature_set("spectral").columns
    for column in ("rms", "mel_010", "centroid"):
        feature = values["spectral"][:, columns.index(column)]
        assert feature[1] > 0 and feature[0] == feature[2] == 0, column
    energy = values["compare"][:, feature_set("compare").columns.index(
        "pcm_RMSenergy_sma_amean")]
    assert energy[1] > 0 and energy[0] == energy[2] == 0


def test_annotation_at_15_s_is_paired_with_the_half_second_before_it(tmp_path, cheap_set):
    """On a 45.06 s clip (90 whole frames), annotated row 0 (label at 15.0 s) is whole-clip
    frame 29 = [14.5, 15.0) s and row 60 (45.0 s) is frame 89 = [44.5, 45.0) s."""
    audio = 0.001 * _music(45.06, seed=9)
    for start_s in (14.5, 44.5):
        audio[int(start_s * SR) + 2048:int((start_s + 0.5) * SR) - 2048] = 0.5
    path = tmp_path / "clip.wav"
    soundfile.write(path, audio, SR, subtype="FLOAT")
    rms = extract_file_features(path, [cheap_set])[cheap_set][:, 0]
    assert rms.shape == (N_ANNOTATED_FRAMES,)
    loud = np.flatnonzero(rms > 0.1)
    assert loud.tolist() == [0, 60]
    every = extract_file_features(path, [cheap_set], annotated_only=False)[cheap_set][:, 0]
    assert every.shape == (90,) and np.flatnonzero(every > 0.1).tolist() == [29, 89]


def test_compare_one_pass_equals_opensmile_fixed_frames_on_padded_clip():
    """one_pass's reference: openSMILE ComParE with 500 ms fixed functional frames over the
    whole clip padded with 0.5 s of zeros, row k = frame k (exactly)."""
    import opensmile

    from mer.features.compare import _fixed_frames_conf
    audio = _music(3.0, seed=8)
    ours = extract_clip_features(audio, ["compare"], compare_mode="one_pass")["compare"]
    smile = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                            opensmile.FeatureLevel.Functionals,
                            options={"frameModeFunctionalsConf": str(_fixed_frames_conf())})
    padded = np.concatenate([audio, np.zeros(FRAME_SAMPLES, np.float32)])
    expected = smile.process_signal(padded, SR).to_numpy()[:6].astype(np.float32)
    np.testing.assert_array_equal(ours, expected)


# --- bad input in a shard -------------------------------------------------------------

def test_bad_inputs_in_a_shard_are_all_named_and_good_clips_are_kept(tmp_path, clips,
                                                                      cheap_set, monkeypatch):
    """Each bad input of the issue in one shard: stereo, 48 kHz, silent and MP3 with cover
    art work; empty, < 500 ms, non-audio and too short for the annotations fail, each
    named with its reason; no shard is written; a rerun after fixing the files only
    extracts those (the others come from ``<shard>.clips/``), which is removed at the end."""
    from test_audio import _id3v2_with_cover_art

    from mer.features import storage

    long = _music(45.1, seed=2)
    works = {"stereo48k.wav": None, "silent.wav": None, "covered.mp3": None}
    at_48k = np.resize(long, int(45.1 * 48_000))
    soundfile.write(tmp_path / "stereo48k.wav", np.stack([at_48k, 0.5 * at_48k], axis=1),
                    48_000)
    soundfile.write(tmp_path / "silent.wav", np.zeros(int(45.1 * SR), np.float32), SR)
    soundfile.write(tmp_path / "plain.mp3", long, SR, format="MP3")
    (tmp_path / "covered.mp3").write_bytes(_id3v2_with_cover_art()
                                           + (tmp_path / "plain.mp3").read_bytes())
    fails = {"empty.mp3": "empty", "tiny.wav": "400 ms", "notes.txt": "cannot decode",
             "ten_s.wav": "outside"}
    (tmp_path / "empty.mp3").touch()
    soundfile.write(tmp_path / "tiny.wav", long[:int(0.4 * SR)], SR)
    (tmp_path / "notes.txt").write_text("not audio\n" * 100)
    soundfile.write(tmp_path / "ten_s.wav", long[:10 * SR], SR)
    paths = [clips[7], *(tmp_path / n for n in works), *(tmp_path / n for n in fails)]
    ids = list(range(len(paths)))
    out = tmp_path / "shard.npz"
    with pytest.raises(AudioError) as error:
        extract_shard(paths, ids, cheap_set, out, progress=False)
    message = str(error.value)
    assert f"{len(fails)} of {len(paths)}" in message and "shard.npz.clips" in message
    for name, reason in fails.items():
        line = next(line for line in message.splitlines() if name in line)
        assert reason in line, line
    for name in works:
        assert name not in message
    assert not out.exists()

    for name in fails:  # fix the bad files, rerun: only they are extracted again
        (tmp_path / name).unlink()
        soundfile.write(tmp_path / name, _music(45.1, seed=len(name)), SR, format="WAV")
    extracted = []
    original = storage.extract_file_features

    def counting(path, *args, **kwargs):
        extracted.append(Path(path).name)
        return original(path, *args, **kwargs)
    monkeypatch.setattr(storage, "extract_file_features", counting)
    extract_shard(paths, ids, cheap_set, out, progress=False)
    assert sorted(extracted) == sorted(fails)
    assert out.exists() and not (tmp_path / "shard.npz.clips").exists()
    with np.load(out) as shard:
        assert shard["lengths"].tolist() == [N_ANNOTATED_FRAMES] * len(paths)
        values = shard["values"].reshape(len(paths), N_ANNOTATED_FRAMES, -1)
    np.testing.assert_array_equal(values[0], original(clips[7], [cheap_set])[cheap_set])
    assert values[2].max() == 0  # the silent clip
    assert np.isfinite(values).all() and (values[[1, 3]] > 0).all()


# --- command line ---------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore:n_fft=.*too large")  # CQT's low octaves on a 1 s clip
def test_cli_features_extract(tmp_path, capsys):
    from mer.cli import main
    first = _write_clip(tmp_path / "a.wav", 3.2, seed=1)
    second = _write_clip(tmp_path / "b.wav", 1.1, seed=2)
    out = tmp_path / "out.npz"
    assert main(["features", "extract", "chroma", str(first), str(second), "-o", str(out),
                 "-q"]) == 0
    with np.load(out) as data:
        assert data["values"].shape == (6 + 2, 24) and data["values"].dtype == np.float32
        assert data["file_index"].tolist() == [0] * 6 + [1] * 2
        assert data["frame"].tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
        np.testing.assert_array_equal(data["start_s"][:3], [0.0, 0.5, 1.0])
        np.testing.assert_array_equal(data["end_s"][:3], [0.5, 1.0, 1.5])
        assert data["files"].tolist() == [str(first), str(second)]
        assert data["columns"].tolist() == feature_set("chroma").columns
        expected = extract_file_features(first, ["chroma"], annotated_only=False)["chroma"]
        np.testing.assert_array_equal(data["values"][:6], expected)
    assert "8 frames x 24 dims" in capsys.readouterr().out

    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"no audio here " * 30)
    out.unlink()
    code = main(["features", "extract", "chroma", str(first), str(bad), str(second),
                 "--annotated", "-o", str(out), "-q"])
    stderr = capsys.readouterr().err
    assert code != 0 and not out.exists()
    assert "3 of 3 files failed" in stderr and "bad.mp3" in stderr and "cannot decode" in stderr
    assert "a.wav" in stderr and "outside" in stderr  # --annotated needs 45 s of audio
    assert main(["features", "extract", "nope", str(first), "-o", str(out)]) != 0


# --- deam_features: DEAM's 260 columns from audio --------------------------------------------

def test_deam_features_are_named_and_ordered_as_deam_ships_them():
    from dataset_builders import DEAM_FEATURE_COLUMNS
    columns = feature_set("deam_features").columns
    assert columns == DEAM_FEATURE_COLUMNS == feature_set("deam260").columns
    assert columns[:2] == ["F0final_sma_stddev", "F0final_sma_amean"]
    assert columns[-1] == "pcm_fftMag_mfcc_sma_de[14]_amean"
    assert "pcm_fftMag_spectralFlux_sma_de_stddev" in columns and len(set(columns)) == 260
    assert feature_set("deam260").computed_by == "deam_features"


def test_deam_features_are_mean_and_population_std_of_the_llds_starting_in_each_frame():
    import opensmile
    from mer.features.deam_features import deam_frames
    audio = _music(3.0)
    values = extract_clip_features(audio, ["deam_features"])["deam_features"]
    assert values.shape == (6, 260) and np.isfinite(values).all()
    # the reference: openSMILE's own LLD tables over the whole clip, pooled by hand
    lld = opensmile.Smile(opensmile.FeatureSet.ComParE_2016,
                          opensmile.FeatureLevel.LowLevelDescriptors).process_signal(audio, SAMPLE_RATE)
    rows = lld.to_numpy()[100:150]  # 10 ms rows 100..149 start in [1.0, 1.5) s: frame 2
    columns = feature_set("deam_features").columns
    np.testing.assert_allclose(values[2, columns.index("pcm_RMSenergy_sma_amean")],
                               rows[:, list(lld.columns).index("pcm_RMSenergy_sma")].mean(), rtol=1e-5)
    np.testing.assert_allclose(values[2, columns.index("pcm_fftMag_mfcc_sma[3]_stddev")],
                               rows[:, list(lld.columns).index("mfcc_sma[3]")].std(ddof=0), rtol=1e-4)
    # a frame's values do not depend on which other frames were asked for
    np.testing.assert_array_equal(deam_frames(audio, np.array([1, 2])), values[[1, 2]])


def test_cli_extracts_deam_named_columns_from_an_mp3(tmp_path, capsys):
    from dataset_builders import write_mp3
    from mer.cli import main
    song = write_mp3(tmp_path / "song.mp3", 2.2)
    out = tmp_path / "deam.npz"
    assert main(["features", "extract", "deam_features", str(song), "-o", str(out), "-q"]) == 0
    with np.load(out) as data:
        assert data["values"].shape == (4, 260) and np.isfinite(data["values"]).all()
        assert data["columns"].tolist()[:2] == ["F0final_sma_stddev", "F0final_sma_amean"]
        assert "pcm_fftMag_mfcc_sma_de[14]_amean" in data["columns"].tolist()
    assert "4 frames x 260 dims" in capsys.readouterr().out


def test_mp3_shorter_than_its_annotations_names_seconds_decoded_and_needed(tmp_path):
    from dataset_builders import write_mp3
    path = write_mp3(tmp_path / "short.mp3", 20.3)
    with pytest.raises(AudioError, match=r"short.mp3: .*decodes to 20\.\d\d s .* but 45.0 s are needed"):
        extract_file_features(path, ["chroma"])
