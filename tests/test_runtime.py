"""Process-level set-up: the locked first import of librosa (see mer.runtime.import_librosa)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

from mer import runtime

IMPORT_AND_REPORT = "from mer.runtime import import_librosa; import_librosa(); print('imported', flush=True)"


def _blocked_flock_pids() -> set[int]:
    """PIDs waiting for a flock, from /proc/locks ('-> FLOCK ...' lines list the waiters)."""
    pids = set()
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:
            pids.add(int(fields[fields.index("FLOCK") + 3]))
    return pids


@pytest.mark.skipif(not Path("/proc/locks").exists(), reason="needs Linux /proc/locks to see a blocked flock")
def test_a_second_process_waits_for_the_lock_before_importing_librosa():
    # Parallel jobs compiling librosa at once corrupt numba's cache (numba#10128): while one
    # process holds the lock, another must block in flock, then import once it is released.
    with runtime._numba_cache_lock():
        child = subprocess.Popen([sys.executable, "-c", IMPORT_AND_REPORT],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while child.pid not in _blocked_flock_pids():
                assert child.poll() is None, f"imported without waiting for the lock: {child.communicate()}"
                assert time.monotonic() < deadline, "the child never waited for the lock"
                time.sleep(0.05)
        except BaseException:
            child.kill()
            raise
    stdout, stderr = child.communicate(timeout=300)
    assert child.returncode == 0, stderr
    assert stdout.strip() == "imported"


def test_the_lock_sits_in_numba_cache_dir_when_set(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert runtime._numba_cache_lock_path() == tmp_path / "mer-librosa-import.lock"


def test_the_lock_sits_beside_librosa_by_default(monkeypatch):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    path = runtime._numba_cache_lock_path()
    assert path.name == "mer-librosa-import.lock"
    assert path.parent.name == "__pycache__" and path.parent.parent.name == "librosa" \
        or path.parent == Path(runtime.tempfile.gettempdir())
