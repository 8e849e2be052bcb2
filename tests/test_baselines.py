"""Baselines MEAN, RIDGE, RIDGE_SONG: equal to scikit-learn fitted directly on the same
fold (every target from one fit, each choosing its own penalty), penalty chosen on the
validation songs, padding-proof, and usable end to end (train_fold -> summarize_cv ->
export -> mer predict)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import Ridge

from mer.cv import (FoldOutputs, Standardizer, assign_folds, split_fold, summarize_cv, train_fold,
                    train_fold_targets)
from mer.data.emomusic import Annotations
from mer.errors import ConfigError
from mer.features.storage import FeatureTable
from mer.models import build_model
from mer.models.baselines import checked_alphas, fit_baseline, fit_baselines, fit_ridge_grid
from mer.training import TrainConfig, load_checkpoint, predict

ALPHAS = [0.01, 1.0, 100.0, 10000.0]
DIMS, N_SONGS, SEED = 6, 18, 5


def dataset(lengths=None, seed=0):
    """Annotations linear in the frames' features plus noise, features with a per-song
    offset: levels differ between songs and move within each (ridge finds both)."""
    rng = np.random.default_rng(seed)
    ids = np.arange(200, 200 + N_SONGS)
    song_feature = rng.normal(size=(N_SONGS, 1, DIMS))
    x = (song_feature + 0.5 * rng.normal(size=(N_SONGS, 61, DIMS)) * 3 + 2).astype(np.float32)
    weights = rng.normal(size=DIMS)
    y = 0.1 * (x @ weights) / np.sqrt(DIMS)
    y = (y + rng.normal(scale=0.1, size=y.shape)).astype(np.float32)
    if lengths is not None:
        y[np.arange(61) >= lengths[:, None]] = np.nan
    columns = [f"f{i}" for i in range(DIMS)]
    features = FeatureTable.from_padded(x, ids, columns, "tiny", lengths)
    annotations = Annotations(song_ids=ids, values={"arousal": y, "valence": -y}, lengths=lengths)
    return features, annotations, assign_folds(ids, 3, seed=1)


def fold_outputs(out):
    return FoldOutputs(model=out / "model.pt", predictions=out / "predictions.csv",
                       attention=out / "attention.npz", history=out / "history.csv",
                       metrics=out / "metrics.json")


FOLD_ARGUMENTS = dict(train_config=TrainConfig(seed=SEED), model_options={}, validation_fraction=0.25,
                      seed=SEED, dataset="tiny", feature_set="tiny", seed_index=0)


def run_fold(tmp_path, name, features, annotations, folds, *, fold=0, alphas=ALPHAS):
    outputs = fold_outputs(tmp_path / name)
    train_fold(features=features, annotations=annotations, folds=folds, fold=fold, target="arousal",
               model_name=name.split("-")[0], outputs=outputs, ridge_alphas=alphas, **FOLD_ARGUMENTS)
    return outputs


def reference_songs(features, annotations, folds, fold=0):
    """Each split's per-song standardised features and annotations, computed here."""
    split = split_fold(folds, fold, 0.25, SEED)
    songs = {part: [np.asarray(features.song(s), np.float64) for s in getattr(split, part)]
             for part in ("fit", "validation", "test")}
    lengths = {part: [len(x) for x in songs[part]] for part in songs}
    y = {part: [annotations.target("arousal")[annotations.rows([s])[0]][:n]
                for s, n in zip(getattr(split, part), lengths[part])] for part in songs}
    flat = np.concatenate(songs["fit"])  # statistics of the fitting songs, stored as float32
    mean, std = flat.mean(axis=0).astype(np.float32), flat.std(axis=0).astype(np.float32)
    songs = {part: [((x.astype(np.float32) - mean) / std).astype(np.float64) for x in v]
             for part, v in songs.items()}
    return split, songs, y


def sklearn_reference(family, songs, y):
    """(alpha, per-song test predictions) by scikit-learn, alpha by validation MSE."""
    def design(part):
        return np.concatenate(songs[part]) if family == "RIDGE" else \
            np.stack([x.mean(axis=0) for x in songs[part]])

    def predict_songs(model, part):
        if family == "RIDGE":
            return np.split(model.predict(design(part)), np.cumsum([len(x) for x in songs[part]])[:-1])
        return [np.full(len(x), level) for x, level in zip(songs[part], model.predict(design(part)))]

    target = np.concatenate(y["fit"]) if family == "RIDGE" else np.array([t.mean() for t in y["fit"]])
    losses, models = [], []
    for alpha in ALPHAS:
        model = Ridge(alpha=alpha).fit(design("fit"), target)
        losses.append(np.mean((np.concatenate(predict_songs(model, "validation"))
                               - np.concatenate(y["validation"])) ** 2))
        models.append(model)
    best = int(np.argmin(losses))
    return ALPHAS[best], losses[best], predict_songs(models[best], "test")


