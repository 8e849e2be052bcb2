"""Cross-validation by song: fold assignment, one fold's training run, fold summaries.

Protocol (the paper's, with the two choices it leaves open made explicit):

* Songs are split into ``k`` folds (seeded shuffle); a song's frames never straddle folds.
  With ``cv.split: mediaeval2013`` there is one fold instead: emoMusic's own split, the 125
  "evaluation" songs tested once, the 619 "development" songs only ever trained on (fold
  ``TRAIN_ONLY`` in folds.csv). ``cv.split: mediaeval2015`` (DEAM) is laid out the same
  way: the 2015 full songs (ids 2001..2058) are the one test fold, the 2013-2014 excerpts
  (ids 2..2000) only ever trained on, as in the MediaEval 2015 task.
* For test fold ``f``, the remaining songs are the training songs. A seeded
  ``validation_fraction`` of them is held out for early stopping; the model is fitted on
  the rest. The test fold is touched only once, for the final predictions.
* Features are standardised per dimension with mean and std fitted on the fitting songs
  only (all their frames); the same statistics are applied to validation and test songs.
* Targets are the raw annotation values (the dataset's [-1, 1] scale).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from mer.errors import ConfigError, DataError
from mer.frames import frame_end_times, FIRST_ANNOTATED_FRAME
from mer.io import write_csv_atomic, write_json_atomic
from mer.metrics import evaluate

log = logging.getLogger(__name__)

# fold-level metrics (``mer.metrics.evaluate``); cv_summary.json has each with _std, _seed_std
METRIC_NAMES = ("r2", "r2_within", "tau", "mae", "rmse", "pearson_r")


def assign_folds(song_ids, n_folds: int, seed: int) -> pd.DataFrame:
    """A table song_id -> fold (0..n_folds-1), shuffled with ``seed``."""
    song_ids = np.sort(np.asarray(song_ids, dtype=np.int64))
    if len(song_ids) < n_folds:
        raise ConfigError(f"`cv.folds` = {n_folds} but the dataset has only {len(song_ids)} "
                          f"songs; use at most {len(song_ids)} folds")
    from sklearn.model_selection import KFold  # imported here: training jobs need not pay for it

    folds = np.empty(len(song_ids), dtype=np.int64)
    splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test_rows) in enumerate(splitter.split(song_ids)):
        folds[test_rows] = fold
    return pd.DataFrame({"song_id": song_ids, "fold": folds})


CV_SPLITS = ("kfold", "mediaeval2013", "mediaeval2015")
MEDIAEVAL2015_TEST_IDS = (2001, 2058)  # DEAM's 2015 full songs; ids 2..2000 train
TRAIN_ONLY = -1  # fold of a song that is never a test song (mediaeval2013's development set)
MEDIAEVAL_COLUMN = "Mediaeval 2013 set"


def mediaeval2013_folds(song_ids, info: pd.DataFrame | None, info_path="songs_info.csv") -> pd.DataFrame:
    """emoMusic's MediaEval 2013 split as folds: evaluation songs fold 0, development songs
    ``TRAIN_ONLY``. Every annotated song must be listed in songs_info.csv with one of the two."""
    song_ids = np.sort(np.asarray(song_ids, dtype=np.int64))
    fix = "fix the file, or use `cv.split: kfold`"
    if info is None or MEDIAEVAL_COLUMN not in info.columns:
        raise DataError(f"{info_path}: no {MEDIAEVAL_COLUMN!r} column, which `cv.split: "
                        f"mediaeval2013` needs; {fix}")
    sets = info[MEDIAEVAL_COLUMN].astype(str).str.strip().str.lower()
    missing = [int(song) for song in song_ids if song not in sets.index]
    if missing:
        raise DataError(f"{info_path}: {len(missing)} annotated song(s) have no row, so no "
                        f"{MEDIAEVAL_COLUMN!r}: {missing[:10]}; {fix}")
    sets = sets.loc[song_ids]
    unknown = sorted(set(sets) - {"development", "evaluation"})
    if unknown:
        raise DataError(f"{info_path}: {MEDIAEVAL_COLUMN!r} must be development or evaluation, "
                        f"found {unknown}; {fix}")
    if not (sets == "evaluation").any() or not (sets == "development").any():
        raise DataError(f"{info_path}: {MEDIAEVAL_COLUMN!r} needs both development and "
                        f"evaluation songs among the annotated ones; {fix}")
    folds = np.where(sets.to_numpy() == "evaluation", 0, TRAIN_ONLY)
    return pd.DataFrame({"song_id": song_ids, "fold": folds})


def mediaeval2015_folds(song_ids, dataset: str | None = "deam") -> pd.DataFrame:
    """DEAM's MediaEval 2015 split as folds: ids 2001..2058 fold 0 (tested once), every other
    song ``TRAIN_ONLY``. ``ConfigError`` for another dataset or when either side is empty."""
    song_ids = np.sort(np.asarray(song_ids, dtype=np.int64))
    low, high = MEDIAEVAL2015_TEST_IDS
    if dataset is not None and dataset != "deam":
        raise ConfigError(f"`cv.split`: mediaeval2015 is DEAM's split; dataset {dataset!r} has "
                          f"no such songs, use kfold")
    test = (song_ids >= low) & (song_ids <= high)
    if not test.any() or test.all():
        side = "test songs (ids 2001..2058)" if not test.any() else "training songs (ids 2..2000)"
        raise ConfigError(f"`cv.split`: mediaeval2015 needs DEAM's {side}, but the dataset's "
                          f"{len(song_ids)} song(s) have none; use `cv.split: kfold`")
    return pd.DataFrame({"song_id": song_ids, "fold": np.where(test, 0, TRAIN_ONLY)})


def make_folds(song_ids, *, split: str, n_folds: int, seed: int, info=None,
               info_path="songs_info.csv", dataset: str | None = None) -> pd.DataFrame:
    """folds.csv for ``cv.split``: seeded k-fold by song, or the MediaEval 2013 / 2015 split."""
    if split == "kfold":
        return assign_folds(song_ids, n_folds, seed)
    if split == "mediaeval2013":
        return mediaeval2013_folds(song_ids, info, info_path)
    if split == "mediaeval2015":
        return mediaeval2015_folds(song_ids, dataset)
    raise ConfigError(f"unknown `cv.split` {split!r}; valid: {', '.join(CV_SPLITS)}")


def training_seed(seed: int, fold: int, seed_index: int) -> int:
    """Initialisation and shuffling seed of one training job: ``seed + fold`` for the first
    training seed (``seed_index`` 0), offset by 1000 per further one (folds are < 100)."""
    return seed + fold + 1000 * seed_index


def n_test_folds(split: str, n_folds: int) -> int:
    """How many test folds (training jobs per model and target) the split has."""
    return 1 if split in ("mediaeval2013", "mediaeval2015") else n_folds


@dataclass(frozen=True)
class FoldSplit:
    fit: np.ndarray  # songs the model is fitted on
    validation: np.ndarray  # training songs held out for early stopping
    test: np.ndarray  # the fold's songs, seen only at evaluation


def split_fold(folds: pd.DataFrame, fold: int, validation_fraction: float, seed: int) -> FoldSplit:
    """Fit / validation / test song ids of one fold; validation drawn from training songs."""
    if fold < 0 or fold not in set(folds["fold"]):
        raise ConfigError(f"fold {fold} does not exist; folds are 0..{folds['fold'].max()}")
    test = folds.loc[folds["fold"] == fold, "song_id"].to_numpy()
    train = folds.loc[folds["fold"] != fold, "song_id"].to_numpy()
    rng = np.random.default_rng([seed, fold])
    n_validation = min(len(train) - 1, max(1, int(round(validation_fraction * len(train)))))
    shuffled = rng.permutation(train)
    return FoldSplit(fit=np.sort(shuffled[n_validation:]),
                     validation=np.sort(shuffled[:n_validation]), test=np.sort(test))


@dataclass(frozen=True)
class Standardizer:
    """Per-dimension z-scoring fitted on one set of songs (all their frames)."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardizer":
        flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
        mean = flat.mean(axis=0)
        std = flat.std(axis=0)
        std[std < 1e-8] = 1.0  # constant features carry no information; keep them at 0
        return cls(mean.astype(np.float32), std.astype(np.float32))

    def transform(self, x: np.ndarray | list[np.ndarray]) -> np.ndarray | list[np.ndarray]:
        """``x`` (..., dims) standardised; a list of songs song by song."""
        if isinstance(x, list):
            return [self.transform(song) for song in x]
        return ((x - self.mean) / self.std).astype(np.float32)


