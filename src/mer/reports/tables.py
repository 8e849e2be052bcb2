"""Result tables: every trained model, the paper's Table 1 layout, and DVC metrics.

Model selection follows the paper: within a family group (e.g. "AT single" = one-layer AT
models, "AT multi" = stacked ones) the model with the best mean R² over folds is reported.
Ties are broken by lower mean MAE, then by name. A group with no trained model in the grid
is left out of the table (it is not shown as zero).

The four paper tables:

* Table 1: ``report.table1`` (default arousal, ComParE), every family group.
* Table 2: the other target on the same feature set (the paper: valence, ComParE).
* Tables 3 and 4: single-layer AT models on the smaller feature sets (chroma, cqt,
  chroma_cqt, spectral), arousal and valence. A feature set that is not in the grid is
  named in the table's note; a table with nothing trained is still written, as a note, so
  the workflow's outputs do not depend on the grid.

Paper columns sit beside ours with ``Δ = ours − paper``; they come from the real emoMusic
set and are printed for layout only when the dataset is synthetic.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mer.models import parse_model_name
from mer.reports.paper import (
    PAPER_BASELINE,
    PAPER_FEATURE_NAMES,
    PAPER_SMALL_FEATURE_TABLES,
    PAPER_TABLES,
)

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
        row["n_seeds"] = summary.get("n_seeds", 1)
        for metric in METRICS:
            row[metric] = summary[metric]
            row[f"{metric}_std"] = summary[f"{metric}_std"]
            row[f"{metric}_seed_std"] = summary.get(f"{metric}_seed_std", 0.0)
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
        if row.n_seeds > 1:
            leaf[row.model]["r2_seed_std"] = round(float(row.r2_seed_std), 6)
    return tree


def select_best(summaries: pd.DataFrame) -> pd.Series:
    """Best row by mean R² (ties: lower MAE, then name); NaN R² ranks last."""
    ranked = summaries.assign(_r2=summaries["r2"].fillna(-np.inf))
    ranked = ranked.sort_values(["_r2", "mae", "model"], ascending=[False, True, True])
    return ranked.iloc[0].drop("_r2")


def _mean_std(row, metric: str) -> str:
    return f"{row[metric]:.2f} ± {row[f'{metric}_std']:.2f}"


def _beside_paper(row: dict, ours, reference) -> dict:
    """Our R², τ̄, MAE with the paper's value and the difference ours − paper after each."""
    for i, (metric, label) in enumerate(zip(METRICS, ("R²", "τ̄", "MAE"))):
        row[label] = _mean_std(ours, metric)
        row[f"paper {label}"] = _fmt(reference[i]) if reference else "–"
        row[f"Δ{label}"] = f"{ours[metric] - reference[i]:+.2f}" if reference else "–"
    return row


def _fmt(value: float) -> str:
    return f"{value:.3f}" if 0 < abs(value) < 0.01 else f"{value:.2f}"


def paper_layout_table(summaries: pd.DataFrame, target: str, feature_set: str,
                       baseline_model: str | None = None) -> pd.DataFrame:
    """Best model per family group with sizes searched, as in the paper's Tables 1 and 2.

    ``baseline_model`` (if trained) opens the table as the paper's "Baseline LSTM" row.
    """
    subset = summaries[(summaries["target"] == target) & (summaries["feature_set"] == feature_set)]
    if subset.empty:
        raise ValueError(f"no trained models for target {target!r} and feature set {feature_set!r}")
    paper = PAPER_TABLES.get((target, feature_set), {})
    rows = []
    baseline = subset[subset["model"] == baseline_model]
    if len(baseline):
        reference = PAPER_BASELINE.get(target) if paper else None
        ours = baseline.iloc[0]
        row = {"family": "Baseline LSTM", "sizes searched": baseline_model.split("_", 1)[1],
               "best": baseline_model}
        rows.append(_with_paper_best(_beside_paper(row, ours, reference[1:] if reference else None),
                                     reference[0] if reference else None, bool(paper)))
    for group in GROUP_ORDER:
        members = subset[subset["group"] == group]
        if members.empty:
            continue
        best = select_best(members)
        sizes = ", ".join(m.split("_", 1)[1] for m in sorted(members["model"], key=_size_key))
        row = {"family": group, "sizes searched": sizes, "best": best["model"]}
        reference = paper.get(group)
        rows.append(_with_paper_best(_beside_paper(row, best, reference[2:] if reference else None),
                                     reference[1] if reference else None, bool(paper)))
    return pd.DataFrame(rows)


