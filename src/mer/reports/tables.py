"""Result tables: every trained model, the paper's Tables 1-4 layout, with baselines.

Each row of a family group reports two selections (``mer.reports.selection``): the row's
metrics are those of the paper's selection (best mean **test** R², labelled optimistic:
the same folds choose and score), and the ``by val loss`` columns give the model a user
could have chosen without the test folds (lowest mean validation loss) and its metrics.
A group with no trained model in the grid is left out (not shown as zero).

Every table opens with the **baseline block**: the registry's reference models
(``MEAN``: the training songs' mean annotation, the R² ≈ 0 reference; ``RIDGE``: ridge
regression per frame; ``RIDGE_SONG``: ridge on each song's mean features, one level per
song), trained on the same folds, validation songs and standardisation as the networks.

Metric columns: R² (mean ± std over folds of each fold's R²), pooled R² (all out-of-fold
frames at once), within-song R² (mean ± std over folds), τ̄ and MAE (mean ± std over folds).

The four paper tables:

* Table 1: ``report.table1`` (default arousal, ComParE), every family group.
* Table 2: the other target on the same feature set (the paper: valence, ComParE).
* Tables 3 and 4: single-layer AT models on the smaller feature sets (chroma, cqt,
  chroma_cqt, spectral), arousal and valence. A feature set that is not in the grid is
  named in the table's note; a table with nothing trained is still written, as a note, so
  the workflow's outputs do not depend on the grid.

Paper columns (the paper's value and ``Δ = ours − paper``) appear only where the setting
is the paper's (``mer.reports.paper.paper_comparable``: emoMusic with 10-fold CV);
elsewhere the note says why they are left out. A paper row whose R² its own MAE makes
impossible is footnoted, the bound computed from this run's annotation std.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mer.reports.paper import (
    PAPER_BASELINE,
    PAPER_FEATURE_NAMES,
    PAPER_SMALL_FEATURE_TABLES,
    PAPER_TABLES,
    impossible_rows,
)
from mer.reports.selection import SELECTION_LABELS, select_best, select_by_validation
from mer.reports.summaries import (  # noqa: F401 (re-exported: figures, bundle, dvc_plots use them)
    BASELINE_GROUP,
    baselines,
    family_group,
    load_summaries,
    metrics_tree,
    networks,
)

GROUP_ORDER = ["LSTM single", "LSTM multi", "AT single", "AT multi", "BAT single", "BAT multi",
               "Transformer"]
BASELINE_ORDER = ["MEAN", "RIDGE", "RIDGE_SONG"]
PAPER_METRICS = (("r2", "R²"), ("tau", "τ̄"), ("mae", "MAE"))
ONE_CONFIGURATION = "– (one configuration)"


def _num(value, digits=2) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"


def _mean_std(row, metric: str) -> str:
    if not np.isfinite(row[metric]):
        return "–"
    return f"{row[metric]:.2f} ± {_num(row[f'{metric}_std'])}"


def _metric_columns(row, prefix: str = "") -> dict:
    return {f"{prefix}R²": _mean_std(row, "r2"), f"{prefix}pooled R²": _num(row["r2_pooled"]),
            f"{prefix}within-song R²": _mean_std(row, "r2_within"), f"{prefix}τ̄": _mean_std(row, "tau"),
            f"{prefix}MAE": _mean_std(row, "mae")}


def _fmt_paper(value: float) -> str:
    return f"{value:.3f}" if 0 < abs(value) < 0.01 else f"{value:.2f}"


def _paper_columns(ours, reference, dagger: set[str] = frozenset()) -> dict:
    """The paper's value and Δ = ours − paper for R², τ̄, MAE (``reference``: the three values)."""
    row = {}
    for i, (metric, label) in enumerate(PAPER_METRICS):
        if reference is None:
            row[f"paper {label}"], row[f"Δ{label}"] = "–", "–"
            continue
        row[f"paper {label}"] = _fmt_paper(reference[i]) + (" †" if metric in dagger else "")
        row[f"Δ{label}"] = f"{ours[metric] - reference[i]:+.2f}" if np.isfinite(ours[metric]) else "–"
    return row


