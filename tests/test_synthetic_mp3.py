"""The built-in clips' MP3 writer: libsndfile's encoding, the same decoded samples."""

import io

import numpy as np
import pytest
import soundfile as sf

from mer.data.synthetic import mp3
from mer.data.synthetic.mp3 import encode_mp3, write_mp3

RATE = 44_100
FRAME = 1152  # samples per MPEG-1 Layer III frame
LAME_ENCODER_DELAY = 576


def _music(seconds=3.0, seed=0) -> np.ndarray:
    """A chord with a moving envelope and some noise: enough for VBR to vary its frames."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6)) / 3
    envelope = 0.5 + 0.4 * np.sin(2 * np.pi * 0.7 * t)
    return (0.6 * envelope * tone + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def _decoded(data: bytes) -> np.ndarray:
    samples, rate = sf.read(io.BytesIO(data), dtype="float32")
    assert rate == RATE
    return samples


def _libsndfile_mp3(audio) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, audio, RATE, format="MP3")
    return buffer.getvalue()


@pytest.mark.skipif(mp3.lame_library() is None, reason="lameenc's LAME library is not loadable")
def test_decodes_to_libsndfiles_samples_with_its_info_frame():
    audio = _music()
    ours, theirs = encode_mp3(audio, RATE), _libsndfile_mp3(audio)
    decoded = _decoded(ours)
    assert len(decoded) == len(audio)  # gapless: delay and padding trimmed from the Info frame
    assert np.array_equal(decoded, _decoded(theirs))
    assert len(ours) == len(theirs)
    differing = sum(a != b for a, b in zip(ours, theirs))
    assert 0 < differing <= 32  # the encoder's name and version, and the CRCs that cover it
    # The first frame is LAME's Info frame: "Xing" (VBR) after the 4-byte header and the
    # 17 bytes of mono side information, then the LAME extension with delay and padding.
    assert ours[4 + 17:4 + 17 + 4] == b"Xing"
    lame = ours.index(b"LAME", 0, 200)
    packed = int.from_bytes(ours[lame + 21:lame + 24], "big")
    delay, padding = packed >> 12, packed & 0xFFF
    n_frames = int.from_bytes(ours[4 + 17 + 8:4 + 17 + 12], "big")
    assert delay == LAME_ENCODER_DELAY
    assert n_frames * FRAME == delay + len(audio) + padding


@pytest.mark.skipif(mp3.lame_library() is None, reason="lameenc's LAME library is not loadable")
def test_a_different_signal_gives_a_different_file_and_the_writer_writes_it(tmp_path):
    audio = _music(seconds=1.2, seed=1)
    write_mp3(tmp_path / "clip.mp3", audio, RATE)
    data = (tmp_path / "clip.mp3").read_bytes()
    assert data == encode_mp3(audio, RATE)  # deterministic
    assert data != encode_mp3(_music(seconds=1.2, seed=2), RATE)
    assert np.array_equal(_decoded(data), _decoded(_libsndfile_mp3(audio)))


def test_falls_back_to_soundfile_without_lames_library(tmp_path, monkeypatch):
    monkeypatch.setattr(mp3, "lame_library", lambda: None)
    audio = _music(seconds=1.0)
    assert encode_mp3(audio, RATE) is None
    write_mp3(tmp_path / "clip.mp3", audio, RATE)
    assert (tmp_path / "clip.mp3").read_bytes() == _libsndfile_mp3(audio)


@pytest.mark.skipif(mp3.lame_library() is None, reason="lameenc's LAME library is not loadable")
def test_rejects_more_than_one_channel():
    with pytest.raises(ValueError, match="mono"):
        encode_mp3(np.zeros((RATE, 2), dtype=np.float32), RATE)
