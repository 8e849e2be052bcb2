"""mer.audio.load_audio: formats, down-mixing, resampling and clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile

from mer.audio import load_audio
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
