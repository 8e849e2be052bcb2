"""Figure 4: annotated A and V curves with the AT models' most-attended frames."""

from mer.jobs import run_job
from mer.reports.figures import figure4_attended_frames


def main(sm):
    figure4_attended_frames(list(sm.input.summaries), dataset=sm.params.dataset,
                            feature_set=sm.params.feature_set, targets=sm.params.targets,
                            clips=sm.params.clips, png_path=sm.output.png, pdf_path=sm.output.pdf)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
