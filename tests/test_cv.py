import numpy as np
import pandas as pd
import pytest

from mer.cv import Standardizer, assign_folds, predictions_table, split_fold, summarize_cv
from mer.errors import ConfigError


def test_every_song_in_exactly_one_fold():
    ids = np.arange(10, 47)
    folds = assign_folds(ids, 5, seed=1)
    assert sorted(folds["song_id"]) == list(ids)
    assert folds["song_id"].is_unique
    sizes = folds["fold"].value_counts()
    assert set(sizes.index) == set(range(5)) and sizes.max() - sizes.min() <= 1


def test_folds_depend_on_seed_only():
    ids = np.arange(30)
    pd.testing.assert_frame_equal(assign_folds(ids, 3, 7), assign_folds(ids[::-1], 3, 7))
    assert not assign_folds(ids, 3, 7).equals(assign_folds(ids, 3, 8))


def test_too_many_folds_is_a_config_error():
    with pytest.raises(ConfigError, match="cv.folds"):
        assign_folds(np.arange(3), 5, seed=0)


def test_split_keeps_test_songs_out_of_training_and_validation():
    folds = assign_folds(np.arange(50), 5, seed=0)
    for fold in range(5):
        split = split_fold(folds, fold, validation_fraction=0.1, seed=0)
        assert set(split.test) == set(folds.loc[folds["fold"] == fold, "song_id"])
        assert not set(split.test) & (set(split.fit) | set(split.validation))
        assert not set(split.fit) & set(split.validation)
        assert len(split.fit) + len(split.validation) + len(split.test) == 50
        assert len(split.validation) == 4


def test_standardizer_never_sees_test_songs():
    rng = np.random.default_rng(0)
    x_fit = rng.normal(2.0, 3.0, size=(20, 61, 4)).astype(np.float32)
    x_test = rng.normal(100.0, 50.0, size=(5, 61, 4)).astype(np.float32)
    scaler = Standardizer.fit(x_fit)
    z = scaler.transform(x_fit)
    np.testing.assert_allclose(z.reshape(-1, 4).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(z.reshape(-1, 4).std(0), 1, atol=1e-4)
    # statistics come from the fitting songs only: the test songs stay far from zero
    assert scaler.transform(x_test).mean() > 10


def test_constant_feature_is_not_divided_by_zero():
    x = np.ones((3, 5, 2), np.float32)
    assert np.isfinite(Standardizer.fit(x).transform(x)).all()


def test_predictions_table_times_are_annotation_times():
    table = predictions_table([7, 9], np.zeros((2, 61)), np.ones((2, 61)))
    assert table["time_s"].iloc[0] == 15.0 and table["time_s"].iloc[60] == 45.0
    assert table.loc[table["song_id"] == 9, "frame"].tolist() == list(range(61))


def test_summarize_cv_mean_and_std(tmp_path):
    metric_paths, prediction_paths = [], []
    for fold, value in enumerate([0.2, 0.4, 0.6]):
        m = tmp_path / f"m{fold}.json"
        m.write_text(f'{{"fold": {fold}, "r2": {value}, "tau": 0.1, "mae": 0.2, "epochs": 3}}')
        p = tmp_path / f"p{fold}.csv"
        predictions_table([fold], np.zeros((1, 61)), np.zeros((1, 61))).to_csv(p, index=False)
        metric_paths.append(m)
        prediction_paths.append(p)
    summary = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s.json",
                           predictions_path=tmp_path / "oof.csv", description={"model": "AT_8"})
    assert summary["r2"] == pytest.approx(0.4) and summary["r2_std"] == pytest.approx(0.2)
    oof = pd.read_csv(tmp_path / "oof.csv")
    assert sorted(oof["song_id"].unique()) == [0, 1, 2] and len(oof) == 183
