# Stage 1: the raw dataset in the emoMusic layout (immutable once written).


rule dataset:
    input:
        RAW,


rule generate_synthetic_dataset:
    output:
        directory("data/raw/synthetic"),
    params:
        n_songs=config["synthetic"]["n_songs"],
        within_song_std=config["synthetic"]["within_song_std"],
        seed=config["seed"],
    threads: 2
    resources:
        mem_mb=2000,
    log:
        "logs/synthetic/generate_synthetic_dataset.log",
    benchmark:
        "logs/synthetic/generate_synthetic_dataset.benchmark.tsv"
    script:
        "../scripts/generate_synthetic_dataset.py"
