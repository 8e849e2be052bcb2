"""Write the built-in synthetic dataset in the emoMusic layout."""

from mer.data.synthetic import generate_synthetic_dataset
from mer.jobs import run_job


def main(sm):
    generate_synthetic_dataset(sm.output[0], n_songs=sm.params.n_songs, seed=sm.params.seed,
                               within_song_std=sm.params.within_song_std, workers=sm.threads)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
