"""Which GPU a training job uses when several jobs share a machine's GPUs.

Snakemake's ``gpu_slots`` resource (profiles/gpu) caps how many CUDA training jobs run at
once; it does not say which card each one should use, and torch's ``cuda`` means the first
visible card. ``claim_gpu`` fills that gap: with more than one GPU visible, a job takes
the GPU running the fewest mer jobs and narrows ``CUDA_VISIBLE_DEVICES`` to it, before
torch starts CUDA (which reads the variable once).

Convention: the GPUs are those listed in ``CUDA_VISIBLE_DEVICES`` (indices or UUIDs,
comma-separated) or, when it is unset, those ``nvidia-smi`` lists. GPU g holds slot files
``gpu<g>.<k>`` (k = 0, 1, ...) in a lock folder (``MER_GPU_LOCKS``, default
``$TMPDIR/mer-gpu-slots-<uid>``); a job locks the first free one in the order
(k=0, g=0), (k=0, g=1), ..., (k=1, g=0), ...: round robin over the GPUs, each new job on
the least busy one. The lock (``fcntl.flock``) is held until the process exits, crashes
included, so no stale slot survives a job. One GPU, or none, changes nothing.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

_HELD: list = []  # open lock files: the claim lasts as long as this process


def visible_gpus() -> list[str]:
    """The GPUs this process may use: CUDA_VISIBLE_DEVICES' entries, else nvidia-smi's."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [entry.strip() for entry in listed.split(",") if entry.strip()]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        result = subprocess.run(["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
                                capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in result.stdout.splitlines() if line.strip()] \
        if result.returncode == 0 else []


def lock_folder() -> Path:
    folder = os.environ.get("MER_GPU_LOCKS") or Path(tempfile.gettempdir()) / f"mer-gpu-slots-{os.getuid()}"
    return Path(folder)


def claim_gpu(device: str, max_slots: int = 256) -> str | None:
    """Pin this process to one of several visible GPUs (module docstring); the GPU, or None.

    Call it first in a training job, before anything asks torch about CUDA. Does nothing
    for ``device == "cpu"``, or when at most one GPU is visible.
    """
    if device == "cpu" or _HELD:
        return None
    gpus = visible_gpus()
    if len(gpus) < 2:
        return None
    folder = lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    for slot in range(max_slots):
        for gpu in gpus:
            handle = open(folder / f"gpu{gpu}.{slot}", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _HELD.append(handle)
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            logging.getLogger("mer").info("GPU %s of %s (slot %d): CUDA_VISIBLE_DEVICES=%s",
                                          gpu, ",".join(gpus), slot, gpu)
            return gpu
    return None  # more jobs than slots: leave the choice to CUDA (the first visible GPU)
