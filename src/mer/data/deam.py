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

    features/{song_id}.csv   (optional, from features.zip) ``;``-separated, ``frameTime`` and
        260 openSMILE columns, one row per 500 ms: the ``deam260`` feature set. The row at
        ``frameTime`` = 0.5 k is taken as whole-clip frame k, i.e. the 500 ms starting at
        its frameTime (``mer.frames``), so it pairs with the annotation at 0.5 k + 0.5 s.

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
FEATURES_DIR = "features"
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

    def as_annotations(self):
        """The same data as ``mer.data.emomusic.Annotations`` (NaN-padded, with lengths),
        the form the pipeline trains on."""
        from mer.data.emomusic import Annotations
        return Annotations(song_ids=self.song_ids,
                           values={t: self.padded(t)[0] for t in self.values},
                           lengths=self.lengths)

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


def _read_table(path: Path, missing: str, kind: str, **read_options) -> pd.DataFrame:
    """A CSV with stripped column names; ``DataError`` naming the file if absent or unreadable."""
    if not path.is_file():
        raise DataError(f"{path}: {missing}")
    try:
        table = pd.read_csv(path, **read_options)
    except Exception as error:  # pandas raises several types for unreadable CSV
        raise DataError(f"{path}: cannot parse as {kind} ({error})") from error
    table.columns = [str(c).strip() for c in table.columns]
    return table


def read_dynamic(path: str | Path) -> tuple[np.ndarray, list[np.ndarray]]:
    """(song ids, one float32 sequence per song) from a wide per-second dynamic CSV."""
    path = Path(path)
    table = _read_table(path, "dynamic annotation file not found; unzip DEAM_Annotations.zip",
                        "CSV", skipinitialspace=True)
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


def feature_path(root: str | Path, song_id: int) -> Path:
    """Where DEAM's precomputed features of ``song_id`` live under a DEAM root."""
    root = Path(root)
    folder = _find_dir(root, FEATURES_DIR) or root / FEATURES_DIR
    return folder / f"{int(song_id)}.csv"


def read_frame_features(path: str | Path, frames: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Rows of whole-clip ``frames`` from one DEAM ``features/<id>.csv`` -> (values
    (len(frames), 260) float32, column names). ``DataError`` naming the file otherwise."""
    path = Path(path)
    table = _read_table(path, "DEAM feature file not found; unzip DEAM's features.zip into the "
                        "dataset folder (it holds features/<id>.csv), or choose a feature set "
                        "computed from audio", "a ';'-separated CSV", sep=";")
    if "frameTime" not in table.columns:
        raise DataError(f"{path}: no frameTime column; expected DEAM's features/<id>.csv "
                        f"(frameTime;<260 feature columns>, ';'-separated)")
    frame_of_row = np.round(table["frameTime"].to_numpy(float) / (SAMPLE_STEP_MS / 1000)).astype(int)
    row_of_frame = {int(k): row for row, k in enumerate(frame_of_row)}
    missing = [int(k) for k in frames if int(k) not in row_of_frame]
    if missing:
        raise DataError(f"{path}: no row for frame(s) {missing[:5]} (frameTime "
                        f"{[k * SAMPLE_STEP_MS / 1000 for k in missing[:5]]} s), which the song's "
                        f"annotations need")
    columns = [c for c in table.columns if c != "frameTime"]
    try:
        values = table[columns].to_numpy(np.float32)[[row_of_frame[int(k)] for k in frames]]
    except ValueError as error:
        raise DataError(f"{path}: non-numeric feature value ({error})") from error
    if not np.isfinite(values).all():
        raise DataError(f"{path}: NaN or infinite feature values in the annotated frames")
    return values, columns


def build_deam_root(source: str | Path, target: str | Path) -> Path:
    """Copy a user's unzipped DEAM (``source``) into ``target``, read-only, in one layout:
    ``MEMD_audio/<id>.mp3``, ``annotations/<dynamic csvs>``, ``annotations/static/*.csv``
    and, when present, ``features/<id>.csv``. Other files are not copied."""
    import shutil

    from mer.data.download import _make_read_only
    from mer.io import atomic_directory

    source, target = Path(source), Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_directory(target) as staging:
        dynamic = staging / "annotations" / DYNAMIC_DIR
        dynamic.mkdir(parents=True)
        for t in TARGETS:
            shutil.copy2(dynamic_file(source, t), dynamic / f"{t}.csv")
        static = staging / "annotations" / "song_level"
        static.mkdir()
        for path in sorted(source.rglob(STATIC_GLOB)):
            shutil.copy2(path, static / path.name)
        _copy_numbered(audio_path(source, 0).parent, staging / AUDIO_DIR, ".mp3")
        features = _find_dir(source, FEATURES_DIR)
        if features is not None:
            _copy_numbered(features, staging / FEATURES_DIR, ".csv")
        _make_read_only(staging)
    return target


def _copy_numbered(source: Path, target: Path, suffix: str) -> None:
    """Copy ``<id><suffix>`` files (skipping e.g. macOS ``._`` files)."""
    import shutil
    target.mkdir()
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix.lower() == suffix and path.stem.isdigit():
            shutil.copy2(path, target / f"{int(path.stem)}{suffix}")
