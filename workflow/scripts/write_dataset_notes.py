"""results/{dataset}/dataset_notes.json: the songs the run uses and what was noted about them."""

from mer.data.imports import write_dataset_notes
from mer.jobs import run_job


def main(sm):
    write_dataset_notes(sm.input[0], sm.params.dataset, sm.output[0], extra=sm.params.extra_notes)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
