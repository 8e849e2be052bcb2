"""Evaluation metrics of the paper, one function each, plus ``evaluate`` returning all.

Arrays are (n_songs, n_frames): one row per song, frames in time order.

* ``r2``: 1 - SS_res / SS_tot over all predicted frames of all songs pooled (the paper's
  R²; it can be negative).
* ``mean_kendall_tau``: Kendall's tau-b between predicted and annotated sequence of each
  song, averaged over songs. A song whose annotation or prediction is constant has an
  undefined tau (scipy returns NaN); such songs are left out of the mean and counted in
  ``evaluate``'s ``tau_undefined``.
* ``mae``: mean absolute error over all frames.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import kendalltau


def _validate(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"shape mismatch: annotations {y_true.shape}, predictions {y_pred.shape}")
    if y_true.ndim != 2 or y_true.size == 0:
        raise ValueError(f"expected (n_songs, n_frames) arrays, got {y_true.shape}")
    if not (np.isfinite(y_true).all() and np.isfinite(y_pred).all()):
        raise ValueError("annotations and predictions must be finite")
    return y_true, y_pred


def r2(y_true, y_pred) -> float:
    y_true, y_pred = _validate(y_true, y_pred)
    residual = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    return float(1.0 - residual / total) if total > 0 else float("nan")


def per_song_kendall_tau(y_true, y_pred) -> np.ndarray:
    y_true, y_pred = _validate(y_true, y_pred)
    with warnings.catch_warnings():  # constant input: NaN is the documented answer
        warnings.simplefilter("ignore")
        return np.array([kendalltau(t, p, variant="b").statistic for t, p in zip(y_true, y_pred)])


def mean_kendall_tau(y_true, y_pred) -> float:
    taus = per_song_kendall_tau(y_true, y_pred)
    return float(np.nanmean(taus)) if np.isfinite(taus).any() else float("nan")


def mae(y_true, y_pred) -> float:
    y_true, y_pred = _validate(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def evaluate(y_true, y_pred) -> dict[str, float]:
    """All metrics as a dict: r2, tau, mae, n_songs, tau_undefined."""
    taus = per_song_kendall_tau(y_true, y_pred)
    return {
        "r2": r2(y_true, y_pred),
        "tau": float(np.nanmean(taus)) if np.isfinite(taus).any() else float("nan"),
        "mae": mae(y_true, y_pred),
        "n_songs": int(len(taus)),
        "tau_undefined": int(np.isnan(taus).sum()),
    }
