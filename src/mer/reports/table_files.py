"""Writing the result tables (markdown + CSV) and the DVC metrics files.

Layouts live in ``mer.reports.tables``; this module adds the titles and notes: which
selection a row uses, over what the ± runs, whether (and why not) the paper's columns
are shown, and the dataset's own notes (``dataset_notes``: {"n_songs": int, "notes": [...]},
optional, printed in every table's note and stored in metrics.json under the dataset).
"""

from __future__ import annotations

import pandas as pd

from mer.reports.paper import PAPER_TABLES, paper_comparable
from mer.reports.tables import (
    SMALL_FEATURE_SETS,
    all_models_table,
    annotation_std,
    best_models_tree,
    dataset_caption,
    dataset_note,
    load_summaries,
    metrics_tree,
    paper_layout_table,
    small_features_table,
    to_markdown,
)

SELECTION_NOTE = ("Each group's row: the paper's selection — the size with the best mean test R² — and its "
                  "metrics; optimistic, since the same test folds choose and score it. `by val loss` columns: "
                  "the size with the lowest mean validation loss over folds (chosen without the test folds) "
                  "and its test metrics. Baseline rows (MEAN: training mean; RIDGE: ridge per frame; "
                  "RIDGE_SONG: ridge on song-mean features) have one configuration each, trained on the same "
                  "folds, validation songs and standardisation.")
METRICS_NOTE = ("R², within-song R², τ̄, MAE: mean ± std over folds; pooled R²: over all out-of-fold frames "
                "at once; within-song R²: R² of each song's deviations from its own mean (0 for a constant "
                "per song).")


def _join(*parts: str) -> str:
    return " ".join(p for p in parts if p)


def _paper_note(comparable: bool, reason: str, has_paper_table: bool) -> str:
    if not has_paper_table:
        return "The paper has no table for this target and feature set."
    if comparable:
        return "Paper columns: Chaki et al. (ISMIR 2020), emoMusic, 10-fold CV; Δ = ours − paper."
    return f"Paper columns omitted: {reason}, so its values are not comparable with this run."


def write_paper_tables(summaries: pd.DataFrame, *, dataset: str, table1_target: str,
                       table1_feature_set: str, baseline_model: str | None, table_paths: dict,
                       cv: dict | None = None, dataset_notes: dict | None = None) -> None:
    """Tables 1-4 (markdown + CSV each); ``table_paths``: number -> (md path, csv path).

    ``cv`` (the params' ``cv`` section) decides with ``dataset`` whether the paper's columns
    are comparable. A table whose target or feature sets were not trained is written as a
    note saying so (an empty CSV with the header only), never as an error.
    """
    from mer.io import write_csv_atomic, write_text_atomic

    caption = dataset_caption(dataset)
    comparable, reason = paper_comparable(dataset, cv)
    extra = dataset_note(dataset_notes)
    trained_targets = set(summaries["target"])
    other = "valence" if table1_target == "arousal" else "arousal"
    for number, target in ((1, table1_target), (2, other)):
        if number not in table_paths:
            continue
        md, csv = table_paths[number]
        title = f"Table {number} layout — {target}, {table1_feature_set} features — {caption}"
        has = ((summaries["target"] == target) & (summaries["feature_set"] == table1_feature_set)).any()
        if not has:
            note = (f"Skipped: no model was trained for target {target!r} on feature set "
                    f"{table1_feature_set!r} (add the target to `train.targets` and the set to an experiment of the grid).")
            write_csv_atomic(pd.DataFrame(columns=["family", "model"]), csv)
            write_text_atomic(f"# {title}\n\n{_join(note, extra)}\n", md)
            continue
        std = annotation_std(summaries, target, table1_feature_set) if comparable else None
        table, footnotes = paper_layout_table(summaries, target, table1_feature_set, baseline_model,
                                              with_paper=comparable, target_std=std)
        has_paper = (target, table1_feature_set) in PAPER_TABLES
        notes = _join(SELECTION_NOTE, METRICS_NOTE,
                      (f"Baseline LSTM row: our `{baseline_model}` vs the paper's LSTM_400 (Weninger et al. 2014)."
                       if comparable and has_paper and baseline_model else ""),
                      _paper_note(comparable, reason, has_paper), extra)
        if footnotes:
            notes += "\n\n" + "\n".join(footnotes)
        write_csv_atomic(table, csv)
        write_text_atomic(to_markdown(table, title, notes), md)
    for number, target in ((3, "arousal"), (4, "valence")):
        if number not in table_paths:
            continue
        md, csv = table_paths[number]
        title = (f"Table {number} layout — {target}, single-layer AT on the smaller feature sets — "
                 f"{caption}")
        table, missing = (small_features_table(summaries, target, with_paper=comparable)
                          if target in trained_targets else (pd.DataFrame(), list(SMALL_FEATURE_SETS)))
        not_trained = (f"Not in this grid (no single-layer AT model trained for {target}): "
                       f"{', '.join(missing)}; add an experiment training an `AT_<size>` on them "
                       f"to the grid (`grids` in params.yaml) to fill their rows." if missing else "")
        if table.empty:
            write_csv_atomic(pd.DataFrame(columns=["features", "model"]), csv)
            write_text_atomic(f"# {title}\n\n{_join('Skipped: nothing to show.', not_trained, extra)}\n", md)
            continue
        notes = _join(SELECTION_NOTE.replace("Each group's row", "Each feature set's AT row"), METRICS_NOTE,
                      _paper_note(comparable, reason, True), extra)
        write_csv_atomic(table, csv)
        write_text_atomic(to_markdown(table, title, notes + (f"\n\n{not_trained}" if not_trained else "")), md)


def write_result_tables(summary_paths, *, dataset: str, table1_target: str, table1_feature_set: str,
                        metrics_path, summary_md, summary_csv, table1_md, table1_csv,
                        baseline_model: str | None = None, best_models_path=None,
                        more_tables: dict | None = None, cv: dict | None = None,
                        dataset_notes: dict | None = None) -> pd.DataFrame:
    """Write the DVC metrics files, the all-models table and Tables 1-4 (markdown + CSV).

    ``more_tables``: table number (2, 3, 4) -> (md path, csv path). ``cv``: the params'
    ``cv`` section (paper columns only for 10-fold CV on emoMusic). ``dataset_notes``:
    optional {"n_songs": int, "notes": [str, ...]} for every note and metrics.json.
    """
    from mer.io import write_csv_atomic, write_json_atomic, write_text_atomic

    summaries = load_summaries(summary_paths)
    write_json_atomic(metrics_tree(summaries, dataset_notes), metrics_path)
    if best_models_path is not None:
        write_json_atomic(best_models_tree(summaries), best_models_path)
    caption = dataset_caption(dataset)
    every = all_models_table(summaries)
    write_csv_atomic(every, summary_csv)
    notes = _join("Baselines first in each target and feature set.", METRICS_NOTE,
                  "τ̄: Kendall tau-b per song (a constant prediction counts as 0), averaged over songs. "
                  "`selected by`: the group's pick by best mean test R² (the paper's, optimistic) and by "
                  "lowest mean validation loss.", dataset_note(dataset_notes))
    write_text_atomic(to_markdown(every, f"Cross-validation results, every model — {caption}", notes), summary_md)
    write_paper_tables(summaries, dataset=dataset, table1_target=table1_target,
                       table1_feature_set=table1_feature_set, baseline_model=baseline_model,
                       table_paths={1: (table1_md, table1_csv), **(more_tables or {})}, cv=cv,
                       dataset_notes=dataset_notes)
    return summaries
