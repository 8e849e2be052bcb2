"""Paired comparison table: best AT vs each other family's best and the best baseline."""

from mer.jobs import run_job
from mer.reports.comparison import write_paired_comparison


def main(sm):
    write_paired_comparison(list(sm.input.summaries), dataset=sm.params.dataset, md_path=sm.output.md,
                            csv_path=sm.output.csv, n_resamples=sm.params.n_resamples, seed=sm.params.seed,
                            selection=sm.params.selection)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
