"""DEAM: check the user's unzipped copy (datasets.deam.path) and copy it, read-only; or,
without a copy, verify, extract and check the downloaded archives."""

import logging

from mer.data.check import extract_deam, import_deam_dataset
from mer.jobs import run_job


def main(sm):
    if sm.params.path:
        report = import_deam_dataset(sm.params.path, sm.output[0])
        logging.getLogger("mer").info("%s", report.format())
    else:
        extract_deam(list(sm.input), sm.output[0])


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
