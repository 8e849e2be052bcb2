import numpy as np
import pytest
from scipy.stats import kendalltau, pearsonr
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from mer.metrics import (evaluate, mae, mean_kendall_tau, mean_pearson_r, per_song_kendall_tau,
                         r2, r2_within, rmse)


@pytest.fixture
def random_pair():
    rng = np.random.default_rng(0)
    y_true = rng.normal(size=(7, 61))
    y_pred = y_true + rng.normal(scale=0.8, size=y_true.shape)
    return y_true, y_pred


def test_r2_matches_sklearn_on_pooled_frames(random_pair):
    y_true, y_pred = random_pair
    assert r2(y_true, y_pred) == pytest.approx(r2_score(y_true.ravel(), y_pred.ravel()), abs=1e-12)


def test_mae_matches_sklearn(random_pair):
    y_true, y_pred = random_pair
    assert mae(y_true, y_pred) == pytest.approx(mean_absolute_error(y_true.ravel(), y_pred.ravel()))


def test_tau_is_mean_of_per_song_tau_b(random_pair):
    y_true, y_pred = random_pair
    expected = np.mean([kendalltau(t, p).statistic for t, p in zip(y_true, y_pred)])
    assert mean_kendall_tau(y_true, y_pred) == pytest.approx(expected)


def test_tau_handles_ties_with_tau_b():
    y_true = np.array([[0.0, 0.0, 1.0, 1.0, 2.0]])
    y_pred = np.array([[0.1, 0.2, 0.2, 0.9, 1.0]])
    assert mean_kendall_tau(y_true, y_pred) == pytest.approx(kendalltau(y_true[0], y_pred[0], variant="b").statistic)


def test_constant_annotation_is_left_out_and_counted(random_pair):
    y_true, y_pred = random_pair
    y_true = y_true.copy()
    y_true[0] = 0.5  # nothing to rank: the song is left out of tau and pearson_r
    result = evaluate(y_true, y_pred)
    assert result["tau_excluded"] == 1 and result["n_songs"] == 7
    expected = np.mean([kendalltau(t, p).statistic for t, p in zip(y_true[1:], y_pred[1:])])
    assert result["tau"] == pytest.approx(expected)
    expected_r = np.mean([pearsonr(t, p).statistic for t, p in zip(y_true[1:], y_pred[1:])])
    assert result["pearson_r"] == pytest.approx(expected_r)


def test_constant_prediction_counts_as_tau_and_r_zero(random_pair):
    y_true, y_pred = random_pair
    y_pred = y_pred.copy()
    y_pred[0] = 0.5  # ranks nothing: tau = r = 0 for that song, not left out
    result = evaluate(y_true, y_pred)
    assert result["tau_excluded"] == 0
    taus = [0.0] + [kendalltau(t, p).statistic for t, p in zip(y_true[1:], y_pred[1:])]
    assert result["tau"] == pytest.approx(np.mean(taus))
    rs = [0.0] + [pearsonr(t, p).statistic for t, p in zip(y_true[1:], y_pred[1:])]
    assert result["pearson_r"] == pytest.approx(np.mean(rs))
    constant = np.repeat(y_true.mean(axis=1, keepdims=True), y_true.shape[1], axis=1)
    assert evaluate(y_true, constant)["tau"] == 0.0 and evaluate(y_true, constant)["pearson_r"] == 0.0


def test_perfect_prediction():
    y = np.linspace(-1, 1, 122).reshape(2, 61)
    assert evaluate(y, y)["r2"] == 1.0 and evaluate(y, y)["mae"] == 0.0 and evaluate(y, y)["tau"] == 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        r2(np.zeros((2, 61)), np.zeros((2, 60)))


# Songs padded at the end: only each song's first lengths[i] frames count.

LENGTHS = np.array([61, 12, 40, 3, 61, 25, 50])


@pytest.fixture
def padded_pair(random_pair):
    """random_pair with NaN beyond each song's length, and the concatenated real frames."""
    y_true, y_pred = random_pair
    real = np.arange(y_true.shape[1]) < LENGTHS[:, None]
    pooled = y_true[real], y_pred[real]
    return np.where(real, y_true, np.nan), np.where(real, y_pred, np.nan), pooled


def test_padded_r2_and_mae_pool_the_real_frames(padded_pair):
    y_true, y_pred, (true_real, pred_real) = padded_pair
    assert r2(y_true, y_pred, lengths=LENGTHS) == pytest.approx(r2_score(true_real, pred_real),
                                                                abs=1e-12)
    assert mae(y_true, y_pred, lengths=LENGTHS) == pytest.approx(
        mean_absolute_error(true_real, pred_real))


def test_padded_tau_is_per_song_on_the_real_frames(padded_pair):
    y_true, y_pred, _ = padded_pair
    expected = [kendalltau(t[:n], p[:n]).statistic for t, p, n in zip(y_true, y_pred, LENGTHS)]
    np.testing.assert_allclose(per_song_kendall_tau(y_true, y_pred, lengths=LENGTHS), expected)
    assert mean_kendall_tau(y_true, y_pred, lengths=LENGTHS) == pytest.approx(np.mean(expected))
    result = evaluate(y_true, y_pred, lengths=LENGTHS)
    assert result["tau"] == pytest.approx(np.mean(expected)) and result["n_songs"] == 7
    assert result["r2"] == r2(y_true, y_pred, lengths=LENGTHS)


def test_full_lengths_are_no_lengths(random_pair):
    y_true, y_pred = random_pair
    full = np.full(len(y_true), y_true.shape[1])
    assert evaluate(y_true, y_pred, lengths=full) == evaluate(y_true, y_pred)


