"""Evaluation metrics of the paper, one function each, plus ``evaluate`` returning all.

Arrays are (n_songs, n_frames): one row per song, frames in time order. Songs of different
lengths are padded at the end: ``lengths`` (n_songs,) integers, 1 <= lengths[i] <=
n_frames, gives each song's real frames, and only those count (values beyond may be NaN).
``lengths=None`` means every frame is real.

* ``r2``: 1 - SS_res / SS_tot over all predicted (real) frames of all songs pooled (the
  paper's R²; it can be negative).
* ``mean_kendall_tau``: Kendall's tau-b between predicted and annotated sequence (real
  frames) of each song, averaged over songs. A song whose annotation or prediction is
  constant (or that has a single frame) has an undefined tau (NaN, as scipy returns); such
  songs are left out of the mean and counted in ``evaluate``'s ``tau_undefined``.
* ``mae``: mean absolute error over all (real) frames.
"""

from __future__ import annotations

import numpy as np

from mer.frames import checked_lengths, real_frames


def _validate(y_true, y_pred, lengths=None
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Float arrays and lengths as int64 (None when every frame is real); ValueError if
    shapes differ, lengths are out of range, or a real frame is not finite."""
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: annotations {y_true.shape}, predictions {y_pred.shape}")
    if y_true.ndim != 2 or y_true.size == 0:
        raise ValueError(f"expected (n_songs, n_frames) arrays, got {y_true.shape}")
    lengths = checked_lengths(lengths, *y_true.shape)
    if lengths is None:
        if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
            raise ValueError("annotations and predictions must be finite (if the NaN are "
                             "padding, pass the songs' lengths)")
    else:
        real = real_frames(lengths, y_true.shape[1])
        if not (np.isfinite(y_true[real]).all() and np.isfinite(y_pred[real]).all()):
            raise ValueError("annotations and predictions must be finite in every song's "
                             "real frames (within lengths)")
    return y_true, y_pred, lengths


def _pooled(y_true, y_pred, lengths) -> tuple[np.ndarray, np.ndarray]:
    """The real frames of all songs; the (n_songs, n_frames) arrays when all are real."""
    if lengths is None:
        return y_true, y_pred
    real = real_frames(lengths, y_true.shape[1])
    return y_true[real], y_pred[real]


def r2(y_true, y_pred, *, lengths=None) -> float:
    y_true, y_pred = _pooled(*_validate(y_true, y_pred, lengths))
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def per_song_kendall_tau(y_true, y_pred, *, lengths=None) -> np.ndarray:
    y_true, y_pred, lengths = _validate(y_true, y_pred, lengths)
    if lengths is not None:
        songs = [(t[:n], p[:n]) for t, p, n in zip(y_true, y_pred, lengths)]
    else:
        songs = zip(y_true, y_pred)
    return np.array([kendall_tau_b(t, p) for t, p in songs])


def kendall_tau_b(x, y) -> float:
    """Kendall's tau-b of two equally long sequences, as ``scipy.stats.kendalltau(x, y)``
    computes it (tests/test_metrics.py compares them); NaN when either is constant.

    tau-b = (concordant - discordant pairs) / sqrt(pairs untied in x * pairs untied in y).
    Written here rather than imported: ``import scipy.stats`` takes ~1.1 s, a quarter of a
    small training job, and every one of the default run's 160 jobs evaluates its fold.
    All pairs at once is O(n^2): ~2 ms for 61 frames, ~0.1 s for a 1200-frame DEAM song.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    first, second = np.triu_indices(len(x), k=1)
    dx, dy = np.sign(x[first] - x[second]), np.sign(y[first] - y[second])
    untied_x, untied_y = np.count_nonzero(dx), np.count_nonzero(dy)
    if untied_x == 0 or untied_y == 0:
        return float("nan")
    return float(np.dot(dx, dy) / np.sqrt(float(untied_x) * float(untied_y)))


def mean_kendall_tau(y_true, y_pred, *, lengths=None) -> float:
    taus = per_song_kendall_tau(y_true, y_pred, lengths=lengths)
    return float(np.nanmean(taus)) if np.isfinite(taus).any() else float("nan")


def mae(y_true, y_pred, *, lengths=None) -> float:
    y_true, y_pred = _pooled(*_validate(y_true, y_pred, lengths))
    return float(np.mean(np.abs(y_true - y_pred)))


def evaluate(y_true, y_pred, *, lengths=None) -> dict[str, float]:
    """All metrics as a dict: r2, tau, mae, n_songs, tau_undefined."""
    taus = per_song_kendall_tau(y_true, y_pred, lengths=lengths)
    return {
        "r2": r2(y_true, y_pred, lengths=lengths),
        "tau": float(np.nanmean(taus)) if np.isfinite(taus).any() else float("nan"),
        "mae": mae(y_true, y_pred, lengths=lengths),
        "n_songs": int(len(taus)),
        "tau_undefined": int(np.isnan(taus).sum()),
    }
