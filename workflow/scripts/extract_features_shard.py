"""Extract one feature set for one shard of the dataset's annotated clips."""

from mer.data.emomusic import clip_path, load_annotations
from mer.features import extract_shard
from mer.jobs import run_job


def main(sm):
    root = sm.input[0]
    song_ids = load_annotations(root).song_ids[int(sm.wildcards.shard)::sm.params.n_shards]
    extract_shard([clip_path(root, s) for s in song_ids], list(song_ids), sm.wildcards.feature_set,
                  sm.output[0], compare_mode=sm.params.compare_mode)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
