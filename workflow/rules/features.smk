# Stage 2: features per clip shard per feature set, merged into one memory-mappable array.


rule features:
    input:
        feature_outputs(),


rule extract_features_shard:
    input:
        RAW,
    output:
        temp(f"{FEATURES}/shards/{{feature_set}}/shard{{shard}}.npz"),
    params:
        n_shards=N_SHARDS,
        compare_mode=config["features"]["compare_mode"],
    threads: 1
    resources:
        mem_mb=2000,
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
    threads: 1
    resources:
        mem_mb=4000,
    log:
        f"{LOGS}/features/{{feature_set}}/merge.log",
    benchmark:
        f"{LOGS}/features/{{feature_set}}/merge.benchmark.tsv"
    script:
        "../scripts/merge_features.py"
