import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mer.cv import (METRIC_NAMES, TRAIN_ONLY, Standardizer, assign_folds, load_song_attention, make_folds,
                    n_test_folds, predictions_table, split_fold, summarize_cv, training_seed)
from mer.errors import ConfigError, DataError


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


def fold_metrics(**values) -> str:
    """A fold's metrics.json with every key summarize_cv reads (defaults, then ``values``)."""
    metrics = {"r2": 0.0, "r2_within": 0.05, "tau": 0.1, "mae": 0.2, "rmse": 0.25,
               "pearson_r": 0.15, "epochs": 3, "best_val_loss": 0.04, **values}
    return json.dumps(metrics)


def test_summarize_cv_mean_and_std(tmp_path):
    metric_paths, prediction_paths = [], []
    for fold, value in enumerate([0.2, 0.4, 0.6]):
        m = tmp_path / f"m{fold}.json"
        m.write_text(fold_metrics(fold=fold, r2=value))
        p = tmp_path / f"p{fold}.csv"
        predictions_table([fold], np.zeros((1, 61)), np.zeros((1, 61))).to_csv(p, index=False)
        metric_paths.append(m)
        prediction_paths.append(p)
    summary = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s.json",
                           predictions_path=tmp_path / "oof.csv", description={"model": "AT_8"})
    assert summary["r2"] == pytest.approx(0.4) and summary["r2_std"] == pytest.approx(0.2)
    oof = pd.read_csv(tmp_path / "oof.csv")
    assert sorted(oof["song_id"].unique()) == [0, 1, 2] and len(oof) == 183


def test_summarize_cv_over_seeds_averages_each_fold_then_spreads_over_folds_and_seeds(tmp_path):
    # 2 folds (songs 0 and 1) x 2 training seeds; R² per (seed, fold)
    r2 = {(0, 0): 0.2, (0, 1): 0.6, (1, 0): 0.4, (1, 1): 1.0}
    metric_paths, prediction_paths = [], []
    for (seed_index, fold), value in r2.items():
        m = tmp_path / f"m{seed_index}{fold}.json"
        m.write_text(fold_metrics(fold=fold, seed_index=seed_index, r2=value))
        p = tmp_path / f"p{seed_index}{fold}.csv"
        predictions_table([fold], np.zeros((1, 61)), np.full((1, 61), float(seed_index))).to_csv(p, index=False)
        metric_paths.append(m)
        prediction_paths.append(p)
    summary = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s.json",
                           predictions_path=tmp_path / "oof.csv", description={"model": "AT_8"})
    assert summary["n_folds"] == 2 and summary["n_seeds"] == 2
    fold_means = [0.3, 0.8]  # each fold averaged over the seeds first
    assert summary["r2"] == pytest.approx(np.mean(fold_means))
    assert summary["r2_std"] == pytest.approx(np.std(fold_means, ddof=1))
    seed_means = [0.4, 0.7]  # each seed's mean over folds
    assert summary["r2_seed_std"] == pytest.approx(np.std(seed_means, ddof=1))
    assert summary["tau_seed_std"] == pytest.approx(0.0)
    oof = pd.read_csv(tmp_path / "oof.csv")
    assert len(oof) == 2 * 61 and np.allclose(oof["prediction"], 0.5)  # mean of seeds 0 and 1
    assert list(oof.columns) == ["song_id", "frame", "time_s", "annotation", "prediction", "fold"]


def test_summarize_cv_pools_the_out_of_fold_frames_and_reports_every_metric(tmp_path):
    from sklearn.metrics import r2_score

    rng = np.random.default_rng(5)
    metric_paths, prediction_paths, truth, guess = [], [], [], []
    for fold in range(3):  # two test songs per fold, their levels far apart
        annotation = rng.normal(size=(2, 1)) + rng.normal(scale=0.1, size=(2, 61))
        prediction = annotation + rng.normal(scale=0.5, size=(2, 61))
        truth.append(annotation.ravel())
        guess.append(prediction.ravel())
        m = tmp_path / f"m{fold}.json"
        m.write_text(fold_metrics(fold=fold, r2=0.1 * fold, best_val_loss=0.01 * (fold + 1)))
        p = tmp_path / f"p{fold}.csv"
        predictions_table([2 * fold, 2 * fold + 1], annotation, prediction).to_csv(p, index=False)
        metric_paths.append(m)
        prediction_paths.append(p)
    summary = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s.json",
                           predictions_path=tmp_path / "oof.csv", description={"model": "RIDGE"})
    assert summary["r2_pooled"] == pytest.approx(r2_score(np.concatenate(truth), np.concatenate(guess)),
                                                 abs=1e-12)
    assert summary["val_loss"] == pytest.approx(0.02) and summary["val_loss_std"] == pytest.approx(0.01)
    assert summary["baseline"] is True
    for metric in METRIC_NAMES:
        assert {metric, f"{metric}_std", f"{metric}_seed_std"} <= set(summary)
    assert summary["r2_within"] == pytest.approx(0.05) and summary["rmse_std"] == 0.0
    assert json.loads((tmp_path / "s.json").read_text()) == summary
    assert summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s2.json",
                        predictions_path=tmp_path / "oof2.csv",
                        description={"model": "AT_8"})["baseline"] is False


