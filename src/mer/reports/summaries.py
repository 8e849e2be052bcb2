"""Reading ``cv_summary.json`` files into one table, and the DVC metrics trees.

One row per (dataset, target, feature set, model). Metrics (see ``mer.metrics``):

* ``r2``: mean over folds of each fold's R² on its test songs (``r2_std``: std over folds);
* ``r2_pooled``: R² of all out-of-fold frames at once (no std: one number per model);
* ``r2_within``: within-song R² (each song's deviations from its own mean; 0 for any model
  that predicts a constant per song), mean ± std over folds;
* ``tau`` (τ̄), ``mae``, ``rmse``, ``pearson_r``: mean ± std over folds;
* ``val_loss``: mean over folds of the best validation loss (the validation selection).

Keys a summary lacks (one written before a metric existed) read as NaN and are left out
of the metrics files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

# metrics with a mean and a std over folds (and over seeds) in cv_summary.json
FOLD_METRICS = ("r2", "r2_within", "tau", "mae", "rmse", "pearson_r")
BASELINE_GROUP = "Baseline"


def is_baseline(model_name: str) -> bool:
    """A reference model of the registry (``MEAN``, ``RIDGE``, ``RIDGE_SONG``), not a network."""
    from mer.models import is_baseline as registered

    return registered(model_name)


def family_group(model_name: str) -> str:
    """"Baseline", "Transformer" or "<family> single|multi" (one or several layers)."""
    from mer.models import parse_model_name

    if is_baseline(model_name):
        return BASELINE_GROUP
    spec = parse_model_name(model_name)
    if spec.family == "TRANSFORMER":
        return "Transformer"
    return f"{spec.family} {'single' if len(spec.sizes) == 1 else 'multi'}"


def family(model_name: str) -> str:
    """The registry family (``AT``, ``LSTM``, …); a baseline is its own family (its name)."""
    from mer.models import parse_model_name

    return model_name if is_baseline(model_name) else parse_model_name(model_name).family


def _number(value) -> float:
    return float("nan") if value is None else float(value)


def load_summaries(paths) -> pd.DataFrame:
    """One row per (target, feature set, model) from ``cv_summary.json`` files."""
    rows = []
    for path in paths:
        summary = json.loads(Path(path).read_text())
        row = {key: summary[key] for key in ("dataset", "target", "feature_set", "model", "n_folds")}
        row["n_seeds"] = summary.get("n_seeds", 1)
        for metric in FOLD_METRICS:
            row[metric] = _number(summary.get(metric))
            row[f"{metric}_std"] = _number(summary.get(f"{metric}_std"))
            row[f"{metric}_seed_std"] = _number(summary.get(f"{metric}_seed_std", 0.0))
        row["r2_pooled"] = _number(summary.get("r2_pooled"))
        row["val_loss"] = _number(summary.get("val_loss"))
        row["val_loss_std"] = _number(summary.get("val_loss_std"))
        row["baseline"] = bool(summary.get("baseline", is_baseline(summary["model"])))
        row["early_stopped"] = _number(summary.get("early_stopped"))  # NaN: baseline / older mer
        row["group"] = family_group(summary["model"])
        row["summary_path"] = str(path)
        rows.append(row)
    columns = ["dataset", "target", "feature_set", "model", "n_folds", "n_seeds", "group", "baseline",
               "summary_path"]
    return pd.DataFrame(rows, columns=None if rows else columns)


def networks(summaries: pd.DataFrame) -> pd.DataFrame:
    return summaries[~summaries["baseline"]]


def baselines(summaries: pd.DataFrame) -> pd.DataFrame:
    return summaries[summaries["baseline"]]


# what `dvc metrics diff` compares, per model (std where the metric has one)
METRICS_FILE_KEYS = ("r2", "r2_std", "r2_pooled", "r2_within", "r2_within_std", "tau", "tau_std",
                     "mae", "mae_std", "rmse", "rmse_std", "pearson_r", "pearson_r_std")


def _finite(values: dict) -> dict:
    """Round to 6 digits and leave out NaN (not valid JSON for DVC)."""
    return {k: round(float(v), 6) for k, v in values.items() if v is not None and math.isfinite(float(v))}


def metrics_tree(summaries: pd.DataFrame, dataset_notes: dict | None = None) -> dict:
    """Nested dict for DVC: dataset -> target -> feature set -> model -> metric.

    ``dataset_notes`` ({"n_songs": int, "notes": [str, ...]}), if given, is stored under each
    dataset as ``dataset_notes``.
    """
    tree: dict = {}
    for row in summaries.itertuples(index=False):
        leaf = tree.setdefault(row.dataset, {}).setdefault(row.target, {}).setdefault(row.feature_set, {})
        leaf[row.model] = _finite({key: getattr(row, key) for key in METRICS_FILE_KEYS})
        if row.n_seeds > 1:
            leaf[row.model].update(_finite({"r2_seed_std": row.r2_seed_std}))
    if dataset_notes:
        for dataset in tree:
            tree[dataset]["dataset_notes"] = dict(dataset_notes)
    return tree


def fold_values(summary_path, metric: str = "r2") -> pd.Series:
    """Per-fold ``metric`` of one model (mean over its training seeds), indexed by fold."""
    runs = pd.DataFrame(json.loads(Path(summary_path).read_text())["folds"])
    if metric not in runs:
        return pd.Series(dtype=float)
    return runs.groupby("fold")[metric].mean().astype(float).sort_index()


def fold_song_counts(predictions: pd.DataFrame) -> tuple[float, float]:
    """(mean test songs per fold, mean training songs per fold) from out-of-fold predictions.

    Training songs of a fold = every song outside it (validation songs included: they are
    used in training, for early stopping), as the corrected t-test's n_train.
    """
    per_fold = predictions.groupby("fold")["song_id"].nunique()
    total = predictions["song_id"].nunique()
    n_test = float(per_fold.mean()) if len(per_fold) else np.nan
    return n_test, float(total - n_test) if len(per_fold) else np.nan
