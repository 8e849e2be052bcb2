"""Assign every annotated song to one cross-validation fold (`cv.split`)."""

from pathlib import Path

from mer.cv import make_folds
from mer.data.emomusic import ANNOTATIONS_DIR, SONGS_INFO
from mer.data.layouts import dataset_layout
from mer.io import write_csv_atomic
from mer.jobs import run_job


def main(sm):
    annotations = dataset_layout(sm.params.dataset).load_annotations(sm.input[0])
    folds = make_folds(annotations.song_ids, split=sm.params.split, n_folds=sm.params.folds,
                       seed=sm.params.seed, info=annotations.info,
                       info_path=Path(sm.input[0]) / ANNOTATIONS_DIR / SONGS_INFO,
                       dataset=sm.params.dataset)
    write_csv_atomic(folds, sm.output[0])


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