@dataclass(frozen=True)
class FoldOutputs:
    model: Path
    predictions: Path
    attention: Path
    history: Path
    metrics: Path


def songs_data(features, annotations, target: str, song_ids
               ) -> tuple[np.ndarray | list[np.ndarray], np.ndarray, np.ndarray]:
    """Features, annotations and lengths of ``song_ids``, as ``mer.training.fit`` takes them
    (``songs_features`` and ``songs_annotations``)."""
    x, lengths = songs_features(features, annotations, song_ids)
    return x, songs_annotations(annotations, target, song_ids, lengths), lengths


def songs_features(features, annotations, song_ids
                   ) -> tuple[np.ndarray | list[np.ndarray], np.ndarray]:
    """Features and lengths (annotated frames, the same for every target) of ``song_ids``.

    Features: (n, T, dims) when every song has T frames (emoMusic), else one
    (length_i, dims) array per song, so that a few long songs (DEAM) do not pad all the
    others in memory. ``DataError`` if a song's features and annotations differ in length."""
    lengths = annotations.lengths_of(song_ids)
    feature_lengths = features.lengths_of(song_ids)
    if not np.array_equal(lengths, feature_lengths):
        bad = np.flatnonzero(lengths != feature_lengths)[:5]
        raise DataError(f"{features.feature_set} features and annotations differ in length for "
                        f"song(s) {[int(song_ids[i]) for i in bad]} (frames "
                        f"{feature_lengths[bad].tolist()} vs samples {lengths[bad].tolist()}); "
                        f"re-run feature extraction")
    if len(set(lengths.tolist())) <= 1:
        return features.rows(song_ids), lengths
    return [np.asarray(features.song(song), dtype=np.float32) for song in song_ids], lengths


