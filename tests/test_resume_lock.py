"""mer.runlock: a lock left by a killed Snakemake is told apart from a live run's."""

import subprocess
import time

from mer.cli import main as mer_main
from mer.runlock import live_runs, lock_files, stale_lock, stale_lock_message, unlock_stale


def _lock(folder):
    locks = folder / ".snakemake" / "locks"
    locks.mkdir(parents=True)
    (locks / "0.input.lock").write_text(str(folder / "data/raw/synthetic") + "\n")
    (locks / "0.output.lock").write_text(str(folder / "results/synthetic/folds.csv") + "\n")
    return sorted(locks.iterdir())


def test_a_lock_without_a_live_snakemake_is_stale_and_unlocked(tmp_path, capsys):
    assert lock_files(tmp_path) == [] and stale_lock(tmp_path) == []
    files = _lock(tmp_path)
    assert stale_lock(tmp_path) == files
    message = stale_lock_message(tmp_path, files)
    assert "`snakemake --unlock`" in message and "killed" in message
    assert mer_main(["unlock-stale", str(tmp_path)]) == 0
    assert "removed the stale Snakemake lock" in capsys.readouterr().out
    assert lock_files(tmp_path) == [] and (tmp_path / ".snakemake" / "locks").is_dir()
    assert mer_main(["unlock-stale", str(tmp_path)]) == 0  # nothing to do


def test_a_live_snakemake_in_the_folder_keeps_its_lock(tmp_path, capsys):
    files = _lock(tmp_path)
    # a process named snakemake working in the folder (exec -a sets its argv[0])
    process = subprocess.Popen(["bash", "-c", "exec -a snakemake sleep 30"], cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        while process.pid not in live_runs(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process.pid in live_runs(tmp_path)
        assert stale_lock(tmp_path) == []
        assert unlock_stale(tmp_path) == ([], [process.pid])
        assert mer_main(["unlock-stale", str(tmp_path)]) == 1
        assert f"live snakemake (pid {process.pid})" in capsys.readouterr().err
        assert lock_files(tmp_path) == files
        other = tmp_path / "elsewhere"
        other.mkdir()
        assert process.pid not in live_runs(other)  # another folder's run does not count
    finally:
        process.kill()
        process.wait()