def test_summarize_cv_names_an_old_fold_file(tmp_path):
    m = tmp_path / "m0.json"
    m.write_text('{"fold": 0, "r2": 0.1, "tau": 0.1, "mae": 0.2, "epochs": 3}')
    p = tmp_path / "p0.csv"
    predictions_table([0], np.zeros((1, 61)), np.zeros((1, 61))).to_csv(p, index=False)
    with pytest.raises(DataError, match="m0.json: fold metrics lack r2_within.*re-run"):
        summarize_cv([m], [p], summary_path=tmp_path / "s.json", predictions_path=tmp_path / "o.csv",
                     description={"model": "AT_8"})
    assert not (tmp_path / "s.json").exists()


def test_training_seeds_differ_per_fold_and_seed_index_and_keep_the_first_seed():
    assert training_seed(2020, 3, 0) == 2023  # one training seed: as before seeds existed
    seeds = {training_seed(2020, fold, index) for fold in range(100) for index in range(5)}
    assert len(seeds) == 500


def _tiny_fold_inputs(n_songs=12, dims=3, seed=0):
    from mer.data.emomusic import Annotations
    from mer.features.storage import FeatureTable

    rng = np.random.default_rng(seed)
    ids = np.arange(100, 100 + n_songs)
    level = rng.uniform(-0.6, 0.6, size=(n_songs, 1))
    x = (level[:, :, None] * np.ones((1, 61, dims)) + rng.normal(0, 0.1, (n_songs, 61, dims))).astype(np.float32)
    y = np.repeat(level, 61, axis=1).astype(np.float32)
    features = FeatureTable.from_padded(x, ids, [f"f{i}" for i in range(dims)], "tiny")
    annotations = Annotations(song_ids=ids, values={"arousal": y, "valence": -y})
    return features, annotations, assign_folds(ids, 3, seed=1)


def _run_fold(tmp_path, features, annotations, folds, name="run"):
    from mer.cv import FoldOutputs, train_fold
    from mer.training import TrainConfig

    out = tmp_path / name
    outputs = FoldOutputs(model=out / "model.pt", predictions=out / "predictions.csv",
                          attention=out / "attention.npz", history=out / "history.csv",
                          metrics=out / "metrics.json")
    train_fold(features=features, annotations=annotations, folds=folds, fold=0, target="arousal",
               model_name="AT_4", train_config=TrainConfig(max_epochs=3, seed=5), model_options={},
               validation_fraction=0.25, seed=5, outputs=outputs, dataset="tiny", feature_set="tiny")
    return outputs


def test_train_fold_writes_outputs_and_is_deterministic(tmp_path):
    features, annotations, folds = _tiny_fold_inputs()
    first = _run_fold(tmp_path, features, annotations, folds, "a")
    second = _run_fold(tmp_path, features, annotations, folds, "b")
    assert first.metrics.read_text() == second.metrics.read_text()
    predictions = pd.read_csv(first.predictions)
    test_ids = set(folds.loc[folds["fold"] == 0, "song_id"])
    assert set(predictions["song_id"]) == test_ids and len(predictions) == 61 * len(test_ids)
    with np.load(first.attention) as attention:
        assert attention["weights"].shape == (len(test_ids) * 61 * 61,) and bool(attention["has_attention"])
        assert attention["lengths"].tolist() == [61] * len(test_ids)
        one_song = load_song_attention(attention, attention["song_ids"][0])
        assert one_song.shape == (61, 61)
        np.testing.assert_allclose(one_song.sum(axis=1), 1.0, atol=1e-5)
    assert len(pd.read_csv(first.history)) == 3


