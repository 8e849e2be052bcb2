"""Result tables: every trained model, the paper's Table 1 layout, and DVC metrics.

Model selection follows the paper: within a family group (e.g. "AT single" = one-layer AT
models, "AT multi" = stacked ones) the model with the best mean R² over folds is reported.
Ties are broken by lower mean MAE, then by name. A group with no trained model in the grid
is left out of the table (it is not shown as zero).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mer.models import parse_model_name
from mer.reports.paper import PAPER_TABLES

GROUP_ORDER = ["LSTM single", "LSTM multi", "AT single", "AT multi", "BAT single", "BAT multi",
               "Transformer"]
METRICS = ("r2", "tau", "mae")


def family_group(model_name: str) -> str:
    spec = parse_model_name(model_name)
    if spec.family == "TRANSFORMER":
        return "Transformer"
    return f"{spec.family} {'single' if len(spec.sizes) == 1 else 'multi'}"


def load_summaries(paths) -> pd.DataFrame:
    """One row per (target, feature set, model) from ``cv_summary.json`` files."""
    rows = []
    for path in paths:
        summary = json.loads(Path(path).read_text())
        row = {key: summary[key] for key in ("dataset", "target", "feature_set", "model", "n_folds")}
        for metric in METRICS:
            row[metric] = summary[metric]
            row[f"{metric}_std"] = summary[f"{metric}_std"]
        row["group"] = family_group(summary["model"])
        row["summary_path"] = str(path)
        rows.append(row)
    return pd.DataFrame(rows)


def metrics_tree(summaries: pd.DataFrame) -> dict:
    """Nested dict for DVC: dataset -> target -> feature set -> model -> metric."""
    tree: dict = {}
    for row in summaries.itertuples(index=False):
        leaf = tree.setdefault(row.dataset, {}).setdefault(row.target, {}).setdefault(row.feature_set, {})
        leaf[row.model] = {m: round(float(getattr(row, m)), 6) for m in
                           ("r2", "r2_std", "tau", "tau_std", "mae", "mae_std")}
    return tree


def select_best(summaries: pd.DataFrame) -> pd.Series:
    """Best row by mean R² (ties: lower MAE, then name); NaN R² ranks last."""
    ranked = summaries.assign(_r2=summaries["r2"].fillna(-np.inf))
    ranked = ranked.sort_values(["_r2", "mae", "model"], ascending=[False, True, True])
    return ranked.iloc[0].drop("_r2")


def _mean_std(row, metric: str) -> str:
    return f"{row[metric]:.2f} ± {row[f'{metric}_std']:.2f}"


def paper_layout_table(summaries: pd.DataFrame, target: str, feature_set: str) -> pd.DataFrame:
    """Best model per family group with sizes searched, as in the paper's Tables 1 and 2."""
    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if subset.empty:
        raise ValueError(f"no trained models for target {target!r} and feature set {feature_set!r}")
    paper = PAPER_TABLES.get((target, feature_set), {})
    rows = []
    for group in GROUP_ORDER:
        members = subset[subset["group"] == group]
        if members.empty:
            continue
        best = select_best(members)
        sizes = ", ".join(m.split("_", 1)[1] for m in sorted(members["model"], key=_size_key))
        row = {"family": group, "sizes searched": sizes, "best": best["model"],
               "R²": _mean_std(best, "r2"), "τ̄": _mean_std(best, "tau"), "MAE": _mean_std(best, "mae")}
        if paper:
            reference = paper.get(group)
            row["paper best"] = reference[1] if reference else "–"
            row["paper R²"] = f"{reference[2]:.2f}" if reference else "–"
            row["ΔR²"] = f"{best['r2'] - reference[2]:+.2f}" if reference else "–"
            row["paper τ̄"] = f"{reference[3]:.2f}" if reference else "–"
            row["paper MAE"] = f"{reference[4]:.2f}" if reference else "–"
        rows.append(row)
    return pd.DataFrame(rows)


def _size_key(model_name: str):
    spec = parse_model_name(model_name)
    return (len(spec.sizes), spec.sizes)


def all_models_table(summaries: pd.DataFrame) -> pd.DataFrame:
    table = summaries.sort_values(["target", "feature_set", "group", "model"]).copy()
    for metric in METRICS:
        table[metric] = table.apply(lambda row: _mean_std(row, metric), axis=1)
    return table[["target", "feature_set", "group", "model", "n_folds", "r2", "tau", "mae"]].rename(
        columns={"feature_set": "feature set", "n_folds": "folds", "r2": "R²", "tau": "τ̄", "mae": "MAE"})


def to_markdown(table: pd.DataFrame, title: str, notes: str = "") -> str:
    """A GitHub-flavoured markdown table (written by hand: no extra dependency needed)."""
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    text = f"# {title}\n\n" + "\n".join([header, rule, *body]) + "\n"
    return text + (f"\n{notes}\n" if notes else "")


def dataset_caption(dataset: str) -> str:
    if dataset == "synthetic":
        return ("dataset: synthetic (mer's generated stand-in for emoMusic — these are NOT the "
                "paper's numbers and say nothing about real music)")
    return f"dataset: {dataset}"


def write_result_tables(summary_paths, *, dataset: str, table1_target: str, table1_feature_set: str,
                        metrics_path, summary_md, summary_csv, table1_md, table1_csv) -> pd.DataFrame:
    """Write the DVC metrics file, the all-models table and Table 1 (markdown + CSV)."""
    from mer.io import write_csv_atomic, write_json_atomic, write_text_atomic

    summaries = load_summaries(summary_paths)
    write_json_atomic(metrics_tree(summaries), metrics_path)
    caption = dataset_caption(dataset)
    every = all_models_table(summaries)
    write_csv_atomic(every, summary_csv)
    write_text_atomic(to_markdown(every, f"Cross-validation results, every model — {caption}",
                                  "Mean ± std over folds. R²: pooled over a fold's frames; τ̄: "
                                  "Kendall tau-b per song, averaged over songs."), summary_md)
    table = paper_layout_table(summaries, table1_target, table1_feature_set)
    write_csv_atomic(table, table1_csv)
    notes = ("Best model per family group by mean R² over folds (ties: lower MAE). Ours: mean ± std "
             "over folds. Paper columns: Chaki et al. (ISMIR 2020) on the real emoMusic set, shown "
             "for layout only" + (" — not comparable with synthetic data." if dataset == "synthetic" else "."))
    if (table1_target, table1_feature_set) not in PAPER_TABLES:
        notes = "Best model per family group by mean R² over folds (ties: lower MAE); mean ± std over folds."
    title = f"Table 1 layout — {table1_target}, {table1_feature_set} features — {caption}"
    write_text_atomic(to_markdown(table, title, notes), table1_md)
    return summaries
