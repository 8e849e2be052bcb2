"""The claims table: each of the paper's claims (and ours) tested, with a computed verdict."""

from mer.jobs import run_job
from mer.reports.claims import ClaimSettings, write_claims


def main(sm):
    claims = sm.params.claims
    settings = ClaimSettings(feature_set=sm.params.feature_set, alpha=claims["alpha"],
                             equivalence_margin_r2=claims["equivalence_margin_r2"],
                             selection=sm.params.selection, permutations=claims["permutations"],
                             seed=sm.params.seed)
    write_claims(list(sm.input.summaries), dataset=sm.params.dataset, md_path=sm.output.md,
                 csv_path=sm.output.csv, settings=settings)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
