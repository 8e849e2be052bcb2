"""Figure 3 (AT) or Figure 6 (BAT): attention maps of the family's best model per target."""

import logging

from mer.jobs import run_job
from mer.reports.figures import figure_attention_maps


def main(sm):
    clips = figure_attention_maps(list(sm.input.summaries), dataset=sm.params.dataset,
                                  feature_set=sm.params.feature_set, targets=sm.params.targets,
                                  clips=sm.params.clips, family=sm.params.family,
                                  png_path=sm.output.png, pdf_path=sm.output.pdf)
    logging.getLogger("mer").info("%s attention maps drawn for clips %s", sm.params.family, clips)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
