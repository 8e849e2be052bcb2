"""Aggregate every run's fold metrics (mean, std) and out-of-fold predictions: one
cv_summary.json and one predictions.csv per target x feature set x model."""

from pathlib import Path

from mer.cv import summarize_cv
from mer.jobs import run_job


def main(sm):
    for run in sm.params.runs:
        run_dir = str(Path(sm.params.results) / run["target"] / run["feature_set"] / run["model"])

        def files(paths):
            mine = [p for p in paths if p.startswith(run_dir + "/seed")]
            assert len(mine) == sm.params.folds * sm.params.seeds, (run_dir, len(mine))
            return mine

        summarize_cv(files(sm.input.metrics), files(sm.input.predictions),
                     summary_path=f"{run_dir}/cv_summary.json",
                     predictions_path=f"{run_dir}/predictions.csv",
                     description={"dataset": sm.params.dataset, **run},
                     max_epochs=sm.params.max_epochs)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
