"""Aggregate one model's fold metrics (mean, std) and out-of-fold predictions."""

from mer.cv import summarize_cv
from mer.jobs import run_job


def main(sm):
    summarize_cv(sm.input.metrics, sm.input.predictions, summary_path=sm.output.summary,
                 predictions_path=sm.output.predictions,
                 description={"dataset": sm.params.dataset, "target": sm.wildcards.target,
                              "feature_set": sm.wildcards.feature_set, "model": sm.wildcards.model,
                              "baseline": bool(sm.params.baseline)})


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
