"""Extract one feature set for one shard of the dataset's annotated songs."""

from mer.data.layouts import dataset_layout
from mer.features import extract_shard
from mer.jobs import run_job


def main(sm):
    root, layout = sm.input[0], dataset_layout(sm.params.dataset)
    annotations = layout.load_annotations(root)
    song_ids = annotations.song_ids[int(sm.wildcards.shard)::sm.params.n_shards]
    extract_shard(layout.input_paths(root, song_ids, sm.wildcards.feature_set), list(song_ids),
                  sm.wildcards.feature_set, sm.output[0], lengths=annotations.lengths_of(song_ids),
                  compare_mode=sm.params.compare_mode)


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
