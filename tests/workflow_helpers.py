"""Helpers for tests that run the real workflow in a temporary copy of the repository.

`copy_repo` makes a fresh git repo of the project's files, `write_params` shrinks
params.yaml, `run` calls a command with this venv's snakemake and dvc first on PATH.
`tiny_dvc_run` runs the tiny workflow locally once per test session (through `dvc repro`),
for the tests that compare against a local run (SLURM) or version its outputs (DVC remote).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv running the tests also holds snakemake and dvc

# The smallest run that still has every job type: 6 songs, 1 feature set in 2 shards,
# 1 model, 1 target, 2 folds, 1 epoch.
MINIMAL = {
    "synthetic": {"n_songs": 6, "within_song_std": 0.03},
    "features": {"shards": 2, "compare_mode": "per_segment"},
    "grid": "tiny",
    "grids": {"tiny": {"max_epochs": 1, "baseline_model": "LSTM_8", "experiments": [
        {"name": "one", "feature_sets": ["spectral"], "models": ["LSTM_8"]}]}},
    "cv": {"folds": 2, "validation_fraction": 0.25},
    "train": {"targets": ["arousal"]},
    "report": {"table1": {"target": "arousal", "feature_set": "spectral"}},
}


def run(args, cwd, check=True, timeout=900, env=None):
    env = dict(os.environ if env is None else env,
               PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1",
               GIT_AUTHOR_NAME="mer tests", GIT_AUTHOR_EMAIL="tests@mer.invalid",
               GIT_COMMITTER_NAME="mer tests", GIT_COMMITTER_EMAIL="tests@mer.invalid")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}")
    return result


def copy_repo(destination: Path) -> Path:
    """The project's files as git sees them (tracked + new, not ignored), in a fresh repo."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
                            cwd=REPO, capture_output=True, text=True, check=True).stdout
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if source.is_file() and not (name.startswith("reports/") and name != "reports/metrics.json"):
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    for generated in ("dvc.lock", "reports/metrics.json"):  # this run makes its own
        (destination / generated).unlink(missing_ok=True)
    run(["git", "init", "-q", "-b", "main"], destination)
    return destination


def write_params(repo: Path, overrides: dict) -> None:
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for section, values in overrides.items():
        if isinstance(values, dict):
            params[section].update(values)
        else:
            params[section] = values
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def commit(repo: Path, message: str) -> None:
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-q", "-m", message], repo)


_TINY_DVC_RUN: dict[str, Path] = {}


def tiny_dvc_run(tmp_path_factory) -> Path:
    """A temp repo with MINIMAL params after `dvc repro`, committed (dvc.lock, metrics).

    Made once per session and shared: callers must not change it (clone it instead).
    """
    if "repo" not in _TINY_DVC_RUN:
        repo = copy_repo(tmp_path_factory.mktemp("mer-tiny"))
        write_params(repo, MINIMAL)
        commit(repo, "tiny params")
        run(["dvc", "repro"], repo)
        commit(repo, "tiny run")
        _TINY_DVC_RUN["repo"] = repo
    return _TINY_DVC_RUN["repo"]
