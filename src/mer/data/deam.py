"""Loader for DEAM (MediaEval "Database for Emotional Analysis in Music", 1802 songs).

Layout once ``DEAM_Annotations.zip`` and ``DEAM_audio.zip`` are unzipped into one root
(the top folder names may differ; files are found by their paths' tails)::

    MEMD_audio/{song_id}.mp3
    .../annotations averaged per song/dynamic (per second annotations)/arousal.csv
    .../annotations averaged per song/dynamic (per second annotations)/valence.csv
        wide: song_id, sample_15000ms, sample_15500ms, ...  (2 Hz from 15 s)
        45 s excerpts (ids 2..2000) fill ~60 columns; full songs (2001..2058) are longer;
        a shorter song's row ends in empty cells.
    .../annotations averaged per song/song_level/static_annotations_averaged_songs_*.csv
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std" (spaces after
        commas; valence before arousal; ratings on 1..9)

Dynamic values are on [-1, 1]. Sequences have variable length, so the loader returns one
array per song plus ``padded()`` (NaN-padded matrix and mask) for batch code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.errors import DataError

TARGETS = ("arousal", "valence")
AUDIO_DIR = "MEMD_audio"
DYNAMIC_DIR = "dynamic (per second annotations)"
STATIC_GLOB = "static_annotations_averaged_songs_*.csv"
STATIC_COLUMNS = ["valence_mean", "valence_std", "arousal_mean", "arousal_std"]
SAMPLE_COLUMN = re.compile(r"^sample_(\d+)ms$")
FIRST_SAMPLE_MS = 15_000
SAMPLE_STEP_MS = 500


@dataclass
class DeamAnnotations:
    """Per-second-averaged dynamic annotations; row ``i`` of every field is ``song_ids[i]``."""

    song_ids: np.ndarray  # (n_songs,) int64, ascending
    values: dict[str, list[np.ndarray]]  # target -> per song float32 (length_i,)
    lengths: np.ndarray  # (n_songs,) int64, annotated samples per song
    static: pd.DataFrame | None = field(default=None)  # STATIC_COLUMNS indexed by song_id

    def padded(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """(n_songs × max_length float32 NaN-padded, bool mask of real samples)."""
        if target not in self.values:
            raise DataError(f"unknown target {target!r}; choose one of {sorted(self.values)}")
        width = int(self.lengths.max()) if len(self.lengths) else 0
        out = np.full((len(self.song_ids), width), np.nan, dtype=np.float32)
        mask = np.arange(width)[None, :] < self.lengths[:, None]
        for row, sequence in enumerate(self.values[target]):
            out[row, :len(sequence)] = sequence
        return out, mask

    def sample_times(self, song_id: int) -> np.ndarray:
        """Times (s) of one song's samples: 15.0, 15.5, ..."""
        row = int(np.searchsorted(self.song_ids, song_id))
        if row >= len(self.song_ids) or self.song_ids[row] != song_id:
            raise DataError(f"song {song_id} has no DEAM annotations")
        return (FIRST_SAMPLE_MS + SAMPLE_STEP_MS * np.arange(self.lengths[row])) / 1000.0


def audio_path(root: str | Path, song_id: int) -> Path:
    """Where the audio of ``song_id`` lives under a DEAM root."""
    root = Path(root)
    folder = _find_dir(root, AUDIO_DIR) or root / AUDIO_DIR
    return folder / f"{int(song_id)}.mp3"


def _find_dir(root: Path, name: str) -> Path | None:
    if (root / name).is_dir():
        return root / name
    found = sorted(p for p in root.rglob(name) if p.is_dir())
    return found[0] if found else None


def dynamic_file(root: str | Path, target: str) -> Path:
    root = Path(root)
    folder = _find_dir(root, DYNAMIC_DIR)
    if folder is None:
        raise DataError(f"{root}: no '{DYNAMIC_DIR}' folder inside; unzip DEAM_Annotations.zip "
                        f"into {root} (it holds 'annotations averaged per song/{DYNAMIC_DIR}/')")
    return folder / f"{target}.csv"


