"""Raters: how the published annotations see a song's perceived emotion.

Units: seconds; values on the dataset's [-1, 1] scale (static ratings on 1-9).

* Continuous average: the perceived emotion delayed by ``rater_lag_s`` (1 s), smoothed by
  a causal exponential filter (``rater_smoothing_s``), plus a smooth AR(1) rater-average
  noise (``annotation_noise_std``), sampled at ``mer.frames.annotation_times()``
  (15.0, 15.5, ..., 45.0 s) and clipped to [-1, 1].
* Continuous std (``*_cont_std``): a per-song rater spread (``rater_std_range``) that
  drifts slowly (4 s AR(1)).
* Static ratings: the whole-clip mean of the perceived emotion mapped to 1-9 (``5 + 4 x``)
  plus rating noise, one decimal as a mean of ten raters, with a rater std in
  ``static_std_range``.

``annotation_statistics`` computes the statistics the model is fitted to (see
``EmotionModel`` for the real set's values).
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

from mer.frames import FRAME_SECONDS, annotation_times

STATIC_SCALE = (1.0, 9.0)  # static ratings: 5 + 4 x, x on [-1, 1]


def ar1(rng: np.random.Generator, n: int, rho: float, n_series: int = 1,
        corr: float = 0.0) -> np.ndarray:
    """(n_series, n) stationary unit-variance AR(1) series; innovations correlated ``corr``."""
    cov = np.full((n_series, n_series), corr) + (1 - corr) * np.eye(n_series)
    innovations = np.linalg.cholesky(cov) @ rng.standard_normal((n_series, n))
    scale = np.sqrt(1 - rho**2)
    x0 = innovations[:, :1]  # start in the stationary distribution
    out = lfilter([scale], [1, -rho], innovations[:, 1:], axis=1, zi=rho * x0)[0]
    return np.concatenate([x0, out], axis=1)


def causal_smooth(x: np.ndarray, tau_s: float, rate_hz: float) -> np.ndarray:
    """One-pole exponential smoothing along the last axis, started at the first value."""
    if tau_s <= 0:
        return np.array(x, dtype=float)
    alpha = np.exp(-1.0 / (rate_hz * tau_s))
    return lfilter([1 - alpha], [1, -alpha], x, axis=-1, zi=alpha * x[..., :1])[0]


def rater_filter(x: np.ndarray, times: np.ndarray, *, lag_s: float, smoothing_s: float,
                 rate_hz: float) -> np.ndarray:
    """Delay by ``lag_s``, smooth causally, sample at the 61 annotation times.

    ``x``: (n_series, n) on the grid ``times`` (step ``1 / rate_hz``) -> (n_series, 61).
    """
    smoothed = causal_smooth(np.atleast_2d(x), smoothing_s, rate_hz)
    return np.stack([np.interp(annotation_times() - lag_s, times, row) for row in smoothed])


def annotate(perceived: np.ndarray, times: np.ndarray, model, rng: np.random.Generator,
             rate_hz: float):
    """The published files' values of one song from its (2, n) perceived emotion (A, V).

    Returns (average (2, 61), std (2, 61), static mean (2,), static std (2,)).
    """
    n_ann = len(annotation_times())
    noise_rho = np.exp(-FRAME_SECONDS / model.annotation_noise_tau_s)
    noise = model.annotation_noise_std * ar1(rng, n_ann, noise_rho, n_series=2)
    average = np.clip(rater_filter(perceived, times, lag_s=model.rater_lag_s,
                                   smoothing_s=model.rater_smoothing_s, rate_hz=rate_hz)
                      + noise, -1.0, 1.0)
    rater_std = rng.uniform(*model.rater_std_range, size=(2, 1))
    wobble = ar1(rng, n_ann, np.exp(-FRAME_SECONDS / 4.0), n_series=2)  # 4 s drift
    spread = np.clip(rater_std * (1 + 0.12 * wobble), 0.02, 0.6)

    low, high = STATIC_SCALE
    centre = (low + high) / 2
    static = centre + (high - centre) * perceived.mean(axis=1)
    static = np.clip(np.round(static + model.static_noise_std * rng.standard_normal(2), 1),
                     low, high)
    static_std = rng.uniform(*model.static_std_range, size=2)
    return average, spread, static, static_std


def annotation_statistics(arousal: np.ndarray, valence: np.ndarray) -> dict[str, float]:
    """Summary statistics of (n_songs, n_frames) annotation matrices, as used to fit the model.

    ``mean_*`` / ``std_*``: over all frames; ``between_share_*``: share of the frame variance
    that lies between song means; ``within_std_*``: mean over songs of each song's std;
    ``lag1_autocorr_*``: pooled lag-1 autocorrelation of within-song deviations;
    ``av_corr``: correlation of arousal and valence over all frames.
    """
    stats = {}
    for name, x in (("arousal", arousal), ("valence", valence)):
        x = np.asarray(x, float)
        deviation = x - x.mean(axis=1, keepdims=True)
        total = x.var()
        stats[f"mean_{name}"] = float(x.mean())
        stats[f"std_{name}"] = float(x.std())
        stats[f"between_share_{name}"] = float(x.mean(axis=1).var() / total) if total else 0.0
        stats[f"within_std_{name}"] = float(x.std(axis=1).mean())
        denominator = np.sum(deviation**2)
        stats[f"lag1_autocorr_{name}"] = (
            float(np.sum(deviation[:, 1:] * deviation[:, :-1]) / denominator)
            if denominator else float("nan"))
    stats["av_corr"] = float(np.corrcoef(np.ravel(arousal), np.ravel(valence))[0, 1])
    return stats
