"""Loader for DEAM (MediaEval "Database for Emotional Analysis in Music", 1802 songs).

Layout once ``DEAM_Annotations.zip`` and ``DEAM_audio.zip`` are unzipped into one root
(the top folder names may differ; files are found by their paths' tails)::

    MEMD_audio/{song_id}.mp3   (may be empty: a run on the shipped features needs no audio)
    .../annotations averaged per song/dynamic (per second annotations)/arousal.csv
    .../annotations averaged per song/dynamic (per second annotations)/valence.csv
        wide: song_id, sample_15000ms, sample_15500ms, ...  (2 Hz from 15 s)
    .../annotations averaged per song/song_level/static_annotations_averaged_songs_*.csv
        "song_id, valence_mean, valence_std, arousal_mean, arousal_std" (spaces after
        commas; valence before arousal; ratings on 1..9; stds are population stds)

    features/{song_id}.csv   (optional, from features.zip) ``;``-separated, ``frameTime`` and
        260 openSMILE columns, one row per 500 ms: the ``deam260`` feature set. The row at
        ``frameTime`` = 0.5 k is taken as whole-clip frame k, i.e. the 500 ms starting at
        its frameTime (``mer.frames``), so it pairs with the annotation at 0.5 k + 0.5 s.
        ``mer.features.deam_features`` computes the same columns from any audio.

The files as DEAM distributes them, and what the loader does with each quirk (measured
on DEAM's own files; reproduced in tests/dataset_builders.py ``make_deam_distributed``):

* 1802 songs: ids 2..1000 (744, the emoMusic songs; "2013"), 1001..2000 (1000, "2014"),
  2001..2058 (58 full songs, "2015"). The 1744 excerpts have 60 samples (15.0-44.5 s;
  emoMusic's own files have 61, to 45.0 s); full songs 68..1224.
* Rows are ragged: a shorter song's row simply ends. arousal.csv's header runs to
  ``sample_626500ms`` (1225 columns), valence.csv's to ``sample_626000ms`` (1224); values
  like ``-2.77555756156e-18`` occur. Read with the csv module (``read_dynamic``).
* Seven full songs have one sample more in one target (2002: arousal 230 / valence 229,
  2011, 2020, 2027, 2036, 2042, 2045): they keep the common length, noted
  (``combine_targets``).
* ``static_annotations_averaged_songs_1_2000.csv`` has arousal and valence swapped for
  ids 2..1000; detected per id range from the data (static vs mean dynamic annotation),
  exchanged back and noted (``correct_static_swap``). The 2000_2058 file's extra max/min
  columns (one headed ``valence_ max_mean``) are ignored.

Every handled quirk is listed in ``DeamAnnotations.notes`` (the import log, ``mer data
check`` and results/deam/dataset_notes.json show them). Dynamic values are on [-1, 1].
Sequences have variable length, so the loader returns one array per song plus
``padded()`` (NaN-padded matrix and mask) for batch code.
"""

from __future__ import annotations

import csv
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
# DEAM's three collections by song id: MediaEval 2013 (the emoMusic songs), 2014, 2015
ID_RANGES = {"2013": (1, 1000), "2014": (1001, 2000), "2015": (2001, 2058)}
MAX_LENGTH_MISMATCH = 1  # samples one target may have beyond the other (DEAM's seven songs)
MIN_SWAP_SONGS = 4  # songs of an id range needed to check its static columns from the data
SWAP_MARGIN = 0.5  # how much better (summed r) the swapped pairing must correlate


