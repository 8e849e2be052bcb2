"""Snakemake's directory lock after a hard kill: tell a stale lock from a live run.

While it runs, Snakemake keeps ``.snakemake/locks/{n}.input.lock`` / ``{n}.output.lock`` in
the working directory and deletes them when it exits, also on Ctrl-C. A hard kill (SIGKILL,
the OOM killer, a closed terminal, a power loss) leaves them behind, and the next run stops
with ``LockException``; ``snakemake --unlock`` deletes them (and nothing else).

A lock is **stale** here when no live process on this machine is a ``snakemake`` whose
working directory is this folder (``psutil``; the current process and its ancestors are not
counted, so a Snakefile parsed by a job's own snakemake sees its main process). A run on
*another machine* sharing the folder (a cluster's login node and a batch node) cannot be
seen: that is why the Snakefile only says what to run, and only ``mer unlock-stale`` (which
``make run`` calls) removes the lock. Processes of other users whose working directory cannot
be read count as live (when in doubt, keep the lock).
"""

from __future__ import annotations

import os
from pathlib import Path

LOCK_DIR = Path(".snakemake") / "locks"


def lock_files(workdir: str | Path = ".") -> list[Path]:
    """Snakemake's lock files in ``workdir`` (none when it is not locked)."""
    folder = Path(workdir) / LOCK_DIR
    return sorted(folder.glob("*.lock")) if folder.is_dir() else []


def _is_snakemake(cmdline: list[str]) -> bool:
    """``snakemake ...``, ``python /venv/bin/snakemake ...`` or ``python -m snakemake ...``."""
    return any(Path(part).name == "snakemake" for part in cmdline[:3])


def live_runs(workdir: str | Path = ".") -> list[int]:
    """Pids of the other snakemake processes on this machine working in ``workdir``."""
    import psutil

    workdir = Path(workdir).resolve()
    mine = {os.getpid()}
    try:
        mine.update(parent.pid for parent in psutil.Process().parents())
    except psutil.Error:
        pass
    live = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            cmdline = process.info["cmdline"] or []
            if process.pid in mine or not _is_snakemake(cmdline):
                continue
            if Path(process.cwd()).resolve() == workdir:
                live.append(process.pid)
        except psutil.AccessDenied:
            live.append(process.pid)  # cannot tell where it works: assume here
        except (psutil.NoSuchProcess, psutil.ZombieProcess, OSError):
            continue
    return live


def stale_lock(workdir: str | Path = ".") -> list[Path]:
    """The lock files of ``workdir`` if no snakemake on this machine works there, else []."""
    files = lock_files(workdir)
    if not files or live_runs(workdir):
        return []
    return files


def stale_lock_message(workdir: str | Path, files: list[Path]) -> str:
    where = Path(workdir).resolve()
    return (f"mer: {where} holds a Snakemake lock ({len(files)} file(s) in {LOCK_DIR}/) but no "
            f"snakemake process on this machine works there: a run was killed (OOM, closed "
            f"terminal, power loss). Finished jobs are kept; to resume, run `snakemake --unlock` "
            f"and then your command again (`make run` and `mer unlock-stale` unlock a stale "
            f"lock for you). If a run on another machine uses this folder, leave it locked.")


def unlock_stale(workdir: str | Path = ".") -> tuple[list[Path], list[int]]:
    """Remove a stale lock (what ``snakemake --unlock`` does for the file backend).

    Returns (the lock files removed, the pids of live runs that keep the lock).
    """
    live = live_runs(workdir) if lock_files(workdir) else []
    if live:
        return [], live
    files = lock_files(workdir)
    for path in files:
        path.unlink(missing_ok=True)
    return files, []
