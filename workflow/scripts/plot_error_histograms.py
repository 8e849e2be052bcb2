"""Figure 2: per-clip error histograms, baseline vs best model, per target."""

from mer.jobs import run_job
from mer.reports.figures import figure2_error_histograms


def main(sm):
    figure2_error_histograms(list(sm.input.summaries), dataset=sm.params.dataset,
                             feature_set=sm.params.feature_set, targets=sm.params.targets,
                             baseline_model=sm.params.baseline_model, png_path=sm.output.png,
                             pdf_path=sm.output.pdf)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
