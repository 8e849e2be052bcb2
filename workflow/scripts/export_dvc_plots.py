"""CSV series for `dvc plots`: learning curves and one clip's predicted vs annotated curves."""

import logging

from mer.jobs import run_job
from mer.reports.dvc_plots import write_dvc_plots


def main(sm):
    clip = write_dvc_plots(list(sm.input.summaries), list(sm.input.histories), out_dir=sm.output[0],
                           clip=sm.params.clip, clip_target=sm.params.target,
                           clip_feature_set=sm.params.feature_set)
    logging.getLogger("mer").info("dvc plot series written; prediction curves for clip %d", clip)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
