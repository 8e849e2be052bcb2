"""Bringing a dataset copy into the pipeline: check it, copy it read-only, record what was used.

``import_local_dataset`` / ``import_deam_dataset`` (and ``extract_deam`` for the downloaded
archives) run ``mer.data.check`` on the user's copy with the run's ``AudioPolicy``, refuse
a copy that fails it (nothing is written), copy it read-only to ``data/raw/{dataset}`` and
write ``IMPORT_FILE`` into it: the songs the pipeline uses, the check's notes, the songs
left out for missing audio, and each clip's original path (``mer.data.layouts`` reads the
song list; errors then name the user's file). ``write_dataset_notes`` writes
``results/{dataset}/dataset_notes.json`` = ``{"n_songs": used, "notes": [...]}``.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mer.data.check import AudioPolicy, CheckReport, check_dataset
from mer.data.layouts import IMPORT_FILE
from mer.errors import DataError

log = logging.getLogger(__name__)


def local_fingerprint(path: str | Path) -> str:
    """A cheap fingerprint (count, bytes, newest mtime) of a user's copy: Snakemake params
    change, and the import reruns, when a file is added, removed or rewritten."""
    path = Path(path)
    if not path.is_dir():
        return "missing"
    files = [p.stat() for p in path.rglob("*") if p.is_file()]
    return f"{len(files)} files, {sum(s.st_size for s in files)} bytes, " \
           f"newest {max((s.st_mtime_ns for s in files), default=0)}"


def _import_checked(source, target, dataset: str, build, origin: str, policy: AudioPolicy,
                    needs_features: bool = False, record_sources: bool = True) -> CheckReport:
    """Check ``source`` in the ``dataset`` layout, then ``build(source, target)`` and write
    ``IMPORT_FILE`` into it; a copy that fails the check is refused with its report
    (``origin`` names where it came from) and nothing is written."""
    from mer.io import write_json_atomic

    report = check_dataset(source, dataset, policy=policy, needs_features=needs_features)
    if not report.ok:
        raise DataError(f"{origin} at {source} does not pass the check:\n{report.format()}")
    build(source, target)
    record = {"dataset": dataset, "song_ids": report.used, "notes": report.notes,
              "missing_audio": report.missing_audio,
              "audio_sources": ({str(s): str(Path(report.audio_files[s]).resolve())
                                 for s in report.used if s in report.audio_files}
                                if record_sources else {})}
    try:
        write_json_atomic(record, Path(target) / IMPORT_FILE)
        (Path(target) / IMPORT_FILE).chmod(0o444)
    except BaseException:
        import shutil
        shutil.rmtree(target, ignore_errors=True)  # no copy without its record
        raise
    log.info("using %d song(s)%s", len(report.used),
             f"; {len(report.missing_audio)} left out for missing audio"
             if policy.allow_missing and report.missing_audio and policy.needed is not False else "")
    return report


def import_local_dataset(source: str | Path, target: str | Path, *,
                         allow_missing_audio: bool = False) -> CheckReport:
    """Check a user's emoMusic-layout copy and copy it, read-only, to ``target``."""
    from mer.data.download import build_emomusic_root
    return _import_checked(source, target, "emomusic",
                           lambda src, dst: build_emomusic_root(src, dst, copy=True),
                           "datasets.local.path: the copy",
                           AudioPolicy(needed=True, allow_missing=allow_missing_audio))


def import_deam_dataset(source: str | Path, target: str | Path, *,
                        origin: str = "datasets.deam.path: the copy", needs_audio: bool = True,
                        needs_features: bool = False, allow_missing_audio: bool = False,
                        record_sources: bool = True) -> CheckReport:
    """Check an unzipped DEAM and copy what the pipeline reads, read-only, to ``target``.
    ``needs_audio`` is False when the grid only reads DEAM's features (``deam260``)."""
    from mer.data.deam import build_deam_root
    return _import_checked(source, target, "deam", build_deam_root, origin,
                           AudioPolicy(needed=needs_audio, allow_missing=allow_missing_audio),
                           needs_features, record_sources)


def extract_deam(archives: list[str | Path], target: str | Path, **import_options) -> Path:
    """Verify, extract and check the downloaded DEAM archives, then lay them out at ``target``
    (``import_options`` as for ``import_deam_dataset``)."""
    from mer.data.download import extract_archives

    def build(scratch: Path, destination: Path) -> Path:
        report = import_deam_dataset(scratch, destination, origin="the downloaded DEAM archives",
                                     record_sources=False, **import_options)
        log.info("%s", report.format())
        return destination
    return extract_archives(archives, target, build)


def write_dataset_notes(raw: str | Path, dataset: str, out_path: str | Path, *, extra=()) -> dict:
    """``{"n_songs": songs the run uses, "notes": [...]}`` of the dataset copy at ``raw``
    (the import's notes, else a fresh check's; none for the synthetic set) plus ``extra``,
    written atomically to ``out_path`` for the tables and metrics.json."""
    from mer.data.layouts import dataset_layout, import_record
    from mer.io import write_json_atomic

    annotations = dataset_layout(dataset).load_annotations(raw)
    record = import_record(raw)
    if record is not None:
        notes = list(record.get("notes", []))
    elif dataset == "synthetic":
        notes = []
    else:
        notes = check_dataset(raw, "deam" if dataset == "deam" else "emomusic").notes
    result = {"n_songs": int(len(annotations.song_ids)), "notes": notes + list(extra)}
    write_json_atomic(result, out_path)
    log.info("%d song(s); %d note(s)", result["n_songs"], len(result["notes"]))
    return result