@pytest.mark.parametrize("ragged", [False, True])
def test_one_network_job_for_both_targets_writes_exactly_what_one_job_per_target_writes(tmp_path, ragged):
    """Features standardised once for both targets; each target's network is still built and
    trained from the same seed, so every file but the epochs' wall times is identical."""
    import torch

    from mer.cv import FoldOutputs, train_fold, train_fold_targets
    from mer.data.emomusic import Annotations
    from mer.features.storage import FeatureTable
    from mer.training import TrainConfig

    features, annotations, folds = _tiny_fold_inputs()
    valence = annotations.values["valence"] + np.random.default_rng(3).normal(0, 0.1, (12, 61)).astype(np.float32)
    lengths = np.array([61, 30, 45, 61, 20, 61, 52, 61, 38, 61, 27, 61]) if ragged else None
    if ragged:  # songs of different lengths: features come song by song, annotations NaN-padded
        x = np.stack([features.song(song) for song in features.song_ids])
        features = FeatureTable.from_padded(x, features.song_ids, features.columns, "tiny", lengths)
        valence[np.arange(61) >= lengths[:, None]] = np.nan
    annotations = Annotations(annotations.song_ids, {"arousal": annotations.values["arousal"],
                                                     "valence": valence}, lengths=lengths)
    arguments = dict(features=features, annotations=annotations, folds=folds, fold=0, model_name="AT_4",
                     train_config=TrainConfig(max_epochs=3, seed=5), model_options={},
                     validation_fraction=0.25, seed=5, dataset="tiny", feature_set="tiny")

    def outputs(out):
        return FoldOutputs(*(out / name for name in ("model.pt", "predictions.csv", "attention.npz",
                                                     "history.csv", "metrics.json")))

    together = {target: outputs(tmp_path / "together" / target) for target in ("arousal", "valence")}
    train_fold_targets(targets=["arousal", "valence"], outputs=together, **arguments)
    for target, files in together.items():
        alone = outputs(tmp_path / "alone" / target)
        train_fold(target=target, outputs=alone, **arguments)
        for name in ("metrics", "predictions", "attention"):
            assert getattr(files, name).read_bytes() == getattr(alone, name).read_bytes(), (target, name)
        histories = [pd.read_csv(o.history).drop(columns="seconds") for o in (files, alone)]
        pd.testing.assert_frame_equal(*histories, check_exact=True)
        saved = [torch.load(o.model, weights_only=True) for o in (files, alone)]
        assert json.dumps(saved[0]["meta"]) == json.dumps(saved[1]["meta"])  # NaN metrics too
        for name, tensor in saved[0]["state_dict"].items():
            assert torch.equal(tensor, saved[1]["state_dict"][name]), (target, name)
    assert together["arousal"].metrics.read_text() != together["valence"].metrics.read_text()


def test_one_job_for_several_models_writes_exactly_what_one_job_per_model_writes(tmp_path):
    """A feature set's baselines share one job: the fold is split and standardised once for
    all its models, and each model's files are those of a job training it alone."""
    import torch

    from mer.cv import FoldOutputs, train_fold_models, train_fold_targets
    from mer.training import TrainConfig

    features, annotations, folds = _tiny_fold_inputs()
    targets, models = ["arousal"], ["MEAN", "RIDGE", "AT_4"]
    arguments = dict(features=features, annotations=annotations, folds=folds, fold=0,
                     targets=targets, train_config=TrainConfig(max_epochs=2, seed=5),
                     model_options={}, validation_fraction=0.25, seed=5, dataset="tiny",
                     feature_set="tiny", ridge_alphas=[0.1, 10.0])

    def outputs(out):
        return {target: FoldOutputs(*(out / target / name for name in (
            "model.pt", "predictions.csv", "attention.npz", "history.csv", "metrics.json")))
            for target in targets}

    together = {model: outputs(tmp_path / "together" / model) for model in models}
    returned = train_fold_models(model_names=models, outputs=together, **arguments)
    assert sorted(returned) == sorted(models)
    for model in models:
        alone = outputs(tmp_path / "alone" / model)
        alone_metrics = train_fold_targets(model_name=model, outputs=alone, **arguments)
        assert json.dumps(alone_metrics) == json.dumps(returned[model])  # NaN metrics too
        for target in targets:
            files, single = together[model][target], alone[target]
            for name in ("metrics", "predictions", "attention"):
                assert getattr(files, name).read_bytes() == getattr(single, name).read_bytes(), (model, name)
            histories = [pd.read_csv(o.history).drop(columns="seconds") for o in (files, single)]
            pd.testing.assert_frame_equal(*histories, check_exact=True)
            saved = [torch.load(o.model, weights_only=True) for o in (files, single)]
            for name, tensor in saved[0]["state_dict"].items():
                assert torch.equal(tensor, saved[1]["state_dict"][name]), (model, name)