def songs_annotations(annotations, target: str, song_ids, lengths) -> np.ndarray:
    """(n, longest of ``lengths``) float32 annotations of ``song_ids`` for ``target``,
    NaN-padded."""
    y = annotations.target(target)[annotations.rows(song_ids)][:, :int(lengths.max(initial=0))]
    return np.asarray(y, dtype=np.float32)


def real_frames_of(x: np.ndarray | list[np.ndarray]) -> np.ndarray:
    """Every real frame of ``songs_features``'s features (songs of one length have no padding)."""
    return np.concatenate(x) if isinstance(x, list) else x


def predictions_table(song_ids, annotation, prediction, lengths=None) -> pd.DataFrame:
    """Long table: one row per song and annotated frame, time = end of the frame (s).
    With ``lengths``, song ``i`` has rows for its first ``lengths[i]`` frames only."""
    annotation, prediction = np.asarray(annotation, np.float64), np.asarray(prediction, np.float64)
    n_songs, n_frames = annotation.shape
    lengths = np.full(n_songs, n_frames) if lengths is None else np.asarray(lengths)
    frame = np.concatenate([np.arange(n) for n in lengths]) if n_songs else np.zeros(0, int)
    song_row = np.repeat(np.arange(n_songs), lengths)
    return pd.DataFrame({
        "song_id": np.asarray(song_ids)[song_row],
        "frame": frame,
        "time_s": frame_end_times(n_frames, FIRST_ANNOTATED_FRAME)[frame],
        "annotation": annotation[song_row, frame],
        "prediction": prediction[song_row, frame],
    })


def train_fold(*, target: str, outputs: FoldOutputs, **arguments) -> dict:
    """``train_fold_targets`` for one ``target``, writing ``outputs``; returns its metrics."""
    return train_fold_targets(targets=[target], outputs={target: outputs}, **arguments)[target]


def train_fold_targets(*, model_name: str, outputs: dict[str, FoldOutputs], **arguments
                       ) -> dict[str, dict]:
    """``train_fold_models`` for one model, writing ``outputs`` ({target: FoldOutputs});
    returns {target: metrics}."""
    return train_fold_models(model_names=[model_name], outputs={model_name: outputs},
                             **arguments)[model_name]


