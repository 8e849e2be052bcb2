"""``mer data check``: validate a dataset copy before a long run, reporting every problem.

A check never stops at the first problem: it collects them all into a ``CheckReport``
(songs with both audio and annotations, annotated songs without audio, audio without
annotations, column / NaN / range problems) whose ``format()`` is the readable report.

* Problems (exit 1): a missing or malformed annotation file, NaN inside a sequence, a value
  outside its scale (continuous [-1, 1], static 1..9, std >= 0), an annotated song without
  audio, an empty clip, and with ``decode`` a clip that cannot be decoded or is too short.
* Notes (exit 0): clips without annotations (the pipeline skips them, counted here), a song
  count other than the full set's (744 emoMusic, 1802 DEAM).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.errors import DataError, MerError

log = logging.getLogger(__name__)

DATASETS = ("emomusic", "deam")
FULL_SIZE = {"emomusic": 744, "deam": 1802}
CONTINUOUS_RANGE = (-1.0, 1.0)
STATIC_RANGE = (1.0, 9.0)
SHOW = 20  # ids listed per problem line


@dataclass
class CheckReport:
    root: Path
    dataset: str
    annotations_dir: Path | None = None
    audio_dir: Path | None = None
    complete: list[int] = field(default_factory=list)
    missing_audio: list[int] = field(default_factory=list)
    missing_annotations: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def format(self) -> str:
        lines = [f"mer data check: {self.root} ({self.dataset})",
                 f"  annotations: {self.annotations_dir or 'not found'}",
                 f"  audio:       {self.audio_dir or 'not found'}",
                 f"  complete:    {len(self.complete)} song(s) with both audio and annotations"]
        if self.problems:
            lines.append(f"  problems ({len(self.problems)}):")
            lines += [f"    - {p}" for p in self.problems]
        if self.notes:
            lines.append("  notes:")
            lines += [f"    - {n}" for n in self.notes]
        lines.append("  result: OK" if self.ok else
                     "  result: FAILED - fix the problems above, then run `mer data check` again")
        return "\n".join(lines)


def _ids(ids) -> str:
    ids = sorted(int(i) for i in ids)
    return ", ".join(map(str, ids[:SHOW])) + (f", ... ({len(ids)} in all)" if len(ids) > SHOW else "")


def _range_problem(path: Path, name: str, values: np.ndarray, song_ids, low: float, high: float):
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values) | (values < low) | (values > high)
    rows = bad.reshape(len(values), -1).any(axis=1) if values.ndim else bad
    if rows.any():
        return (f"{path}: {name} outside [{low:g}, {high:g}] or not a number for song(s) "
                f"{_ids(np.asarray(song_ids)[rows])}; values range {np.nanmin(values):g}..{np.nanmax(values):g}")
    return None


def _audio_ids(folder: Path | None) -> tuple[set[int], list[str]]:
    from mer.data.download import SONG_FILE
    if folder is None or not folder.is_dir():
        return set(), []
    ids, empty = set(), []
    for path in folder.iterdir():
        match = SONG_FILE.match(path.name)
        if match:
            ids.add(int(match.group(1)))
            if path.stat().st_size == 0:
                empty.append(path.name)
    return ids, empty


def _compare(report: CheckReport, annotated: set[int], audio: set[int], empty: list[str]) -> None:
    report.complete = sorted(annotated & audio)
    report.missing_audio = sorted(annotated - audio)
    report.missing_annotations = sorted(audio - annotated)
    if report.missing_audio:
        report.problems.append(f"{len(report.missing_audio)} annotated song(s) have no audio in "
                               f"{report.audio_dir}: {_ids(report.missing_audio)}")
    if report.missing_annotations:
        report.notes.append(f"{len(report.missing_annotations)} clip(s) have no annotations and "
                            f"are skipped by the pipeline: {_ids(report.missing_annotations)}")
    if empty:
        report.problems.append(f"{len(empty)} clip(s) are empty (0 bytes): {', '.join(sorted(empty)[:SHOW])}")
    full = FULL_SIZE[report.dataset]
    if annotated and len(report.complete) != full:
        report.notes.append(f"{len(report.complete)} complete songs; the full {report.dataset} "
                            f"set has {full}")


def _decode(report: CheckReport, paths: dict[int, Path], min_seconds: dict[int, float]) -> None:
    from mer.audio import load_audio
    from mer.frames import SAMPLE_RATE
    for song_id, path in sorted(paths.items()):
        try:
            seconds = load_audio(path).size / SAMPLE_RATE
        except MerError as error:
            report.problems.append(str(error))
            continue
        if seconds < min_seconds[song_id] - 1e-6:
            report.problems.append(f"{path}: {seconds:.2f} s of audio, but its annotations run to "
                                   f"{min_seconds[song_id]:.1f} s")


def check_emomusic(root: str | Path, *, decode: bool = False) -> CheckReport:
    from mer.data.download import find_emomusic_parts
    from mer.data.emomusic import (STATIC_ANNOTATIONS, SONGS_INFO, TARGETS, continuous_file,
                                   read_continuous, read_songs_info)
    from mer.frames import ANNOTATION_END_S

    report = CheckReport(Path(root), "emomusic")
    try:
        report.annotations_dir, report.audio_dir = find_emomusic_parts(root)
    except DataError as error:
        report.problems.append(str(error))
        return report
    folder = report.annotations_dir
    ids: dict[str, set[int]] = {}
    for target in TARGETS:
        path = folder / continuous_file(target)
        try:
            table = read_continuous(path)
        except DataError as error:
            report.problems.append(str(error))
            continue
        ids[target] = set(table.index.tolist())
        problem = _range_problem(path, "value", table.to_numpy(), table.index, *CONTINUOUS_RANGE)
        report.problems += [problem] if problem else []
        std_path = folder / continuous_file(target, "std")
        if std_path.is_file():
            try:
                std = read_continuous(std_path)
                problem = _range_problem(std_path, "std", std.to_numpy(), std.index, 0.0, np.inf)
                report.problems += [problem] if problem else []
            except DataError as error:
                report.problems.append(str(error))
    if len(ids) == 2 and ids["arousal"] != ids["valence"]:
        report.problems.append(f"{folder}: arousal and valence files list different songs: "
                               f"{_ids(ids['arousal'] ^ ids['valence'])}")
    static_path = folder / STATIC_ANNOTATIONS
    if static_path.is_file():
        static = pd.read_csv(static_path, skipinitialspace=True)
        static.columns = [str(c).strip() for c in static.columns]
        columns = ["mean_arousal", "std_arousal", "mean_valence", "std_valence"]
        missing = [c for c in ["song_id", *columns] if c not in static.columns]
        if missing:
            report.problems.append(f"{static_path}: missing column(s) {missing}")
        else:
            for column in ("mean_arousal", "mean_valence"):
                problem = _range_problem(static_path, column, static[column].to_numpy(),
                                         static["song_id"], *STATIC_RANGE)
                report.problems += [problem] if problem else []
    info_path = folder / SONGS_INFO
    if info_path.is_file():
        try:
            info = read_songs_info(info_path)
            split = info.get("Mediaeval 2013 set")
            if split is not None:
                odd = split[~split.isin(["development", "evaluation"])]
                if len(odd):
                    report.problems.append(f"{info_path}: 'Mediaeval 2013 set' must be development "
                                           f"or evaluation; song(s) {_ids(odd.index)} have "
                                           f"{sorted(set(odd))[:3]}")
        except (KeyError, ValueError) as error:
            report.problems.append(f"{info_path}: cannot read ({error})")
    annotated = set.intersection(*ids.values()) if ids else set()
    audio, empty = _audio_ids(report.audio_dir)
    _compare(report, annotated, audio, empty)
    if decode and report.complete:
        paths = {s: report.audio_dir / f"{s}.mp3" for s in report.complete}
        _decode(report, paths, {s: ANNOTATION_END_S for s in report.complete})
    return report


def check_deam(root: str | Path, *, decode: bool = False) -> CheckReport:
    from mer.data import deam

    root = Path(root)
    report = CheckReport(root, "deam")
    sequences: dict[str, dict[int, np.ndarray]] = {}
    for target in deam.TARGETS:
        try:
            path = deam.dynamic_file(root, target)
            report.annotations_dir = path.parent
            ids, values = deam.read_dynamic(path)
        except DataError as error:
            report.problems.append(str(error))
            continue
        sequences[target] = dict(zip(ids.tolist(), values))
        flat = np.concatenate(values) if values else np.zeros(0)
        owners = np.repeat(ids, [len(v) for v in values])
        if flat.size and ((flat < -1) | (flat > 1)).any():
            bad = sorted(set(owners[(flat < -1) | (flat > 1)].tolist()))
            report.problems.append(f"{path}: value outside [-1, 1] for song(s) {_ids(bad)}")
    if len(sequences) == 2:
        a, v = sequences["arousal"], sequences["valence"]
        if set(a) != set(v):
            report.problems.append(f"{report.annotations_dir}: arousal.csv and valence.csv list "
                                   f"different songs: {_ids(set(a) ^ set(v))}")
        uneven = [s for s in set(a) & set(v) if len(a[s]) != len(v[s])]
        if uneven:
            report.problems.append(f"{report.annotations_dir}: arousal and valence lengths differ "
                                   f"for song(s) {_ids(uneven)}")
    try:
        static = deam.read_static(root)
    except DataError as error:
        report.problems.append(str(error))
        static = None
    if static is None:
        report.notes.append("no static_annotations_averaged_songs_*.csv found (optional)")
    else:
        for column in ("valence_mean", "arousal_mean"):
            problem = _range_problem(root, f"static {column}", static[column].to_numpy(),
                                     static.index, *STATIC_RANGE)
            report.problems += [problem] if problem else []
    annotated = set.intersection(*(set(s) for s in sequences.values())) if sequences else set()
    report.audio_dir = deam.audio_path(root, 0).parent
    audio, empty = _audio_ids(report.audio_dir)
    if not report.audio_dir.is_dir():
        report.problems.append(f"{root}: no {deam.AUDIO_DIR} folder; unzip DEAM_audio.zip into {root}")
        report.audio_dir = None
    _compare(report, annotated, audio, empty)
    if sequences:
        lengths = [len(next(iter(sequences.values()))[s]) for s in annotated]
        if lengths:
            report.notes.append(f"annotated lengths: {min(lengths)}..{max(lengths)} samples "
                                f"(variable length: full songs are longer than the 45 s excerpts)")
    features = deam._find_dir(root, deam.FEATURES_DIR)
    if features is None:
        report.notes.append("no features/ folder (optional: DEAM's features.zip, the deam260 set)")
    else:
        lacking = sorted(s for s in annotated if not (features / f"{s}.csv").is_file())
        report.notes.append(f"features/: {len(annotated) - len(lacking)} of {len(annotated)} annotated "
                            f"song(s) have a feature file (the deam260 set needs all)"
                            + (f"; missing: {_ids(lacking)}" if lacking else ""))
    if decode and report.complete:
        reference = next(iter(sequences.values()))
        paths = {s: report.audio_dir / f"{s}.mp3" for s in report.complete}
        ends = {s: (deam.FIRST_SAMPLE_MS + deam.SAMPLE_STEP_MS * (len(reference[s]) - 1)) / 1000
                for s in report.complete}
        _decode(report, paths, ends)
    return report


def check_dataset(root: str | Path, dataset: str = "emomusic", *, decode: bool = False) -> CheckReport:
    """Check a dataset copy in the ``dataset`` layout; see the module docstring."""
    root = Path(root)
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset layout {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give the folder holding the {dataset} files")
    return (check_emomusic if dataset == "emomusic" else check_deam)(root, decode=decode)


def local_fingerprint(path: str | Path) -> str:
    """A cheap fingerprint (count, bytes, newest mtime) of a user's copy: Snakemake params
    change, and the import reruns, when a file is added, removed or rewritten."""
    path = Path(path)
    if not path.is_dir():
        return "missing"
    files = [p.stat() for p in path.rglob("*") if p.is_file()]
    return f"{len(files)} files, {sum(s.st_size for s in files)} bytes, " \
           f"newest {max((s.st_mtime_ns for s in files), default=0)}"


def _import_checked(source, target, dataset: str, build, origin: str) -> CheckReport:
    """Check ``source`` in the ``dataset`` layout, then ``build(source, target)``; a copy
    that fails the check is refused with its report (``origin`` names where it came from)."""
    report = check_dataset(source, dataset)
    if not report.ok:
        raise DataError(f"{origin} at {source} does not pass the check:\n{report.format()}")
    build(source, target)
    return report


def import_local_dataset(source: str | Path, target: str | Path) -> CheckReport:
    """Check a user's emoMusic-layout copy and copy it, read-only, to ``target``."""
    from mer.data.download import build_emomusic_root
    return _import_checked(source, target, "emomusic",
                           lambda src, dst: build_emomusic_root(src, dst, copy=True),
                           "datasets.local.path: the copy")


def import_deam_dataset(source: str | Path, target: str | Path, *,
                        origin: str = "datasets.deam.path: the copy") -> CheckReport:
    """Check an unzipped DEAM and copy what the pipeline reads, read-only, to ``target``."""
    from mer.data.deam import build_deam_root
    return _import_checked(source, target, "deam", build_deam_root, origin)


def extract_deam(archives: list[str | Path], target: str | Path) -> Path:
    """Verify, extract and check the downloaded DEAM archives, then lay them out at ``target``."""
    from mer.data.download import extract_archives

    def build(scratch: Path, destination: Path) -> Path:
        report = import_deam_dataset(scratch, destination, origin="the downloaded DEAM archives")
        log.info("%s", report.format())
        return destination
    return extract_archives(archives, target, build)