@pytest.mark.parametrize("family", ["RIDGE", "RIDGE_SONG"])
@pytest.mark.parametrize("ragged", [False, True])
def test_ridge_equals_sklearn_fitted_directly(tmp_path, family, ragged):
    lengths = np.array([61, 20, 35, 61, 12, 40, 61, 25, 33, 61, 18, 50, 7, 61, 44, 61, 29, 61]) \
        if ragged else None
    features, annotations, folds = dataset(lengths)
    outputs = run_fold(tmp_path, family, features, annotations, folds)
    split, songs, y = reference_songs(features, annotations, folds)
    alpha, val_loss, expected = sklearn_reference(family, songs, y)
    metrics = json.loads(outputs.metrics.read_text())
    assert metrics["ridge_alpha"] == alpha  # 1 for RIDGE, 0.01 and 10000 for RIDGE_SONG here
    assert metrics["best_val_loss"] == pytest.approx(val_loss, rel=1e-6)
    assert metrics["epochs"] == 1 and metrics["best_epoch"] == 1
    table = pd.read_csv(outputs.predictions)
    for song, prediction in zip(split.test, expected):
        np.testing.assert_allclose(table.loc[table["song_id"] == song, "prediction"], prediction,
                                   atol=1e-6, rtol=0)
        if family == "RIDGE_SONG":  # one level per song, exactly
            assert table.loc[table["song_id"] == song, "prediction"].nunique() == 1
    if family == "RIDGE_SONG":
        assert metrics["r2_within"] == 0.0 and metrics["tau"] == 0.0 and metrics["pearson_r"] == 0.0
    else:
        assert metrics["r2_within"] > 0.2  # the frames' features explain the dynamics
    history = pd.read_csv(outputs.history)
    assert len(history) == 1 and history["val_loss"].iloc[0] == metrics["best_val_loss"]


