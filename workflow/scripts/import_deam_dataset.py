"""DEAM: check the user's unzipped copy (datasets.deam.path) and copy it, read-only; or,
without a copy, verify, extract and check the downloaded archives. The check's report,
DEAM's handled quirks and the number of songs used go to the log."""

import logging

from mer.data.imports import extract_deam, import_deam_dataset
from mer.jobs import run_job


def main(sm):
    options = dict(needs_audio=sm.params.needs_audio, needs_features=sm.params.needs_features,
                   allow_missing_audio=sm.params.allow_missing_audio)
    if sm.params.path:
        report = import_deam_dataset(sm.params.path, sm.output[0], **options)
        logging.getLogger("mer").info("%s", report.format())
    else:
        extract_deam(list(sm.input), sm.output[0], **options)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
