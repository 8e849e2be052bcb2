"""Paired comparison of the best AT model with each other family and the best baseline.

For every trained (target, feature set): the best AT model (single or multi-layer) against
the best model of each other family (LSTM, BAT, Transformer) and the best baseline
(``MEAN``, ``RIDGE``, ``RIDGE_SONG``), each chosen by the report's selection
(``mer.reports.selection``; default the validation loss, which does not look at the test
folds). Both were trained on the same folds (one fold split per dataset and seed), so the
comparison is paired:

* over folds: the per-fold R² difference, tested with the Nadeau–Bengio corrected
  resampled t-test (``mer.reports.stats.corrected_ttest``; variance × (1/k + n_test/n_train),
  the song counts printed) and the Wilcoxon signed-rank test (uncorrected for the overlap
  of training sets; a rank-based check); two-sided. Both p columns are Holm-corrected
  across all the comparisons of the table (``mer.reports.stats.holm``);
* over songs: a percentile bootstrap CI (``scipy.stats.bootstrap``, seeded) of the
  difference in R² pooled over all out-of-fold frames, resampling songs (a song's frames
  stay together). It is **conditional on the trained models**: it resamples test songs of
  fixed models and ignores the variation from retraining. Note this R² is pooled over
  every song, while the tables' R² is the mean over folds of each fold's R².

A fold missing in one model (e.g. a failed run) is left out of the fold tests; the count
used is printed. With fewer than 2 paired folds the tests print "–".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from mer.reports.selection import SELECTION_LABELS, select
from mer.reports.stats import corrected_ttest, holm, wilcoxon_p
from mer.reports.summaries import baselines, family, fold_song_counts, fold_values, networks
from mer.reports.tables import dataset_caption, dataset_note, load_summaries, to_markdown

FAMILY_ORDER = ("LSTM", "BAT", "TRANSFORMER")
CONFIDENCE = 0.95


def fold_r2(summary_path) -> pd.Series:
    """Per-fold R² of one model (mean over its training seeds), indexed by fold number."""
    return fold_values(summary_path, "r2")


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


def fold_tests(r2_a: pd.Series, r2_b: pd.Series, *, n_test: float, n_train: float):
    """(corrected t-test of a − b, Wilcoxon p) over the folds both models have."""
    folds = r2_a.index.intersection(r2_b.index)
    a, b = r2_a.loc[folds].to_numpy(), r2_b.loc[folds].to_numpy()
    return corrected_ttest(a - b, n_test=n_test, n_train=n_train, confidence=CONFIDENCE), wilcoxon_p(a, b)


COLUMNS = ["target", "feature set", "selection", "AT", "vs", "AT R²", "vs R²", "mean ΔR² (folds)",
           "CI low (folds)", "CI high (folds)", "folds", "n_test", "n_train", "corrected t p", "corrected t p (Holm)",
           "Wilcoxon p", "Wilcoxon p (Holm)", "ΔR² (pooled)", "CI low", "CI high", "songs"]


def paired_comparison(summary_paths, *, n_resamples: int = 2000, seed: int = 0,
                      selection: str = "validation") -> pd.DataFrame:
    """One row per (target, feature set, opponent): best AT vs the best of each other family
    and vs the best baseline, Holm-corrected across all rows."""
    summaries = load_summaries(summary_paths)
    summaries["family"] = summaries["model"].map(family)
    rows = []
    for (target, feature_set), subset in summaries.groupby(["target", "feature_set"], sort=True):
        nets = networks(subset)
        at_models = nets[nets["family"] == "AT"]
        if at_models.empty:
            continue
        at = select(at_models, selection)
        at_r2 = fold_r2(at["summary_path"])
        at_predictions = pd.read_csv(Path(at["summary_path"]).with_name("predictions.csv"))
        n_test, n_train = fold_song_counts(at_predictions)
        opponents = [nets[nets["family"] == f] for f in FAMILY_ORDER] + [baselines(subset)]
        for members in opponents:
            if members.empty:
                continue
            other = select(members, selection)
            test, w_p = fold_tests(at_r2, fold_r2(other["summary_path"]), n_test=n_test, n_train=n_train)
            estimate, low, high, n_songs = bootstrap_r2_difference(
                at_predictions, pd.read_csv(Path(other["summary_path"]).with_name("predictions.csv")),
                n_resamples=n_resamples, seed=seed)
            rows.append({"target": target, "feature set": feature_set, "selection": selection,
                         "AT": at["model"], "vs": other["model"], "AT R²": at["r2"], "vs R²": other["r2"],
                         "mean ΔR² (folds)": test.estimate, "CI low (folds)": test.ci_low,
                         "CI high (folds)": test.ci_high, "folds": test.k, "n_test": n_test, "n_train": n_train,
                         "corrected t p": test.p, "Wilcoxon p": w_p, "ΔR² (pooled)": estimate,
                         "CI low": low, "CI high": high, "songs": n_songs})
    table = pd.DataFrame(rows, columns=COLUMNS)
    if len(table):
        table["corrected t p (Holm)"] = holm(table["corrected t p"])
        table["Wilcoxon p (Holm)"] = holm(table["Wilcoxon p"])
    return table


def _markdown_view(table: pd.DataFrame) -> pd.DataFrame:
    def num(value, digits=3):
        return "–" if pd.isna(value) else f"{value:.{digits}f}"

    def signed(value):
        return "–" if pd.isna(value) else f"{value:+.3f}"

    view = table[["target", "feature set", "AT", "vs", "folds"]].copy()
    view["n_test / n_train"] = [f"{a:.1f} / {b:.1f}" for a, b in zip(table["n_test"], table["n_train"])]
    view["songs"] = table["songs"]
    view["AT R²"] = table["AT R²"].map(lambda v: num(v, 2))
    view["vs R²"] = table["vs R²"].map(lambda v: num(v, 2))
    view[f"mean ΔR² (folds) [{CONFIDENCE:.0%} CI, corrected]"] = [
        f"{signed(e)} [{num(lo)}, {num(hi)}]" for e, lo, hi in
        zip(table["mean ΔR² (folds)"], table["CI low (folds)"], table["CI high (folds)"])]
    view["corrected t p"] = table["corrected t p"].map(num)
    view["corrected t p (Holm)"] = table["corrected t p (Holm)"].map(num)
    view["Wilcoxon p (Holm)"] = table["Wilcoxon p (Holm)"].map(num)
    view[f"ΔR² pooled [{CONFIDENCE:.0%} CI over songs, conditional on the trained models]"] = [
        f"{signed(e)} [{num(lo)}, {num(hi)}]" for e, lo, hi in
        zip(table["ΔR² (pooled)"], table["CI low"], table["CI high"])]
    return view


def write_paired_comparison(summary_paths, *, dataset: str, md_path, csv_path, n_resamples: int = 2000,
                            seed: int = 0, selection: str = "validation",
                            dataset_notes: dict | None = None) -> pd.DataFrame:
    from mer.io import write_csv_atomic, write_text_atomic

    table = paired_comparison(summary_paths, n_resamples=n_resamples, seed=seed, selection=selection)
    write_csv_atomic(table, csv_path)
    title = (f"Paired comparison: best AT vs the best of each other family and the best baseline — "
             f"{dataset_caption(dataset)}")
    if table.empty:
        write_text_atomic(f"# {title}\n\nSkipped: the grid has no AT model and another family or baseline on "
                          f"the same target and feature set. {dataset_note(dataset_notes)}\n", md_path)
        return table
    notes = " ".join(filter(None, [
        "ΔR² = AT − other (positive: AT better).",
        f"Best models chosen by {SELECTION_LABELS[selection]} (`report.selection`).",
        "Fold tests, two-sided, on the per-fold R² of the same folds: the Nadeau–Bengio corrected resampled "
        "t-test (variance × (1/k + n_test/n_train), n_test / n_train: mean test / training songs per fold; "
        "the CI is its interval) and the Wilcoxon signed-rank test (not corrected for the overlapping "
        f"training sets). Holm: corrected across the {len(table)} comparisons of this table.",
        f"Pooled ΔR²: R² over all out-of-fold frames, with a {CONFIDENCE:.0%} percentile bootstrap CI over "
        f"songs ({n_resamples} resamples, seed {seed}), conditional on the trained models (it does not "
        "include the variation from retraining).", dataset_note(dataset_notes)]))
    write_text_atomic(to_markdown(_markdown_view(table), title, notes), md_path)
    return table
