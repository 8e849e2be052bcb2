"""Feature files: per-shard ``.npz`` files, merged into one memory-mappable ``.npy``.

Shapes: ``values`` is (n_songs, 61, dims) float32; row ``j`` of axis 1 is whole-clip
frame ``29 + j`` (``frames.annotated_frame_indices``), the frame paired with annotation
sample ``sample_{15000 + 500 j}ms``. Every file is written to a temporary file in the
destination directory and moved into place with ``os.replace``, so a failed or killed job
never leaves a partial output that looks finished.
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

FRAME_CONVENTION = (f"values[:, j] is whole-clip 500 ms frame {FIRST_ANNOTATED_FRAME} + j, "
                    "covering [14.5 + 0.5 j, 15.0 + 0.5 j) s of the clip, paired with the "
                    "annotation sample at 15.0 + 0.5 j s (sample_<ms>ms); see mer.frames")


def extract_shard(audio_paths: list[Path], song_ids: list[int], set_name: str,
                  out_path: Path, *, compare_mode: str = "per_segment",
                  progress: bool = True) -> None:
    """Extract ``set_name`` for the annotated frames of each clip into ``out_path`` (.npz).

    If any clip fails, the others are still processed (so one run reports every bad
    file), then ``AudioError`` lists each failing file with its reason; no ``out_path`` is
    written. The clips that succeeded are kept in ``<out_path>.clips/`` (one ``.npy`` per
    clip, keyed by set, ComParE mode, the file's size and modification time and the
    feature code), so a rerun after fixing or replacing the bad files only extracts
    those; the folder is removed once the shard is written.
    """
    from tqdm import tqdm

    if len(audio_paths) != len(song_ids):
        raise DataError(f"{len(audio_paths)} audio paths but {len(song_ids)} song ids")
    fset = feature_set(set_name)
    out_path = Path(out_path)
    cache = _ClipCache(out_path, set_name, compare_mode)
    values = np.zeros((len(song_ids), N_ANNOTATED_FRAMES, fset.dims), dtype=np.float32)
    failures = []
    clips = tqdm(audio_paths, desc=f"{set_name} features", unit="clip", disable=not progress)
    for row, path in enumerate(clips):
        cached = cache.get(path, song_ids[row])
        if cached is not None and cached.shape == values.shape[1:]:
            values[row] = cached
            continue
        try:
            values[row] = extract_file_features(path, [set_name], annotated_only=True,
                                                compare_mode=compare_mode)[set_name]
        except AudioError as error:
            failures.append(f"  {path}: {error}" if str(path) not in str(error)
                            else f"  {error}")
            continue
        if len(audio_paths) > 1:  # a one-clip shard has nothing to keep on failure
            cache.put(path, song_ids[row], values[row])
    if failures:
        kept = (f"; the {len(audio_paths) - len(failures)} clip(s) that succeeded are kept "
                f"in {cache.folder}, so a rerun only extracts the failed ones"
                if len(failures) < len(audio_paths) and len(audio_paths) > 1 else "")
        raise AudioError(f"{len(failures)} of {len(audio_paths)} clips failed; no "
                         f"{out_path} written{kept}:\n" + "\n".join(failures))
    with atomic_path(out_path) as tmp, open(tmp, "wb") as f:
        np.savez(f, values=values, song_ids=np.asarray(song_ids, dtype=np.int64),
                 columns=np.asarray(fset.columns, dtype=str), feature_set=np.asarray(set_name))
    cache.clear()


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


def _read_shard_header(path: Path) -> tuple[str, list[str], np.ndarray, tuple[int, ...]]:
    """Set name, columns, song ids and values shape, without reading the values."""
    with np.load(path, allow_pickle=False) as shard:
        header = (str(shard["feature_set"]), shard["columns"].tolist(),
                  shard["song_ids"].astype(np.int64))
    with zipfile.ZipFile(path) as archive, archive.open("values.npy") as member:
        version = np.lib.format.read_magic(member)
        read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                       else np.lib.format.read_array_header_2_0)
        shape = tuple(read_header(member)[0])
    return (*header, shape)


def merge_shards(shard_paths: list[Path], values_path: Path, index_path: Path) -> None:
    """Concatenate shards, sorted by song id, into ``values_path`` (.npy, memory-mappable)
    and ``index_path`` (.json). ``DataError`` if shards disagree or a song id repeats.

    The output is preallocated on disk and filled shard by shard, so memory never holds
    more than one shard.
    """
    if not shard_paths:
        raise DataError("merge_shards: no shard files given")
    headers = [_read_shard_header(Path(p)) for p in shard_paths]
    set_name, columns, _, shape = headers[0]
    for path, (name, cols, _, shp) in zip(shard_paths, headers):
        if name != set_name or cols != columns or shp[1:] != shape[1:]:
            raise DataError(f"{path}: feature set {name!r} / {len(cols)} columns / frames "
                            f"{shp[1:]} differ from {shard_paths[0]} ({set_name!r}, "
                            f"{len(columns)} columns, {shape[1:]})")
    all_ids = np.concatenate([h[2] for h in headers])
    _check_unique_ids(all_ids, shard_paths, headers)
    order = np.argsort(all_ids, kind="stable")
    destination = np.empty_like(order)
    destination[order] = np.arange(order.size)  # output row of each concatenated row
    _write_values(shard_paths, destination, (all_ids.size, *shape[1:]), Path(values_path))
    index = {"feature_set": set_name, "dims": len(columns),
             "song_ids": all_ids[order].tolist(), "columns": columns,
             "n_frames": int(shape[1]), "first_frame": FIRST_ANNOTATED_FRAME,
             "frame_convention": FRAME_CONVENTION}
    with atomic_path(Path(index_path)) as tmp:
        tmp.write_text(json.dumps(index, indent=1))


def _check_unique_ids(all_ids, shard_paths, headers) -> None:
    ids, counts = np.unique(all_ids, return_counts=True)
    repeated = ids[counts > 1]
    if repeated.size:
        holders = [str(p) for p, h in zip(shard_paths, headers) if np.isin(h[2], repeated).any()]
        raise DataError(f"song id(s) {repeated.tolist()[:10]} appear more than once, in "
                        f"{', '.join(holders)}")


def _write_values(shard_paths, destination, shape, values_path: Path) -> None:
    with atomic_path(values_path) as tmp:
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.float32, shape=shape)
        start = 0
        for path in shard_paths:
            with np.load(path, allow_pickle=False) as shard:
                values = shard["values"]
            rows = destination[start:start + len(values)]
            out[np.sort(rows)] = values[np.argsort(rows)]
            start += len(values)
        out.flush()
        del out


@dataclass
class FeatureTable:
    """Merged features: ``values`` (songs × frames × dims, memory-mapped), one row per id."""

    values: np.ndarray
    song_ids: np.ndarray
    columns: list[str]
    feature_set: str

    def rows(self, song_ids) -> np.ndarray:
        """(len(song_ids), frames, dims) array of the given songs, in the order given."""
        position = {int(s): i for i, s in enumerate(self.song_ids)}
        missing = [int(s) for s in song_ids if int(s) not in position]
        if missing:
            raise DataError(f"song id(s) {missing[:10]} have no {self.feature_set} features")
        return np.asarray(self.values[[position[int(s)] for s in song_ids]])


def load_features(values_path: Path, index_path: Path, *, mmap: bool = True) -> FeatureTable:
    """Read what ``merge_shards`` wrote; ``DataError`` if the two files disagree."""
    index = json.loads(Path(index_path).read_text())
    values = np.load(values_path, mmap_mode="r" if mmap else None, allow_pickle=False)
    expected = (len(index["song_ids"]), index["n_frames"], index["dims"])
    if values.shape != expected:
        raise DataError(f"{values_path}: shape {values.shape} does not match {index_path} "
                        f"({expected})")
    return FeatureTable(values, np.asarray(index["song_ids"], dtype=np.int64),
                        list(index["columns"]), index["feature_set"])