@dataclass
class DeamAnnotations:
    """Per-second-averaged dynamic annotations; row ``i`` of every field is ``song_ids[i]``."""

    song_ids: np.ndarray  # (n_songs,) int64, ascending
    values: dict[str, list[np.ndarray]]  # target -> per song float32 (length_i,)
    lengths: np.ndarray  # (n_songs,) int64, annotated samples per song
    static: pd.DataFrame | None = field(default=None)  # STATIC_COLUMNS indexed by song_id
    notes: list[str] = field(default_factory=list)  # quirks of the files, handled (for the log)

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
    """(song ids ascending, one float32 sequence per song) from a wide per-second CSV.

    Reads DEAM's files as distributed: rows are *ragged* (a shorter song's row simply
    ends, or ends in empty cells), the header may be longer than any row, values may be
    written like ``-2.77555756156e-18``. Trailing empty or ``NaN`` cells end a sequence;
    an empty or ``NaN`` cell *inside* one, a row longer than the header, a repeated or
    non-integer song id are ``DataError``s naming the file, the song and the fix. The
    csv module is used rather than pandas because pandas refuses (or silently re-indexes)
    rows longer or shorter than the header.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: dynamic annotation file not found; unzip DEAM_Annotations.zip")
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise DataError(f"{path}: cannot parse as CSV ({error})") from error
    fix = "fix the file or restore it from DEAM_Annotations.zip"
    if not rows:
        raise DataError(f"{path}: the file is empty; {fix}")
    header = [cell.strip() for cell in rows[0]]
    while header and not header[-1]:
        header.pop()
    if not header or header[0] != "song_id":
        raise DataError(f"{path}: no song_id column; the header must start with "
                        f"song_id,sample_15000ms,sample_15500ms,...")
    samples = header[1:]
    expected = [f"sample_{FIRST_SAMPLE_MS + SAMPLE_STEP_MS * i}ms" for i in range(len(samples))]
    if not samples or samples != expected:
        wrong = next((f"{c!r} where {e!r} was expected" for c, e in zip(samples, expected) if c != e),
                     "no sample columns")
        raise DataError(f"{path}: sample columns must run sample_15000ms, sample_15500ms, ... "
                        f"without gaps; found {wrong}")
    ids, sequences, first_line = [], [], {}
    for line, row in enumerate(rows[1:], start=2):
        cells = [cell.strip() for cell in row]
        try:
            song_id = int(float(cells[0]))
            if song_id != float(cells[0]) or song_id < 0:
                raise ValueError
        except (ValueError, OverflowError):
            raise DataError(f"{path}: line {line}: song_id {cells[0]!r} is not a song number; "
                            f"{fix}") from None
        if song_id in first_line:
            raise DataError(f"{path}: song {song_id} is listed twice (lines {first_line[song_id]} "
                            f"and {line}); keep one row per song: {fix}")
        first_line[song_id] = line
        cells = cells[1:]
        while cells and cells[-1].lower() in ("", "nan"):
            cells.pop()
        if not cells:
            raise DataError(f"{path}: song {song_id} (line {line}) has no annotation values; "
                            f"remove its row or {fix}")
        if len(cells) > len(samples):
            raise DataError(f"{path}: song {song_id} (line {line}) has {len(cells)} values but "
                            f"the header only {len(samples)} sample columns; {fix}")
        try:
            values = np.array([float(c) if c else np.nan for c in cells], dtype=np.float64)
        except ValueError:
            bad = next(i for i, c in enumerate(cells) if not _is_number(c))
            raise DataError(f"{path}: song {song_id} has a non-numeric value {cells[bad]!r} at "
                            f"{samples[bad]}; {fix}") from None
        if np.isinf(values).any():
            bad = int(np.isinf(values).nonzero()[0][0])
            raise DataError(f"{path}: song {song_id} has an infinite value at {samples[bad]}; {fix}")
        inner = np.isnan(values)
        if inner.any():
            gap = int(inner.nonzero()[0][0])
            raise DataError(f"{path}: song {song_id} has an empty or NaN value at {samples[gap]} "
                            f"inside its sequence (line {line}); only trailing cells may be empty: "
                            f"fill the value, remove the song's row, or restore the file from "
                            f"DEAM_Annotations.zip")
        ids.append(song_id)
        sequences.append(values.astype(np.float32))
    ids = np.asarray(ids, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    return ids[order], [sequences[i] for i in order]


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return not text


def combine_targets(loaded: dict[str, tuple[np.ndarray, list[np.ndarray]]], folder: Path
                    ) -> tuple[np.ndarray, dict[str, list[np.ndarray]], np.ndarray, list[str]]:
    """Pair the targets' sequences song by song -> (ids, values, lengths, notes).

    DEAM's own files give seven full songs one sample more in one target than in the
    other (2002: arousal 230 / valence 229, ...). Such a song keeps the common length
    (the unmatched last sample is dropped) and is listed in a note; a difference of more
    than one sample, or a song missing from a target, is a ``DataError``.
    """
    targets = list(loaded)
    ids = loaded[targets[0]][0]
    for target in targets[1:]:
        if not np.array_equal(loaded[target][0], ids):
            only = sorted(set(loaded[target][0].tolist()) ^ set(ids.tolist()))
            raise DataError(f"{folder}: {targets[0]}.csv and {target}.csv list different songs "
                            f"({len(only)}: {only[:10]}); both must hold the same songs")
    values = {t: list(loaded[t][1]) for t in targets}
    lengths = np.array([min(len(values[t][row]) for t in targets) for row in range(len(ids))],
                       dtype=np.int64)
    trimmed, too_far = [], []
    for row, song_id in enumerate(ids.tolist()):
        counts = {t: len(values[t][row]) for t in targets}
        if len(set(counts.values())) == 1:
            continue
        described = f"{song_id} ({', '.join(f'{t} {n}' for t, n in counts.items())})"
        if max(counts.values()) - lengths[row] > MAX_LENGTH_MISMATCH:
            too_far.append(described)
            continue
        trimmed.append(described)
        for t in targets:
            values[t][row] = values[t][row][:lengths[row]]
    if too_far:
        raise DataError(f"{folder}: the targets' lengths differ by more than "
                        f"{MAX_LENGTH_MISMATCH} sample for song(s) {', '.join(too_far[:10])}; "
                        f"check those rows of {' and '.join(f'{t}.csv' for t in targets)}")
    notes = []
    if trimmed:
        notes.append(f"{len(trimmed)} song(s) have one annotation sample more in one target "
                     f"than in the other; each keeps the common length (the unmatched last "
                     f"sample is dropped): {', '.join(trimmed)}")
    return ids, values, lengths, notes


def read_static(root: str | Path) -> pd.DataFrame | None:
    """Song-level ratings from every ``static_annotations_averaged_songs_*.csv`` (None if none).

    Only ``song_id`` and ``STATIC_COLUMNS`` are read: the 2000_2058 file adds max/min
    columns (one headed ``valence_ max_mean``), which are ignored. The std columns are
    population stds over raters, as DEAM writes them. The columns are taken as labelled;
    ``correct_static_swap`` checks them against the dynamic annotations.
    """
    paths = sorted(p for p in Path(root).rglob(STATIC_GLOB) if not p.name.startswith("._"))
    if not paths:
        return None
    frames = []
    for path in paths:
        table = _read_table(path, "not found", "CSV", skipinitialspace=True)
        missing = [c for c in ["song_id", *STATIC_COLUMNS] if c not in table.columns]
        if missing:
            raise DataError(f"{path}: missing column(s) {missing}; expected song_id, "
                            f"{', '.join(STATIC_COLUMNS)}")
        table = table[["song_id", *STATIC_COLUMNS]]
        try:
            table = table.astype(float)
        except ValueError as error:
            raise DataError(f"{path}: non-numeric value ({error})") from error
        ids = table["song_id"].to_numpy()
        if not np.isfinite(ids).all() or (ids % 1 != 0).any():
            raise DataError(f"{path}: a row has no song_id or one that is not a song number; "
                            f"fix the file or restore it from DEAM_Annotations.zip")
        repeated = table.loc[table["song_id"].duplicated(), "song_id"].astype(int).tolist()
        if repeated:
            raise DataError(f"{path}: song id(s) {sorted(set(repeated))[:10]} listed twice; keep "
                            f"one row per song")
        table["source"] = path.name
        frames.append(table)
    static = pd.concat(frames).astype({"song_id": np.int64})
    if static["song_id"].duplicated().any():
        twice = static[static["song_id"].duplicated(keep=False)]
        dupes = sorted(set(twice["song_id"].tolist()))[:10]
        raise DataError(f"{paths[0].parent}: song id(s) {dupes} appear in two static files "
                        f"({', '.join(sorted(set(twice['source'])))}); keep each song in one")
    return static.drop(columns="source").set_index("song_id").sort_index().astype(float)


def correct_static_swap(static: pd.DataFrame | None, song_ids: np.ndarray,
                        values: dict[str, list[np.ndarray]]) -> tuple[pd.DataFrame | None, list[str]]:
    """Detect, per DEAM id range, static files whose arousal and valence are swapped, from
    the data: the correlation over songs of each static mean with the song's mean dynamic
    annotation, as labelled versus swapped. A range is swapped when the swapped pairing
    correlates better by more than ``SWAP_MARGIN`` (summed over both targets); its columns
    are exchanged and a note says so. With fewer than ``MIN_SWAP_SONGS`` songs, or no clear
    winner, the columns stay as labelled, also with a note. Returns (static, notes).

    DEAM's own ``static_annotations_averaged_songs_1_2000.csv`` has the two swapped for
    ids 2..1000: there ``valence_mean`` correlates 0.956 with the mean dynamic *arousal*
    and ``arousal_mean`` only 0.570 with it; ids 1001..2058 are right (0.94 / 0.91).
    """
    if static is None or "arousal" not in values or "valence" not in values:
        return static, []
    static = static.copy()
    means = pd.DataFrame({t: [float(np.mean(s)) for s in values[t]] for t in ("arousal", "valence")},
                         index=song_ids)
    notes = []
    for name, (low, high) in ID_RANGES.items():
        ids = [s for s in static.index if low <= s <= high and s in means.index]
        if not ids:
            continue
        where = f"static annotations of ids {low}..{high} ({name}, {len(ids)} songs)"
        if len(ids) < MIN_SWAP_SONGS:
            notes.append(f"{where}: too few songs to check arousal against valence from the data "
                         f"(at least {MIN_SWAP_SONGS}); kept as labelled")
            continue
        sa, sv = static.loc[ids, "arousal_mean"], static.loc[ids, "valence_mean"]
        da, dv = means.loc[ids, "arousal"], means.loc[ids, "valence"]
        r = {key: _correlation(x, y) for key, (x, y) in
             {"aa": (sa, da), "vv": (sv, dv), "va": (sv, da), "av": (sa, dv)}.items()}
        as_labelled, swapped = r["aa"] + r["vv"], r["va"] + r["av"]
        detail = (f"r(arousal_mean, dynamic arousal) = {r['aa']:.3f}, r(valence_mean, dynamic "
                  f"valence) = {r['vv']:.3f}; swapped: r(valence_mean, dynamic arousal) = "
                  f"{r['va']:.3f}, r(arousal_mean, dynamic valence) = {r['av']:.3f}")
        if np.isnan(as_labelled) or np.isnan(swapped) or abs(swapped - as_labelled) <= SWAP_MARGIN:
            notes.append(f"{where}: cannot tell from the data whether arousal and valence are "
                         f"swapped ({detail}); kept as labelled")
        elif as_labelled > swapped:
            notes.append(f"{where}: checked against the dynamic annotations, arousal and valence "
                         f"columns are as labelled ({detail})")
        else:
            pairs = [("arousal_mean", "valence_mean"), ("arousal_std", "valence_std")]
            for a, v in pairs:
                static.loc[ids, [a, v]] = static.loc[ids, [v, a]].to_numpy()
            notes.append(f"{where}: arousal and valence columns are swapped in the file and were "
                         f"exchanged back ({detail})")
    return static, notes


def _correlation(x, y) -> float:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def load_deam_annotations(root: str | Path, targets=TARGETS) -> DeamAnnotations:
    """Load DEAM's averaged dynamic annotations (and static ones when present), with the
    quirks of the distributed files handled and listed in ``notes`` (see ``combine_targets``
    and ``correct_static_swap``)."""
    root = Path(root)
    targets = tuple(targets)
    loaded = {t: read_dynamic(dynamic_file(root, t)) for t in targets}
    ids, values, lengths, notes = combine_targets(loaded, dynamic_file(root, targets[0]).parent)
    static, static_notes = correct_static_swap(read_static(root), ids, values)
    return DeamAnnotations(song_ids=ids, values=values, lengths=lengths, static=static,
                           notes=notes + static_notes)


def feature_path(root: str | Path, song_id: int) -> Path:
    """Where DEAM's precomputed features of ``song_id`` live under a DEAM root."""
    root = Path(root)
    folder = _find_dir(root, FEATURES_DIR) or root / FEATURES_DIR
    return folder / f"{int(song_id)}.csv"