def read_dynamic(path: str | Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """(song ids, one float32 sequence per song) from a wide per-second dynamic CSV."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dynamic annotation file not found; unzip DEAM_Annotations.zip")
    try:
        table = pd.read_csv(path, skipinitialspace=True)
    except Exception as error:  # pandas raises several types for unreadable CSV
        raise DataError(f"{path}: cannot parse as CSV ({error})") from error
    table.columns = [str(c).strip() for c in table.columns]
    if "song_id" not in table.columns:
        raise DataError(f"{path}: no song_id column; the header must start with "
                        f"song_id,sample_15000ms,sample_15500ms,...")
    samples = [c for c in table.columns if c != "song_id"]
    expected = [f"sample_{FIRST_SAMPLE_MS + SAMPLE_STEP_MS * i}ms" for i in range(len(samples))]
    if not samples or samples != expected:
        wrong = next((f"{c!r} where {e!r} was expected" for c, e in zip(samples, expected) if c != e),
                     "no sample columns")
        raise DataError(f"{path}: sample columns must run sample_15000ms, sample_15500ms, ... "
                        f"without gaps; found {wrong}")
    if table["song_id"].isna().any() or table["song_id"].duplicated().any():
        raise DataError(f"{path}: song_id column has empty or repeated values")
    try:
        values = table[samples].astype(float).to_numpy()
    except ValueError as error:
        raise DataError(f"{path}: non-numeric annotation value ({error})") from error
    ids = table["song_id"].astype(np.int64).to_numpy()
    sequences = []
    for song_id, row in zip(ids, values):
        present = ~np.isnan(row)
        length = int(present.nonzero()[0][-1]) + 1 if present.any() else 0
        if length == 0:
            raise DataError(f"{path}: song {song_id} has no annotation values")
        if not present[:length].all():
            gap = int((~present[:length]).nonzero()[0][0])
            raise DataError(f"{path}: song {song_id} has an empty value at {samples[gap]} inside "
                            f"its sequence; only trailing cells may be empty")
        sequences.append(row[:length].astype(np.float32))
    order = np.argsort(ids)
    return ids[order], [sequences[i] for i in order]


def read_static(root: str | Path) -> pd.DataFrame | None:
    """Song-level ratings from every ``static_annotations_averaged_songs_*.csv`` (None if none)."""
    paths = sorted(Path(root).rglob(STATIC_GLOB))
    if not paths:
        return None
    frames = []
    for path in paths:
        table = pd.read_csv(path, skipinitialspace=True)  # headers have spaces after commas
        table.columns = [str(c).strip() for c in table.columns]
        missing = [c for c in ["song_id", *STATIC_COLUMNS] if c not in table.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; expected song_id, "
                            f"{', '.join(STATIC_COLUMNS)}")
        frames.append(table[["song_id", *STATIC_COLUMNS]])
    static = pd.concat(frames).astype({"song_id": np.int64})
    if static["song_id"].duplicated().any():
        dupes = static.loc[static["song_id"].duplicated(), "song_id"].tolist()[:10]
        raise DataError(f"{paths[0].parent}: song id(s) {dupes} appear in two static files")
    return static.set_index("song_id").sort_index().astype(float)


def load_deam_annotations(root: str | Path, targets=TARGETS) -> DeamAnnotations:
    """Load DEAM's averaged dynamic annotations (and static ones when present)."""
    root = Path(root)
    loaded = {t: read_dynamic(dynamic_file(root, t)) for t in targets}
    reference = targets[0]
    ids = loaded[reference][0]
    for t in targets[1:]:
        if not np.array_equal(loaded[t][0], ids):
            only = sorted(set(loaded[t][0].tolist()) ^ set(ids.tolist()))[:10]
            raise DataError(f"{dynamic_file(root, t).parent}: {reference}.csv and {t}.csv list "
                            f"different songs (e.g. {only})")
    lengths = np.array([len(s) for s in loaded[reference][1]], dtype=np.int64)
    for t in targets[1:]:
        other = np.array([len(s) for s in loaded[t][1]], dtype=np.int64)
        if not np.array_equal(other, lengths):
            bad = ids[other != lengths].tolist()[:10]
            raise DataError(f"{dynamic_file(root, t).parent}: {reference}.csv and {t}.csv have "
                            f"different lengths for song(s) {bad}")
    return DeamAnnotations(song_ids=ids, values={t: loaded[t][1] for t in targets},
                           lengths=lengths, static=read_static(root))