@pytest.mark.parametrize("n_samples, dims", [(40, 90), (90, 12)], ids=["kernel n<p", "primal n>p"])
def test_the_ridge_grid_equals_sklearn_alpha_by_alpha_and_target_by_target(n_samples, dims):
    rng = np.random.default_rng(3)
    design = rng.normal(size=(n_samples, dims)) + rng.normal(size=dims)  # off-centre columns
    targets = np.stack([design[:, :5] @ rng.normal(size=5) + 3.0, rng.normal(size=n_samples) - 1.0], axis=1)
    grid = fit_ridge_grid(design.copy(), targets, ALPHAS)
    assert grid.coefficients.shape == (len(ALPHAS), 2, dims) and grid.fitted.shape == (n_samples, len(ALPHAS), 2)
    x_new = rng.normal(size=(7, dims))
    for i, alpha in enumerate(ALPHAS):
        for j in range(2):
            reference = Ridge(alpha=alpha).fit(design, targets[:, j])
            np.testing.assert_allclose(grid.coefficients[i, j], reference.coef_, rtol=1e-8,
                                       atol=1e-10 * np.abs(reference.coef_).max())
            assert grid.intercepts[i, j] == pytest.approx(reference.intercept_, rel=1e-8)
            np.testing.assert_allclose(grid.fitted[:, i, j], reference.predict(design), rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(grid.predict(x_new)[:, i, j], reference.predict(x_new), rtol=1e-8,
                                       atol=1e-10)


@pytest.mark.parametrize("family", ["RIDGE", "RIDGE_SONG"])
@pytest.mark.parametrize("dims", [300, 6], ids=["kernel n<p", "primal n>p"])
def test_one_fit_for_both_targets_equals_sklearn_target_by_target(family, dims):
    """Each target of the one fit chooses its own alpha (here a linear target a smaller
    penalty than pure noise). Fitting samples: 270 frames (RIDGE) or 30 songs (RIDGE_SONG)."""
    rng = np.random.default_rng(4)
    x_fit, x_val = (rng.normal(size=(n, 9, dims)).astype(np.float32) for n in (30, 8))
    weights = rng.normal(size=dims) / np.sqrt(dims)
    ys_fit, ys_val = ([x @ weights + 0.5 + rng.normal(scale=0.05, size=x.shape[:2]),
                       rng.normal(size=x.shape[:2])] for x in (x_fit, x_val))
    models = [build_model(family, dims) for _ in ys_fit]
    fits = fit_baselines(models, family, x_fit, ys_fit, x_val, ys_val, alphas=ALPHAS)

    def design(x):
        x = x.astype(np.float64)
        return x.reshape(-1, dims) if family == "RIDGE" else x.mean(axis=1)

    def on_frames(reference, x):  # (songs, frames): RIDGE_SONG's level on every frame
        prediction = reference.predict(design(x))
        return prediction.reshape(len(x), -1) if family == "RIDGE" else np.repeat(prediction[:, None], 9, axis=1)

    chosen = []
    for model, fit, y, y_val in zip(models, fits, ys_fit, ys_val):
        references = [Ridge(alpha=alpha).fit(design(x_fit), y.reshape(-1) if family == "RIDGE" else y.mean(axis=1))
                      for alpha in ALPHAS]
        losses = [np.mean((on_frames(reference, x_val) - y_val) ** 2) for reference in references]
        best = int(np.argmin(losses))
        assert fit.alpha == ALPHAS[best]
        np.testing.assert_allclose(fit.val_losses, losses, rtol=1e-8)
        assert fit.val_loss == pytest.approx(losses[best], rel=1e-8)
        coefficients = references[best].coef_
        np.testing.assert_allclose(model.linear.weight.detach().numpy()[0], coefficients, rtol=1e-8,
                                   atol=1e-10 * np.abs(coefficients).max())
        assert model.linear.bias.item() == pytest.approx(references[best].intercept_, rel=1e-8)
        assert fit.train_loss == pytest.approx(np.mean((on_frames(references[best], x_fit) - y) ** 2), rel=1e-8)
        alone = build_model(family, dims)  # the one-target wrapper: the same fit
        assert fit_baseline(alone, family, x_fit, y, x_val, y_val, alphas=ALPHAS).alpha == fit.alpha
        torch.testing.assert_close(alone.state_dict(), model.state_dict(), rtol=1e-9, atol=1e-12)
        chosen.append(fit.alpha)
    assert chosen[0] < chosen[1]


@pytest.mark.parametrize("family", ["MEAN", "RIDGE", "RIDGE_SONG"])
@pytest.mark.parametrize("ragged", [False, True])
def test_one_job_for_both_targets_writes_what_one_job_per_target_writes(tmp_path, family, ragged):
    lengths = np.array([61, 20, 35, 61, 12, 40, 61, 25, 33, 61, 18, 50, 7, 61, 44, 61, 29, 61]) \
        if ragged else None
    features, annotations, folds = dataset(lengths)
    valence = annotations.values["valence"] + np.random.default_rng(2).normal(size=(N_SONGS, 61))
    annotations = Annotations(annotations.song_ids, {"arousal": annotations.values["arousal"],
                                                     "valence": valence.astype(np.float32)}, lengths=lengths)
    targets = ("arousal", "valence")
    together = {target: fold_outputs(tmp_path / "together" / target) for target in targets}
    returned = train_fold_targets(features=features, annotations=annotations, folds=folds, fold=0,
                                  targets=targets, model_name=family, outputs=together,
                                  ridge_alphas=ALPHAS, **FOLD_ARGUMENTS)
    for target in targets:
        alone = fold_outputs(tmp_path / "alone" / target)
        expected = train_fold(features=features, annotations=annotations, folds=folds, fold=0,
                              target=target, model_name=family, outputs=alone, ridge_alphas=ALPHAS,
                              **FOLD_ARGUMENTS)
        metrics = json.loads(together[target].metrics.read_text())
        assert metrics == returned[target] and metrics.keys() == expected.keys()
        for key, value in expected.items():
            assert metrics[key] == pytest.approx(value, rel=1e-9, abs=1e-12), key
        tables = [pd.read_csv(o.predictions) for o in (together[target], alone)]
        pd.testing.assert_frame_equal(*tables, check_exact=False, rtol=1e-9, atol=1e-12)
        histories = [pd.read_csv(o.history).drop(columns="seconds") for o in (together[target], alone)]
        pd.testing.assert_frame_equal(*histories, check_exact=False, rtol=1e-9)
        model, meta = load_checkpoint(together[target].model)
        assert meta["extra"]["target"] == target
    assert len(set(returned["arousal"].items()) ^ set(returned["valence"].items())) > 2  # different fits
    seconds = [pd.read_csv(together[target].history)["seconds"].iloc[0] for target in targets]
    assert seconds[0] == seconds[1]  # the one fit's time, split evenly


def test_mean_is_the_fitting_songs_mean_annotation(tmp_path):
    features, annotations, folds = dataset()
    outputs = run_fold(tmp_path, "MEAN", features, annotations, folds, alphas=None)
    split, _, y = reference_songs(features, annotations, folds)
    level = np.concatenate(y["fit"]).mean()
    table = pd.read_csv(outputs.predictions)
    np.testing.assert_allclose(table["prediction"], level, atol=1e-7, rtol=0)
    metrics = json.loads(outputs.metrics.read_text())
    assert metrics["best_val_loss"] == pytest.approx(np.mean((np.concatenate(y["validation"]) - level) ** 2))
    assert "ridge_alpha" not in metrics and metrics["r2_within"] == 0.0 and metrics["tau"] == 0.0
    with np.load(outputs.attention) as attention:
        assert not bool(attention["has_attention"]) and attention["weights"].size == 0


def test_the_penalty_is_chosen_on_the_validation_songs_not_the_test_songs(tmp_path):
    features, annotations, folds = dataset()
    first = json.loads(run_fold(tmp_path, "RIDGE-a", features, annotations, folds).metrics.read_text())
    test_rows = annotations.rows(folds.loc[folds["fold"] == 0, "song_id"])
    scrambled = annotations.values["arousal"].copy()
    scrambled[test_rows] = np.random.default_rng(9).normal(size=scrambled[test_rows].shape)
    changed = Annotations(annotations.song_ids, {"arousal": scrambled, "valence": -scrambled})
    second = run_fold(tmp_path, "RIDGE-b", features, changed, folds)
    metrics = json.loads(second.metrics.read_text())
    assert metrics["ridge_alpha"] == first["ridge_alpha"]
    assert metrics["best_val_loss"] == first["best_val_loss"] and metrics["r2"] != first["r2"]


@pytest.mark.parametrize("family", ["MEAN", "RIDGE", "RIDGE_SONG"])
def test_padding_never_reaches_a_real_frame(family):
    rng = np.random.default_rng(1)
    model = build_model(family, DIMS)
    x_fit = rng.normal(size=(6, 9, DIMS)).astype(np.float32)
    fit_baseline(model, family, x_fit, rng.normal(size=(6, 9)), alphas=[1.0])
    lengths = torch.tensor([5, 9, 2])
    x = torch.as_tensor(rng.normal(size=(3, 9, DIMS)), dtype=torch.float32)
    padded = torch.where((torch.arange(9) < lengths[:, None])[..., None], x, torch.tensor(1e6))
    padded[0, 7, 1] = float("nan")
    with torch.no_grad():
        prediction, attention = model(padded, lengths=lengths)
        assert attention is None and prediction.dtype == torch.float32
        for song, length in enumerate(lengths.tolist()):
            alone, _ = model(x[song:song + 1, :length])
            torch.testing.assert_close(prediction[song, :length], alone[0], atol=1e-7, rtol=0)


def test_penalty_grid_errors_name_the_key(tmp_path):
    for bad in (None, [], [1.0, 0.0], [-1], ["ten"], 10):
        with pytest.raises(ConfigError, match=r"`train\.ridge_alphas`"):
            checked_alphas(bad)
    features, annotations, folds = dataset()
    with pytest.raises(ConfigError, match=r"`train\.ridge_alphas`"):
        run_fold(tmp_path, "RIDGE_SONG", features, annotations, folds, alphas=None)
    assert not (tmp_path / "RIDGE_SONG").exists()  # nothing written


def test_params_schema_checks_the_penalty_grid():
    from pathlib import Path

    import yaml

    from mer.config import validate_params

    root = Path(__file__).resolve().parents[1]
    params = yaml.safe_load((root / "params.yaml").read_text())
    schema = root / "workflow/schemas/params.schema.yaml"
    assert validate_params(params, schema) is params
    from mer.config import grid_runs
    for name, grid in params["grids"].items():  # every table's feature set has its baselines
        if name == "builtin_full_ablation":  # trains two networks to compare with builtin_full's
            continue
        overlay = root / "workflow/configs" / f"{name}.yaml"  # a grid run with its own overlay
        report = (yaml.safe_load(overlay.read_text()) if overlay.is_file() else params)["report"]
        runs = set(grid_runs({**params, "grid": name}))
        sets = {feature_set for feature_set, _ in runs}
        with_baselines = {feature_set for feature_set in sets
                          if {(feature_set, b) for b in ("MEAN", "RIDGE", "RIDGE_SONG")} <= runs}
        assert {report["table1"]["feature_set"], params["export"]["feature_set"]} <= with_baselines, name
        if name == "paper":
            assert with_baselines == sets
    params["train"]["ridge_alphas"] = [1, -5]
    with pytest.raises(ConfigError, match=r"`train\.ridge_alphas\[1\]`"):
        validate_params(params, schema)


def test_a_baseline_checkpoint_loads_back_and_predicts_the_same(tmp_path):
    features, annotations, folds = dataset()
    outputs = run_fold(tmp_path, "RIDGE", features, annotations, folds)
    model, meta = load_checkpoint(outputs.model)
    assert meta["model_name"] == "RIDGE"
    split, songs, _ = reference_songs(features, annotations, folds)
    prediction, attention = predict(model, np.stack(songs["test"]).astype(np.float32))
    table = pd.read_csv(outputs.predictions)
    assert attention is None
    np.testing.assert_allclose(prediction.ravel(), table["prediction"], atol=1e-6, rtol=0)


def test_a_baseline_is_exported_and_predicts_through_mer_predict(tmp_path):
    """Real train_fold on every fold -> summarize_cv -> export -> load_bundle -> `mer predict`
    on an audio file."""
    import soundfile as sf

    from mer.bundle import CARD_FILE, export_model, load_bundle
    from mer.cli import main
    from test_bundle import tiny_dataset
    from test_predict import tone

    features, annotations, ids = tiny_dataset(n_songs=9)
    folds = assign_folds(ids, 3, seed=1)
    summaries = {}
    for target in ("arousal", "valence"):
        for name in ("RIDGE_SONG",):
            runs = []
            for fold in range(3):
                out = tmp_path / "results" / target / name / f"fold{fold}"
                outputs = FoldOutputs(*(out / f for f in ("model.pt", "predictions.csv", "attention.npz",
                                                          "history.csv", "metrics.json")))
                train_fold(features=features, annotations=annotations, folds=folds, fold=fold,
                           target=target, model_name=name, train_config=TrainConfig(seed=3),
                           model_options={}, validation_fraction=0.25, seed=3, outputs=outputs,
                           dataset="tiny", feature_set="spectral", ridge_alphas=ALPHAS)
                runs.append(outputs)
            summary = tmp_path / "results" / target / name / "cv_summary.json"
            summarize_cv([o.metrics for o in runs], [o.predictions for o in runs], summary_path=summary,
                         predictions_path=summary.with_name("predictions.csv"),
                         description={"dataset": "tiny", "target": target, "feature_set": "spectral",
                                      "model": name})
            summaries.setdefault(target, []).append(summary)
    folders = {}
    for target in ("arousal", "valence"):
        folders[target] = export_model(
            summaries[target], features=features, annotations=annotations, song_ids=ids,
            dataset="tiny", target=target, feature_set="spectral", compare_mode="per_segment",
            train_config=TrainConfig(seed=3), model_options_by_name={"RIDGE_SONG": {}},
            params={"seed": 3}, out_root=tmp_path / "models" / "tiny" / target / "spectral")
    card = json.loads((folders["arousal"] / CARD_FILE).read_text())
    summary = json.loads(summaries["arousal"][0].read_text())
    alphas = sorted(fold["ridge_alpha"] for fold in summary["folds"])
    assert card["model"]["name"] == "RIDGE_SONG" and card["final_model"]["ridge_alpha"] == alphas[1]
    assert "closed form" in card["final_model"]["rule"]
    bundle = load_bundle(folders["arousal"], feature_set="spectral", target="arousal")
    assert bundle.model_name == "RIDGE_SONG" and not bundle.has_attention

    sf.write(tmp_path / "song.wav", tone(6.0, 22_050, 1), 22_050)
    assert main(["predict", str(tmp_path / "song.wav"), "--models-root", str(tmp_path / "models"),
                 "--out", str(tmp_path / "out"), "--quiet"]) == 0
    curves = pd.read_csv(tmp_path / "out" / "song.csv")
    assert len(curves) == 12 and curves["arousal"].nunique() == 1  # one level per song
    assert np.isfinite(curves[["arousal", "valence"]].to_numpy()).all()
