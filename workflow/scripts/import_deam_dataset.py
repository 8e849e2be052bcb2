"""Check the user's unzipped DEAM (datasets.deam.path) and copy it, read-only."""

import logging

from mer.data.check import import_deam_dataset
from mer.jobs import run_job


def main(sm):
    report = import_deam_dataset(sm.params.path, sm.output[0])
    logging.getLogger("mer").info("%s", report.format())


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