def _with_paper_best(row: dict, paper_best: str | None, has_paper: bool) -> dict:
    if not has_paper:  # no paper table for this target and feature set: our columns only
        return {k: v for k, v in row.items() if not k.startswith(("paper", "Δ"))}
    row["paper best"] = paper_best or "–"
    return row


SMALL_FEATURE_SETS = ("chroma", "cqt", "chroma_cqt", "spectral")


def small_features_table(summaries: pd.DataFrame, target: str) -> tuple[pd.DataFrame, list[str]]:
    """The paper's Tables 3-4: best single-layer AT model per smaller feature set.

    Returns the table (one row per trained smaller feature set, paper order) and the
    feature sets left out because no single-layer AT model was trained on them.
    """
    from mer.features import feature_set as lookup_feature_set

    subset = summaries[(summaries["target"] == target) & (summaries["group"] == "AT single")]
    paper = PAPER_SMALL_FEATURE_TABLES.get(target, {})
    rows, missing = [], []
    for name in SMALL_FEATURE_SETS:
        members = subset[subset["feature_set"] == name]
        if members.empty:
            missing.append(name)
            continue
        best = select_best(members)
        reference = paper.get(name)
        row = {"features": PAPER_FEATURE_NAMES.get(name, name), "set": name,
               "dims": lookup_feature_set(name).dims,
               "sizes searched": ", ".join(m.split("_", 1)[1] for m in sorted(members["model"], key=_size_key)),
               "best": best["model"]}
        row = _beside_paper(row, best, reference[1:] if reference else None)
        row["paper best"] = reference[0] if reference else "–"
        rows.append(row)
    return pd.DataFrame(rows), missing


def _size_key(model_name: str):
    spec = parse_model_name(model_name)
    return (len(spec.sizes), spec.sizes)


def all_models_table(summaries: pd.DataFrame) -> pd.DataFrame:
    table = summaries.sort_values(["target", "feature_set", "group", "model"]).copy()
    for metric in METRICS:
        table[metric] = table.apply(lambda row, m=metric: _mean_std(row, m), axis=1)
    columns = ["target", "feature_set", "group", "model", "n_folds", "n_seeds", "r2", "tau", "mae"]
    if (table["n_seeds"] > 1).any():  # the spread a different training seed alone causes
        table["r2_seed_std"] = table["r2_seed_std"].map(lambda value: f"{value:.2f}")
        columns.append("r2_seed_std")
    return table[columns].rename(
        columns={"feature_set": "feature set", "n_folds": "folds", "n_seeds": "seeds", "r2": "R²",
                 "tau": "τ̄", "mae": "MAE", "r2_seed_std": "R² std over seeds"})


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


def best_models_tree(summaries: pd.DataFrame) -> dict:
    """Nested dict for DVC: dataset -> target -> feature set -> family group -> best model's metrics."""
    tree: dict = {}
    for (dataset, target, feature_set, group), members in summaries.groupby(
            ["dataset", "target", "feature_set", "group"], sort=True):
        best = select_best(members)
        leaf = tree.setdefault(dataset, {}).setdefault(target, {}).setdefault(feature_set, {})
        leaf[group] = {"model": best["model"], **{m: round(float(best[m]), 6) for m in
                                                  ("r2", "r2_std", "tau", "tau_std", "mae", "mae_std")}}
    return tree


TABLE_NOTES = ("Best model per family group by mean R² over folds (ties: lower MAE). Ours: mean ± std "
               "over folds; Δ = ours − paper.")


def _paper_note(dataset: str) -> str:
    return (" Paper columns: Chaki et al. (ISMIR 2020) on the real emoMusic set"
            + (", shown for layout only — not comparable with synthetic data." if dataset == "synthetic" else "."))


def _other_target(target: str) -> str:
    return "valence" if target == "arousal" else "arousal"


