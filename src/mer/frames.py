"""Frame alignment: the one place that says which audio each frame and label covers.

Conventions (every module imports these names instead of repeating numbers):

* Audio is mono at ``SAMPLE_RATE`` = 44,100 Hz.
* A clip is cut into non-overlapping frames of ``FRAME_SECONDS`` = 0.5 s. Whole-clip
  frame ``k`` (k = 0, 1, ...) covers the half-open interval ``[0.5 k, 0.5 k + 0.5)`` s;
  a trailing piece shorter than 0.5 s is dropped. A clip of ``d`` seconds has
  ``floor(d / 0.5)`` whole frames (the real 45.06-45.09 s emoMusic clips have 90).
* emoMusic annotates seconds 15 to 45 at 2 Hz: 61 samples named ``sample_15000ms`` ...
  ``sample_45000ms``. A rating at time ``t`` is given by a listener who has heard the
  music *up to* ``t``, so the label at ``t`` is paired with the frame that *ends* at ``t``:
  frame ``k = 2 t - 1``. Annotated sample ``j`` (j = 0..60, time ``15 + j / 2``) therefore
  pairs with whole-clip frame ``29 + j``; the last one (t = 45 s) covers [44.5, 45.0) s and
  lies inside every real clip. (Pairing with the frame that *starts* at ``t`` would need
  audio up to 45.5 s, which the clips do not have.)
* Everything downstream (features, models, predictions) is indexed by these annotated
  frames; ``frame_end_times`` gives the time stamp written next to each value.
"""

from __future__ import annotations

import numpy as np

SAMPLE_RATE = 44_100
FRAME_SECONDS = 0.5
FRAME_SAMPLES = int(SAMPLE_RATE * FRAME_SECONDS)  # 22,050
ANNOTATION_START_S = 15.0
ANNOTATION_END_S = 45.0
N_ANNOTATED_FRAMES = 61
FIRST_ANNOTATED_FRAME = int(round(ANNOTATION_START_S / FRAME_SECONDS)) - 1  # 29
MIN_ANNOTATED_CLIP_S = ANNOTATION_END_S  # a clip must reach 45.0 s to hold all 61 frames


def n_whole_frames(n_samples: int, sample_rate: int = SAMPLE_RATE) -> int:
    """Number of whole 500 ms frames in ``n_samples`` of audio."""
    return int(n_samples // int(round(sample_rate * FRAME_SECONDS)))


def frame_bounds(k: int | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end time (s) of whole-clip frame(s) ``k``."""
    k = np.asarray(k)
    return k * FRAME_SECONDS, (k + 1) * FRAME_SECONDS


def frame_end_times(n_frames: int, first_frame: int = 0) -> np.ndarray:
    """Time stamp (s) of each frame: the end of its 500 ms, as annotations are stamped."""
    return (np.arange(first_frame, first_frame + n_frames) + 1) * FRAME_SECONDS


def annotated_frame_indices() -> np.ndarray:
    """Whole-clip frame indices (29..89) paired with the 61 annotation samples."""
    return np.arange(FIRST_ANNOTATED_FRAME, FIRST_ANNOTATED_FRAME + N_ANNOTATED_FRAMES)


def annotation_times() -> np.ndarray:
    """Times (s) of the 61 annotation samples: 15.0, 15.5, ..., 45.0."""
    return ANNOTATION_START_S + FRAME_SECONDS * np.arange(N_ANNOTATED_FRAMES)


def annotation_column(time_s: float) -> str:
    """Column name emoMusic uses for the sample at ``time_s`` (``sample_15000ms``)."""
    return f"sample_{int(round(time_s * 1000))}ms"


def checked_lengths(lengths, n_songs: int, n_frames: int) -> np.ndarray | None:
    """Songs padded at the end to ``n_frames``: their numbers of real frames as int64, or
    None when every song fills all frames (nothing is padded). ``ValueError`` unless
    ``lengths`` holds ``n_songs`` integers in [1, n_frames]."""
    if lengths is None:
        return None
    lengths = np.asarray(lengths)
    if lengths.shape != (n_songs,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be {n_songs} integers (one per song), got "
                         f"{lengths.dtype} of shape {lengths.shape}")
    if n_songs and (lengths.min() < 1 or lengths.max() > n_frames):
        raise ValueError(f"lengths must be in [1, {n_frames}] (the padded number of frames), "
                         f"got min {lengths.min()}, max {lengths.max()}")
    return None if (lengths == n_frames).all() else lengths.astype(np.int64)


def real_frames(lengths: np.ndarray, n_frames: int) -> np.ndarray:
    """(n_songs, n_frames) bool: True on each song's first ``lengths[i]`` frames."""
    return np.arange(n_frames) < np.asarray(lengths)[:, None]
