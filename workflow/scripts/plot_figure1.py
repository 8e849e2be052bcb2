"""Figure 1: annotation, baseline and best model over time for one clip."""

import logging

from mer.jobs import run_job
from mer.reports.figures import figure1_prediction


def main(sm):
    clip = figure1_prediction(list(sm.input.summaries),
                              dataset=sm.params.dataset, feature_set=sm.params.feature_set,
                              targets=sm.params.targets, baseline_model=sm.params.baseline_model,
                              clip=sm.params.clip, png_path=sm.output.png, pdf_path=sm.output.pdf)
    logging.getLogger("mer").info("Figure 1 drawn for clip %d", clip)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