def test_nan_in_a_real_frame_is_an_error(padded_pair):
    y_true, y_pred, _ = padded_pair
    with pytest.raises(ValueError, match="finite"):
        r2(y_true, y_pred)  # padding without lengths
    bad = y_pred.copy()
    bad[3, 2] = np.nan  # song 3 has 3 real frames
    with pytest.raises(ValueError, match="real frames"):
        evaluate(y_true, bad, lengths=LENGTHS)


@pytest.mark.parametrize("lengths, match", [
    (np.array([0, 5]), r"\[1, 61\]"), (np.array([62, 5]), r"\[1, 61\]"),
    (np.array([5]), "2 integers"), (np.array([5.0, 5.0]), "integers"),
])
def test_invalid_lengths(lengths, match):
    with pytest.raises(ValueError, match=match):
        mae(np.zeros((2, 61)), np.zeros((2, 61)), lengths=lengths)


@pytest.mark.parametrize("n, levels", [(61, None), (61, 5), (7, 2), (30, 2), (1200, 40), (2, None)])
def test_our_kendall_tau_b_equals_scipys(n, levels):
    """With and without ties (values rounded to a few levels), short and DEAM-long."""
    from mer.metrics import kendall_tau_b
    rng = np.random.default_rng(n)
    x, y = rng.normal(size=n), rng.normal(size=n)
    y = y + x  # correlated, so tau is far from 0
    if levels:
        x, y = np.round(x * levels / 4) / levels, np.round(y * levels / 4) / levels
    assert kendall_tau_b(x, y) == pytest.approx(kendalltau(x, y).statistic, abs=1e-12, nan_ok=True)


def test_kendall_tau_b_of_a_constant_sequence_is_nan():
    from mer.metrics import kendall_tau_b
    assert np.isnan(kendall_tau_b([1.0, 1.0, 1.0], [0.1, 0.5, 0.2]))
    assert np.isnan(kendall_tau_b([0.3], [0.2]))


# Within-song R², RMSE and Pearson r (MediaEval 2015's metrics).


def test_rmse_matches_sklearn(random_pair, padded_pair):
    y_true, y_pred = random_pair
    assert rmse(y_true, y_pred) == pytest.approx(np.sqrt(mean_squared_error(y_true.ravel(),
                                                                            y_pred.ravel())))
    padded_true, padded_pred, (true_real, pred_real) = padded_pair
    assert rmse(padded_true, padded_pred, lengths=LENGTHS) == pytest.approx(
        np.sqrt(mean_squared_error(true_real, pred_real)))


def test_pearson_r_is_the_mean_of_scipys_per_song_r(random_pair, padded_pair):
    y_true, y_pred = random_pair
    expected = np.mean([pearsonr(t, p).statistic for t, p in zip(y_true, y_pred)])
    assert mean_pearson_r(y_true, y_pred) == pytest.approx(expected, abs=1e-12)
    padded_true, padded_pred, _ = padded_pair
    expected = np.mean([pearsonr(t[:n], p[:n]).statistic
                        for t, p, n in zip(padded_true, padded_pred, LENGTHS)])
    assert evaluate(padded_true, padded_pred, lengths=LENGTHS)["pearson_r"] == pytest.approx(expected)


def test_r2_within_equals_a_hand_computation():
    y_true = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 8.0]])
    y_pred = np.array([[0.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    # song 1: annotation deviations (-1, 0, 1), prediction mean 1 -> (-1, 1, 0)
    # song 2: annotation mean 6 -> (-1, -1, 2), prediction mean 2 -> (-1, 0, 1)
    residual = (0 ** 2 + 1 ** 2 + 1 ** 2) + (0 ** 2 + 1 ** 2 + 1 ** 2)
    total = (1 + 0 + 1) + (1 + 1 + 4)
    assert r2_within(y_true, y_pred) == pytest.approx(1 - residual / total, abs=1e-15)
    assert evaluate(y_true, y_pred)["r2_within"] == pytest.approx(1 - residual / total)


def test_r2_within_is_zero_for_any_per_song_constant(random_pair):
    y_true, _ = random_pair
    levels = np.random.default_rng(3).normal(size=(len(y_true), 1))
    for constant in (np.repeat(levels, y_true.shape[1], axis=1),
                     np.repeat(y_true.mean(axis=1, keepdims=True), y_true.shape[1], axis=1)):
        assert r2_within(y_true, constant) == 0.0
    assert r2_within(y_true, y_true + levels) == 1.0  # right dynamics, wrong levels


def test_r2_within_pools_the_real_frames_of_padded_songs(padded_pair):
    padded_true, padded_pred, _ = padded_pair
    residual = total = 0.0
    for t, p, n in zip(padded_true, padded_pred, LENGTHS):
        t, p = t[:n], p[:n]
        residual += np.sum(((t - t.mean()) - (p - p.mean())) ** 2)
        total += np.sum((t - t.mean()) ** 2)
    assert r2_within(padded_true, padded_pred, lengths=LENGTHS) == pytest.approx(1 - residual / total)
    assert np.isnan(r2_within(np.ones((2, 5)), np.zeros((2, 5))))  # no dynamics to explain


def test_single_frame_songs_are_excluded_from_tau_and_r():
    y_true = np.array([[0.1, np.nan, np.nan], [0.1, 0.3, 0.2]])
    y_pred = np.array([[0.0, np.nan, np.nan], [0.0, 0.2, 0.4]])
    result = evaluate(y_true, y_pred, lengths=np.array([1, 3]))
    assert result["tau_excluded"] == 1
    assert result["tau"] == pytest.approx(kendalltau(y_true[1], y_pred[1]).statistic)
    assert result["pearson_r"] == pytest.approx(pearsonr(y_true[1], y_pred[1]).statistic)
