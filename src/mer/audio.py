"""Reading audio clips: the one place where files become mono float32 at ``SAMPLE_RATE``.

Every feature set starts from here: stereo is mixed down to mono (mean of the channels)
and other sample rates are resampled to ``frames.SAMPLE_RATE`` (soxr, high quality), once,
so no feature set sees a different signal. MP3 (ID3 tags included), WAV, FLAC and OGG are
decoded by libsndfile via soundfile; anything soundfile cannot read is tried once more
through librosa's audioread fallback (whole file, in memory).

Conventions:

* ``stream_audio`` decodes a file block by block: ``DECODE_BLOCK_FRAMES`` frames of the file
  at a time, mixed down and resampled with one ``soxr.ResampleStream``, so memory does not
  grow with the file's length. ``load_audio`` is the concatenation of the same blocks, so
  the whole-file and the streamed signal are the same samples (libsndfile's MP3 decoder
  gives results that differ in the last bit with the read size, so the block size is
  fixed here, not chosen by callers).
* Errors are ``AudioError``s that name the file, say what is wrong and what to do:
  missing, a folder, empty, not audio / damaged (libsndfile's own "does not exist or is
  not a regular file" for an undecodable MP3 is replaced by what it means), truncated (a
  header that declares more audio than the file holds), non-finite samples, shorter than
  ``MIN_DURATION_S``. Diagnostics libsndfile's decoders print on the C stderr (mpg123's
  "Note: ..." lines) are captured and only quoted in such an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from mer.errors import AudioError
from mer.frames import FRAME_SECONDS, SAMPLE_RATE

MIN_DURATION_S = FRAME_SECONDS  # shorter clips hold no whole 500 ms frame
DECODE_BLOCK_FRAMES = 1 << 18   # frames of the file per read (~6 s at 44.1 kHz)
# A file that decodes to less than its header declares, by more than this, is truncated
# (MP3 encoder delay and padding account for a few ms).
TRUNCATION_TOLERANCE_S = 0.1


def load_audio(path: str | Path) -> np.ndarray:
    """Decode ``path`` to a mono float32 array at ``SAMPLE_RATE``.

    Raises ``AudioError`` naming the file if it is missing, a folder, empty, cannot be
    decoded, is truncated, holds non-finite samples or lasts less than ``MIN_DURATION_S``.
    Silence is returned.
    """
    blocks = list(stream_audio(path))
    return np.concatenate(blocks) if len(blocks) != 1 else blocks[0]


def stream_audio(path: str | Path) -> Iterator[np.ndarray]:
    """Mono float32 blocks at ``SAMPLE_RATE`` whose concatenation is ``load_audio(path)``.

    The checks of ``load_audio`` are made as the blocks come: non-finite samples at the
    block that holds them, truncation and too short a clip after the last block (so a
    consumer must not write its output before the generator is exhausted).
    """
    path = Path(path)
    _check_file(path)
    total = 0
    for block in _decoded_blocks(path):
        if not np.all(np.isfinite(block)):
            raise AudioError(f"{path}: audio holds NaN or infinite samples")
        total += block.size
        if block.size:
            yield block
    if total == 0:
        raise AudioError(f"{path}: file holds no audio samples")
    duration = total / SAMPLE_RATE
    if duration < MIN_DURATION_S:
        raise AudioError(f"{path}: audio is {duration * 1000:.0f} ms long; "
                         f"at least {MIN_DURATION_S * 1000:.0f} ms is needed")


def _check_file(path: Path) -> None:
    if path.is_dir():
        raise AudioError(f"{path}: is a folder, not an audio file; give the audio files "
                         f"in it (e.g. {path / '*.mp3'})")
    if not path.exists():
        raise AudioError(f"{path}: audio file not found")
    if not path.is_file():
        raise AudioError(f"{path}: is not a regular file (a pipe or a device?); copy the "
                         "audio into a file first")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: file is empty (0 bytes)")


def _decoded_blocks(path: Path) -> Iterator[np.ndarray]:
    """Mono blocks at ``SAMPLE_RATE``; AudioError if nothing can decode the file."""
    import soundfile

    with _c_stderr_captured() as notes:
        try:
            sound = soundfile.SoundFile(path)
        except Exception as error:  # libsndfile raises several types for bad files
            sound, reason = None, _soundfile_reason(error, notes.text())
    if sound is None:
        yield from _fallback_blocks(path, reason)
        return
    with sound:
        rate, declared = int(sound.samplerate), int(sound.frames)
        _check_header(path, sound)
        resampler = _resampler(rate)
        decoded = 0
        while True:
            with _c_stderr_captured() as notes:
                try:
                    samples = sound.read(DECODE_BLOCK_FRAMES, dtype="float32", always_2d=True)
                except Exception as error:
                    raise AudioError(f"{path}: cannot decode audio after "
                                     f"{decoded / rate:.2f} s: "
                                     f"{_soundfile_reason(error, notes.text())}") from None
            decoded += len(samples)
            last = len(samples) < DECODE_BLOCK_FRAMES
            yield _to_output_rate(_mono(samples), resampler, last)
            if last:
                break
    if declared > 0 and (declared - decoded) / rate > TRUNCATION_TOLERANCE_S:
        raise AudioError(f"{path}: truncated: decoded {decoded / rate:.2f} s of the "
                         f"{declared / rate:.2f} s its header declares (an interrupted "
                         "download or copy?); download or copy the file again")


def _check_header(path: Path, sound) -> None:
    """A WAV/AIFF whose data chunk is shorter than its header says (libsndfile reports it
    in its log as ``data : N (should be M)`` and silently reads what is there)."""
    match = re.search(r"data\s*:\s*(\d+)\s*\(should be (\d+)\)", sound.extra_info)
    if match and int(match.group(2)) < int(match.group(1)):
        declared, present = int(match.group(1)), int(match.group(2))
        raise AudioError(f"{path}: truncated: its header declares {declared} bytes of audio "
                         f"but the file holds {present} ({present / max(1, declared):.0%}; "
                         "an interrupted download or copy?); download or copy it again")


def _mono(samples: np.ndarray) -> np.ndarray:
    return samples.mean(axis=1) if samples.shape[1] > 1 else samples[:, 0]


def _resampler(rate: int):
    if rate == SAMPLE_RATE:
        return None
    import soxr
    return soxr.ResampleStream(rate, SAMPLE_RATE, 1, dtype="float32", quality="HQ")


def _to_output_rate(mono: np.ndarray, resampler, last: bool) -> np.ndarray:
    mono = np.ascontiguousarray(mono, dtype=np.float32)
    if resampler is None:
        return mono
    return np.ascontiguousarray(resampler.resample_chunk(mono, last=last), dtype=np.float32)


def _fallback_blocks(path: Path, soundfile_reason: str) -> Iterator[np.ndarray]:
    """Formats libsndfile lacks (e.g. some MP4/AAC) via audioread, if installed."""
    try:
        from mer.runtime import import_librosa
        librosa = import_librosa()
        import warnings
        with warnings.catch_warnings(), _c_stderr_captured():
            warnings.simplefilter("ignore")
            samples, rate = librosa.load(path, sr=None, mono=False, dtype=np.float32)
    except Exception:
        raise AudioError(f"{path}: cannot decode audio: {soundfile_reason}") from None
    samples = np.atleast_2d(samples).T
    yield _to_output_rate(_mono(samples), _resampler(int(rate)), True)


# libsndfile's message when its MP3 decoder (mpg123) finds no MPEG frame: it is about
# the content, not the file's existence.
_NOT_REGULAR = "does not exist or is not a regular file"


def _soundfile_reason(error: Exception, notes: str) -> str:
    """What is wrong, in words, from libsndfile's error and the decoder's stderr notes."""
    message = str(error).strip() or type(error).__name__
    message = re.sub(r"^Error (opening|:) ('[^']*'[:.]?)?\s*", "", message).strip() or message
    decoder = "; ".join(line.strip() for line in notes.splitlines() if line.strip())[:300]
    if _NOT_REGULAR in message.lower() or "format not recognised" in message.lower():
        reason = ("not an audio file, or damaged: libsndfile finds no WAV, FLAC, OGG or MP3 "
                  "audio in it")
    elif "malformed" in message.lower() or "lost sync" in message.lower():
        reason = f"damaged or truncated (libsndfile: {message})"
    else:
        reason = f"damaged (libsndfile: {message})"
    if decoder:
        reason += f"; decoder said: {decoder}"
    return reason + "; check that it is a complete audio file, re-export or download it again"


class _Captured:
    def __init__(self, file):
        self._file = file

    def text(self) -> str:
        try:
            self._file.flush()
            self._file.seek(0)
            return self._file.read().decode(errors="replace")
        except (OSError, ValueError):
            return ""


@contextlib.contextmanager
def _c_stderr_captured():
    """Redirect file descriptor 2 (where C libraries such as mpg123 print) to a temporary
    file for the duration; ``.text()`` gives what was printed. Python's own ``sys.stderr``
    is flushed first so nothing of it is lost."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, AttributeError, ValueError):  # no fd 2 (embedded): nothing to capture
        yield _Captured(None)
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield _Captured(capture)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