def write_paper_tables(summaries: pd.DataFrame, *, dataset: str, table1_target: str,
                       table1_feature_set: str, baseline_model: str | None, table_paths: dict) -> None:
    """Tables 1-4 (markdown + CSV each); ``table_paths``: number -> (md path, csv path).

    A table whose target or feature sets were not trained is written as a note saying so
    (an empty CSV with the header only), never as an error.
    """
    from mer.io import write_csv_atomic, write_text_atomic

    caption = dataset_caption(dataset)
    trained_targets = set(summaries["target"])
    for number, target in ((1, table1_target), (2, _other_target(table1_target))):
        if number not in table_paths:
            continue
        md, csv = table_paths[number]
        title = f"Table {number} layout — {target}, {table1_feature_set} features — {caption}"
        has = ((summaries["target"] == target) & (summaries["feature_set"] == table1_feature_set)).any()
        if not has:
            note = (f"Skipped: no model was trained for target {target!r} on feature set "
                    f"{table1_feature_set!r} (add the target to `train.targets` and the set to an experiment of the grid).")
            write_csv_atomic(pd.DataFrame(columns=["family", "best"]), csv)
            write_text_atomic(f"# {title}\n\n{note}\n", md)
            continue
        table = paper_layout_table(summaries, target, table1_feature_set, baseline_model)
        notes = TABLE_NOTES
        if (target, table1_feature_set) in PAPER_TABLES:
            notes += (f" Baseline LSTM row: our `{baseline_model}` vs the paper's LSTM_400 (Weninger et al. 2014)."
                      + _paper_note(dataset))
        else:
            notes += " The paper has no table for this target and feature set."
        write_csv_atomic(table, csv)
        write_text_atomic(to_markdown(table, title, notes), md)
    for number, target in ((3, "arousal"), (4, "valence")):
        if number not in table_paths:
            continue
        md, csv = table_paths[number]
        title = (f"Table {number} layout — {target}, single-layer AT on the smaller feature sets — "
                 f"{caption}")
        table, missing = small_features_table(summaries, target) if target in trained_targets else (
            pd.DataFrame(), list(SMALL_FEATURE_SETS))
        not_trained = (f"Not in this grid (no single-layer AT model trained for {target}): "
                       f"{', '.join(missing)}; add an experiment training an `AT_<size>` on them "
                       f"to the grid (`grids` in params.yaml) to fill their rows." if missing else "")
        if table.empty:
            write_csv_atomic(pd.DataFrame(columns=["features", "best"]), csv)
            write_text_atomic(f"# {title}\n\nSkipped: nothing to show. {not_trained}\n", md)
            continue
        notes = ("Best single-layer AT model per feature set by mean R² over folds (ties: lower MAE). "
                 "Ours: mean ± std over folds; Δ = ours − paper." + _paper_note(dataset))
        write_csv_atomic(table, csv)
        write_text_atomic(to_markdown(table, title, notes + (f"\n\n{not_trained}" if not_trained else "")), md)


def write_result_tables(summary_paths, *, dataset: str, table1_target: str, table1_feature_set: str,
                        metrics_path, summary_md, summary_csv, table1_md, table1_csv,
                        baseline_model: str | None = None, best_models_path=None,
                        more_tables: dict | None = None) -> pd.DataFrame:
    """Write the DVC metrics files, the all-models table and Tables 1-4 (markdown + CSV).

    ``more_tables``: table number (2, 3, 4) -> (md path, csv path).
    """
    from mer.io import write_csv_atomic, write_json_atomic, write_text_atomic

    summaries = load_summaries(summary_paths)
    write_json_atomic(metrics_tree(summaries), metrics_path)
    if best_models_path is not None:
        write_json_atomic(best_models_tree(summaries), best_models_path)
    caption = dataset_caption(dataset)
    every = all_models_table(summaries)
    write_csv_atomic(every, summary_csv)
    write_text_atomic(to_markdown(every, f"Cross-validation results, every model — {caption}",
                                  "Mean ± std over folds. R²: pooled over a fold's frames; τ̄: "
                                  "Kendall tau-b per song, averaged over songs."), summary_md)
    write_paper_tables(summaries, dataset=dataset, table1_target=table1_target,
                       table1_feature_set=table1_feature_set, baseline_model=baseline_model,
                       table_paths={1: (table1_md, table1_csv), **(more_tables or {})})
    return summaries
