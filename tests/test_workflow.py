"""End to end: the real Snakemake workflow and the real DVC commands on a tiny dataset.

Each test works in a temporary copy of the repository (its own git repo), with a params
file shrunk to a few songs, two folds and two epochs.
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the venv running the tests also holds snakemake and dvc

pytestmark = pytest.mark.slow

TINY = {
    "synthetic": {"n_songs": 6, "within_song_std": 0.03},
    "features": {"sets": ["spectral", "compare"], "shards": 2, "compare_mode": "per_segment"},
    "cv": {"folds": 2, "validation_fraction": 0.25},
    "train": {"models": ["LSTM_8", "AT_8"], "max_epochs": 2},
    "report": {"baseline_model": "LSTM_8"},
}


def run(args, cwd, check=True, timeout=900):
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}", DVC_NO_ANALYTICS="1",
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


@pytest.fixture(scope="module")
def tiny_repo(tmp_path_factory):
    repo = copy_repo(tmp_path_factory.mktemp("mer"))
    write_params(repo, TINY)
    commit(repo, "tiny params")
    return repo


def test_invalid_params_stop_before_any_job(tmp_path):
    repo = copy_repo(tmp_path)
    write_params(repo, {"train": {"models": ["AT_8", "GRU_8"]}})
    result = run(["snakemake", "-n"], repo, check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "`train.models[1]`" in output and "GRU_8" in output and "valid forms" in output
    assert not (repo / "data").exists()


def test_snakemake_then_dvc_repro(tiny_repo):
    repo = tiny_repo
    assert "Nothing to be done" not in run(["snakemake", "-n"], repo).stdout

    run(["snakemake", "--cores", "2"], repo)
    for output in ("reports/tables/table1.md", "reports/tables/cv_summary.md", "reports/metrics.json",
                   "reports/figures/fig1_prediction.png", "reports/figures/fig1_prediction.pdf"):
        assert (repo / output).stat().st_size > 0, output
    table1 = (repo / "reports/tables/table1.md").read_text()
    assert "synthetic" in table1 and "AT single" in table1 and "LSTM single" in table1
    assert len(list((repo / "results/synthetic").glob("*/*/*/fold*/model.pt"))) == 2 * 2 * 2 * 2
    assert "Nothing to be done" in run(["snakemake", "-n"], repo).stdout

    # DVC over the finished workflow: every stage runs its Snakemake target, nothing recomputes
    features = repo / "data/features/synthetic/compare.npy"
    features_mtime = features.stat().st_mtime_ns
    run(["dvc", "repro"], repo)
    assert (repo / "dvc.lock").is_file()
    assert features.stat().st_mtime_ns == features_mtime
    commit(repo, "first run")
    assert "didn't change" in run(["dvc", "repro"], repo).stdout

    # A training parameter changes: training and report rerun, features stay cached
    model = next((repo / "results/synthetic").glob("arousal/spectral/AT_8/fold0/model.pt"))
    model_mtime = model.stat().st_mtime_ns
    write_params(repo, {"train": {"max_epochs": 4}})
    repro = run(["dvc", "repro"], repo).stdout
    assert "Stage 'features' didn't change, skipping" in repro
    assert "Running stage 'train'" in repro and "Running stage 'report'" in repro
    assert features.stat().st_mtime_ns == features_mtime
    assert model.stat().st_mtime_ns != model_mtime

    diff = run(["dvc", "metrics", "diff", "--all"], repo).stdout
    assert "reports/metrics.json" in diff
    assert "synthetic.arousal.spectral.AT_8.r2" in diff
    changed = run(["dvc", "metrics", "diff"], repo).stdout
    assert ".r2" in changed  # only changed metrics are listed without --all
