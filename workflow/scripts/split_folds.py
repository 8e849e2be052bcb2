"""Assign every annotated song to one cross-validation fold."""

from mer.cv import assign_folds
from mer.data.emomusic import load_annotations
from mer.io import write_csv_atomic
from mer.jobs import run_job


def main(sm):
    song_ids = load_annotations(sm.input[0]).song_ids
    write_csv_atomic(assign_folds(song_ids, sm.params.folds, sm.params.seed), sm.output[0])


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
