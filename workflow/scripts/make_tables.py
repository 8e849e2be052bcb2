"""Write the DVC metrics files, the all-models table and Tables 1-4."""

from mer.jobs import run_job
from mer.reports.table_files import write_result_tables


def main(sm):
    out = sm.output
    write_result_tables(list(sm.input), dataset=sm.params.dataset,
                        table1_target=sm.params.table1["target"],
                        table1_feature_set=sm.params.table1["feature_set"],
                        baseline_model=sm.params.baseline_model, cv=sm.params.cv,
                        metrics_path=out.metrics, best_models_path=out.best_models,
                        summary_md=out.summary_md, summary_csv=out.summary_csv,
                        table1_md=out.table1_md, table1_csv=out.table1_csv,
                        more_tables={n: (out[f"table{n}_md"], out[f"table{n}_csv"]) for n in (2, 3, 4)})


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