def train_fold_models(*, features, annotations, folds: pd.DataFrame, fold: int, targets,
                      model_names, train_config, model_options: dict,
                      validation_fraction: float, seed: int,
                      outputs: dict[str, dict[str, FoldOutputs]], dataset: str = "",
                      feature_set: str = "", seed_index: int = 0,
                      ridge_alphas=None) -> dict[str, dict[str, dict]]:
    """Train each of ``model_names`` on one fold for each of ``targets`` and write, for
    each model and target, checkpoint, predictions, attention, history and metrics to
    ``outputs[model][target]``; return {model: {target: metrics}}.

    The split, the features and their standardisation are computed once for all models
    and targets (a feature set's baselines share one job); each target's model is then
    trained as if alone: a network is built after ``seed_everything(train_config.seed)``
    and trained, target after target, so its files are those of a job training that model
    and target only. ``seed`` draws the validation songs (the same for every training
    seed); ``train_config.seed`` initialises and shuffles; ``seed_index`` numbers the
    training seed.

    Baselines (``mer.models.is_baseline``) are fitted in closed form instead, every target
    at once (``mer.models.baselines.fit_baselines``) on the same fit songs, validation songs
    and standardisation, ``RIDGE``/``RIDGE_SONG`` choosing each target's penalty among
    ``ridge_alphas`` (``train.ridge_alphas``) on the validation songs. They write the same
    files: history.csv has one row (epoch 1: the fit; its ``seconds``, the joint fit's
    wall time divided evenly among the targets), metrics.json has ``epochs`` =
    ``best_epoch`` = 1, ``best_val_loss`` = the validation MSE of the fitted model and,
    for the ridge families, ``ridge_alpha``; attention.npz holds no weights.
    """
    # imported here: torch is heavy and fold splitting does not need it
    from mer.models import MODEL_FAMILIES, build_model, has_attention, parse_model_name
    from mer.runtime import seed_everything
    from mer.training import fit, predict, save_checkpoint

    targets, model_names = list(targets), list(model_names)
    if sorted(outputs) != sorted(model_names):
        raise ValueError(f"outputs are for {sorted(outputs)}, the models are {sorted(model_names)}")
    for model_name in model_names:
        if sorted(outputs[model_name]) != sorted(targets):
            raise ValueError(f"{model_name}'s outputs are for {sorted(outputs[model_name])}, "
                             f"the targets are {sorted(targets)}")
    families = {name: parse_model_name(name).family for name in model_names}
    if any(family in ("RIDGE", "RIDGE_SONG") for family in families.values()):
        from mer.models.baselines import checked_alphas
        ridge_alphas = checked_alphas(ridge_alphas)
    for target in targets:  # an unknown target stops the job before anything is written
        annotations.target(target)
    split = split_fold(folds, fold, validation_fraction, seed)
    missing = np.setdiff1d(folds["song_id"].to_numpy(), features.song_ids)
    if len(missing):
        raise DataError(f"feature table for {features.feature_set!r} lacks songs {missing[:10].tolist()}; "
                        f"re-run feature extraction")

    (x_fit, l_fit), (x_val, l_val), (x_test, l_test) = (
        songs_features(features, annotations, ids) for ids in (split.fit, split.validation, split.test))
    scaler = Standardizer.fit(real_frames_of(x_fit))
    x_fit, x_val, x_test = map(scaler.transform, (x_fit, x_val, x_test))

    def annotations_of(song_ids, lengths) -> dict[str, np.ndarray]:
        return {target: songs_annotations(annotations, target, song_ids, lengths) for target in targets}

    y_fit, y_val, y_test = (annotations_of(split.fit, l_fit), annotations_of(split.validation, l_val),
                            annotations_of(split.test, l_test))
    input_dim = len(features.columns)

    def new_model(model_name):
        seed_everything(train_config.seed)
        return build_model(model_name, input_dim=input_dim, **model_options)

    def evaluate_and_write(model_name, target, model, history, extra_metrics) -> dict:
        """The trained model's test predictions and metrics, written to ``outputs``."""
        prediction, attention = predict(model, x_test, device=train_config.device,
                                        ragged_attention=True)
        metrics = evaluate(y_test[target], prediction, lengths=l_test)
        # the restored weights are those of the last epoch that improved (Keras rule, see fit)
        best = max((row for row in history if row["improved"]), key=lambda row: row["epoch"],
                   default=history[-1])
        metrics.update(fold=fold, seed_index=seed_index, epochs=len(history), best_epoch=int(best["epoch"]),
                       best_val_loss=float(best["val_loss"]), **extra_metrics)
        log.info("fold %d %s %s test: R2 %.3f  within-song R2 %.3f  tau %.3f  MAE %.3f", fold,
                 model_name, target, metrics["r2"], metrics["r2_within"], metrics["tau"], metrics["mae"])
        files = outputs[model_name][target]
        save_checkpoint(files.model, model, model_name=model_name, input_dim=input_dim,
                        model_options=model_options,
                        extra={"dataset": dataset, "feature_set": feature_set, "target": target,
                               "fold": fold, "seed_index": seed_index, "feature_mean": scaler.mean.tolist(),
                               "feature_std": scaler.std.tolist(), "metrics": metrics})
        write_csv_atomic(predictions_table(split.test, y_test[target], prediction, l_test), files.predictions)
        write_csv_atomic(pd.DataFrame(history), files.history)
        _save_attention(files.attention, split.test, attention if has_attention(model_name) else None,
                        l_test)
        write_json_atomic(metrics, files.metrics)
        return metrics

    results = {}
    for model_name in model_names:
        family = families[model_name]
        log.info("fold %d, training seed %d (%d): %d fit / %d validation / %d test songs, %s on %s (%d dims)",
                 fold, seed_index, train_config.seed, len(split.fit), len(split.validation),
                 len(split.test), model_name, features.feature_set, input_dim)
        if MODEL_FAMILIES[family].baseline:
            models = {target: new_model(model_name) for target in targets}
            fitted = _fit_baselines_fold(models, family, x_fit, y_fit, x_val, y_val, ridge_alphas)
            results[model_name] = {target: evaluate_and_write(model_name, target, models[target],
                                                              *fitted[target]) for target in targets}
            continue
        results[model_name] = {}
        for target in targets:  # one after the other, each from the same seed: as if alone
            model = new_model(model_name)
            log.info("training %s for %s", model_name, target)
            # songs of different lengths come one by one and carry their lengths (songs_features)
            history = fit(model, x_fit, y_fit[target], x_val, y_val[target], train_config, log=log.info)
            results[model_name][target] = evaluate_and_write(model_name, target, model, history, {})
    return results


