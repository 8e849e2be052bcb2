"""Paired comparison of the best AT model with each other family (what the paper lacks).

For every trained (target, feature set): the best AT model (single or multi-layer, by mean
R² over folds, ties: lower MAE) against the best model of each other family (LSTM, BAT,
Transformer), chosen the same way. Both were trained on the same folds (one fold split
per dataset and seed), so the comparison is paired:

* over folds: the per-fold R² difference, tested with the paired t-test
  (``scipy.stats.ttest_rel``) and the Wilcoxon signed-rank test (``scipy.stats.wilcoxon``,
  exact for small folds counts); two-sided;
* over songs: a percentile bootstrap CI (``scipy.stats.bootstrap``, seeded) of the
  difference in R² pooled over all out-of-fold frames, resampling songs (a song's 61
  frames stay together). Note this R² is pooled over every song, while the tables report
  the mean over folds of each fold's pooled R²; the two differ slightly.

A fold missing in one model (e.g. a failed run) is left out of the fold tests; the count
used is printed. With fewer than 2 paired folds the tests print "–".
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from mer.models import parse_model_name
from mer.reports.tables import dataset_caption, load_summaries, select_best, to_markdown

FAMILY_ORDER = ("LSTM", "BAT", "TRANSFORMER")
CONFIDENCE = 0.95


def fold_r2(summary_path) -> pd.Series:
    """Per-fold R² of one model (mean over its training seeds), indexed by fold number."""
    runs = pd.DataFrame(json.loads(Path(summary_path).read_text())["folds"])
    return runs.groupby("fold")["r2"].mean().astype(float).sort_index()


def song_statistics(predictions: pd.DataFrame) -> pd.DataFrame:
    """Per song: frame count, Σy, Σy² and the residual sum of squares (pooled-R² pieces)."""
    y = predictions["annotation"].to_numpy(float)
    frame = pd.DataFrame({"song_id": predictions["song_id"].to_numpy(), "n": 1.0, "sy": y, "syy": y * y,
                          "sse": (predictions["prediction"].to_numpy(float) - y) ** 2})
    return frame.groupby("song_id").sum()


def _pooled_r2_difference(n, sy, syy, sse_a, sse_b, axis=-1):
    """R²(a) − R²(b) over the pooled frames of the (resampled) songs; vectorised for bootstrap."""
    total = syy.sum(axis) - sy.sum(axis) ** 2 / n.sum(axis)
    return (sse_b.sum(axis) - sse_a.sum(axis)) / total


def bootstrap_r2_difference(predictions_a: pd.DataFrame, predictions_b: pd.DataFrame, *,
                            n_resamples: int = 2000, seed: int = 0) -> tuple[float, float, float, int]:
    """(ΔR² on all songs, CI low, CI high, songs) for model a minus model b, songs resampled."""
    from scipy.stats import bootstrap

    a, b = song_statistics(predictions_a), song_statistics(predictions_b)
    songs = a.index.intersection(b.index)
    a, b = a.loc[songs], b.loc[songs]
    data = (a["n"].to_numpy(), a["sy"].to_numpy(), a["syy"].to_numpy(), a["sse"].to_numpy(), b["sse"].to_numpy())
    estimate = float(_pooled_r2_difference(*data))
    if len(songs) < 3:
        return estimate, np.nan, np.nan, len(songs)
    result = bootstrap(data, _pooled_r2_difference, paired=True, vectorized=True, n_resamples=n_resamples,
                       confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
    return estimate, float(result.confidence_interval.low), float(result.confidence_interval.high), len(songs)


def fold_tests(r2_a: pd.Series, r2_b: pd.Series) -> tuple[float, float, float, int]:
    """(mean per-fold ΔR², paired t-test p, Wilcoxon p, folds) over the folds both models have."""
    from scipy.stats import ttest_rel, wilcoxon

    folds = r2_a.index.intersection(r2_b.index)
    a, b = r2_a.loc[folds].to_numpy(), r2_b.loc[folds].to_numpy()
    difference = a - b
    if len(folds) < 2:
        return float(np.mean(difference)) if len(folds) else np.nan, np.nan, np.nan, len(folds)
    t_p = float(ttest_rel(a, b).pvalue)
    # all-zero differences: Wilcoxon is undefined (scipy raises or returns nan); report nan
    w_p = float(wilcoxon(a, b).pvalue) if np.any(difference != 0) else np.nan
    return float(np.mean(difference)), t_p, w_p, len(folds)


def _family(model: str) -> str:
    return parse_model_name(model).family


def paired_comparison(summary_paths, *, n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """One row per (target, feature set, other family): best AT vs that family's best."""
    summaries = load_summaries(summary_paths)
    summaries["family"] = summaries["model"].map(_family)
    rows = []
    for (target, feature_set), subset in summaries.groupby(["target", "feature_set"], sort=True):
        at_models = subset[subset["family"] == "AT"]
        if at_models.empty:
            continue
        at = select_best(at_models)
        at_r2 = fold_r2(at["summary_path"])
        at_predictions = pd.read_csv(Path(at["summary_path"]).with_name("predictions.csv"))
        for family in FAMILY_ORDER:
            members = subset[subset["family"] == family]
            if members.empty:
                continue
            other = select_best(members)
            mean_diff, t_p, w_p, n_folds = fold_tests(at_r2, fold_r2(other["summary_path"]))
            estimate, low, high, n_songs = bootstrap_r2_difference(
                at_predictions, pd.read_csv(Path(other["summary_path"]).with_name("predictions.csv")),
                n_resamples=n_resamples, seed=seed)
            rows.append({"target": target, "feature set": feature_set, "AT": at["model"],
                         "vs": other["model"], "AT R²": at["r2"], "vs R²": other["r2"],
                         "mean ΔR² (folds)": mean_diff, "folds": n_folds, "t-test p": t_p,
                         "Wilcoxon p": w_p, "ΔR² (pooled)": estimate, "CI low": low, "CI high": high,
                         "songs": n_songs})
    return pd.DataFrame(rows, columns=["target", "feature set", "AT", "vs", "AT R²", "vs R²",
                                       "mean ΔR² (folds)", "folds", "t-test p", "Wilcoxon p",
                                       "ΔR² (pooled)", "CI low", "CI high", "songs"])


