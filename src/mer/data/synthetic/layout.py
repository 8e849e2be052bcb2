"""The emoMusic file layout: song ids, the Mediaeval 2013 split and writing the dataset.

Layout (see ``mer.data.emomusic``): ``clips_45seconds/{song_id}.mp3`` plus the six
annotation CSVs, with the real files' headers and quirks (quoted, tab-padded
``songs_info.csv``; static ratings on the 1-9 scale; continuous values on [-1, 1], 61
samples at 2 Hz). The genre column is the song's style.

Determinism: a song's files derive only from ``(seed, song_id)``, so they do not depend
on ``n_songs`` or ``workers``; the choice of song ids and the Mediaeval 2013
development/evaluation split derive from ``seed`` and ``n_songs``.
"""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np

from mer.data.emomusic import (
    ANNOTATIONS_DIR,
    CLIPS_DIR,
    CONTINUOUS_COLUMNS,
    SONGS_INFO,
    STATIC_ANNOTATIONS,
    TARGETS,
    continuous_file,
)
from mer.data.synthetic.emotion import (EmotionModel, SongEmotion, unit_within_std,
                                        check_seed, check_within_song_std)
from mer.data.synthetic.mp3 import write_mp3
from mer.data.synthetic.song import synthesize_song
from mer.errors import ConfigError
from mer.frames import SAMPLE_RATE
from mer.io import atomic_directory

SONG_ID_RANGE = (2, 1000)  # real ids run 2..1000 with gaps (744 songs)
N_REAL_SONGS = 744
EVALUATION_SHARE = 125 / 744  # Mediaeval 2013: 619 development, 125 evaluation songs


def _check_arguments(n_songs, seed, within_song_std, workers) -> None:
    low, high = SONG_ID_RANGE
    if isinstance(n_songs, bool) or not isinstance(n_songs, (int, np.integer)):
        raise ConfigError(f"synthetic.n_songs must be an integer, got {n_songs!r}")
    if not 2 <= n_songs <= high - low + 1:
        raise ConfigError(f"synthetic.n_songs must be between 2 and {high - low + 1} "
                          f"(song ids {low}..{high}), got {n_songs}")
    check_seed(seed)
    check_within_song_std(within_song_std)
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ConfigError(f"workers must be a positive integer, got {workers!r}")


def choose_song_ids(n_songs: int, seed: int = 2020) -> np.ndarray:
    """A seeded, sorted subset of the real id range 2..1000 (with gaps, as in emoMusic)."""
    _check_arguments(n_songs, seed, 0.0, 1)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0]))  # ids start at 2
    low, high = SONG_ID_RANGE
    return np.sort(rng.choice(np.arange(low, high + 1), size=n_songs, replace=False))


def _evaluation_split(song_ids: np.ndarray, seed: int) -> dict[int, str]:
    """Mediaeval 2013 set of each song, ~619:125 development:evaluation, at least one each."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 1]))
    n_eval = min(max(1, int(round(len(song_ids) * EVALUATION_SHARE))), len(song_ids) - 1)
    evaluation = set(rng.choice(song_ids, size=n_eval, replace=False).tolist())
    return {int(s): "evaluation" if int(s) in evaluation else "development" for s in song_ids}


def _write_song(job: tuple) -> tuple[SongEmotion, dict[str, str]]:
    song_id, seed, within_song_std, model, clips = job
    song = synthesize_song(song_id, seed=seed, within_song_std=within_song_std, model=model)
    write_mp3(Path(clips) / f"{song_id}.mp3", song.audio, SAMPLE_RATE)
    return song.emotion, song.info


def _number(x: float) -> str:
    return f"{x:.15g}"


def _write_annotations(folder: Path, emotions: list[SongEmotion], infos: list[dict],
                       split: dict[int, str]) -> None:
    header = ",".join(["song_id", *CONTINUOUS_COLUMNS]) + "\n"
    for target in TARGETS:
        for statistic, attribute in (("average", "annotation"), ("std", "annotation_std")):
            lines = [header]
            for e in emotions:
                values = getattr(e, attribute)[target]
                lines.append(",".join([str(e.song_id), *map(_number, values)]) + "\n")
            (folder / continuous_file(target, statistic)).write_text("".join(lines))
    lines = ["song_id,mean_arousal,std_arousal,mean_valence,std_valence\n"]
    for e in emotions:
        lines.append(f"{e.song_id},{e.static_mean['arousal']:g},{e.static_std['arousal']:.5g},"
                     f"{e.static_mean['valence']:g},{e.static_std['valence']:.5g}\n")
    (folder / STATIC_ANNOTATIONS).write_text("".join(lines))
    # songs_info.csv: every field quoted, and padded with stray tabs exactly as emoMusic's.
    lines = ['"song_id","file_name","Artist","Song title","start of the segment (min.sec)",'
             '"end of the segment (min.sec)","Genre","Mediaeval 2013 set"\n']
    for e, info in zip(emotions, infos):
        lines.append(f'{e.song_id},"\t{e.song_id}.mp3","{info["artist"]}\t","\t{info["title"]}\t",'
                     f'"\t{info["start"]}\t","\t{info["end"]}\t","\t{info["genre"]}\t",'
                     f'"{split[e.song_id]}"\n')
    (folder / SONGS_INFO).write_text("".join(lines))


def generate_synthetic_dataset(root: str | Path, *, n_songs: int = 100, seed: int = 2020,
                               within_song_std: float = 0.03, workers: int = 1,
                               model: EmotionModel | None = None) -> Path:
    """Write a synthetic dataset in the emoMusic layout under ``root``; return ``root``.

    ``n_songs`` songs (2..999) with ids drawn from 2..1000; ``within_song_std``: expected
    per-song std of the continuous annotations over their 61 samples before rater noise
    (0 gives constant-level songs); ``workers``: processes used to synthesise and encode
    (the output is identical for any value); ``model``: the emotion/rater parameters
    (default ``EmotionModel()``). Built in a temporary sibling folder and renamed into
    place, so an interrupted run leaves no half dataset; an existing ``root`` is replaced.
    """
    _check_arguments(n_songs, seed, within_song_std, workers)
    model = EmotionModel() if model is None else model
    if not isinstance(model, EmotionModel):
        raise ConfigError(f"model must be an EmotionModel, got {type(model).__name__}")
    root = Path(root)
    root.parent.mkdir(parents=True, exist_ok=True)
    song_ids = choose_song_ids(n_songs, seed)
    unit_within_std(model)  # calibrate once here: forked workers inherit the cache
    with atomic_directory(root) as staging:
        clips = staging / CLIPS_DIR
        annotations = staging / ANNOTATIONS_DIR
        clips.mkdir()
        annotations.mkdir()
        jobs = [(int(s), int(seed), float(within_song_std), model, str(clips)) for s in song_ids]
        if workers == 1:
            results = [_write_song(job) for job in jobs]
        else:
            # fork where available: Snakemake's `script:` files run unguarded top-level code,
            # which "spawn" would re-execute in every worker; the jobs are pure, so a forked
            # worker's inherited state cannot change the output.
            method = "fork" if "fork" in get_all_start_methods() else "spawn"
            with ProcessPoolExecutor(max_workers=min(workers, len(jobs)),
                                     mp_context=get_context(method)) as pool:
                results = list(pool.map(_write_song, jobs))
        emotions, infos = zip(*results)
        _write_annotations(annotations, list(emotions), list(infos),
                           _evaluation_split(song_ids, seed))
    return root
