"""Cut a feature set from the merged files of the sets that compute its blocks."""

from mer.features import assemble_feature_set
from mer.jobs import run_job


def main(sm):
    assemble_feature_set(sm.wildcards.feature_set, list(zip(sm.input.values, sm.input.index)),
                         sm.output.values, sm.output.index)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
