"""Process-level set-up: the locked first import of librosa (see mer.runtime.import_librosa).

The child processes replace ``importlib.import_module`` with a recorder, so they show who
waits for the lock and when the marker is written without compiling librosa (~25 s).
"""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mer import runtime

CHILD = """
import importlib
imported = []
importlib.import_module = imported.append
from mer.runtime import import_librosa
import_librosa()
print(" ".join(imported), flush=True)
"""


def _blocked_flock_pids() -> set[int]:
    """PIDs waiting for a flock, from /proc/locks ('-> FLOCK ...' lines list the waiters)."""
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            pids.add(int(fields[fields.index("FLOCK") + 3]))
    return pids


def _start_child(cache_dir: Path) -> subprocess.Popen:
    import os
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache_dir))
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_until_blocked(child: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    try:
        while child.pid not in _blocked_flock_pids():
            assert child.poll() is None, f"imported without waiting for the lock: {child.communicate()}"
            assert time.monotonic() < deadline, "the child never waited for the lock"
            time.sleep(0.05)
    except BaseException:
        child.kill()
        raise


needs_proc_locks = pytest.mark.skipif(not Path("/proc/locks").exists(),
                                      reason="needs Linux /proc/locks to see a blocked flock")


@needs_proc_locks
def test_with_an_unfilled_cache_a_second_process_waits_for_the_lock(tmp_path, monkeypatch):
    # Parallel jobs compiling librosa at once corrupt numba's cache (numba#10128): while one
    # process holds the lock, another must block in flock, import once it is released, and
    # then mark the cache as filled.
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    with runtime._numba_cache_lock():
        child = _start_child(tmp_path)
        _wait_until_blocked(child)
        assert not (tmp_path / "mer-librosa-import.filled").exists()
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert stdout.split() == ["librosa", *runtime._LIBROSA_EAGER_MODULES]
    assert (tmp_path / "mer-librosa-import.filled").read_text() == runtime._cache_stamp()


@needs_proc_locks
def test_with_a_filled_cache_processes_import_without_waiting(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    (tmp_path / "mer-librosa-import.filled").write_text(runtime._cache_stamp())
    with runtime._numba_cache_lock():
        child = _start_child(tmp_path)
        stdout, stderr = child.communicate(timeout=120)  # would hang here if it took the lock
    assert child.returncode == 0, stderr
    assert stdout.split() == ["librosa", *runtime._LIBROSA_EAGER_MODULES]


@needs_proc_locks
def test_a_stale_marker_takes_the_lock_again(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    (tmp_path / "mer-librosa-import.filled").write_text("numba 0.1 librosa 0.1 0\n")  # another install
    with runtime._numba_cache_lock():
        child = _start_child(tmp_path)
        _wait_until_blocked(child)
    stdout, stderr = child.communicate(timeout=120)
    assert child.returncode == 0, stderr
    assert (tmp_path / "mer-librosa-import.filled").read_text() == runtime._cache_stamp()


def test_the_lock_sits_in_numba_cache_dir_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert runtime._numba_cache_lock_path() == tmp_path / "mer-librosa-import.lock"


def test_the_lock_sits_beside_librosa_by_default(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    path = runtime._numba_cache_lock_path()
    assert path.name == "mer-librosa-import.lock"
    assert path.parent.name == "__pycache__" and path.parent.parent.name == "librosa" \
        or path.parent == Path(runtime.tempfile.gettempdir())


COMPILE_RECORDER = """
import numpy as np
import numba.core.compiler as compiler
compiled = []
original = compiler.compile_extra
def recording(typingctx, targetctx, func, *args, **kwargs):
    compiled.append(getattr(func, "__qualname__", repr(func)))
    return original(typingctx, targetctx, func, *args, **kwargs)
compiler.compile_extra = recording
from mer.features.extract import extract_clip_features
from mer.features.registry import BLOCKS
from mer.runtime import import_librosa
import_librosa()
audio = np.random.default_rng(0).standard_normal(3 * 44100).astype(np.float32) * 0.1
extract_clip_features(audio, ["spectral", "cqt"])
print(" ".join(compiled), flush=True)
"""


def test_a_new_process_extracting_features_compiles_no_numba_function():
    # Regression for the slow cold start: numba must load every function mer uses from its
    # on-disk cache. librosa.beat's __beat_local_score is declared cache=False, so importing
    # that module compiled it (~4 s) in every process. A first run may still fill the cache
    # (a fresh install); the second must compile nothing.
    for attempt in range(2):
        result = subprocess.run([sys.executable, "-c", COMPILE_RECORDER], text=True,
                                capture_output=True, timeout=300)
        assert result.returncode == 0, result.stderr
        compiled = result.stdout.split()
        if not compiled:
            break
    assert compiled == [], f"compiled in every new process: {compiled}"