def test_train_fold_never_uses_test_songs(tmp_path):
    """Test songs' features and annotations may change arbitrarily: the fitted model must not."""
    import torch

    features, annotations, folds = _tiny_fold_inputs()
    baseline = _run_fold(tmp_path, features, annotations, folds, "a")
    test_ids = folds.loc[folds["fold"] == 0, "song_id"]
    test_rows = annotations.rows(test_ids)
    for song in test_ids:
        features.song(song)[:] += 50.0
    annotations.values["arousal"][test_rows] = 0.99
    changed = _run_fold(tmp_path, features, annotations, folds, "b")
    saved = [torch.load(o.model, weights_only=True) for o in (baseline, changed)]
    assert saved[0]["meta"]["extra"]["feature_mean"] == saved[1]["meta"]["extra"]["feature_mean"]
    for name, tensor in saved[0]["state_dict"].items():
        assert torch.equal(tensor, saved[1]["state_dict"][name]), name
    losses = [pd.read_csv(o.history)[["train_loss", "val_loss"]] for o in (baseline, changed)]
    pd.testing.assert_frame_equal(*losses)


SAMPLE_INFO = Path(__file__).resolve().parent / "data/emomusic-format-sample/songs_info.csv"


def _info(sets: dict) -> pd.DataFrame:
    return pd.DataFrame({"song_id": list(sets), "Mediaeval 2013 set": list(sets.values())}).set_index("song_id")


def test_mediaeval2013_tests_the_evaluation_songs_once_and_trains_on_development():
    info = _info({2: "development", 3: "evaluation", 4: "development", 5: "evaluation", 7: "development"})
    folds = make_folds([7, 2, 3, 4, 5], split="mediaeval2013", n_folds=10, seed=0, info=info)
    assert dict(zip(folds["song_id"], folds["fold"])) == {2: TRAIN_ONLY, 3: 0, 4: TRAIN_ONLY, 5: 0, 7: TRAIN_ONLY}
    assert n_test_folds("mediaeval2013", 10) == 1 and n_test_folds("kfold", 10) == 10
    split = split_fold(folds, 0, validation_fraction=0.34, seed=0)
    assert list(split.test) == [3, 5]
    assert sorted([*split.fit, *split.validation]) == [2, 4, 7] and len(split.validation) == 1
    with pytest.raises(ConfigError, match="fold -1 does not exist"):
        split_fold(folds, TRAIN_ONLY, validation_fraction=0.34, seed=0)


def test_mediaeval2013_reads_the_real_songs_info_layout():
    from mer.data.emomusic import read_songs_info
    info = read_songs_info(SAMPLE_INFO)
    folds = make_folds(info.index, split="mediaeval2013", n_folds=10, seed=0, info=info, info_path=SAMPLE_INFO)
    expected = info["Mediaeval 2013 set"].str.strip().eq("evaluation").map({True: 0, False: TRAIN_ONLY})
    assert list(folds["fold"]) == list(expected.loc[folds["song_id"]])


@pytest.mark.parametrize("info, message", [
    (None, "no 'Mediaeval 2013 set' column"),
    (_info({2: "development", 3: "evaluation"}), r"1 annotated song\(s\) have no row.*\[4\]"),
    (_info({2: "development", 3: "evaluation", 4: "test"}), r"must be development or evaluation, found \['test'\]"),
    (_info({2: "development", 3: "development", 4: "development"}), "needs both development and evaluation"),
])
def test_mediaeval2013_bad_songs_info_names_the_file_and_the_fix(info, message):
    with pytest.raises(DataError, match=message) as raised:
        make_folds([2, 3, 4], split="mediaeval2013", n_folds=10, seed=0, info=info, info_path="x/songs_info.csv")
    assert "x/songs_info.csv" in str(raised.value) and "cv.split: kfold" in str(raised.value)


