"""``mer data check``: validate a dataset copy before a long run, reporting every problem.

A check never stops at the first problem: it collects them all into a ``CheckReport``
(songs with both audio and annotations, annotated songs without audio, audio without
annotations, column / NaN / range problems) whose ``format()`` is the readable report.

* Problems (exit 1): a missing or malformed annotation file, NaN inside a sequence, a
  repeated song id, a value outside its scale (continuous [-1, 1], static 1..9, std >= 0),
  an annotated song without audio (unless ``allow_missing_audio``, or for DEAM when the
  copy has no audio at all or the run needs none), an empty clip, and with ``decode`` a
  clip that cannot be decoded or is shorter than its annotations need.
* Notes (exit 0): clips without annotations (the pipeline skips them, counted here), a song
  count other than the full set's (744 emoMusic, 1802 DEAM), and DEAM's quirks as
  distributed, each handled by the loader (``mer.data.deam``): songs one sample longer in
  one target, the static files' arousal/valence swap detected from the data, a copy
  without audio (only the shipped ``deam260`` features can be used then).

``mer.data.imports`` runs this check for the pipeline before it copies a dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from mer.errors import DataError, MerError

DATASETS = ("emomusic", "deam")
FULL_SIZE = {"emomusic": 744, "deam": 1802}
CONTINUOUS_RANGE = (-1.0, 1.0)
STATIC_RANGE = (1.0, 9.0)
SHOW = 20  # ids listed per problem line
ALLOW_KEY = {"emomusic": "datasets.local.allow_missing_audio",
             "deam": "datasets.deam.allow_missing_audio"}


@dataclass(frozen=True)
class AudioPolicy:
    """What a check asks of the audio. ``needed``: True when the run computes features
    from audio, False when it reads only shipped features (DEAM's deam260), None for the
    command line (DEAM: a copy without any audio is then a note). ``allow_missing``: songs
    without audio are left out (a note) instead of failing the check."""

    needed: bool | None = None
    allow_missing: bool = False


@dataclass
class CheckReport:
    root: Path
    dataset: str
    annotations_dir: Path | None = None
    audio_dir: Path | None = None
    audio_files: dict[int, Path] = field(default_factory=dict)  # song id -> its clip
    complete: list[int] = field(default_factory=list)
    missing_audio: list[int] = field(default_factory=list)
    missing_annotations: list[int] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    used: list[int] = field(default_factory=list)  # songs the pipeline will use

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


def _audio_ids(folder: Path | None) -> tuple[dict[int, Path], list[str]]:
    """(song id -> its ``<id>.mp3`` file, names of empty clips) in ``folder``."""
    from mer.data.download import SONG_FILE
    if folder is None or not folder.is_dir():
        return {}, []
    ids, empty = {}, []
    for path in sorted(folder.iterdir()):
        match = SONG_FILE.match(path.name)
        if match and path.is_file():
            ids[int(match.group(1))] = path
            if path.stat().st_size == 0:
                empty.append(path.name)
    return ids, empty


def _compare(report: CheckReport, annotated: set[int], files: dict[int, Path], empty: list[str],
             policy: AudioPolicy = AudioPolicy()) -> None:
    report.audio_files = files
    audio = set(files)
    report.complete = sorted(annotated & audio)
    report.missing_audio = sorted(annotated - audio)
    report.missing_annotations = sorted(audio - annotated)
    where = report.audio_dir or "the dataset folder"
    key = ALLOW_KEY[report.dataset]
    report.used = report.complete
    if policy.needed is False:
        report.used = sorted(annotated)
        if report.missing_audio:
            report.notes.append(f"{len(report.missing_audio)} annotated song(s) have no audio in "
                                f"{where}; not needed, the grid's feature sets are read from "
                                f"DEAM's features/ (figures that need audio are skipped)")
    elif report.missing_audio and not audio and policy.needed is None and report.dataset == "deam":
        report.used = sorted(annotated)
        report.notes.append(f"no audio in {where}: only the features DEAM ships (feature set "
                            f"deam260, from features.zip) can be used; for feature sets computed "
                            f"from audio, unzip DEAM_audio.zip there")
    elif report.missing_audio and policy.allow_missing:
        report.notes.append(f"{len(report.missing_audio)} annotated song(s) have no audio in "
                            f"{where} and are left out ({key}: true); the pipeline uses the "
                            f"{len(report.complete)} complete song(s). Missing: "
                            f"{_ids(report.missing_audio)}")
        if not report.complete:
            report.problems.append(f"{where}: no annotated song has audio; put the clips there")
    elif report.missing_audio:
        report.problems.append(f"{len(report.missing_audio)} annotated song(s) have no audio in "
                               f"{where}: {_ids(report.missing_audio)}. Add the clips, or set "
                               f"`{key}: true` to train on the {len(report.complete)} complete "
                               f"song(s) only")
    if report.missing_annotations:
        report.notes.append(f"{len(report.missing_annotations)} clip(s) have audio but no "
                            f"annotations and are skipped by the pipeline: "
                            f"{_ids(report.missing_annotations)}")
    if empty:
        report.problems.append(f"{len(empty)} clip(s) are empty (0 bytes): {', '.join(sorted(empty)[:SHOW])}")
    full = FULL_SIZE[report.dataset]
    if annotated and len(report.used) != full:
        report.notes.append(f"{len(report.used)} song(s) usable; the full {report.dataset} "
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
            report.problems.append(f"{path}: decodes to {seconds:.2f} s of audio, but its "
                                   f"annotations need {min_seconds[song_id]:.1f} s; replace it "
                                   f"with a complete copy")


def _find_emomusic_parts(report: CheckReport) -> None:
    """Both folders, each looked for on its own, so that a missing one does not hide the
    other in the report (``find_emomusic_parts`` stops at the first missing part)."""
    from mer.data.download import SONG_FILE, find_emomusic_parts
    from mer.data.emomusic import ANNOTATIONS_DIR, CLIPS_DIR, continuous_file

    try:
        report.annotations_dir, report.audio_dir = find_emomusic_parts(report.root)
        return
    except DataError as error:
        report.problems.append(str(error))
    marker = continuous_file("arousal")
    found = sorted(p.parent for p in report.root.rglob(marker) if not p.name.startswith("._"))
    report.annotations_dir = found[0] if len(found) == 1 else None
    clips = sorted(p.parent for p in report.root.rglob("*.mp3") if SONG_FILE.match(p.name))
    named = sorted(p for p in report.root.rglob(CLIPS_DIR) if p.is_dir())
    report.audio_dir = named[0] if named else (max(set(clips), key=clips.count) if clips else None)
    if report.annotations_dir is not None and report.audio_dir is None:
        report.notes.append(f"no {CLIPS_DIR} folder or <id>.mp3 files found; the annotations "
                            f"were checked without audio")
    if report.annotations_dir is None and report.audio_dir is not None:
        report.notes.append(f"clips found in {report.audio_dir}, but no '{ANNOTATIONS_DIR}' "
                            f"folder to check them against")


def check_emomusic(root: str | Path, *, decode: bool = False,
                   policy: AudioPolicy = AudioPolicy()) -> CheckReport:
    from mer.data.emomusic import (STATIC_ANNOTATIONS, SONGS_INFO, TARGETS, continuous_file,
                                   read_continuous, read_songs_info)
    from mer.frames import ANNOTATION_END_S

    report = CheckReport(Path(root), "emomusic")
    _find_emomusic_parts(report)
    if report.annotations_dir is None:
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
    _compare(report, annotated, audio, empty, policy)
    if decode and report.complete:
        paths = {s: report.audio_files[s] for s in report.complete}
        _decode(report, paths, {s: ANNOTATION_END_S for s in report.complete})
    return report


def check_deam(root: str | Path, *, decode: bool = False, policy: AudioPolicy = AudioPolicy(),
               needs_features: bool = False) -> CheckReport:
    """DEAM as distributed: the loader's handled quirks become notes, the rest problems.
    ``needs_features``: the run reads DEAM's features/ (deam260), so every used song
    needs its feature file."""
    from mer.data import deam

    root = Path(root)
    report = CheckReport(root, "deam")
    loaded: dict[str, tuple[np.ndarray, list[np.ndarray]]] = {}
    for target in deam.TARGETS:
        try:
            path = deam.dynamic_file(root, target)
            report.annotations_dir = path.parent
            ids, values = deam.read_dynamic(path)
        except DataError as error:
            report.problems.append(str(error))
            continue
        loaded[target] = (ids, values)
        flat = np.concatenate(values) if values else np.zeros(0)
        owners = np.repeat(ids, [len(v) for v in values])
        if flat.size and ((flat < -1) | (flat > 1)).any():
            bad = sorted(set(owners[(flat < -1) | (flat > 1)].tolist()))
            report.problems.append(f"{path}: value outside [-1, 1] for song(s) {_ids(bad)}")
    combined = None
    if len(loaded) == len(deam.TARGETS):
        try:
            combined = deam.combine_targets(loaded, report.annotations_dir)
            report.notes += combined[3]
        except DataError as error:
            report.problems.append(str(error))
    try:
        static = deam.read_static(root)
    except DataError as error:
        report.problems.append(str(error))
        static = None
    if static is None:
        report.notes.append("no static_annotations_averaged_songs_*.csv found (optional)")
    else:
        if combined is not None:
            static, swap_notes = deam.correct_static_swap(static, combined[0], combined[1])
            report.notes += swap_notes
        for column in ("valence_mean", "arousal_mean"):
            problem = _range_problem(root, f"static {column}", static[column].to_numpy(),
                                     static.index, *STATIC_RANGE)
            report.problems += [problem] if problem else []
    annotated = set(combined[0].tolist()) if combined is not None else set()
    report.audio_dir = deam.audio_path(root, 0).parent
    audio, empty = _audio_ids(report.audio_dir)
    if not report.audio_dir.is_dir():
        report.audio_dir = None
    _compare(report, annotated, audio, empty, policy)
    if combined is not None and len(combined[2]):
        lengths = combined[2]
        report.notes.append(f"annotated lengths: {lengths.min()}..{lengths.max()} samples "
                            f"(variable length: full songs are longer than the 45 s excerpts)")
    features = deam._find_dir(root, deam.FEATURES_DIR)
    if features is None:
        message = "no features/ folder (DEAM's features.zip, the deam260 set)"
        if needs_features:
            report.problems.append(f"{root}: {message}, which the grid uses; unzip features.zip "
                                   f"into {root}")
        else:
            report.notes.append(f"{message}: optional")
    else:
        lacking = sorted(s for s in report.used if not (features / f"{s}.csv").is_file())
        line = (f"features/: {len(report.used) - len(lacking)} of {len(report.used)} usable "
                f"song(s) have a feature file (the deam260 set needs all)"
                + (f"; missing: {_ids(lacking)}" if lacking else ""))
        (report.problems if needs_features and lacking else report.notes).append(line)
    if decode and report.complete and combined is not None:
        ids, _, lengths, _ = combined
        length_of = dict(zip(ids.tolist(), lengths.tolist()))
        paths = {s: report.audio_files[s] for s in report.complete}
        ends = {s: (deam.FIRST_SAMPLE_MS + deam.SAMPLE_STEP_MS * (length_of[s] - 1)) / 1000
                for s in report.complete}
        _decode(report, paths, ends)
    return report


def check_dataset(root: str | Path, dataset: str = "emomusic", *, decode: bool = False,
                  policy: AudioPolicy = AudioPolicy(), needs_features: bool = False) -> CheckReport:
    """Check a dataset copy in the ``dataset`` layout; see the module docstring."""
    root = Path(root)
    if dataset not in DATASETS:
        raise DataError(f"unknown dataset layout {dataset!r}; choose one of {', '.join(DATASETS)}")
    if not root.is_dir():
        raise DataError(f"{root}: not a folder; give the folder holding the {dataset} files")
    if dataset == "emomusic":
        return check_emomusic(root, decode=decode, policy=policy)
    return check_deam(root, decode=decode, policy=policy, needs_features=needs_features)