def _fit_baselines_fold(models: dict, family: str, x_fit, y_fit: dict, x_val, y_val: dict,
                        ridge_alphas) -> dict[str, tuple[list[dict], dict]]:
    """Closed-form fit of every target's baseline (``models``, {target: model}) at once:
    {target: (history.csv's one row, its extra fold metrics)}. The fit's wall time is
    divided evenly among the targets (``seconds``)."""
    import time

    from mer.models.baselines import fit_baselines

    started = time.perf_counter()
    results = fit_baselines(list(models.values()), family, x_fit, [y_fit[t] for t in models],
                            x_val, [y_val[t] for t in models], alphas=ridge_alphas)
    seconds = (time.perf_counter() - started) / len(models)
    fitted = {}
    for target, result in zip(models, results):
        row = {"epoch": 1, "train_loss": result.train_loss, "val_loss": result.val_loss,
               "seconds": seconds, "improved": True}
        if result.alpha is None:
            log.info("%s fitted for %s: train_loss %.6f  val_loss %.6f", family, target,
                     result.train_loss, result.val_loss)
            fitted[target] = [row], {}
            continue
        log.info("%s for %s: validation MSE per alpha %s; chose alpha %g (val_loss %.6f)", family,
                 target, ", ".join(f"{a:g}: {v:.6f}" for a, v in zip(ridge_alphas, result.val_losses)),
                 result.alpha, result.val_loss)
        fitted[target] = [row], {"ridge_alpha": result.alpha}
    return fitted


def _save_attention(path: Path, song_ids, attention, lengths) -> None:
    """Each song's (length, length) weights (row = predicted frame, column = attended
    frame), flattened one after the other into ``weights``; empty if the model has none.
    ``load_song_attention`` reads one song back."""
    from mer.io import atomic_path
    lengths = np.asarray(lengths, np.int64)
    weights = (np.zeros(0, np.float32) if attention is None else
               np.concatenate([np.asarray(w, np.float32).ravel() for w in attention]))
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, song_ids=np.asarray(song_ids, np.int64), weights=weights,
                                lengths=lengths, has_attention=np.array(attention is not None))


def load_song_attention(data, song_id: int, path="attention.npz") -> np.ndarray:
    """(length, length) attention of ``song_id`` from a loaded ``attention.npz`` (either the
    flat per-song layout ``_save_attention`` writes, or an (n, T, T) array)."""
    rows = np.flatnonzero(data["song_ids"] == song_id)
    if len(rows) == 0:
        raise ValueError(f"{path}: song {song_id} is not among this fold's songs")
    row, weights = int(rows[0]), data["weights"]
    if weights.ndim == 3:
        length = int(data["lengths"][row]) if "lengths" in data.files else weights.shape[1]
        return weights[row, :length, :length]
    lengths = data["lengths"].astype(np.int64)
    start = int((lengths[:row] ** 2).sum())
    return weights[start:start + lengths[row] ** 2].reshape(lengths[row], lengths[row])


