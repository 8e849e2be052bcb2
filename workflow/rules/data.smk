# Stage 1: the raw dataset under data/raw/{dataset} (immutable once
# written). synthetic: generated; emomusic: downloaded archives, verified and extracted;
# local: the user's copy, checked and copied; deam: the user's unzipped DEAM, checked and
# copied in DEAM's layout (variable-length songs, see mer.data.layouts).

import math

from mer.data.imports import local_fingerprint

EMOMUSIC_ARCHIVES = ["clips_45sec.tar.gz", "annotations.tar.gz"]
DEAM_ARCHIVES = {"audio": "DEAM_audio.zip", "annotations": "DEAM_Annotations.zip",
                 "features": "features.zip"}


def deam_archives(wildcards):
    """The DEAM archives to download: none with `datasets.deam.path` (the user's copy);
    DEAM_audio.zip only when a feature set is computed from audio, features.zip only when
    a grid uses the deam260 set it holds."""
    if config["datasets"]["deam"]["path"]:
        return []
    keys = (["audio"] if NEEDS_AUDIO else []) + ["annotations"] + (["features"] if USES_SHIPPED_FEATURES else [])
    return [f"data/raw/deam-archives/{DEAM_ARCHIVES[key]}" for key in keys]


rule dataset:
    input:
        RAW,


# The songs a run uses and what the import noted (DEAM's quirks, songs left out, figures
# skipped), for the tables and metrics.json: results/{dataset}/dataset_notes.json.
rule dataset_notes:
    input:
        RAW,
    output:
        f"{RESULTS}/dataset_notes.json",
    params:
        dataset=DATASET,
        extra_notes=run_notes(),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        f"{LOGS}/dataset_notes.log",
    benchmark:
        f"{LOGS}/dataset_notes.benchmark.tsv"
    script:
        "../scripts/write_dataset_notes.py"


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
        runtime=10 + math.ceil(config["synthetic"]["n_songs"] * 5 / 60),  # ~0.5 s/song measured
    log:
        "logs/synthetic/generate_synthetic_dataset.log",
    benchmark:
        "logs/synthetic/generate_synthetic_dataset.benchmark.tsv"
    script:
        "../scripts/generate_synthetic_dataset.py"


# One job per archive, so an archive put in place by hand is never deleted to rerun the
# other's download. Checksums unknown in params are recorded in sha256.lock.json beside.
rule download_archive:
    output:
        "data/raw/{source}-archives/{archive}",
    wildcard_constraints:
        source="emomusic|deam",
        archive="|".join(EMOMUSIC_ARCHIVES + list(DEAM_ARCHIVES.values())).replace(".", r"\."),
    params:
        urls=lambda wildcards: config["datasets"][wildcards.source]["urls"],
        sha256=lambda wildcards: config["datasets"][wildcards.source]["sha256"],
    threads: 1
    resources:
        mem_mb=500,
        runtime=120,  # ~2 GB over a slow link
    log:
        "logs/{source}/download_{archive}.log",
    benchmark:
        "logs/{source}/download_{archive}.benchmark.tsv"
    script:
        "../scripts/download_archive.py"


rule extract_emomusic:
    input:
        expand("data/raw/emomusic-archives/{archive}", archive=EMOMUSIC_ARCHIVES),
    output:
        directory("data/raw/emomusic"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        "logs/emomusic/extract_emomusic.log",
    benchmark:
        "logs/emomusic/extract_emomusic.benchmark.tsv"
    script:
        "../scripts/extract_emomusic.py"


# The fingerprint (file count, bytes, newest mtime) makes a changed copy rerun the import.
rule import_local_dataset:
    output:
        directory("data/raw/local"),
    params:
        path=config["datasets"]["local"]["path"],
        fingerprint=local_fingerprint(config["datasets"]["local"]["path"]) if DATASET == "local" else None,
        allow_missing_audio=config["datasets"]["local"].get("allow_missing_audio", False),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=30,
    log:
        "logs/local/import_local_dataset.log",
    benchmark:
        "logs/local/import_local_dataset.benchmark.tsv"
    script:
        "../scripts/import_local_dataset.py"


# From the user's unzipped copy (datasets.deam.path) or, without one, the downloaded archives.
rule import_deam_dataset:
    input:
        deam_archives,
    output:
        directory("data/raw/deam"),
    params:
        path=config["datasets"]["deam"]["path"],
        fingerprint=(local_fingerprint(config["datasets"]["deam"]["path"])
                     if DATASET == "deam" and config["datasets"]["deam"]["path"] else None),
        allow_missing_audio=config["datasets"]["deam"].get("allow_missing_audio", False),
        needs_audio=NEEDS_AUDIO,
        needs_features=USES_SHIPPED_FEATURES,
    threads: 1
    resources:
        mem_mb=1000,
        runtime=60,  # ~1802 MP3s and their feature files
    log:
        "logs/deam/import_deam_dataset.log",
    benchmark:
        "logs/deam/import_deam_dataset.benchmark.tsv"
    script:
        "../scripts/import_deam_dataset.py"