def _size_key(model_name: str):
    from mer.models import parse_model_name
    spec = parse_model_name(model_name)
    return (len(spec.sizes), spec.sizes)


def _sizes(members: pd.DataFrame) -> str:
    return ", ".join(m.split("_", 1)[1] for m in sorted(members["model"], key=_size_key))


def _group_row(members: pd.DataFrame, leading: dict) -> tuple[dict, pd.Series]:
    """A network group's row: the paper's selection with its metrics, then the validation one."""
    best, by_val = select_best(members), select_by_validation(members)
    row = {**leading, "sizes searched": _sizes(members), "selection": SELECTION_LABELS["test_r2"],
           "model": best["model"], **_metric_columns(best)}
    row["by val loss: model"] = by_val["model"] if np.isfinite(by_val["val_loss"]) else "– (no val loss)"
    row.update({k: v for k, v in _metric_columns(by_val, "by val loss: ").items()
                if k in ("by val loss: R²", "by val loss: pooled R²", "by val loss: τ̄", "by val loss: MAE")})
    return row, best


def _baseline_rows(subset: pd.DataFrame, leading: dict, paper_keys: list[str]) -> list[dict]:
    rows = []
    base = baselines(subset)
    order = {name: i for i, name in enumerate(BASELINE_ORDER)}
    for _, ours in base.sort_values("model", key=lambda s: s.map(lambda m: (order.get(m, 99), m))).iterrows():
        row = {**leading, "sizes searched": "–", "selection": ONE_CONFIGURATION, "model": ours["model"],
               **_metric_columns(ours), **{key: "–" for key in paper_keys}}
        row["by val loss: model"] = ours["model"]
        row.update({k: v for k, v in _metric_columns(ours, "by val loss: ").items()
                    if k in ("by val loss: R²", "by val loss: pooled R²", "by val loss: τ̄", "by val loss: MAE")})
        rows.append(row)
    return rows


PAPER_KEYS = ["paper best", *[f"{p}{label}" for _, label in PAPER_METRICS for p in ("paper ", "Δ")]]


def _ordered(row: dict, with_paper: bool) -> dict:
    """Columns in one order: identity, ours, paper (if shown), the validation selection."""
    keys = [k for k in row if not k.startswith(("paper", "Δ", "by val loss"))]
    if with_paper:
        keys += PAPER_KEYS
    keys += [k for k in row if k.startswith("by val loss")]
    return {k: row.get(k, "–") for k in keys}