def read_frame_features(path: str | Path, frames: np.ndarray, column_order=None
                        ) -> tuple[np.ndarray, list[str]]:
    """Rows of whole-clip ``frames`` from one DEAM ``features/<id>.csv`` -> (values
    (len(frames), 260) float32, column names). ``DataError`` naming the file otherwise.

    With ``column_order`` (the feature set's names) and a file holding exactly those
    columns, the values come in that order whatever the file's."""
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
    if column_order is not None and set(columns) == set(column_order) and len(columns) == len(column_order):
        columns = list(column_order)  # the shipped order, if it differs, becomes the set's
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
        _copy_numbered(audio_path(source, 0).parent, staging / AUDIO_DIR, ".mp3")  # may be empty
        features = _find_dir(source, FEATURES_DIR)
        if features is not None:
            _copy_numbered(features, staging / FEATURES_DIR, ".csv")
        _make_read_only(staging)
    return target


def _copy_numbered(source: Path, target: Path, suffix: str) -> None:
    """Copy ``<id><suffix>`` files (skipping e.g. macOS ``._`` files)."""
    import shutil
    target.mkdir()
    if not source.is_dir():  # e.g. no MEMD_audio/: a run on DEAM's shipped features only
        return
    for path in sorted(source.iterdir()):
        if path.is_file() and path.suffix.lower() == suffix and path.stem.isdigit():
            shutil.copy2(path, target / f"{int(path.stem)}{suffix}")
