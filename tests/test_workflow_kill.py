"""Hard kills: SIGKILL the whole snakemake process group mid-stage, resume, same metrics.

One run of the tiny workflow (``workflow_helpers.MINIMAL``) is killed four times, once in
each stage (dataset generation, feature extraction, training, report), each time as soon as
a job of that stage has started (its log file appears). Each restart goes through the
resume path users are told about (docs/reliability.md): ``mer unlock-stale`` (what ``make
run`` does), then the same ``snakemake`` command. The final outputs must equal those of the
session's clean tiny run (``tiny_dvc_run``, shared with the SLURM and DVC-remote tests) bit
for bit. Cost: about one tiny run plus four restarts.
"""

import os
import signal
import subprocess
import time

import pytest

from workflow_helpers import BIN, MINIMAL, commit, copy_repo, run, tiny_dvc_run, write_params

pytestmark = pytest.mark.slow

# (stage, glob whose first match says a job of the stage is running)
KILL_POINTS = [
    ("dataset", "logs/synthetic/generate_synthetic_dataset.log"),
    ("features", "logs/synthetic/features/spectral/shard*.log"),
    ("training", "logs/synthetic/train/spectral/LSTM_8/seed0/fold*.log"),
    ("report", "logs/synthetic/report/make_tables.log"),  # after training (not the dataset table)
]
COMPARED = ["reports/metrics.json", "results/synthetic/folds.csv",
            "data/features/synthetic/spectral.npy",
            "results/synthetic/arousal/spectral/LSTM_8/cv_summary.json",
            "results/synthetic/arousal/spectral/LSTM_8/predictions.csv",
            *(f"results/synthetic/arousal/spectral/LSTM_8/seed0/fold{k}/{name}"
              for k in (0, 1) for name in ("metrics.json", "predictions.csv", "history.csv"))]


def _content(path):
    """The file's bytes; for history.csv without its wall-clock ``seconds`` column."""
    if path.name != "history.csv":
        return path.read_bytes()
    rows = [line.split(",") for line in path.read_text().splitlines()]
    drop = rows[0].index("seconds")
    return [row[:drop] + row[drop + 1:] for row in rows]


def _env():
    return dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1")


def _start(repo):
    return subprocess.Popen([str(BIN / "snakemake"), "--cores", "2"], cwd=repo, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)  # its own group: killed with its jobs


def _kill_when(process, repo, pattern, timeout=900):
    deadline = time.monotonic() + timeout
    while not list(repo.glob(pattern)):
        if process.poll() is not None:
            pytest.fail(f"snakemake ended ({process.returncode}) before {pattern} appeared")
        if time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            pytest.fail(f"{pattern} did not appear within {timeout} s")
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)  # as the OOM killer or a closed terminal would
    process.wait()
    return sorted(p.name for p in (repo / ".snakemake" / "incomplete").glob("*"))


def test_sigkill_in_every_stage_resumes_to_identical_metrics(tmp_path, tmp_path_factory):
    reference = tiny_dvc_run(tmp_path_factory)
    repo = copy_repo(tmp_path)
    write_params(repo, MINIMAL)
    commit(repo, "tiny params")
    in_flight = {}
    for i, (stage, pattern) in enumerate(KILL_POINTS):
        in_flight[stage] = _kill_when(_start(repo), repo, pattern)
        assert list((repo / ".snakemake" / "locks").glob("*.lock")), f"{stage}: no lock left?"
        if i == 0:  # what a user sees without the unlock step: Snakemake's LockException + ours
            plain = run(["snakemake", "--cores", "2"], repo, check=False)
            output = plain.stdout + plain.stderr
            assert plain.returncode != 0 and "cannot be locked" in output
            assert "no snakemake process on this machine works there" in output
            assert "`snakemake --unlock`" in output
        unlocked = run(["mer", "unlock-stale", "."], repo)
        assert "removed the stale Snakemake lock" in unlocked.stdout, stage
    run(["mer", "unlock-stale", "."], repo)
    run(["snakemake", "--cores", "2"], repo)
    print("jobs in flight at each kill (.snakemake/incomplete):", in_flight)
    assert all(in_flight.values()), in_flight  # each kill hit a job mid-way
    for name in COMPARED:
        assert _content(repo / name) == _content(reference / name), name
    assert "Nothing to be done" in run(["snakemake", "-n"], repo).stdout
