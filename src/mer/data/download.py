"""Remote files of the real datasets: download, verify, extract, lay out (mirdata style).

The emoMusic set is two archives on the University of Geneva's page
(``EMOMUSIC_PAGE``); their URLs can be overridden in ``params.yaml`` (mirrors). The page
gates access behind a form, so a plain download may fail or return the form's HTML; every
such failure ends in a ``DataError`` that says where to put the files by hand.

* ``download_file`` streams to ``<dest>.part``, resumes an interrupted download with an
  HTTP ``Range`` request, shows a tqdm progress bar, checks the sha256 when one is given
  and only then renames the file into place (atomic: ``dest`` is whole or absent).
* ``verify_locked`` implements the lock file: a sha256 that ``params.yaml`` does not give
  is computed on first use and recorded in ``LOCK_FILE`` next to the archives **once the
  archive has extracted** (``extract_archives``), so a truncated or corrupt download is
  never recorded and its good replacement is accepted; a later run whose archive hashes
  differently from a recorded one is refused (the remote or the copy changed).
* A download that returns a web page (a form, a login redirect) instead of the archive is
  recognised by its Content-Type or its first bytes, whatever the server claims; nothing
  is written and the error says where to put the files by hand.
* ``safe_extract`` unpacks tar (any compression) and zip archives refusing absolute paths,
  ``..``, links that leave the target (also through a chain of the archive's own links),
  device files, more than ``max_bytes``, and archives that expand more than
  ``MAX_COMPRESSION_RATIO`` times their size (zip bombs).
* ``build_emomusic_root`` turns extracted archives (or a user's copy) into the layout
  ``mer.data.emomusic`` reads: ``clips_45seconds/{id}.mp3`` and ``annotations/*.csv``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from mer.data.emomusic import ANNOTATIONS_DIR, CLIPS_DIR, continuous_file
from mer.errors import DataError
from mer.io import atomic_directory

log = logging.getLogger(__name__)

EMOMUSIC_PAGE = "https://cvml.unige.ch/databases/emoMusic/"
DEAM_PAGE = "https://cvml.unige.ch/databases/DEAM/"
LOCK_FILE = "sha256.lock.json"
MAX_EXTRACT_BYTES = 20 * 2**30  # emoMusic unpacks to < 1 GiB, DEAM to ~1.3 GiB
MAX_MEMBERS = 100_000
# Zip-bomb guard: MP3 archives expand ~1x, CSV annotations and DEAM's features ~3-6x; a bomb
# expands 1000x and more. Below RATIO_FLOOR_BYTES of content the ratio is not judged (a
# few small CSVs in tar padding can exceed it, and 64 MiB is harmless).
MAX_COMPRESSION_RATIO = 100
RATIO_FLOOR_BYTES = 64 * 2**20
MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
CHUNK_BYTES = 1 << 20
SONG_FILE = re.compile(r"^(\d+)\.mp3$", re.IGNORECASE)


@dataclass(frozen=True)
class RemoteFile:
    """One file of a dataset: where it is and, when known, its sha256."""

    filename: str
    url: str
    sha256: str | None = None


# Checksums are not published by the dataset's authors and are not invented here: they are
# null in params.yaml, computed on the first download and recorded in the lock file.
EMOMUSIC_REMOTES = {
    "clips": RemoteFile("clips_45sec.tar.gz", EMOMUSIC_PAGE + "clips_45sec.tar.gz"),
    "annotations": RemoteFile("annotations.tar.gz", EMOMUSIC_PAGE + "annotations.tar.gz"),
}
# features.zip holds DEAM's own features (the deam260 set): fetched only when a grid uses them.
DEAM_REMOTES = {
    "audio": RemoteFile("DEAM_audio.zip", DEAM_PAGE + "DEAM_audio.zip"),
    "annotations": RemoteFile("DEAM_Annotations.zip", DEAM_PAGE + "DEAM_Annotations.zip"),
    "features": RemoteFile("features.zip", DEAM_PAGE + "features.zip"),
}
REMOTES = {"emomusic": EMOMUSIC_REMOTES, "deam": DEAM_REMOTES}


def manual_download_hint(archives_dir: str | Path | None = None, dataset: str = "emomusic") -> str:
    """What to do when the download cannot be done by mer (gated page, no internet)."""
    where = f" into {archives_dir}/ (the run then verifies and extracts them), or" if archives_dir else ""
    if dataset == "deam":
        return (f"Download {', '.join(r.filename for r in DEAM_REMOTES.values())} from the DEAM "
                f"page ({DEAM_PAGE}) in a browser and either put them{where} unzip them into "
                f"one folder DIR, check it with `mer data check DIR --dataset deam`, and set "
                f"`datasets.deam.path: DIR` in params.yaml.")
    return (f"The emoMusic page ({EMOMUSIC_PAGE}) asks you to fill in a form before it gives "
            f"the files. Download clips_45sec.tar.gz and annotations.tar.gz in a browser and "
            f"either put them{where} extract both into one folder DIR (it must hold "
            f"{CLIPS_DIR}/<id>.mp3 and {ANNOTATIONS_DIR}/*.csv), check it with "
            f"`mer data check DIR`, and set `dataset: local` and `datasets.local.path: DIR` "
            f"in params.yaml.")


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def _content_range_total(header: str | None) -> int | None:
    """Total size from ``Content-Range: bytes a-b/total`` (None when absent or ``*``)."""
    match = re.match(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", header or "")
    return int(match.group(3)) if match and match.group(3) != "*" else None


def download_file(url: str, dest: str | Path, *, sha256: str | None = None, timeout: float = 60,
                  progress: bool = True, hint: str = "") -> Path:
    """Download ``url`` to ``dest`` (resumable, verified, atomic); return ``dest``.

    A ``dest`` that already exists is only verified. Bytes already in ``<dest>.part`` from an
    interrupted run are kept and the rest is requested with ``Range``; a server that ignores
    the range sends the whole file, which then replaces the partial one.
    """
    # Hand-written rather than pooch: pooch restarts interrupted downloads from zero and
    # cannot resume with HTTP Range, which matters for an archive of several hundred MB.
    from tqdm import tqdm

    dest = Path(dest)
    if dest.is_file():
        if sha256:
            _check_sha256(dest, sha256, url, delete=False)
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    offset = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "mer (research pipeline)"})
    if offset:
        request.add_header("Range", f"bytes={offset}-")
    try:
        try:
            response = urllib.request.urlopen(request, timeout=timeout)
        except urllib.error.HTTPError as error:
            if error.code != 416 or not offset:  # 416: the part already holds every byte
                raise
            log.info("%s: %s already complete (%d bytes)", url, part.name, offset)
            response = None
        if response is not None:
            with response:
                _stream(response, part, offset, url, hint, progress, tqdm)
    except DataError:
        raise
    except (urllib.error.URLError, OSError, socket.timeout, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        if isinstance(error, urllib.error.HTTPError):
            reason = f"HTTP {error.code} {error.reason}"
            if error.code in (401, 403):
                reason += " (the site asks for a login or refuses access to the archive)"
        kept = f" ({part.stat().st_size} bytes kept in {part}; run again to resume)" if part.is_file() and part.stat().st_size else ""
        raise DataError(f"cannot download {url}: {reason}{kept}. {hint}".strip()) from error
    if sha256:
        _check_sha256(part, sha256, url, delete=True)
    os.replace(part, dest)
    return dest


HTML_STARTS = (b"<!doctype html", b"<html", b"<head", b"<body", b"<form", b"<!--", b"<?xml")


def looks_like_html(first_bytes: bytes) -> bool:
    """Whether a download's first bytes are a web page (no archive or audio starts so)."""
    text = first_bytes[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(HTML_STARTS)


def _web_page_error(url: str, final_url: str, why: str, hint: str) -> DataError:
    redirected = (f" after a redirect to {final_url} (a login or access page)"
                  if final_url and final_url != url else "")
    return DataError(f"{url} answered with a web page{redirected} ({why}), not the archive: the "
                     f"site probably wants a login or its access form filled in first; nothing "
                     f"was written. {hint}".strip())


def _stream(response, part: Path, offset: int, url: str, hint: str, progress: bool, tqdm) -> None:
    content_type = response.headers.get("Content-Type", "")
    final_url = response.geturl() if hasattr(response, "geturl") else url
    if content_type.startswith(("text/html", "application/xhtml")):
        raise _web_page_error(url, final_url, f"Content-Type {content_type}", hint)
    # Some servers send their login page as application/octet-stream: look at the bytes too,
    # before anything is written, so that no page ends up in <dest>.part.
    first = response.read(CHUNK_BYTES)
    if looks_like_html(first):
        raise _web_page_error(url, final_url, f"it starts with {first[:40]!r}", hint)
    status = getattr(response, "status", 200)
    length = response.headers.get("Content-Length")
    if status == 206:
        total = _content_range_total(response.headers.get("Content-Range"))
        mode = "ab"
    else:  # 200: the server sent the whole file (it ignored or was not asked a range)
        if offset:
            log.info("%s: the server does not resume; downloading from the start", url)
        offset, mode = 0, "wb"
        total = int(length) if length is not None else None
    expected = offset + int(length) if length is not None else total
    with open(part, mode) as out, tqdm(total=expected, initial=offset, unit="B", unit_scale=True,
                                       unit_divisor=1024, desc=part.name[:-5], disable=not progress,
                                       leave=False) as bar:
        block = first
        while block:
            out.write(block)
            bar.update(len(block))
            block = response.read(CHUNK_BYTES)
    size = part.stat().st_size
    if expected is not None and size != expected:
        raise DataError(f"download of {url} stopped at {size} of {expected} bytes "
                        f"({part} kept); run again to resume")


def _check_sha256(path: Path, expected: str, source: str, *, delete: bool) -> None:
    actual = sha256_file(path)
    if actual.lower() != expected.lower():
        if delete:
            path.unlink(missing_ok=True)
        raise DataError(f"{path}: sha256 {actual} does not match the expected {expected} "
                        f"(from {source}){'; the download was deleted' if delete else ''}. "
                        f"The remote file or mirror changed, or the file is corrupt: delete it "
                        f"and download again, or if the new file is right, update the sha256 "
                        f"in params.yaml (datasets.<name>.sha256).")


def read_lock(lock_path: str | Path) -> dict:
    lock_path = Path(lock_path)
    if not lock_path.is_file():
        return {}
    try:
        lock = json.loads(lock_path.read_text())
    except (OSError, ValueError) as error:
        raise DataError(f"{lock_path}: unreadable lock file ({error}); delete it to record the "
                        f"checksums again") from error
    return lock if isinstance(lock, dict) else {}


def verify_locked(path: str | Path, lock_path: str | Path, *, sha256: str | None = None,
                  url: str | None = None, record: bool = True) -> str:
    """Check ``path`` against ``sha256`` (if given) and the lock file; with ``record``,
    record it if new.

    Returns the file's sha256. Raises when it differs from the given or the recorded value.
    The pipeline records only archives that extracted (``extract_archives``); downloads
    verify with ``record=False``.
    """
    path, lock_path = Path(path), Path(lock_path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    actual = sha256_file(path)
    if sha256 and actual.lower() != sha256.lower():
        raise DataError(f"{path}: sha256 {actual} does not match params.yaml's {sha256}; "
                        f"delete the file and download again, or correct params.yaml")
    lock = read_lock(lock_path)
    recorded = lock.get(path.name, {}).get("sha256")
    if recorded and recorded != actual:
        raise DataError(f"{path}: sha256 {actual} differs from {recorded} recorded in "
                        f"{lock_path} on {lock[path.name].get('recorded', '?')}: the file "
                        f"changed since the first run. If the new file is intended, delete its "
                        f"entry from {lock_path.name} (or the lock file) and run again.")
    if not recorded and record:
        record_checksum(path, lock_path, actual, url=url)
    return actual


def record_checksum(path: str | Path, lock_path: str | Path, sha256: str, *,
                    url: str | None = None) -> None:
    """Add ``path``'s sha256 to the lock file (kept if it is already there)."""
    from mer.io import write_json_atomic

    path, lock_path = Path(path), Path(lock_path)
    lock = read_lock(lock_path)
    if path.name in lock:
        return
    lock[path.name] = {"sha256": sha256, "size": path.stat().st_size, "url": url,
                       "recorded": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    write_json_atomic(lock, lock_path)
    lock_path.chmod(0o644)  # the temporary file's private mode would survive the rename
    log.info("%s: sha256 %s recorded in %s", path.name, sha256, lock_path)


# ---------------------------------------------------------------------------------------
# Safe extraction
# ---------------------------------------------------------------------------------------

def _inside(name: str, archive: Path, kind: str = "member") -> PurePosixPath:
    """The normalised relative path of an archive member; raises if it leaves the target."""
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in pure.parts:
        raise DataError(f"{archive}: refusing {kind} {name!r}: it points outside the extraction "
                        f"folder (absolute path or '..'); the archive is not a trustworthy copy")
    return pure


def _resolve(parts, links: dict[tuple, str]) -> tuple | None:
    """``parts`` (a path relative to the extraction folder) with the archive's symbolic
    links seen so far (path parts -> link target) followed, as the file system would;
    None if it leaves the folder, is absolute or loops."""
    resolved: list[str] = []
    todo, hops = list(parts), 0
    while todo:
        part = todo.pop(0)
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                return None
            resolved.pop()
            continue
        resolved.append(part)
        linkname = links.get(tuple(resolved))
        if linkname is not None:
            hops += 1
            target = PurePosixPath(linkname.replace("\\", "/"))
            if hops > MAX_LINK_HOPS or target.is_absolute():
                return None
            resolved.pop()  # the link's target is relative to the link's folder
            todo = list(target.parts) + todo
    return tuple(resolved)


def _ratio_error(archive: Path, total: int, compressed: int, max_ratio: float,
                 ratio_floor: int) -> DataError | None:
    if total > ratio_floor and total > max_ratio * max(compressed, 1):
        return DataError(f"{archive}: expands to more than {max_ratio:g} times its size "
                         f"({compressed} bytes -> over {total} bytes): a decompression bomb, "
                         f"not a dataset archive; not extracting. Delete it and download it "
                         f"again from the dataset's page")
    return None


def _check_tar_members(tar: tarfile.TarFile, archive: Path, max_bytes: int, max_members: int,
                       max_ratio: float = MAX_COMPRESSION_RATIO,
                       ratio_floor: int = RATIO_FLOOR_BYTES):
    """Every member, checked while the archive is read (a bomb stops at its first excess)."""
    compressed = archive.stat().st_size
    links: dict[tuple, str] = {}
    members, total = [], 0
    for member in tar:  # lazy: reading stops at the first member over a limit
        members.append(member)
        if len(members) > max_members:
            raise DataError(f"{archive}: more than {max_members} members (the limit)")
        relative = _inside(member.name, archive)
        if _resolve(relative.parent.parts, links) is None:
            raise DataError(f"{archive}: refusing {member.name!r}: its folder is a link that "
                            f"leads outside the extraction folder (a link escape, not "
                            f"corruption); the archive is not a trustworthy copy")
        if member.issym() or member.islnk():
            # A link target is resolved against the link's folder (symlink) or the root (hard
            # link), through the links met so far (a chain of links can escape step by step).
            base = relative.parent.parts if member.issym() else ()
            linkname = PurePosixPath(member.linkname.replace("\\", "/"))
            if linkname.is_absolute() or _resolve(base + linkname.parts, links) is None:
                raise DataError(f"{archive}: refusing link {member.name!r} -> {member.linkname!r}: "
                                f"it points outside the extraction folder (a link escape, not "
                                f"corruption); the archive is not a trustworthy copy")
            if member.issym():
                links[relative.parts] = member.linkname
        elif not (member.isfile() or member.isdir()):
            raise DataError(f"{archive}: refusing {member.name!r}: device, FIFO or other special file")
        total += max(member.size, 0)
        if total > max_bytes:
            raise DataError(f"{archive}: unpacks to more than {max_bytes / 2**30:.1f} GiB "
                            f"(the size limit); not extracting")
        ratio = _ratio_error(archive, total, compressed, max_ratio, ratio_floor)
        if ratio:
            raise ratio
    return members


def safe_extract(archive: str | Path, target: str | Path, *, max_bytes: int = MAX_EXTRACT_BYTES,
                 max_members: int = MAX_MEMBERS, max_ratio: float = MAX_COMPRESSION_RATIO,
                 ratio_floor: int = RATIO_FLOOR_BYTES) -> Path:
    """Extract a tar(.gz/.bz2/.xz) or zip ``archive`` into ``target``, refusing unsafe members.

    Link escapes, special files and bombs (over ``max_bytes``, or over ``max_ratio`` times
    the archive's size once past ``ratio_floor`` bytes) are refused by name before anything
    is written; a damaged archive is reported as truncated or corrupt.
    """
    archive, target = Path(archive), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    fix = f"delete {archive} and download it again"
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zipped:
                infos = zipped.infolist()
                if len(infos) > max_members:
                    raise DataError(f"{archive}: {len(infos)} members, more than the limit {max_members}")
                total = sum(i.file_size for i in infos)
                if total > max_bytes:
                    raise DataError(f"{archive}: unpacks to more than {max_bytes / 2**30:.1f} GiB "
                                    f"(the size limit); not extracting")
                ratio = _ratio_error(archive, total, archive.stat().st_size, max_ratio, ratio_floor)
                if ratio:
                    raise ratio
                for info in infos:
                    _inside(info.filename, archive)
                    if (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise DataError(f"{archive}: refusing symbolic link {info.filename!r}")
                zipped.extractall(target)
                bad = zipped.testzip()
                if bad:
                    raise DataError(f"{archive}: member {bad!r} is corrupt (CRC mismatch); {fix}")
        else:
            with tarfile.open(archive, "r:*") as tar:
                members = _check_tar_members(tar, archive, max_bytes, max_members,
                                             max_ratio, ratio_floor)
                # The explicit checks above give readable errors on every Python >= 3.11; the
                # data filter (3.11.4+) is a second guard (permissions, links, special files).
                extra = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
                tar.extractall(target, members=members, **extra)
    except DataError:
        raise
    except getattr(tarfile, "FilterError", ()) as error:  # the data filter's second guard
        name = getattr(getattr(error, "tarinfo", None), "name", "a member")
        raise DataError(f"{archive}: refusing {name!r}: {error} (a link escape or unsafe member, not corruption); the archive "
                        f"is not a trustworthy copy") from error
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as error:
        raise DataError(f"{archive}: cannot extract, the archive is truncated or corrupt "
                        f"({type(error).__name__}: {error}); {fix}") from error
    return target


# ---------------------------------------------------------------------------------------
# emoMusic layout
# ---------------------------------------------------------------------------------------

def find_emomusic_parts(root: str | Path) -> tuple[Path, Path]:
    """(annotations folder, clips folder) somewhere under ``root``, whatever the top folders.

    The annotations folder is the one holding ``arousal_cont_average.csv``; the clips folder
    is ``clips_45seconds`` if present, else the folder with the most ``<id>.mp3`` files.
    """
    root = Path(root)
    marker = continuous_file("arousal")
    found = sorted(p.parent for p in root.rglob(marker) if not p.name.startswith("._"))
    if not found:
        raise DataError(f"{root}: no {marker} anywhere inside; expected the emoMusic "
                        f"'{ANNOTATIONS_DIR}' folder (from annotations.tar.gz)")
    if len(found) > 1:
        raise DataError(f"{root}: {marker} found in several folders {[str(f) for f in found]}; "
                        f"keep one copy")
    counts: dict[Path, int] = {}
    for mp3 in root.rglob("*.mp3"):
        if SONG_FILE.match(mp3.name):
            counts[mp3.parent] = counts.get(mp3.parent, 0) + 1
    if not counts:
        raise DataError(f"{root}: no <song_id>.mp3 files anywhere inside; expected the emoMusic "
                        f"'{CLIPS_DIR}' folder (from clips_45sec.tar.gz)")
    named = [d for d in counts if d.name == CLIPS_DIR]
    clips = named[0] if len(named) == 1 else max(counts, key=counts.get)
    return found[0], clips


def build_emomusic_root(source: str | Path, target: str | Path, *, copy: bool = False) -> Path:
    """Lay out ``source`` (extracted archives or a user's copy) as the emoMusic root ``target``.

    Moves (or with ``copy``, copies) the annotation CSVs to ``target/annotations`` and the
    ``<id>.mp3`` clips to ``target/clips_45seconds``; other files (e.g. macOS ``._`` files)
    are skipped and counted in the log. Built in a temporary sibling and renamed into place;
    the result is made read-only (raw data is immutable).
    """
    source, target = Path(source), Path(target)
    annotations, clips = find_emomusic_parts(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    transfer = shutil.copy2 if copy else shutil.move
    with atomic_directory(target) as staging:
        (staging / ANNOTATIONS_DIR).mkdir()
        (staging / CLIPS_DIR).mkdir()
        n_csv = 0
        for csv in sorted(annotations.glob("*.csv")):
            if not csv.name.startswith("._"):
                transfer(csv, staging / ANNOTATIONS_DIR / csv.name)
                n_csv += 1
        n_clips = skipped = 0
        for path in sorted(clips.iterdir()):
            if SONG_FILE.match(path.name) and path.is_file():
                transfer(path, staging / CLIPS_DIR / f"{int(SONG_FILE.match(path.name).group(1))}.mp3")
                n_clips += 1
            else:
                skipped += 1
        log.info("%s: %d annotation files and %d clips laid out; %d other file(s) in %s skipped",
                 target, n_csv, n_clips, skipped, clips)
        _make_read_only(staging)  # files only: folders stay writable, so a rerun can replace them
    return target


def _make_read_only(root: Path) -> None:
    # Files only: folders stay writable so Snakemake, DVC and a rerun can still replace the tree.
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o444)


def _make_writable(root: Path) -> None:
    if not root.exists():
        return
    root.chmod(0o755)
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def fetch_archives(remotes: dict[str, RemoteFile], folder: str | Path, *, progress: bool = True,
                   hint: str = "") -> dict[str, Path]:
    """Download every remote into ``folder`` and verify it against params and the lock file."""
    folder = Path(folder)
    paths = {}
    for key, remote in remotes.items():
        path = folder / remote.filename
        if path.is_file():
            log.info("%s: already present, verifying", path)
        else:
            log.info("downloading %s -> %s", remote.url, path)
            download_file(remote.url, path, sha256=remote.sha256, progress=progress, hint=hint)
        # Recorded in the lock only once it extracted (extract_archives): a corrupt download
        # must not make its good replacement look like a changed file.
        verify_locked(path, folder / LOCK_FILE, sha256=remote.sha256, url=remote.url, record=False)
        paths[key] = path
    return paths


def dataset_remotes(dataset: str, urls: dict | None = None, sha256: dict | None = None
                    ) -> dict[str, RemoteFile]:
    """A dataset's remotes with URLs and checksums overridden from params (None keeps the default)."""
    urls, sha256 = urls or {}, sha256 or {}
    return {key: RemoteFile(remote.filename, urls.get(key) or remote.url, sha256.get(key))
            for key, remote in REMOTES[dataset].items()}



def extract_emomusic(archives: list[str | Path], target: str | Path, *,
                     lock_path: str | Path | None = None) -> Path:
    """Verify (against the lock file), extract and lay out the emoMusic archives at ``target``."""
    return extract_archives(archives, target, build_emomusic_root, lock_path=lock_path)


def extract_archives(archives: list[str | Path], target: str | Path, build, *,
                     lock_path: str | Path | None = None) -> Path:
    """Verify archives against the lock file, extract them safely into a scratch folder
    beside ``target`` and lay them out with ``build(scratch, target)``; only then record
    the archives' checksums in the lock (an archive that did not extract is never recorded)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.extract-", dir=target.parent))
    try:
        digests = {}
        for archive in map(Path, archives):
            digests[archive] = verify_locked(archive, lock_path or archive.parent / LOCK_FILE,
                                             record=False)
            safe_extract(archive, scratch)
        built = build(scratch, target)
        for archive, digest in digests.items():
            record_checksum(archive, lock_path or archive.parent / LOCK_FILE, digest)
        return built
    finally:
        _make_writable(scratch)
        shutil.rmtree(scratch, ignore_errors=True)
