"""Process-level settings every pipeline job applies first: thread caps, seeds, and a safe
first import of librosa.

``snakemake --cores 8`` on a 2-core machine really starts 8 cores' worth of jobs, and torch,
OpenBLAS and numba each default to one thread per core: without a cap every job would
start several threads per core and the machine would thrash. Each job therefore caps all
of them to its rule's ``threads``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import random
import sys
import tempfile
from pathlib import Path

_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                     "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def limit_threads(n_threads: int) -> None:
    """Cap torch, BLAS/OpenMP and numba to ``n_threads`` in this process and its children."""
    n_threads = max(1, int(n_threads))
    for variable in _THREAD_VARIABLES:
        os.environ[variable] = str(n_threads)
    try:  # BLAS libraries already loaded by numpy/scipy ignore the variables above
        from threadpoolctl import threadpool_limits
        threadpool_limits(n_threads)
    except ImportError:
        pass
    # torch reads OMP_NUM_THREADS when it is first imported; set it directly only if a job
    # imported torch already (importing it here would cost jobs that never use it ~1 s)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(n_threads)


def seed_everything(seed: int) -> None:
    """Seed Python, numpy and torch so a CPU run repeats exactly."""
    import numpy as np
    import torch
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


# librosa's numba functions that are compiled (or loaded from numba's on-disk cache) when
# their module is imported, because they are declared with explicit signatures. These are
# the ones mer's features import anyway (librosa.feature imports all three). Not
# ``librosa.beat``: mer tracks no beats, and librosa 0.11 declares its
# ``__beat_local_score`` gufunc with ``cache=False``, so importing that module compiles it
# (two signatures, ~4 s of the ~11 s cold ``mer predict``) in every process, filled cache
# or not. tests/test_runtime.py checks that a cold feature extraction compiles nothing.
_LIBROSA_EAGER_MODULES = ("librosa.core.audio", "librosa.core.pitch", "librosa.util.utils")


def import_librosa():
    """Import librosa with numba's on-disk cache written by one process at a time.

    numba writes each ``guvectorize`` function to two cache files with two separate renames,
    so processes that compile librosa at the same moment (parallel Snakemake jobs on a fresh
    install) can leave a mismatched pair behind, and every later process that loads it dies
    with a segmentation fault (numba issue 10128, librosa issue 1998). The first import in a
    process therefore holds an exclusive file lock while librosa's eagerly compiled modules
    load; the first process compiles (~25 s on a cold cache), the rest wait, then load.
    Once a locked import has filled the cache, a marker beside the lock (the install times
    of numba and librosa, the number of cache index files) lets later processes import
    without waiting, until any of these changes (a reinstall, a deleted cache).
    """
    import importlib

    librosa = sys.modules.get("librosa")
    if librosa is not None and all(name in sys.modules for name in _LIBROSA_EAGER_MODULES):
        return librosa
    lock_path = _numba_cache_lock_path()
    marker = lock_path.with_suffix(".filled")
    filled = _read(marker) == _cache_stamp()  # then loading only reads the cache
    # while numba writes the cache, Ctrl-C or a SIGTERM (Snakemake stopping a job, mer
    # predict closing its feature worker) waits for the end, as a kill mid-write can leave
    # a mismatched pair of files
    with contextlib.nullcontext() if filled else signals_deferred(), \
            contextlib.nullcontext() if filled else _numba_cache_lock(lock_path):
        librosa = importlib.import_module("librosa")
        for name in _LIBROSA_EAGER_MODULES:
            importlib.import_module(name)
        if not filled:
            try:
                from mer.io import write_text_atomic
                write_text_atomic(_cache_stamp(), marker)
            except OSError:  # a read-only cache folder: every import keeps taking the lock
                pass
    return librosa


@contextlib.contextmanager
def signals_deferred():
    """SIGINT and SIGTERM recorded, not acted on, until the block ends; then the first one
    takes effect (KeyboardInterrupt, or SystemExit(128 + 15)). Python runs signal handlers
    in the main thread whichever thread the signal reached, so this holds in a process
    with BLAS threads too; off the main thread (where handlers cannot be set) it does
    nothing."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = {signum: signal.signal(signum, lambda signum, frame: received.append(signum))
                for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if received:
        if received[0] == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + received[0])


def _cache_stamp() -> str:
    """Install times of numba and librosa (a reinstall or upgrade changes them) and the
    number of numba index files in the cache (deleting the cache changes it). Read from
    the files, without importing either package (importlib.metadata alone costs 0.2 s)."""
    def origin(name):
        spec = importlib.util.find_spec(name)
        return Path(spec.origin) if spec and spec.origin else None

    numba, librosa = origin("numba"), origin("librosa")
    installed = [path.stat().st_mtime_ns if path else 0 for path in (numba, librosa)]
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    cache_root = Path(cache_dir) if cache_dir else librosa.parent if librosa else None
    n_index = sum(1 for _ in cache_root.rglob("*.nbi")) if cache_root and cache_root.is_dir() else 0
    return f"numba {installed[0]} librosa {installed[1]} index files {n_index}\n"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def _numba_cache_lock_path() -> Path:
    """A lock file beside the cache numba will use: NUMBA_CACHE_DIR, else librosa's own
    ``__pycache__`` when writable (numba's default), else the temporary directory."""
    cache_dir = os.environ.get("NUMBA_CACHE_DIR")
    if cache_dir:
        return Path(cache_dir) / "mer-librosa-import.lock"
    spec = importlib.util.find_spec("librosa")
    if spec is not None and spec.origin is not None:
        pycache = Path(spec.origin).parent / "__pycache__"
        if os.access(pycache if pycache.exists() else pycache.parent, os.W_OK):
            return pycache / "mer-librosa-import.lock"
    return Path(tempfile.gettempdir()) / "mer-librosa-import.lock"


@contextlib.contextmanager
def _numba_cache_lock(path: Path | None = None):
    try:
        import fcntl
    except ImportError:  # not on POSIX: no lock (the pipeline targets Linux and macOS)
        yield
        return
    path = path or _numba_cache_lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
