"""Check the user's emoMusic-layout copy (datasets.local.path) and copy it, read-only."""

import logging

from mer.data.imports import import_local_dataset
from mer.jobs import run_job


def main(sm):
    report = import_local_dataset(sm.params.path, sm.output[0],
                                  allow_missing_audio=sm.params.allow_missing_audio)
    logging.getLogger("mer").info("%s", report.format())


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
