"""mer.audio.load_audio: formats, down-mixing, resampling and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from mer.audio import DECODE_BLOCK_FRAMES, load_audio, stream_audio
from mer.errors import AudioError
from mer.frames import SAMPLE_RATE


def _sine(freq, seconds, sr, amplitude=0.5):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_stereo_48k_wav_becomes_mono_44k(tmp_path):
    left, right = _sine(440, 1.0, 48_000, 0.5), _sine(440, 1.0, 48_000, 0.1)
    path = tmp_path / "stereo.wav"
    soundfile.write(path, np.stack([left, right], axis=1), 48_000, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size - SAMPLE_RATE) <= 1
    # the mix is the mean of the channels: a 0.3-amplitude sine, resampled intact
    middle = audio[2000:-2000]
    expected = _sine(440, 1.0, SAMPLE_RATE, 0.3)[2000:-2000]
    np.testing.assert_allclose(middle, expected, atol=2e-3)


def test_mono_44k_float_wav_is_returned_unchanged(tmp_path):
    signal = _sine(220, 0.75, SAMPLE_RATE)
    path = tmp_path / "mono.wav"
    soundfile.write(path, signal, SAMPLE_RATE, subtype="FLOAT")
    np.testing.assert_array_equal(load_audio(path), signal)


@pytest.mark.parametrize("fmt", ["FLAC", "OGG", "MP3"])
def test_compressed_formats(tmp_path, fmt):
    path = tmp_path / f"clip.{fmt.lower()}"
    soundfile.write(path, _sine(440, 1.0, SAMPLE_RATE), SAMPLE_RATE, format=fmt)
    audio = load_audio(path)
    assert abs(audio.size - SAMPLE_RATE) < 0.05 * SAMPLE_RATE
    assert 0.3 < np.sqrt(np.mean(audio ** 2)) < 0.4  # 0.5 / sqrt(2)


def test_mp3_with_id3_tag(tmp_path):
    plain = tmp_path / "plain.mp3"
    soundfile.write(plain, _sine(440, 1.0, SAMPLE_RATE), SAMPLE_RATE, format="MP3")
    frame = b"TIT2" + (6).to_bytes(4, "big") + b"\x00\x00" + b"\x00title"
    size = len(frame)
    syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    tagged = tmp_path / "tagged.mp3"
    tagged.write_bytes(b"ID3\x03\x00\x00" + syncsafe + frame + plain.read_bytes())
    np.testing.assert_array_equal(load_audio(tagged), load_audio(plain))


def test_silence_is_returned(tmp_path):
    path = tmp_path / "silent.wav"
    soundfile.write(path, np.zeros(SAMPLE_RATE, np.float32), SAMPLE_RATE)
    audio = load_audio(path)
    assert audio.size == SAMPLE_RATE and not audio.any()


def _assert_audio_error(path, reason):
    with pytest.raises(AudioError) as error:
        load_audio(path)
    assert str(path) in str(error.value) and reason in str(error.value)


def test_missing_file(tmp_path):
    _assert_audio_error(tmp_path / "nope.mp3", "not found")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.touch()
    _assert_audio_error(path, "empty")


@pytest.mark.parametrize("name", ["corrupt.wav", "corrupt.mp3", "notes.txt"])
def test_corrupt_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"this is not audio at all " * 40)
    _assert_audio_error(path, "cannot decode")


def test_too_short(tmp_path):
    path = tmp_path / "short.wav"
    soundfile.write(path, _sine(440, 0.4, SAMPLE_RATE), SAMPLE_RATE)
    _assert_audio_error(path, "400 ms")


def _id3v2_with_cover_art() -> bytes:
    """An ID3v2.3 tag holding a title and an APIC (cover art) frame with a JPEG-like blob,
    as the real emoMusic MP3s carry."""
    def frame(frame_id: bytes, body: bytes) -> bytes:
        return frame_id + len(body).to_bytes(4, "big") + b"\x00\x00" + body
    picture = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40 + b"\xff\xd9"  # 10 kB "JPEG"
    apic = b"\x00" + b"image/jpeg\x00" + b"\x03" + b"cover\x00" + picture  # 3 = front cover
    body = frame(b"TIT2", b"\x00title") + frame(b"APIC", apic)
    size = len(body)
    syncsafe = bytes([(size >> 21) & 127, (size >> 14) & 127, (size >> 7) & 127, size & 127])
    return b"ID3\x03\x00\x00" + syncsafe + body


def test_mp3_with_embedded_cover_art(tmp_path):
    plain = tmp_path / "plain.mp3"
    soundfile.write(plain, _sine(440, 1.0, SAMPLE_RATE), SAMPLE_RATE, format="MP3")
    covered = tmp_path / "covered.mp3"
    covered.write_bytes(_id3v2_with_cover_art() + plain.read_bytes())
    assert covered.stat().st_size > plain.stat().st_size + 10_000
    np.testing.assert_array_equal(load_audio(covered), load_audio(plain))


def test_wrong_sample_rate_mono_is_resampled(tmp_path):
    path = tmp_path / "22k.wav"
    soundfile.write(path, _sine(1000, 2.0, 22_050), 22_050, subtype="FLOAT")
    audio = load_audio(path)
    assert audio.size == 2 * SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * SAMPLE_RATE / audio.size == pytest.approx(1000, abs=1)


# --- undecodable, damaged and truncated files: the real reason, nothing on the C stderr ---

def _song_mp3(path, seconds=45.0, rate=SAMPLE_RATE):
    soundfile.write(path, _sine(440, seconds, rate, 0.3), rate, format="MP3")
    return path


@pytest.mark.parametrize("content", [b"hello, this is a text file\n" * 50,
                                     np.random.default_rng(0).bytes(5000)])
def test_a_non_audio_mp3_is_named_not_audio_and_mpg123_stays_quiet(tmp_path, capfd, content):
    # libsndfile says "File does not exist or is not a regular file (possibly a pipe?)"
    # and mpg123 prints "Note: Illegal Audio-MPEG-Header ..." on the C stderr
    path = tmp_path / "song.mp3"
    path.write_bytes(content)
    _assert_audio_error(path, "not an audio file, or damaged")
    with pytest.raises(AudioError) as error:
        load_audio(path)
    assert "does not exist" not in str(error.value) and "pipe" not in str(error.value)
    assert "Note:" not in capfd.readouterr().err


def test_a_corrupt_mp3_is_named_damaged(tmp_path, capfd):
    good = _song_mp3(tmp_path / "good.mp3", 10.0).read_bytes()
    path = tmp_path / "corrupt.mp3"
    path.write_bytes(good[:2000] + np.random.default_rng(1).bytes(len(good) - 2000))
    with pytest.raises(AudioError) as error:
        load_audio(path)
    assert str(path) in str(error.value) and "damaged" in str(error.value)
    assert "does not exist" not in str(error.value)
    assert "Note:" not in capfd.readouterr().err


def test_a_folder_is_not_reported_missing(tmp_path):
    folder = tmp_path / "album.mp3"
    folder.mkdir()
    _assert_audio_error(folder, "is a folder, not an audio file")


def test_a_truncated_mp3_is_refused_with_the_seconds_decoded(tmp_path, capfd):
    # the first 10 KB of a 45 s clip: the Xing header declares 45 s, ~2 s decode
    full = _song_mp3(tmp_path / "full.mp3")
    path = tmp_path / "truncated.mp3"
    path.write_bytes(full.read_bytes()[:10_240])
    with pytest.raises(AudioError) as error:
        load_audio(path)
    message = str(error.value)
    assert str(path) in message and "truncated" in message and "45.00 s" in message
    decoded = float(message.split("decoded ")[1].split(" s")[0])
    assert 0.5 < decoded < 5
    assert "Warning" not in capfd.readouterr().err
    assert load_audio(full).size == 45 * SAMPLE_RATE  # the whole file is fine


def test_a_truncated_wav_is_refused(tmp_path):
    full = tmp_path / "full.wav"
    soundfile.write(full, _sine(440, 10.0, SAMPLE_RATE), SAMPLE_RATE, subtype="PCM_16")
    path = tmp_path / "truncated.wav"
    path.write_bytes(full.read_bytes()[:full.stat().st_size // 3])
    _assert_audio_error(path, "truncated")


@pytest.mark.parametrize("rate, channels, fmt", [(SAMPLE_RATE, 1, "WAV"), (48_000, 2, "WAV"),
                                                 (22_050, 1, "MP3")])
def test_streamed_blocks_are_the_whole_file(tmp_path, rate, channels, fmt):
    seconds = 2.5 * DECODE_BLOCK_FRAMES / rate  # three blocks, the last one partial
    signal = np.stack([_sine(440 + 100 * c, seconds, rate, 0.3) for c in range(channels)], 1)
    path = tmp_path / f"song.{fmt.lower()}"
    soundfile.write(path, signal, rate, format=fmt)
    blocks = list(stream_audio(path))
    assert len(blocks) >= 3 and all(b.dtype == np.float32 and b.ndim == 1 for b in blocks)
    np.testing.assert_array_equal(np.concatenate(blocks), load_audio(path))
    assert abs(sum(b.size for b in blocks) - seconds * SAMPLE_RATE) < 0.01 * SAMPLE_RATE
