import numpy as np
import pytest
from scipy.stats import kendalltau
from sklearn.metrics import mean_absolute_error, r2_score

from mer.metrics import evaluate, mae, mean_kendall_tau, r2


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


def test_constant_song_is_left_out_and_counted(random_pair):
    y_true, y_pred = random_pair
    y_pred = y_pred.copy()
    y_pred[0] = 0.5  # a constant prediction has no defined rank correlation
    result = evaluate(y_true, y_pred)
    assert result["tau_undefined"] == 1
    expected = np.mean([kendalltau(t, p).statistic for t, p in zip(y_true[1:], y_pred[1:])])
    assert result["tau"] == pytest.approx(expected)


def test_perfect_prediction():
    y = np.linspace(-1, 1, 122).reshape(2, 61)
    assert evaluate(y, y)["r2"] == 1.0 and evaluate(y, y)["mae"] == 0.0 and evaluate(y, y)["tau"] == 1.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="shape mismatch"):
        r2(np.zeros((2, 61)), np.zeros((2, 60)))
