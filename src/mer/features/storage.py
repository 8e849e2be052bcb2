"""Feature files: per-shard ``.npz`` files, merged into one memory-mappable ``.npy``.

Songs may differ in length (DEAM's full songs are longer than its 45 s excerpts), so the
frames of all songs are stored one after the other ("ragged"): ``values`` is
(total frames, dims) float32, and the index JSON gives each song's ``lengths``; song ``i``
holds rows ``offsets[i]:offsets[i + 1]``. Row ``j`` of a song is whole-clip frame
``29 + j`` (``frames.FIRST_ANNOTATED_FRAME``), paired with the annotation sample at
``15 + j / 2`` s; emoMusic songs have the 61 frames 29..89. ``FeatureTable.rows`` pads the
songs asked for at the end into (n, longest, dims) for batch code.

Every file is written to a temporary file in the destination directory and moved into
place with ``os.replace``, so a failed or killed job never leaves a partial output that
looks finished.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zipfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mer.errors import AudioError, DataError
from mer.features.compare import check_compare_mode
from mer.features.extract import extract_file_features
from mer.features.registry import feature_set
from mer.frames import FIRST_ANNOTATED_FRAME, N_ANNOTATED_FRAMES
from mer.io import atomic_path

FRAME_CONVENTION = (f"song row j is whole-clip 500 ms frame {FIRST_ANNOTATED_FRAME} + j, "
                    "covering [14.5 + 0.5 j, 15.0 + 0.5 j) s of the clip, paired with the "
                    "annotation sample at 15.0 + 0.5 j s (sample_<ms>ms); see mer.frames")


def annotated_frames(length: int = N_ANNOTATED_FRAMES) -> np.ndarray:
    """Whole-clip frames of a song annotated at ``length`` samples from 15 s: 29, 30, ..."""
    return np.arange(FIRST_ANNOTATED_FRAME, FIRST_ANNOTATED_FRAME + int(length))


def extract_shard(paths: list[Path], song_ids: list[int], set_name: str,
                  out_path: Path, *, lengths: list[int] | None = None,
                  compare_mode: str = "per_segment", progress: bool = True) -> None:
    """Extract ``set_name`` for the annotated frames of each clip into ``out_path`` (.npz).

    Song ``i`` gets its ``lengths[i]`` annotated frames (default 61, emoMusic's), frames
    29, 30, ... (``annotated_frames``). ``paths`` are audio files, or for a set read from
    precomputed files (``deam260``) those files. If any clip fails, the others are still
    processed (so one run reports every bad file), then ``AudioError`` lists each failing
    file with its reason; no ``out_path`` is written. The clips that succeeded are kept in
    ``<out_path>.clips/`` (one ``.npy`` per clip, keyed by set, ComParE mode, the file's
    size and modification time and the feature code), so a rerun after fixing or replacing
    the bad files only extracts those; the folder is removed once the shard is written.
    """
    from tqdm import tqdm

    if len(paths) != len(song_ids):
        raise DataError(f"{len(paths)} input paths but {len(song_ids)} song ids")
    lengths = [N_ANNOTATED_FRAMES] * len(song_ids) if lengths is None else [int(n) for n in lengths]
    if len(lengths) != len(song_ids) or min(lengths, default=1) < 1:
        raise DataError(f"need one positive length per song, got {lengths[:10]}")
    fset = feature_set(set_name)
    out_path = Path(out_path)
    cache = _ClipCache(out_path, set_name, compare_mode)
    parts: list[np.ndarray | None] = []
    columns = None
    failures = []
    clips = tqdm(paths, desc=f"{set_name} features", unit="clip", disable=not progress)
    for row, path in enumerate(clips):
        frames = annotated_frames(lengths[row])
        cached = cache.get(path, song_ids[row])
        if cached is not None and cached.shape == (len(frames), fset.dims):
            parts.append(cached)
            continue
        try:
            values, names = _song_features(path, set_name, frames, compare_mode)
        except (AudioError, DataError) as error:
            failures.append(f"  {path}: {error}" if str(path) not in str(error)
                            else f"  {error}")
            parts.append(None)
            continue
        if columns is not None and names != columns:
            raise DataError(f"{path}: its {set_name} columns differ from the shard's first "
                            f"file's; every file must have the same header")
        columns = names
        parts.append(values)
        if len(paths) > 1:  # a one-clip shard has nothing to keep on failure
            cache.put(path, song_ids[row], values)
    if failures:
        kept = (f"; the {len(paths) - len(failures)} clip(s) that succeeded are kept "
                f"in {cache.folder}, so a rerun only extracts the failed ones"
                if len(failures) < len(paths) and len(paths) > 1 else "")
        raise AudioError(f"{len(failures)} of {len(paths)} clips failed; no "
                         f"{out_path} written{kept}:\n" + "\n".join(failures))
    if columns is None:  # every clip came from the cache
        columns = _set_columns(set_name, paths[0]) if paths else list(fset.columns)
    values = (np.concatenate(parts) if parts else np.zeros((0, fset.dims), np.float32))
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, values=values.astype(np.float32, copy=False),
                 song_ids=np.asarray(song_ids, dtype=np.int64),
                 lengths=np.asarray(lengths, dtype=np.int64),
                 columns=np.asarray(columns, dtype=str), feature_set=np.asarray(set_name))
    cache.clear()


def _song_features(path: Path, set_name: str, frames: np.ndarray, compare_mode: str
                   ) -> tuple[np.ndarray, list[str]]:
    """(len(frames), dims) float32 features of one song, and the column names."""
    fset = feature_set(set_name)
    if fset.precomputed:
        from mer.data.deam import read_frame_features
        values, columns = read_frame_features(path, frames, fset.columns)
        if values.shape[1] != fset.dims:
            raise DataError(f"{path}: {values.shape[1]} feature columns, {set_name} has "
                            f"{fset.dims}")
        return values, columns
    return (extract_file_features(path, [set_name], frames=frames,
                                  compare_mode=compare_mode)[set_name], list(fset.columns))


def _set_columns(set_name: str, path: Path) -> list[str]:
    fset = feature_set(set_name)
    if fset.precomputed:
        from mer.data.deam import read_frame_features
        return read_frame_features(path, annotated_frames(1), fset.columns)[1]
    return list(fset.columns)


class _ClipCache:
    """Per-clip features of a shard that has not been written yet (see ``extract_shard``)."""

    def __init__(self, out_path: Path, set_name: str, compare_mode: str):
        self.folder = out_path.with_name(out_path.name + ".clips")
        self.prefix = f"{set_name}-{compare_mode}-{_feature_code_digest()}"

    def _path(self, audio_path: Path, song_id: int) -> Path | None:
        try:
            stat = Path(audio_path).stat()
        except OSError:
            return None
        return self.folder / f"{song_id}-{self.prefix}-{stat.st_size}-{stat.st_mtime_ns}.npy"

    def get(self, audio_path: Path, song_id: int) -> np.ndarray | None:
        path = self._path(audio_path, song_id)
        if path is None or not path.is_file():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):  # a damaged cache entry is simply recomputed
            return None

    def put(self, audio_path: Path, song_id: int, values: np.ndarray) -> None:
        path = self._path(audio_path, song_id)
        if path is None:
            return
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.save(f, values)

    def clear(self) -> None:
        if self.folder.is_dir():
            shutil.rmtree(self.folder, ignore_errors=True)


@lru_cache(maxsize=1)
def _feature_code_digest() -> str:
    """Hash of the code that computes features: a cached clip from older code is not reused."""
    import mer.audio
    import mer.features
    digest = hashlib.sha1()
    package = Path(mer.features.__file__).parent
    for source in [Path(mer.audio.__file__), *sorted(package.glob("*.py"))]:
        digest.update(source.read_bytes())
    return digest.hexdigest()[:10]


def extract_files(audio_paths: list[Path], set_name: str, out_path: Path, *,
                  annotated_only: bool = False, compare_mode: str = "per_segment",
                  progress: bool = True) -> dict[str, np.ndarray]:
    """Extract ``set_name`` for any audio files into one ``.npz`` (``mer features extract``).

    Every whole 500 ms frame of each file (or only the 61 annotated frames 29..89 if
    ``annotated_only``). The file holds, for ``n`` frames over all files in order:
    ``values`` (n, dims) float32; ``file_index`` (n,) into ``files``; ``frame`` (n,) the
    whole-clip frame index k; ``start_s`` / ``end_s`` (n,) the 500 ms it covers, in
    seconds (``end_s`` is the time stamp an annotation would carry); ``files``,
    ``columns``, ``feature_set``, ``compare_mode``. If any file fails, every failure is
    listed in one ``AudioError`` and nothing is written. Returns the arrays written.
    """
    from tqdm import tqdm

    from mer.frames import annotated_frame_indices, frame_bounds

    fset = feature_set(set_name)
    check_compare_mode(compare_mode)
    if not audio_paths:
        raise DataError("no audio files given")
    parts, failures = [], []
    for path in tqdm(audio_paths, desc=f"{set_name} features", unit="file",
                     disable=not progress):
        try:
            values = extract_file_features(path, [set_name], annotated_only=annotated_only,
                                           compare_mode=compare_mode)[set_name]
            parts.append((values, annotated_frame_indices() if annotated_only
                          else np.arange(len(values))))
        except AudioError as error:
            failures.append(f"  {error}" if str(path) in str(error) else f"  {path}: {error}")
    if failures:
        raise AudioError(f"{len(failures)} of {len(audio_paths)} files failed; no {out_path} "
                         "written:\n" + "\n".join(failures))
    frames = np.concatenate([k for _, k in parts])
    start, end = frame_bounds(frames)
    arrays = {"values": np.concatenate([v for v, _ in parts]).astype(np.float32),
              "file_index": np.repeat(np.arange(len(parts)), [len(k) for _, k in parts]),
              "frame": frames, "start_s": start.astype(np.float64),
              "end_s": end.astype(np.float64),
              "files": np.asarray([str(p) for p in audio_paths], dtype=str),
              "columns": np.asarray(fset.columns, dtype=str),
              "feature_set": np.asarray(set_name), "compare_mode": np.asarray(compare_mode)}
    with atomic_path(Path(out_path)) as tmp, open(tmp, "wb") as f:
        np.savez(f, **arrays)
    return arrays


def _read_shard_header(path: Path) -> tuple[str, list[str], np.ndarray, np.ndarray, int]:
    """Set name, columns, song ids, lengths and dims, without reading the values."""
    with np.load(path, allow_pickle=False) as shard:
        if "lengths" not in shard.files:
            raise DataError(f"{path}: a feature shard from an older mer (no lengths); delete "
                            f"it and extract again")
        header = (str(shard["feature_set"]), shard["columns"].tolist(),
                  shard["song_ids"].astype(np.int64), shard["lengths"].astype(np.int64))
    with zipfile.ZipFile(path) as archive, archive.open("values.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape = tuple(read_header(member)[0])
    if shape[0] != header[3].sum():
        raise DataError(f"{path}: {shape[0]} frames stored but the lengths add up to "
                        f"{header[3].sum()}; delete it and extract again")
    return (*header, int(shape[1]))


def merge_shards(shard_paths: list[Path], values_path: Path, index_path: Path) -> None:
    """Concatenate shards, sorted by song id, into ``values_path`` (.npy, memory-mappable,
    ragged: see the module docstring) and ``index_path`` (.json). ``DataError`` if shards
    disagree or a song id repeats.

    The output is preallocated on disk and filled shard by shard, so memory never holds
    more than one shard.
    """
    if not shard_paths:
        raise DataError("merge_shards: no shard files given")
    headers = [_read_shard_header(Path(p)) for p in shard_paths]
    set_name, columns, _, _, dims = headers[0]
    for path, (name, cols, _, _, width) in zip(shard_paths, headers):
        if name != set_name or cols != columns or width != dims:
            raise DataError(f"{path}: feature set {name!r} / {len(cols)} columns differ from "
                            f"{shard_paths[0]} ({set_name!r}, {len(columns)} columns)")
    all_ids = np.concatenate([h[2] for h in headers])
    all_lengths = np.concatenate([h[3] for h in headers])
    _check_unique_ids(all_ids, shard_paths, headers)
    order = np.argsort(all_ids, kind="stable")
    offsets = np.concatenate([[0], np.cumsum(all_lengths[order])])
    start_of = np.empty_like(order)
    start_of[order] = offsets[:-1]  # output row where each concatenated song starts
    _write_values(shard_paths, headers, start_of, (int(offsets[-1]), dims), Path(values_path))
    index = {"feature_set": set_name, "dims": len(columns), "song_ids": all_ids[order].tolist(),
             "lengths": all_lengths[order].tolist(), "columns": columns,
             "first_frame": FIRST_ANNOTATED_FRAME, "frame_convention": FRAME_CONVENTION}
    with atomic_path(Path(index_path)) as tmp:
        tmp.write_text(json.dumps(index, indent=1))


def _check_unique_ids(all_ids, shard_paths, headers) -> None:
    ids, counts = np.unique(all_ids, return_counts=True)
    repeated = ids[counts > 1]
    if repeated.size:
        holders = [str(p) for p, h in zip(shard_paths, headers) if np.isin(h[2], repeated).any()]
        raise DataError(f"song id(s) {repeated.tolist()[:10]} appear more than once, in "
                        f"{', '.join(holders)}")


def _write_values(shard_paths, headers, start_of, shape, values_path: Path) -> None:
    with atomic_path(values_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        song = 0
        for path, header in zip(shard_paths, headers):
            with np.load(path, allow_pickle=False) as shard:
                values = shard["values"]
            position = 0
            for length in header[3]:
                out[start_of[song]:start_of[song] + length] = values[position:position + length]
                position += length
                song += 1
        out.flush()
        del out


@dataclass
class FeatureTable:
    """Merged features of a dataset: every song's frames, one after the other.

    ``values`` is (total frames, dims), usually memory-mapped; song ``song_ids[i]`` holds
    ``lengths[i]`` frames starting at row ``offsets[i]``.
    """

    values: np.ndarray
    song_ids: np.ndarray
    columns: list[str]
    feature_set: str
    lengths: np.ndarray

    def __post_init__(self):
        self.song_ids = np.asarray(self.song_ids, dtype=np.int64)
        self.lengths = np.asarray(self.lengths, dtype=np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.lengths)])
        self._position = {int(s): i for i, s in enumerate(self.song_ids)}
        if len(self.lengths) != len(self.song_ids) or self.offsets[-1] != len(self.values):
            raise DataError(f"{self.feature_set}: {len(self.values)} frames for "
                            f"{len(self.song_ids)} songs of lengths summing to {self.offsets[-1]}")

    @classmethod
    def from_padded(cls, values: np.ndarray, song_ids, columns: list[str], feature_set: str,
                    lengths=None) -> "FeatureTable":
        """From an (n_songs, T, dims) array, song ``i`` using its first ``lengths[i]`` frames."""
        values = np.asarray(values)
        lengths = np.full(len(values), values.shape[1]) if lengths is None else np.asarray(lengths)
        flat = np.concatenate([v[:n] for v, n in zip(values, lengths)]) if len(values) else \
            np.zeros((0, values.shape[-1]), values.dtype)
        return cls(flat, song_ids, columns, feature_set, lengths)

    def _rows_of(self, song_ids) -> list[int]:
        missing = [int(s) for s in song_ids if int(s) not in self._position]
        if missing:
            raise DataError(f"song id(s) {missing[:10]} have no {self.feature_set} features")
        return [self._position[int(s)] for s in song_ids]

    def lengths_of(self, song_ids) -> np.ndarray:
        """Number of frames of each of ``song_ids``."""
        return self.lengths[self._rows_of(song_ids)]

    def song(self, song_id: int) -> np.ndarray:
        """(length, dims) frames of one song (a view into ``values``)."""
        row = self._rows_of([song_id])[0]
        return self.values[self.offsets[row]:self.offsets[row + 1]]

    def rows(self, song_ids) -> np.ndarray:
        """(len(song_ids), longest, dims) float32 frames of the songs, in the order given,
        zero-padded at the end (``lengths_of`` says how many frames are real)."""
        rows = self._rows_of(song_ids)
        if len(self.lengths) and (self.lengths == self.lengths[0]).all():  # emoMusic: one read
            by_song = self.values.reshape(len(self.lengths), int(self.lengths[0]), -1)
            return np.asarray(by_song[rows], dtype=np.float32)
        longest = int(self.lengths[rows].max()) if rows else 0
        out = np.zeros((len(rows), longest, self.values.shape[-1]), dtype=np.float32)
        for i, row in enumerate(rows):
            out[i, :self.lengths[row]] = self.values[self.offsets[row]:self.offsets[row + 1]]
        return out


def load_features(values_path: Path, index_path: Path, *, mmap: bool = True) -> FeatureTable:
    """Read what ``merge_shards`` wrote; ``DataError`` if the two files disagree."""
    index = json.loads(Path(index_path).read_text())
    if "lengths" not in index:
        raise DataError(f"{index_path}: features from an older mer (fixed 61 frames); delete "
                        f"{values_path} and {index_path} and run the pipeline again")
    values = np.load(values_path, mmap_mode="r" if mmap else None, allow_pickle=False)
    expected = (int(sum(index["lengths"])), index["dims"])
    if values.shape != expected:
        raise DataError(f"{values_path}: shape {values.shape} does not match {index_path} "
                        f"({expected})")
    return FeatureTable(values, np.asarray(index["song_ids"], dtype=np.int64),
                        list(index["columns"]), index["feature_set"],
                        np.asarray(index["lengths"], dtype=np.int64))
