"""Verify the emoMusic archives against the lock file, extract them safely, lay them out."""

from mer.data.download import extract_emomusic
from mer.jobs import run_job


def main(sm):
    extract_emomusic(list(sm.input), sm.output[0])


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