def paper_layout_table(summaries: pd.DataFrame, target: str, feature_set: str,
                       baseline_model: str | None = None, *, with_paper: bool = True,
                       target_std: float | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Tables 1 and 2: the baseline block, then the best model per family group.

    ``baseline_model`` (if trained) is the paper's "Baseline LSTM" row (Weninger et al.).
    ``with_paper``: add the paper's columns (only where the setting is comparable).
    ``target_std``: the annotation std used to footnote impossible paper rows.
    Returns the table and its footnotes.
    """
    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if subset.empty:
        raise ValueError(f"no trained models for target {target!r} and feature set {feature_set!r}")
    paper = PAPER_TABLES.get((target, feature_set), {}) if with_paper else {}
    with_paper = bool(paper)
    nets = networks(subset)
    trained_groups = set(nets["group"])
    impossible = {g: (r2, mae, bound) for g, r2, mae, bound in
                  (impossible_rows(target, feature_set, target_std) if with_paper and target_std else [])
                  if g in trained_groups}  # footnote only the paper rows the table shows
    footnotes = [f"† paper's {group} row: R² {r2:.2f} with MAE {mae:.2f} is impossible: MAE² ≤ MSE gives "
                 f"R² ≤ 1 − MAE²/std² = 1 − {mae:.2f}²/{target_std:.3f}² = {bound:.2f} (std of this run's "
                 f"{target} annotations: {target_std:.3f})." for group, (r2, mae, bound) in impossible.items()]
    rows = _baseline_rows(subset, {"family": BASELINE_GROUP}, PAPER_KEYS)
    weninger = nets[nets["model"] == baseline_model]
    if len(weninger):
        reference = PAPER_BASELINE.get(target) if with_paper else None
        ours = weninger.iloc[0]
        row = {"family": "Baseline LSTM", "sizes searched": baseline_model.split("_", 1)[1],
               "selection": ONE_CONFIGURATION, "model": baseline_model, **_metric_columns(ours),
               "paper best": reference[0] if reference else "–",
               **_paper_columns(ours, reference[1:] if reference else None),
               "by val loss: model": baseline_model,
               **{k: v for k, v in _metric_columns(ours, "by val loss: ").items()
                  if k in ("by val loss: R²", "by val loss: pooled R²", "by val loss: τ̄", "by val loss: MAE")}}
        rows.append(row)
    for group in GROUP_ORDER:
        members = nets[nets["group"] == group]
        if members.empty:
            continue
        row, best = _group_row(members, {"family": group})
        reference = paper.get(group)
        row["paper best"] = reference[1] if reference else "–"
        row.update(_paper_columns(best, reference[2:] if reference else None,
                                  {"r2"} if group in impossible else set()))
        rows.append(row)
    return pd.DataFrame([_ordered(row, with_paper) for row in rows]), footnotes


SMALL_FEATURE_SETS = ("chroma", "cqt", "chroma_cqt", "spectral")


def small_features_table(summaries: pd.DataFrame, target: str, *, with_paper: bool = True
                         ) -> tuple[pd.DataFrame, list[str]]:
    """The paper's Tables 3-4: best single-layer AT model per smaller feature set, then the
    baselines of those sets.

    Returns the table (one row per trained smaller feature set, paper order, then the
    baseline block) and the feature sets left out because no single-layer AT model was
    trained on them.
    """
    from mer.features import feature_set as lookup_feature_set

    subset = summaries[summaries["target"] == target]
    paper = PAPER_SMALL_FEATURE_TABLES.get(target, {}) if with_paper else {}
    rows, baseline_rows, missing = [], [], []
    for name in SMALL_FEATURE_SETS:
        members = subset[(subset["feature_set"] == name) & (subset["group"] == "AT single")]
        leading = {"features": PAPER_FEATURE_NAMES.get(name, name), "set": name,
                   "dims": lookup_feature_set(name).dims}
        if members.empty:
            missing.append(name)
            continue
        row, best = _group_row(members, leading)
        reference = paper.get(name)
        row["paper best"] = reference[0] if reference else "–"
        row.update(_paper_columns(best, reference[1:] if reference else None))
        rows.append(row)
        baseline_rows += _baseline_rows(subset[subset["feature_set"] == name], leading, PAPER_KEYS)
    for row in baseline_rows:
        row["features"] = f"{BASELINE_GROUP}: {row['features']}"
    return pd.DataFrame([_ordered(row, with_paper) for row in rows + baseline_rows]), missing


def all_models_table(summaries: pd.DataFrame) -> pd.DataFrame:
    """Every trained model, baselines first in each target and feature set; ``selected by``
    marks each group's pick under the two selections."""
    picks: dict[str, list[str]] = {}
    for _, members in networks(summaries).groupby(["target", "feature_set", "group"]):
        picks.setdefault(select_best(members)["summary_path"], []).append("test R²")
        if members["val_loss"].notna().any():
            picks.setdefault(select_by_validation(members)["summary_path"], []).append("val loss")
    table = summaries.assign(_base=~summaries["baseline"]).sort_values(
        ["target", "feature_set", "_base", "group", "model"]).copy()
    rows = []
    for _, row in table.iterrows():
        out = {"target": row["target"], "feature set": row["feature_set"], "group": row["group"],
               "model": row["model"], "folds": row["n_folds"], "seeds": row["n_seeds"], **_metric_columns(row),
               "val loss": _num(row["val_loss"], 4), "stopped early": _stopped_early(row),
               "selected by": ", ".join(picks.get(row["summary_path"], [])) or ("–" if not row["baseline"]
                                                                               else "(baseline)")}
        if (summaries["n_seeds"] > 1).any():  # the spread a different training seed alone causes
            out["R² std over seeds"] = _num(row["r2_seed_std"])
        rows.append(out)
    return pd.DataFrame(rows)


def _stopped_early(row) -> str:
    """"k/n": fold runs that early stopping ended before the grid's epoch cap ("–": a
    baseline, or a summary written without the cap)."""
    early = row.get("early_stopped")  # NaN from load_summaries when there is no count
    if pd.isna(early):
        return "–"
    return f"{int(early)}/{int(row['n_folds'] * row['n_seeds'])}"


def to_markdown(table: pd.DataFrame, title: str, notes: str = "") -> str:
    """A GitHub-flavoured markdown table (written by hand: no extra dependency needed)."""
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    # a "|" inside a cell (e.g. |ΔR²|) would end the cell: escape it
    body = ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |"
            for row in table.itertuples(index=False)]
    text = f"# {title}\n\n" + "\n".join([header, rule, *body]) + "\n"
    return text + (f"\n{notes}\n" if notes else "")


