import numpy as np
import pytest
from scipy import stats as sps

from mer.reports.stats import circular_shift_test, corrected_tost, corrected_ttest, holm, wilcoxon_p


def test_corrected_ttest_equals_its_formula_on_a_worked_example():
    d = [0.10, 0.20, 0.00, 0.30, 0.15]  # 5 folds, 6 test and 54 training songs each
    result = corrected_ttest(d, n_test=6, n_train=54)
    # by hand: mean 0.15, s² = (0.0025 + 0.0025 + 0.0225 + 0.0225 + 0) / 4 = 0.0125,
    # factor 1/5 + 6/54 = 0.311…, se = sqrt(0.311… × 0.0125) = 0.062361, t = 2.40535, df 4
    assert result.estimate == pytest.approx(0.15)
    assert result.correction == pytest.approx(0.2 + 6 / 54)
    assert result.se == pytest.approx(np.sqrt((0.2 + 6 / 54) * 0.0125))
    assert result.se == pytest.approx(0.062361, abs=1e-6)
    assert result.t == pytest.approx(2.40535, abs=1e-5) and result.df == 4
    assert result.p == pytest.approx(2 * sps.t.sf(2.40535, 4), abs=1e-5)
    half = sps.t.ppf(0.975, 4) * result.se
    assert (result.ci_low, result.ci_high) == pytest.approx((0.15 - half, 0.15 + half))
    # the plain paired t-test is the same with factor 1/k: the correction shrinks t
    plain = sps.ttest_1samp(d, 0.0)
    assert result.t == pytest.approx(plain.statistic * np.sqrt(0.2 / (0.2 + 6 / 54)))
    assert result.p > plain.pvalue


def test_corrected_ttest_is_undefined_without_variation_or_folds():
    assert np.isnan(corrected_ttest([0.1, 0.1, 0.1], n_test=2, n_train=8).p)
    one = corrected_ttest([0.3], n_test=2, n_train=8)
    assert np.isnan(one.p) and one.estimate == pytest.approx(0.3) and one.k == 1
    with pytest.raises(ValueError, match="positive song counts"):
        corrected_ttest([0.1, 0.2], n_test=0, n_train=8)


def test_holm_equals_a_hand_computation():
    # sorted 0.005, 0.01, 0.03, 0.04 -> ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 -> running max
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    adjusted = holm([0.01, np.nan, 0.04])  # NaN (a test not run) does not count: m = 2
    assert np.isnan(adjusted[1]) and adjusted[[0, 2]].tolist() == pytest.approx([0.02, 0.04])
    assert holm([0.5, 0.9]).tolist() == [1.0, 1.0]  # capped at 1
    assert holm([]).size == 0


def test_tost_equivalence_and_difference():
    d = np.array([0.01, 0.02, 0.0, 0.015, 0.005, 0.01, 0.02, 0.0, 0.01, 0.01])
    result = corrected_tost(d, margin=0.05, n_test=6, n_train=54)
    se = np.sqrt((0.1 + 6 / 54) * d.var(ddof=1))
    p_lower = sps.t.sf((d.mean() + 0.05) / se, 9)
    p_upper = sps.t.cdf((d.mean() - 0.05) / se, 9)
    assert result.p_equivalent == pytest.approx(max(p_lower, p_upper)) and result.p_equivalent < 0.001
    assert result.p_different == 1.0  # inside the margin: no evidence of a difference beyond it
    far = corrected_tost(d + 0.3, margin=0.05, n_test=6, n_train=54)
    assert far.p_equivalent > 0.5 and far.p_different == pytest.approx(2 * sps.t.sf((d.mean() + 0.25) / se, 9))
    with pytest.raises(ValueError, match="margin"):
        corrected_tost(d, margin=0, n_test=6, n_train=54)


def test_wilcoxon_matches_scipy():
    a, b = np.array([0.5, 0.6, 0.7, 0.4, 0.55]), np.array([0.4, 0.5, 0.71, 0.3, 0.5])
    assert wilcoxon_p(a, b) == pytest.approx(sps.wilcoxon(a, b).pvalue)
    assert np.isnan(wilcoxon_p(a, a))


def test_circular_shift_test_finds_aligned_series_and_not_constant_ones():
    rng = np.random.default_rng(3)
    reference = [rng.random(60) for _ in range(8)]
    aligned = [r + 0.1 * rng.random(60) for r in reference]
    observed, null, p, n = circular_shift_test(aligned, reference, n_permutations=999, seed=1)
    assert observed > 0.9 and abs(null) < 0.2 and p == pytest.approx(2 / 1000) and n == 8
    flat = [np.ones(60) for _ in reference]  # a constant signal prefers no frame: r = 0
    observed, null, p, n = circular_shift_test(flat, reference, n_permutations=999, seed=1)
    assert observed == 0 and p == 1.0
    # a constant reference (an annotation that never changes) leaves the song out
    assert circular_shift_test(aligned, [np.zeros(60)] * 8, n_permutations=9, seed=1)[3] == 0
    again = circular_shift_test(aligned, reference, n_permutations=999, seed=1)
    assert again == circular_shift_test(aligned, reference, n_permutations=999, seed=1)  # seeded
