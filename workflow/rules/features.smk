# Stage 2: features per clip shard per feature set, merged into one memory-mappable array;
# a set whose blocks other sets of the run compute is cut from their files instead
# (mer.features.assemble: chroma from spectral, chroma_cqt from spectral and cqt).

import math


def shard_runtime_min(wildcards):
    """Wall-time limit (minutes, a cluster's --time) of one extraction shard: its songs
    times a generous per-song cost (ComParE per segment ~30 s, other sets ~10 s: over 10x
    what the default run measured), plus 10 min for start-up."""
    n_songs = expected_songs()
    slow = wildcards.feature_set == "compare" and config["features"]["compare_mode"] == "per_segment"
    return 10 + math.ceil(n_songs / N_SHARDS * (30 if slow else 10) / 60)


def shard_priority(wildcards):
    """ComParE shards first: openSMILE costs ~3 CPU-s a song in either mode against ~0.3
    for a librosa set, so its shards are a run's longest jobs and every ComParE training
    job waits for them. Started 200 s apart, as Snakemake chose before, they left one core
    waiting for the second (the default run: 85 idle core-seconds of 1,524, then 51 of
    1,434 with this order and the assembled sets)."""
    return 10 if wildcards.feature_set == "compare" else 0


rule features:
    input:
        feature_outputs(),


rule extract_features_shard:
    input:
        RAW,
    output:
        temp(f"{FEATURES}/shards/{{feature_set}}/shard{{shard}}.npz"),
    wildcard_constraints:
        feature_set=one_of(EXTRACTED_SETS),
    priority: shard_priority
    params:
        n_shards=N_SHARDS,
        dataset=DATASET,
        compare_mode=config["features"]["compare_mode"],
    threads: 1
    resources:
        mem_mb=2000,
        runtime=shard_runtime_min,
    log:
        f"{LOGS}/features/{{feature_set}}/shard{{shard}}.log",
    benchmark:
        f"{LOGS}/features/{{feature_set}}/shard{{shard}}.benchmark.tsv"
    script:
        "../scripts/extract_features_shard.py"


rule merge_features:
    input:
        expand(f"{FEATURES}/shards/{{{{feature_set}}}}/shard{{shard}}.npz", shard=range(N_SHARDS)),
    output:
        values=f"{FEATURES}/{{feature_set}}.npy",
        index=f"{FEATURES}/{{feature_set}}.json",
    wildcard_constraints:
        feature_set=one_of(EXTRACTED_SETS),
    threads: 1
    resources:
        mem_mb=4000,
        runtime=15,
    log:
        f"{LOGS}/features/{{feature_set}}/merge.log",
    benchmark:
        f"{LOGS}/features/{{feature_set}}/merge.benchmark.tsv"
    script:
        "../scripts/merge_features.py"


rule assemble_feature_set:
    input:
        values=lambda wildcards: expand(f"{FEATURES}/{{source}}.npy",
                                        source=FEATURE_SOURCES[wildcards.feature_set]),
        index=lambda wildcards: expand(f"{FEATURES}/{{source}}.json",
                                       source=FEATURE_SOURCES[wildcards.feature_set]),
    output:
        values=f"{FEATURES}/{{feature_set}}.npy",
        index=f"{FEATURES}/{{feature_set}}.json",
    wildcard_constraints:
        feature_set=one_of(ASSEMBLED_SETS),
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    log:
        f"{LOGS}/features/{{feature_set}}/assemble.log",
    benchmark:
        f"{LOGS}/features/{{feature_set}}/assemble.benchmark.tsv"
    script:
        "../scripts/assemble_feature_set.py"
