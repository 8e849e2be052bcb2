"""Evaluation metrics, one function each, plus ``evaluate`` returning all.

Arrays are (n_songs, n_frames): one row per song, frames in time order. Songs of different
lengths are padded at the end: ``lengths`` (n_songs,) integers, 1 <= lengths[i] <=
n_frames, gives each song's real frames, and only those count (values beyond may be NaN).
``lengths=None`` means every frame is real.

* ``r2``: 1 - SS_res / SS_tot over all predicted (real) frames of all songs pooled (the
  paper's R²; it can be negative). In cross-validation it is computed per test fold and
  averaged over folds; ``mer.cv.summarize_cv`` adds ``r2_pooled``, the same formula over
  all out-of-fold frames at once.
* ``r2_within``: within-song R², how much of the *dynamics* a model explains. Each song's
  annotation and prediction are centred on their own means over the song's real frames
  (d = y - ȳ_song, d̂ = ŷ - mean_song(ŷ)); then 1 - Σ(d - d̂)² / Σd² over all real frames of
  all songs pooled. A prediction constant within each song has d̂ = 0 and scores exactly
  0, whatever its levels; it can be negative. NaN when every annotation is constant
  within its song.
* ``mean_kendall_tau`` (``tau``): Kendall's tau-b between predicted and annotated sequence
  (real frames) of each song, averaged over songs. A song whose *annotation* is constant
  (or that has a single frame) has no ranking to match: it is left out of the mean and
  counted in ``evaluate``'s ``tau_excluded``. A *prediction* that is constant within a
  song (annotation not constant) counts as tau = 0: it ranks nothing.
* ``mae``: mean absolute error over all (real) frames.
* ``rmse``: root mean squared error over all (real) frames (MediaEval 2015's metric).
* ``mean_pearson_r`` (``pearson_r``): Pearson's r between annotation and prediction of
  each song (real frames), averaged over songs (MediaEval 2015's metric); the same rule as
  tau: constant annotation (or a single frame): left out; constant prediction: r = 0.
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


def _per_song(y_true, y_pred, lengths) -> list[tuple[np.ndarray, np.ndarray]]:
    """(annotation, prediction) of each song's real frames."""
    y_true, y_pred, lengths = _validate(y_true, y_pred, lengths)
    if lengths is not None:
        return [(t[:n], p[:n]) for t, p, n in zip(y_true, y_pred, lengths)]
    return list(zip(y_true, y_pred))


def _constant(values: np.ndarray) -> bool:
    """A single frame, or all values equal (exactly: a per-song level is bit-identical)."""
    return len(values) < 2 or bool(np.all(values == values[0]))


def r2_within(y_true, y_pred, *, lengths=None) -> float:
    residual = total = 0.0
    for t, p in _per_song(y_true, y_pred, lengths):
        deviation = t - t.mean()
        residual += float(np.sum((deviation - (p - p.mean())) ** 2))
        total += float(np.sum(deviation ** 2))
    return float(1.0 - residual / total) if total > 0 else float("nan")


def per_song_kendall_tau(y_true, y_pred, *, lengths=None) -> np.ndarray:
    """Each song's tau-b; NaN (excluded) for a constant annotation, 0 for a constant
    prediction (see the module docstring)."""
    return np.array([np.nan if _constant(t) else 0.0 if _constant(p) else kendall_tau_b(t, p)
                     for t, p in _per_song(y_true, y_pred, lengths)])


def pearson_r(x, y) -> float:
    """Pearson's r of two equally long sequences (as ``scipy.stats.pearsonr``, which costs
    a ~1 s import per job, see ``kendall_tau_b``); NaN when either is constant."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.dot(dx, dx) * np.dot(dy, dy))
    return float(np.dot(dx, dy) / denominator) if denominator > 0 else float("nan")


def per_song_pearson_r(y_true, y_pred, *, lengths=None) -> np.ndarray:
    """Each song's Pearson r; NaN (excluded) for a constant annotation, 0 for a constant
    prediction (the rule of ``per_song_kendall_tau``)."""
    return np.array([np.nan if _constant(t) else 0.0 if _constant(p) else pearson_r(t, p)
                     for t, p in _per_song(y_true, y_pred, lengths)])


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


def _mean_over_songs(values: np.ndarray) -> float:
    """Mean over the songs not left out (NaN); NaN if all are."""
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def mean_kendall_tau(y_true, y_pred, *, lengths=None) -> float:
    return _mean_over_songs(per_song_kendall_tau(y_true, y_pred, lengths=lengths))


def mean_pearson_r(y_true, y_pred, *, lengths=None) -> float:
    return _mean_over_songs(per_song_pearson_r(y_true, y_pred, lengths=lengths))


def mae(y_true, y_pred, *, lengths=None) -> float:
    y_true, y_pred = _pooled(*_validate(y_true, y_pred, lengths))
    return float(np.mean(np.abs(y_true - y_pred)))


def rmse(y_true, y_pred, *, lengths=None) -> float:
    y_true, y_pred = _pooled(*_validate(y_true, y_pred, lengths))
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def evaluate(y_true, y_pred, *, lengths=None) -> dict[str, float]:
    """All metrics as a dict: r2, r2_within, tau, mae, rmse, pearson_r, n_songs and
    tau_excluded (songs left out of tau and pearson_r: constant annotation or one frame)."""
    taus = per_song_kendall_tau(y_true, y_pred, lengths=lengths)
    return {
        "r2": r2(y_true, y_pred, lengths=lengths),
        "r2_within": r2_within(y_true, y_pred, lengths=lengths),
        "tau": _mean_over_songs(taus),
        "mae": mae(y_true, y_pred, lengths=lengths),
        "rmse": rmse(y_true, y_pred, lengths=lengths),
        "pearson_r": mean_pearson_r(y_true, y_pred, lengths=lengths),
        "n_songs": int(len(taus)),
        "tau_excluded": int(np.isnan(taus).sum()),
    }