def _markdown_view(table: pd.DataFrame) -> pd.DataFrame:
    def num(value, digits=3):
        return "–" if pd.isna(value) else f"{value:.{digits}f}"

    view = table[["target", "feature set", "AT", "vs", "folds", "songs"]].copy()
    view["AT R²"] = table["AT R²"].map(lambda v: num(v, 2))
    view["vs R²"] = table["vs R²"].map(lambda v: num(v, 2))
    view["mean ΔR² (folds)"] = table["mean ΔR² (folds)"].map(lambda v: "–" if pd.isna(v) else f"{v:+.3f}")
    view["t-test p"] = table["t-test p"].map(num)
    view["Wilcoxon p"] = table["Wilcoxon p"].map(num)
    view[f"ΔR² pooled [{CONFIDENCE:.0%} CI]"] = [
        f"{e:+.3f} [{num(lo)}, {num(hi)}]" for e, lo, hi in
        zip(table["ΔR² (pooled)"], table["CI low"], table["CI high"])]
    return view


def write_paired_comparison(summary_paths, *, dataset: str, md_path, csv_path,
                            n_resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    from mer.io import write_csv_atomic, write_text_atomic

    table = paired_comparison(summary_paths, n_resamples=n_resamples, seed=seed)
    write_csv_atomic(table, csv_path)
    title = f"Paired comparison: best AT vs the best of each other family — {dataset_caption(dataset)}"
    if table.empty:
        write_text_atomic(f"# {title}\n\nSkipped: the grid has no AT model and another family on the "
                          f"same target and feature set.\n", md_path)
        return table
    notes = ("ΔR² = AT − other (positive: AT better). Fold tests: two-sided paired t-test and Wilcoxon "
             "signed-rank test on the per-fold R² of the same folds. Pooled ΔR²: R² over all "
             f"out-of-fold frames, with a {CONFIDENCE:.0%} percentile bootstrap CI over songs "
             f"({n_resamples} resamples, seed {seed}). Best models chosen by mean R² over folds; "
             "choosing on the same folds that test them favours the chosen models slightly.")
    write_text_atomic(to_markdown(_markdown_view(table), title, notes), md_path)
    return table
