"""Reading audio clips: the one place where files become mono float32 at ``SAMPLE_RATE``.

Every feature set starts from ``load_audio``: stereo is mixed down to mono (mean of the
channels) and other sample rates are resampled to ``frames.SAMPLE_RATE`` (soxr, high
quality) here, once, so no feature set sees a different signal. MP3 (ID3 tags included),
WAV, FLAC and OGG are decoded by libsndfile via soundfile; anything soundfile cannot read
is tried once more through librosa's audioread fallback.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mer.errors import AudioError
from mer.frames import FRAME_SECONDS, SAMPLE_RATE

MIN_DURATION_S = FRAME_SECONDS  # shorter clips hold no whole 500 ms frame


def load_audio(path: str | Path) -> np.ndarray:
    """Decode ``path`` to a mono float32 array at ``SAMPLE_RATE``.

    Raises ``AudioError`` naming the file if it is missing, empty, cannot be decoded,
    holds non-finite samples or lasts less than ``MIN_DURATION_S``. Silence is returned.
    """
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")
    samples, sample_rate = _decode(path)
    mono = samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]
    if sample_rate != SAMPLE_RATE:
        import soxr
        mono = soxr.resample(mono, sample_rate, SAMPLE_RATE, quality="HQ")
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    _check_usable(path, mono)
    return mono


def _decode(path: Path) -> tuple[np.ndarray, int]:
    """(samples × channels float32, sample rate); AudioError if nothing can decode it."""
    import soundfile

    try:
        samples, sample_rate = soundfile.read(path, dtype="float32", always_2d=True)
        return samples, int(sample_rate)
    except Exception as error:  # libsndfile raises several types for bad files
        soundfile_reason = str(error).strip() or type(error).__name__
    try:  # formats libsndfile lacks (e.g. some MP4/AAC) via audioread, if installed
        from mer.runtime import import_librosa
        librosa = import_librosa()
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            samples, sample_rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
        return np.atleast_2d(samples).T, int(sample_rate)
    except Exception:
        raise AudioError(f"{path}: cannot decode audio ({soundfile_reason})") from None


def _check_usable(path: Path, mono: np.ndarray) -> None:
    if mono.size == 0:
        raise AudioError(f"{path}: file holds no audio samples")
    if not np.all(np.isfinite(mono)):
        raise AudioError(f"{path}: audio holds NaN or infinite samples")
    duration = mono.size / SAMPLE_RATE
    if duration < MIN_DURATION_S:
        raise AudioError(f"{path}: audio is {duration * 1000:.0f} ms long; "
                         f"at least {MIN_DURATION_S * 1000:.0f} ms is needed")
