"""DVC remote: push the tiny run's data, features and models, clone, pull, nothing reruns.

The tiny run (workflow_helpers.tiny_dvc_run: `dvc repro` on MINIMAL params) is made once
per session and shared with tests/test_slurm.py.
"""

import configparser
import filecmp
import json
from pathlib import Path

import pytest
import yaml

from workflow_helpers import REPO, commit, run, tiny_dvc_run


def cached_outputs(repo: Path) -> dict[str, list[str]]:
    """dvc.yaml's stages and the outputs DVC caches (what `dvc push` sends), per stage."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    outputs = {}
    for name, stage in stages.items():
        outputs[name] = []
        for out in stage.get("outs", []):
            path, options = (out, {}) if isinstance(out, str) else next(iter(out.items()))
            if options.get("cache", True):
                outputs[name].append(path)
    return outputs


def files_under(root: Path, folders) -> list[Path]:
    return sorted(path.relative_to(root) for folder in folders
                  for path in (root / folder).rglob("*") if path.is_file())


def test_default_remote_is_a_local_folder_beside_the_repo():
    config = configparser.ConfigParser()
    config.read(REPO / ".dvc/config")
    default = config["core"]["remote"]
    url = config[f"'remote \"{default}\"'"]["url"]
    target = (REPO / ".dvc" / url).resolve()  # DVC resolves relative urls from .dvc/
    assert "://" not in url and target.parent == REPO.parent, target  # beside, never inside


@pytest.mark.slow
def test_push_clone_pull_is_up_to_date(tmp_path_factory, tmp_path):
    origin = tiny_dvc_run(tmp_path_factory)
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "--default", "--force", "storage", str(remote)], origin)
    commit(origin, "remote for the test")
    pushed = run(["dvc", "push"], origin).stdout
    assert "pushed" in pushed and remote.is_dir(), pushed

    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], tmp_path)
    assert not (clone / "data").exists()  # git holds no data: everything below comes from the remote
    pull = run(["dvc", "pull"], clone)
    assert "fetched" in pull.stdout or "added" in pull.stdout, pull.stdout

    # Data, features, models and figures: byte for byte the origin's
    stages = cached_outputs(origin)
    folders = [path for outputs in stages.values() for path in outputs]
    assert {"data/raw", "data/features", "results"} <= set(folders)
    origin_files = files_under(origin, folders)
    assert files_under(clone, folders) == origin_files
    assert any(path.name == "model.pt" for path in origin_files)
    assert any(path.suffix == ".npy" for path in origin_files)
    mismatched = [str(path) for path in origin_files
                  if not filecmp.cmp(origin / path, clone / path, shallow=False)]
    assert not mismatched, mismatched

    # Nothing to recompute: DVC sees every stage up to date, and the metrics are the same
    assert "up to date" in run(["dvc", "status"], clone).stdout
    repro = run(["dvc", "repro"], clone).stdout
    assert "Running stage" not in repro, repro
    for stage in stages:
        assert f"Stage '{stage}' didn't change, skipping" in repro, repro
    assert json.loads((clone / "reports/metrics.json").read_text()) == \
        json.loads((origin / "reports/metrics.json").read_text())
