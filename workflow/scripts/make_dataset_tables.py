"""reports/tables/dataset.md: the run's annotation statistics and single-feature shortcuts."""

from mer.data.imports import read_dataset_notes
from mer.data.layouts import dataset_layout
from mer.features import load_features
from mer.jobs import run_job
from mer.reports.dataset import write_dataset_tables


def main(sm):
    tables = {name: load_features(values, index)
              for name, values, index in zip(sm.params.feature_sets, sm.input.values, sm.input.index)}
    write_dataset_tables(dataset_layout(sm.params.dataset).load_annotations(sm.input.raw), tables,
                         dataset=sm.params.dataset, md_path=sm.output.md,
                         statistics_csv=sm.output.statistics, shortcuts_csv=sm.output.shortcuts,
                         dataset_notes=read_dataset_notes(sm.input.dataset_notes))


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