def test_train_fold_with_songs_of_different_lengths(tmp_path):
    """DEAM-like songs: each song's predictions cover its own frames; metrics count only those."""
    from mer.data.emomusic import Annotations
    from mer.features.storage import FeatureTable
    from mer.metrics import evaluate

    features, annotations, folds = _tiny_fold_inputs()
    lengths = np.array([61, 20, 35, 61, 12, 40, 61, 25, 33, 61, 18, 50])
    y = annotations.values["arousal"].copy()
    y[np.arange(61) >= lengths[:, None]] = np.nan
    padded = features.rows(features.song_ids)
    ragged = FeatureTable.from_padded(padded, features.song_ids, features.columns, "tiny", lengths)
    uneven = Annotations(song_ids=annotations.song_ids, values={"arousal": y, "valence": -y},
                         lengths=lengths)
    outputs = _run_fold(tmp_path, ragged, uneven, folds)
    predictions = pd.read_csv(outputs.predictions)
    length_of = dict(zip(features.song_ids.tolist(), lengths.tolist()))
    assert predictions.groupby("song_id").size().to_dict() == {
        s: length_of[s] for s in folds.loc[folds["fold"] == 0, "song_id"]}
    assert predictions["prediction"].notna().all() and predictions["annotation"].notna().all()
    metrics = json.loads(outputs.metrics.read_text())
    by_song = [g for _, g in predictions.groupby("song_id")]
    longest = max(len(g) for g in by_song)
    pad = lambda column: np.array([np.pad(g[column].to_numpy(), (0, longest - len(g)),
                                          constant_values=np.nan) for g in by_song])
    expected = evaluate(pad("annotation"), pad("prediction"),
                        lengths=np.array([len(g) for g in by_song]))
    assert metrics["r2"] == pytest.approx(expected["r2"], abs=1e-6)
    assert metrics["mae"] == pytest.approx(expected["mae"], abs=1e-6)


def test_mediaeval2015_trains_on_the_excerpts_and_tests_once_on_the_2015_full_songs():
    ids = [2, 3, 1001, 1500, 2000, 2001, 2030, 2058]
    folds = make_folds(ids, split="mediaeval2015", n_folds=10, seed=0, dataset="deam")
    assert dict(zip(folds["song_id"], folds["fold"])) == {
        2: TRAIN_ONLY, 3: TRAIN_ONLY, 1001: TRAIN_ONLY, 1500: TRAIN_ONLY, 2000: TRAIN_ONLY,
        2001: 0, 2030: 0, 2058: 0}
    assert n_test_folds("mediaeval2015", 10) == 1
    split = split_fold(folds, 0, validation_fraction=0.2, seed=0)
    assert list(split.test) == [2001, 2030, 2058] and max([*split.fit, *split.validation]) <= 2000
    with pytest.raises(ConfigError, match=r"`cv.split`: mediaeval2015 is DEAM's split; dataset 'local'"):
        make_folds(ids, split="mediaeval2015", n_folds=10, seed=0, dataset="local")
    with pytest.raises(ConfigError, match=r"`cv.split`: mediaeval2015 needs DEAM's test songs"):
        make_folds([2, 3], split="mediaeval2015", n_folds=10, seed=0, dataset="deam")


def test_summarize_cv_counts_the_folds_early_stopping_ended_and_the_table_shows_them(tmp_path):
    from mer.reports.summaries import load_summaries
    from mer.reports.tables import all_models_table

    metric_paths, prediction_paths = [], []
    for fold, epochs in enumerate([7, 30, 12]):  # the second ran into the 30-epoch cap
        m = tmp_path / f"m{fold}.json"
        m.write_text(json.dumps({**json.loads(fold_metrics(fold=fold, r2=0.5)), "epochs": epochs}))
        p = tmp_path / f"p{fold}.csv"
        predictions_table([fold], np.zeros((1, 61)), np.zeros((1, 61))).to_csv(p, index=False)
        metric_paths.append(m)
        prediction_paths.append(p)
    kwargs = dict(predictions_path=tmp_path / "oof.csv", description={"target": "arousal", "dataset": "synthetic",
                                                                       "feature_set": "spectral", "model": "AT_8"})
    summary = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "s.json", max_epochs=30, **kwargs)
    assert summary["early_stopped"] == 2 and summary["max_epochs"] == 30
    assert all_models_table(load_summaries([tmp_path / "s.json"]))["stopped early"].tolist() == ["2/3"]
    baseline = summarize_cv(metric_paths, prediction_paths, summary_path=tmp_path / "b.json", max_epochs=30,
                            **{**kwargs, "description": {**kwargs["description"], "model": "MEAN"}})
    assert baseline["early_stopped"] is None
    assert all_models_table(load_summaries([tmp_path / "b.json"]))["stopped early"].tolist() == ["–"]
