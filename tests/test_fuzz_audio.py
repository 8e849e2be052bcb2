"""Fuzzing audio headers: random bytes and damaged WAV/FLAC/MP3/OGG files through
``mer.audio.load_audio`` must give audio or an ``AudioError`` (a ``MerError``), nothing else.
"""

import io

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given
from hypothesis import strategies as st

from fuzz_settings import apply_damage, damage_strategy, only_mer_errors
from mer.audio import load_audio
from mer.frames import SAMPLE_RATE

pytestmark = pytest.mark.fuzz

SUFFIXES = [".mp3", ".wav", ".flac", ".ogg", ".m4a", ""]


def _encoded(fmt, seconds=0.8, rate=22050):
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, format=fmt)
    return buffer.getvalue()


VALID = {fmt: _encoded(fmt) for fmt in ("WAV", "FLAC", "MP3", "OGG")}


@pytest.fixture(scope="module", autouse=True)
def _warm_decoders():
    from mer.runtime import import_librosa
    import_librosa()  # the fallback decoder's first import is not part of any example


def _checked(path):
    audio = load_audio(path)
    assert audio.dtype == np.float32 and audio.ndim == 1 and audio.size >= SAMPLE_RATE // 2
    assert np.isfinite(audio).all()


@given(data=st.binary(max_size=4096), suffix=st.sampled_from(SUFFIXES))
def test_random_bytes_raise_only_audio_errors(tmp_path_factory, data, suffix):
    path = tmp_path_factory.mktemp("audio") / f"song{suffix}"
    path.write_bytes(data)
    only_mer_errors(lambda: _checked(path))


@given(fmt=st.sampled_from(sorted(VALID)), edits=damage_strategy(), suffix=st.sampled_from(SUFFIXES))
def test_damaged_audio_files_raise_only_audio_errors(tmp_path_factory, fmt, edits, suffix):
    path = tmp_path_factory.mktemp("audio") / f"song{suffix}"
    # damage the header mostly: edits land in the first 64 bytes or anywhere
    data = VALID[fmt]
    head, rest = data[:64], data[64:]
    path.write_bytes(apply_damage(head, edits) + rest if edits[0][2] % 2 else apply_damage(data, edits))
    only_mer_errors(lambda: _checked(path))