def _std(values) -> float:
    values = np.asarray(values, dtype=float)
    return float(np.nanstd(values, ddof=1)) if len(values) > 1 else 0.0


def summarize_cv(fold_metric_paths, fold_prediction_paths, *, summary_path: Path,
                 predictions_path: Path, description: dict, max_epochs: int | None = None) -> dict:
    """Mean and std over folds of each metric, plus pooled out-of-fold predictions.

    Keys: for each of ``METRIC_NAMES`` ``m``, ``m_std`` (spread over folds) and
    ``m_seed_std``; ``r2_pooled``, R² of all out-of-fold frames pooled (one number, no
    std: every song is predicted once, by the fold that held it out); ``val_loss`` and
    ``val_loss_std``, mean and std over folds of the validation MSE of the restored model
    (``best_val_loss``: what a user can select on without the test folds); ``baseline``,
    whether the model is a closed-form baseline (``mer.models.is_baseline``, unless
    ``description`` already says); ``n_folds``,
    ``n_seeds``, ``epochs_mean`` and ``folds`` (every fold's metrics.json). With
    ``max_epochs`` (the grid's cap), a network's ``early_stopped``: how many of its fold runs
    early stopping ended before the cap (None for baselines and without ``max_epochs``).

    With several training seeds (``train.seeds``) each fold's metric is first averaged over
    the seeds, so ``<metric>_std`` is the spread over folds of those averages;
    ``<metric>_seed_std`` is the spread over seeds of each seed's mean over folds (0 with
    one seed). Out-of-fold predictions are averaged over the seeds, frame by frame, before
    ``r2_pooled`` is computed.
    """
    from mer.metrics import r2

    runs = []
    for path in fold_metric_paths:
        run = json.loads(Path(path).read_text())
        missing = [key for key in (*METRIC_NAMES, "fold", "epochs", "best_val_loss") if key not in run]
        if missing:
            raise DataError(f"{path}: fold metrics lack {', '.join(missing)} (written by an older "
                            f"mer); re-run its training job")
        run.setdefault("seed_index", 0)
        runs.append(run)
    table = pd.DataFrame(runs).sort_values(["seed_index", "fold"])
    columns = [*METRIC_NAMES, "best_val_loss"]
    per_fold = table.groupby("fold")[columns].mean()
    per_seed = table.groupby("seed_index")[columns].mean()
    summary = dict(description)
    summary["n_folds"] = len(per_fold)
    summary["n_seeds"] = len(per_seed)
    for metric in METRIC_NAMES:
        summary[metric] = float(np.nanmean(per_fold[metric].to_numpy(dtype=float)))
        summary[f"{metric}_std"] = _std(per_fold[metric])
        summary[f"{metric}_seed_std"] = _std(per_seed[metric])
    oof = pd.concat([pd.read_csv(p).assign(fold=int(m["fold"]))
                     for p, m in zip(fold_prediction_paths, runs)], ignore_index=True)
    oof = (oof.groupby(["song_id", "frame"], sort=True, as_index=False)
              .agg(time_s=("time_s", "first"), annotation=("annotation", "first"),
                   prediction=("prediction", "mean"), fold=("fold", "first")))
    summary["r2_pooled"] = (r2(oof["annotation"].to_numpy()[None], oof["prediction"].to_numpy()[None])
                            if len(oof) else float("nan"))
    summary["val_loss"] = float(np.nanmean(per_fold["best_val_loss"].to_numpy(dtype=float)))
    summary["val_loss_std"] = _std(per_fold["best_val_loss"])
    if "baseline" not in summary:  # the workflow passes it, so its jobs need not import torch
        summary["baseline"] = _is_baseline(description.get("model"))
    summary["baseline"] = bool(summary["baseline"])
    summary["epochs_mean"] = float(table["epochs"].mean())
    summary["max_epochs"] = max_epochs
    summary["early_stopped"] = (None if summary["baseline"] or max_epochs is None
                                else int((table["epochs"] < max_epochs).sum()))
    summary["folds"] = sorted(runs, key=lambda run: (run["seed_index"], run["fold"]))
    write_csv_atomic(oof, predictions_path)
    write_json_atomic(summary, summary_path)
    return summary


def _is_baseline(model_name) -> bool:
    from mer.models import is_baseline  # imported here: torch is heavy
    return bool(model_name) and is_baseline(model_name)