def dataset_caption(dataset: str) -> str:
    if dataset == "synthetic":
        return ("dataset: synthetic (mer's generated stand-in for emoMusic — these are NOT the "
                "paper's numbers and say nothing about real music)")
    return f"dataset: {dataset}"


def dataset_note(dataset_notes: dict | None) -> str:
    """The dataset's own notes (e.g. songs left out), for every table's note; "" if none."""
    if not dataset_notes:
        return ""
    parts = []
    if dataset_notes.get("n_songs") is not None:
        parts.append(f"{dataset_notes['n_songs']} songs")
    parts += [str(note) for note in dataset_notes.get("notes", [])]
    return "Dataset: " + "; ".join(parts) + "." if parts else ""


def best_models_tree(summaries: pd.DataFrame) -> dict:
    """Nested dict for DVC: dataset -> target -> feature set -> family group -> best model's
    metrics (the paper's selection), with the validation selection under ``by_val_loss``."""
    keys = ("r2", "r2_std", "r2_pooled", "r2_within", "tau", "tau_std", "mae", "mae_std")
    tree: dict = {}
    for (dataset, target, feature_set, group), members in summaries.groupby(
            ["dataset", "target", "feature_set", "group"], sort=True):
        best, by_val = select_best(members), select_by_validation(members)
        leaf = tree.setdefault(dataset, {}).setdefault(target, {}).setdefault(feature_set, {})
        leaf[group] = {"model": best["model"], **{m: round(float(best[m]), 6) for m in keys
                                                  if np.isfinite(best[m])}}
        if np.isfinite(by_val["val_loss"]):
            leaf[group]["by_val_loss"] = {"model": by_val["model"], **{
                m: round(float(by_val[m]), 6) for m in keys if np.isfinite(by_val[m])}}
    return tree


def annotation_std(summaries: pd.DataFrame, target: str, feature_set: str) -> float | None:
    """Std of this run's ``target`` annotations over all out-of-fold frames (any model's
    predictions.csv: the annotations are the same for every model)."""
    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if subset.empty:
        return None
    path = Path(subset.iloc[0]["summary_path"]).with_name("predictions.csv")
    if not path.is_file():
        return None
    return float(pd.read_csv(path, usecols=["annotation"])["annotation"].std(ddof=0))
