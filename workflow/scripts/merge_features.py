"""Merge a feature set's shards into one (songs x frames x dims) array and its index."""

from mer.features import merge_shards
from mer.jobs import run_job


def main(sm):
    merge_shards(list(sm.input), sm.output.values, sm.output.index)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
