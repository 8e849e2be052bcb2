"""Extract one feature set for one shard of the dataset's songs; a failing clip is named by
the user's own file when the dataset was imported from one."""

from mer.data.layouts import dataset_layout, name_user_files
from mer.errors import MerError
from mer.features import extract_shard, feature_set
from mer.jobs import run_job


def main(sm):
    root, layout = sm.input[0], dataset_layout(sm.params.dataset)
    annotations = layout.load_annotations(root)
    song_ids = annotations.song_ids[int(sm.wildcards.shard)::sm.params.n_shards]
    paths = layout.input_paths(root, song_ids, feature_set(sm.wildcards.feature_set).precomputed)
    try:
        extract_shard(paths, list(song_ids), sm.wildcards.feature_set, sm.output[0],
                      lengths=annotations.lengths_of(song_ids), compare_mode=sm.params.compare_mode)
    except MerError as error:
        raise type(error)(name_user_files(str(error), root)) from None


run_job(snakemake, main)  # noqa: F821 (injected by Snakemake)
