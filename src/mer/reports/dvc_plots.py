"""Small CSV files for ``dvc plots show`` / ``dvc plots diff`` (defined in dvc.yaml).

Under one folder (``reports/plots``), one file per target × feature set × model:

* ``learning_curves/{target}/{feature_set}/{model}.csv``: ``epoch, train_loss, val_loss,
  folds`` — the per-epoch losses (MSE) averaged over the folds that reached that epoch
  (early stopping ends folds at different epochs; ``folds`` says how many remain).
* ``predictions/{target}/{feature_set}/{model}.csv``: ``time_s, annotation, prediction``
  for one clip (Figure 1's clip), so the curves of two commits overlay.

The folder is rewritten whole, so a model removed from the grid leaves no stale file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mer.io import write_csv_atomic


def learning_curve(history_paths) -> pd.DataFrame:
    """Mean train/val loss per epoch over folds (``history.csv`` files of one model)."""
    histories = pd.concat([pd.read_csv(p)[["epoch", "train_loss", "val_loss"]] for p in history_paths])
    curve = histories.groupby("epoch").agg(train_loss=("train_loss", "mean"), val_loss=("val_loss", "mean"),
                                           folds=("val_loss", "size")).reset_index()
    return curve


def write_dvc_plots(summary_paths, history_paths, *, out_dir, clip: int | None, clip_target: str, clip_feature_set: str) -> int:
    """Write the learning-curve and prediction CSVs under ``out_dir``; return the clip used.

    ``history_paths``: the per-fold ``history.csv`` files (grouped by their model folder;
    passed explicitly, not globbed, so stale folds of an earlier grid never count).
    """
    from mer.reports.figures import best_model, median_error_clip
    from mer.reports.tables import load_summaries

    out_dir = Path(out_dir)
    summaries = load_summaries(summary_paths)
    histories: dict[Path, list[Path]] = {}
    for path in map(Path, history_paths):
        histories.setdefault(path.parents[2], []).append(path)  # <model>/seed<r>/fold<k>/history.csv
    if clip is None:
        best = best_model(summaries, clip_target, clip_feature_set)
        clip = median_error_clip(pd.read_csv(Path(best["summary_path"]).with_name("predictions.csv")))
    for row in summaries.itertuples(index=False):
        model_dir = Path(row.summary_path).parent
        name = Path(row.target) / row.feature_set / f"{row.model}.csv"
        if model_dir not in histories:
            raise ValueError(f"no history.csv files given for {model_dir}; pass its seed*/fold*/history.csv")
        write_csv_atomic(learning_curve(histories[model_dir]),
                         out_dir / "learning_curves" / name)
        predictions = pd.read_csv(model_dir / "predictions.csv")
        rows = predictions[predictions["song_id"] == clip].sort_values("frame")
        write_csv_atomic(rows[["time_s", "annotation", "prediction"]], out_dir / "predictions" / name)
    return int(clip)
