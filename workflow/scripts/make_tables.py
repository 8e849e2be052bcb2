"""Write reports/metrics.json (DVC metrics), the all-models table and Table 1."""

from mer.jobs import run_job
from mer.reports.tables import write_result_tables


def main(sm):
    write_result_tables(list(sm.input), dataset=sm.params.dataset,
                        table1_target=sm.params.table1["target"],
                        table1_feature_set=sm.params.table1["feature_set"],
                        metrics_path=sm.output.metrics, summary_md=sm.output.summary_md,
                        summary_csv=sm.output.summary_csv, table1_md=sm.output.table1_md,
                        table1_csv=sm.output.table1_csv)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
