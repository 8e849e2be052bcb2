"""Loader for the emoMusic layout ("1000 Songs for Emotional Analysis of Music").

Layout under a dataset root (the synthetic dataset is written in exactly this form)::

    clips_45seconds/{song_id}.mp3
    annotations/arousal_cont_average.csv   song_id, sample_15000ms ... sample_45000ms (61)
    annotations/valence_cont_average.csv
    annotations/arousal_cont_std.csv       same shape, std over raters
    annotations/valence_cont_std.csv
    annotations/static_annotations.csv     song_id, mean_arousal, std_arousal, ...
    annotations/songs_info.csv             quoted fields padded with stray tabs

Continuous values are on the dataset's [-1, 1] scale; sample ``j`` is at 15 + j/2 s (see
``mer.frames`` for which audio frame it is paired with).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.errors import DataError
from mer.frames import N_ANNOTATED_FRAMES, annotation_column, annotation_times

TARGETS = ("arousal", "valence")
CLIPS_DIR = "clips_45seconds"
ANNOTATIONS_DIR = "annotations"
SONGS_INFO = "songs_info.csv"
STATIC_ANNOTATIONS = "static_annotations.csv"
CONTINUOUS_COLUMNS = [annotation_column(t) for t in annotation_times()]


def continuous_file(target: str, statistic: str = "average") -> str:
    """File name of a continuous annotation table, e.g. ``arousal_cont_average.csv``."""
    return f"{target}_cont_{statistic}.csv"


def clip_path(root: str | Path, song_id: int) -> Path:
    """Where the audio of ``song_id`` lives under a dataset root."""
    return Path(root) / CLIPS_DIR / f"{int(song_id)}.mp3"


@dataclass
class Annotations:
    """Continuous annotations of one dataset, rows aligned with ``song_ids``."""

    song_ids: np.ndarray  # (n_songs,) int64, ascending
    values: dict[str, np.ndarray]  # target -> (n_songs, T) float32 rater average, NaN-padded
    stds: dict[str, np.ndarray] = field(default_factory=dict)  # target -> rater std
    info: pd.DataFrame | None = None  # songs_info.csv, tabs stripped, indexed by song_id
    # annotated samples per song (its first ``lengths[i]`` values are real); None: all T
    # (emoMusic's 61). Variable for DEAM, whose full songs are longer than its excerpts.
    lengths: np.ndarray | None = None

    def __post_init__(self):
        if self.lengths is None:
            width = next(iter(self.values.values())).shape[1] if self.values else 0
            self.lengths = np.full(len(self.song_ids), width, dtype=np.int64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)

    def lengths_of(self, song_ids) -> np.ndarray:
        """Annotated samples of each of ``song_ids``."""
        return self.lengths[self.rows(song_ids)]

    def target(self, name: str) -> np.ndarray:
        if name not in self.values:
            raise DataError(f"unknown target {name!r}; choose one of {sorted(self.values)}")
        return self.values[name]

    def rows(self, song_ids) -> np.ndarray:
        """Row positions of ``song_ids`` (raises if one is not annotated)."""
        position = {int(s): i for i, s in enumerate(self.song_ids)}
        missing = [int(s) for s in song_ids if int(s) not in position]
        if missing:
            raise DataError(f"songs without annotations: {missing[:10]}")
        return np.array([position[int(s)] for s in song_ids], dtype=np.int64)


def read_continuous(path: str | Path) -> pd.DataFrame:
    """Read one ``*_cont_*.csv`` table into a float frame indexed by song id (61 columns)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: annotation file not found; put the emoMusic "
                        f"'{ANNOTATIONS_DIR}' folder under the dataset root")
    try:
        table = pd.read_csv(path)
    except Exception as error:  # pandas raises several types for unreadable CSV
        raise DataError(f"{path}: cannot parse as CSV ({error})") from error
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in ["song_id", *CONTINUOUS_COLUMNS] if c not in table.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {missing[:5]}"
                        f"{' ...' if len(missing) > 5 else ''}; expected song_id and "
                        f"{CONTINUOUS_COLUMNS[0]} ... {CONTINUOUS_COLUMNS[-1]}")
    table = table.set_index("song_id")[CONTINUOUS_COLUMNS]
    values = table.apply(pd.to_numeric, errors="coerce")
    text = values.isna() & table.notna()
    if text.any().any():
        song, column = text.stack()[lambda cells: cells].index[0]
        raise DataError(f"{path}: song {song!r}, column {column!r}: {table.at[song, column]!r} "
                        f"is not a number (a repeated header line?); fix the file")
    table = values
    ids = pd.to_numeric(pd.Series(table.index), errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        raise DataError(f"{path}: song_id {table.index[int(ids.isna().idxmax())]!r} is not a "
                        f"whole number; fix the file")
    table.index = ids.astype(np.int64).to_numpy()
    if table.index.duplicated().any():
        dupes = table.index[table.index.duplicated()].unique().tolist()
        raise DataError(f"{path}: song id(s) listed twice: {dupes[:10]}")
    bad = table.index[table.isna().any(axis=1)].tolist()
    if bad:
        raise DataError(f"{path}: missing values for song(s) {bad[:10]}; every song needs "
                        f"all {N_ANNOTATED_FRAMES} samples")
    return table


def read_songs_info(path: str | Path) -> pd.DataFrame:
    """Read ``songs_info.csv``; strips the stray tabs and spaces around every field.
    DataError (naming the file) for a file pandas cannot parse, no ``song_id`` column, or
    an id that is not a whole number."""
    try:
        table = pd.read_csv(path, dtype=str)
    except Exception as error:  # pandas raises several types for unreadable CSV
        raise DataError(f"{path}: cannot parse as CSV ({error}); fix or replace the file") from error
    table.columns = [str(c).strip() for c in table.columns]
    if "song_id" not in table.columns:
        raise DataError(f"{path}: no 'song_id' column (found {table.columns.tolist()[:5]}); "
                        f"fix or replace the file")
    table = table.apply(lambda column: column.str.strip(" \t"))
    ids = pd.to_numeric(table["song_id"], errors="coerce")
    if ids.isna().any() or (ids % 1 != 0).any():
        raise DataError(f"{path}: song_id {table['song_id'][ids.isna() | (ids % 1 != 0)].iloc[0]!r} "
                        f"is not a whole number; fix the file")
    table["song_id"] = ids.astype(np.int64)
    return table.set_index("song_id")


def load_annotations(root: str | Path, targets=TARGETS) -> Annotations:
    """Load the continuous annotations of a dataset in the emoMusic layout."""
    folder = Path(root) / ANNOTATIONS_DIR
    tables = {t: read_continuous(folder / continuous_file(t)) for t in targets}
    ids = {t: set(table.index) for t, table in tables.items()}
    reference = targets[0]
    for t in targets[1:]:
        if ids[t] != ids[reference]:
            only = sorted(ids[t] ^ ids[reference])[:10]
            raise DataError(f"{folder}: {continuous_file(reference)} and {continuous_file(t)} "
                            f"list different songs (e.g. {only}); both must cover the same ids")
    song_ids = np.array(sorted(ids[reference]), dtype=np.int64)
    values = {t: table.loc[song_ids].to_numpy(np.float32) for t, table in tables.items()}
    stds = {}
    for t in targets:
        path = folder / continuous_file(t, "std")
        if path.is_file():
            stds[t] = read_continuous(path).reindex(song_ids).to_numpy(np.float32)
    info_path = folder / SONGS_INFO
    info = read_songs_info(info_path) if info_path.is_file() else None
    return Annotations(song_ids=song_ids, values=values, stds=stds, info=info)


def check_audio_present(root: str | Path, song_ids) -> None:
    """Raise naming the missing clips when an annotated song has no audio file."""
    missing = [int(s) for s in song_ids if not clip_path(root, s).is_file()]
    if missing:
        raise DataError(f"{Path(root) / CLIPS_DIR}: no audio for {len(missing)} annotated "
                        f"song(s), e.g. {[f'{s}.mp3' for s in missing[:5]]}")
