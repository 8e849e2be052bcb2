"""Statistical tests of the reports: what each one assumes and over what it varies.

* **Corrected resampled t-test** (Nadeau & Bengio 2003) on per-fold differences of a metric
  between two models trained on the same folds. The folds' training sets overlap (by
  (k−2)/(k−1) in k-fold CV), so the fold differences are correlated and the plain paired
  t-test (variance × 1/k) overstates significance (Dietterich 1998). The corrected test uses
  variance × (1/k + n_test/n_train): ``n_test``, ``n_train`` are the mean numbers of test and
  training songs per fold (training = every song outside the test fold, the validation songs
  included). Student t with k − 1 degrees of freedom; the interval is the matching
  confidence interval of the mean difference.
* **Wilcoxon signed-rank test** (``scipy.stats.wilcoxon``; exact for small k): a second,
  rank-based fold test, uncorrected for the overlap (reported beside the t-test, not used
  for verdicts).
* **Holm's step-down correction** across the comparisons of one report (``holm``).
* **TOST** (two one-sided tests, Schuirmann 1987) for equivalence within ± a margin, on the
  same corrected variance (``corrected_tost``).
* **Song bootstrap** (percentile CI, songs resampled): it resamples the *test songs* of
  models already trained, so it is conditional on the trained models and says nothing about
  retraining on other data (see ``mer.reports.comparison``).

All p-values are two-sided unless a function says otherwise. Differences are ``a − b``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TTestResult:
    """A corrected resampled t-test of the mean fold difference (a − b)."""
    estimate: float        # mean difference over folds
    se: float              # corrected standard error
    t: float
    df: int
    p: float               # two-sided
    ci_low: float
    ci_high: float
    k: int                 # folds used
    n_test: float          # mean test songs per fold
    n_train: float         # mean training songs per fold

    @property
    def correction(self) -> float:
        """The variance factor 1/k + n_test/n_train (the plain paired t-test uses 1/k)."""
        return 1 / self.k + self.n_test / self.n_train


def _nan_result(estimate: float, k: int, n_test: float, n_train: float) -> TTestResult:
    return TTestResult(estimate, np.nan, np.nan, max(k - 1, 0), np.nan, np.nan, np.nan, k, n_test, n_train)


def corrected_ttest(differences, *, n_test: float, n_train: float, confidence: float = 0.95) -> TTestResult:
    """Nadeau–Bengio corrected resampled t-test of ``mean(differences) == 0``.

    t = d̄ / sqrt((1/k + n_test/n_train) · s²), s² the sample variance (ddof 1) of the k fold
    differences, df = k − 1. Fewer than 2 folds, or differences that do not vary: the test
    is undefined and every statistic is NaN (the estimate is still given); a non-zero mean
    with zero variance is not "infinitely significant" but untestable with this design.
    """
    from scipy.stats import t as student_t

    d = np.asarray(differences, dtype=float)
    d = d[np.isfinite(d)]
    k = len(d)
    estimate = float(d.mean()) if k else np.nan
    if n_train <= 0 or n_test <= 0:
        raise ValueError(f"corrected t-test needs positive song counts, got n_test={n_test}, n_train={n_train}")
    if k < 2:
        return _nan_result(estimate, k, n_test, n_train)
    variance = float(d.var(ddof=1))
    if np.allclose(d, d[0], rtol=1e-12, atol=1e-15):  # equal up to rounding: no variation
        return _nan_result(estimate, k, n_test, n_train)
    se = float(np.sqrt((1 / k + n_test / n_train) * variance))
    t = estimate / se
    df = k - 1
    p = float(2 * student_t.sf(abs(t), df))
    half = float(student_t.ppf(0.5 + confidence / 2, df) * se)
    return TTestResult(estimate, se, float(t), df, p, estimate - half, estimate + half, k, n_test, n_train)


@dataclass(frozen=True)
class EquivalenceResult:
    """TOST of |a − b| < margin, and the test of the opposite (|a − b| > margin)."""
    test: TTestResult      # the corrected t-test (estimate, se, CI) it is built on
    margin: float
    p_equivalent: float    # TOST: max of the two one-sided p's; small = equivalent
    p_different: float     # one-sided p that the difference lies beyond the margin on the
                           # side of the estimate, doubled (like a two-sided test); small = not equivalent


def corrected_tost(differences, *, margin: float, n_test: float, n_train: float,
                   confidence: float = 0.95) -> EquivalenceResult:
    """Two one-sided corrected t-tests for equivalence within ``± margin``.

    H0a: d ≤ −margin vs d > −margin, p_a = P(T ≥ (d̄ + margin)/se);
    H0b: d ≥ +margin vs d < +margin, p_b = P(T ≤ (d̄ − margin)/se); ``p_equivalent`` = max.
    ``p_different`` tests the other way (H0: |d| ≤ margin) on the side d̄ lies:
    2 · P(T ≥ (|d̄| − margin)/se), capped at 1.
    """
    from scipy.stats import t as student_t

    if margin <= 0:
        raise ValueError(f"equivalence margin must be positive, got {margin}")
    test = corrected_ttest(differences, n_test=n_test, n_train=n_train, confidence=confidence)
    if not np.isfinite(test.se):
        return EquivalenceResult(test, margin, np.nan, np.nan)
    p_lower = float(student_t.sf((test.estimate + margin) / test.se, test.df))
    p_upper = float(student_t.cdf((test.estimate - margin) / test.se, test.df))
    p_different = float(min(1.0, 2 * student_t.sf((abs(test.estimate) - margin) / test.se, test.df)))
    return EquivalenceResult(test, margin, max(p_lower, p_upper), p_different)


def wilcoxon_p(a, b) -> float:
    """Two-sided Wilcoxon signed-rank p of a − b (NaN with < 2 pairs or all differences 0)."""
    from scipy.stats import wilcoxon

    d = np.asarray(a, float) - np.asarray(b, float)
    d = d[np.isfinite(d)]
    if len(d) < 2 or not np.any(d != 0):
        return np.nan
    return float(wilcoxon(d).pvalue)


def holm(pvalues) -> np.ndarray:
    """Holm's step-down adjusted p-values (Holm 1979); NaN entries stay NaN and do not count.

    Sorted ascending p_(1) ≤ … ≤ p_(m): adjusted p_(i) = max_{j ≤ i} min(1, (m − j + 1) p_(j)).
    Rejecting where adjusted p < α controls the family-wise error rate at α. Written here
    (10 lines) because statsmodels, which has it, is not a dependency of mer.
    """
    p = np.asarray(pvalues, dtype=float)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = len(finite)
    order = finite[np.argsort(p[finite], kind="stable")]
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted


def circular_shift_test(signal: list[np.ndarray], reference: list[np.ndarray], *, n_permutations: int,
                        seed: int) -> tuple[float, float, float, int]:
    """Mean over songs of corr(signal, reference), against circular shifts of ``reference``.

    Each song's ``reference`` is rotated by an independent uniform shift in 1 … T − 1 (the
    null keeps each series' autocorrelation and only breaks their alignment); the statistic
    is recomputed ``n_permutations`` times. Returns (observed mean correlation, mean of the
    null, two-sided permutation p, songs used). p = min(1, 2 · min(p≥, p≤)) with
    p≥ = (1 + #{null ≥ observed}) / (1 + B) (the +1 counts the observed arrangement).
    A song whose ``signal`` is constant has correlation 0 (no preference for any frame);
    a song whose ``reference`` is constant, or shorter than 3 frames, is left out.
    """
    pairs = [(np.asarray(s, float), np.asarray(r, float)) for s, r in zip(signal, reference)]
    pairs = [(s, r) for s, r in pairs if len(s) >= 3 and np.ptp(r) > 0]
    if not pairs:
        return np.nan, np.nan, np.nan, 0
    rng = np.random.default_rng(seed)

    def centred(x):
        x = x - x.mean()
        norm = np.sqrt((x * x).sum())
        return x / norm if norm > 0 else x  # constant: all zeros, correlation 0

    signals = [centred(s) for s, _ in pairs]
    references = [centred(r) for _, r in pairs]
    observed = float(np.mean([s @ r for s, r in zip(signals, references)]))
    null = np.zeros(n_permutations)
    for s, r in zip(signals, references):
        n = len(r)
        shifts = rng.integers(1, n, size=n_permutations)
        # all shifted copies at once: row b is r rolled by shifts[b]
        index = (np.arange(n)[None, :] - shifts[:, None]) % n
        null += r[index] @ s
    null /= len(pairs)
    above = (1 + np.sum(null >= observed - 1e-12)) / (1 + n_permutations)
    below = (1 + np.sum(null <= observed + 1e-12)) / (1 + n_permutations)
    return observed, float(null.mean()), float(min(1.0, 2 * min(above, below))), len(pairs)
