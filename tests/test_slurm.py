"""Cluster execution: the tiny workflow through `--profile profiles/slurm` on a real
single-node SLURM cluster (tests/slurm_cluster.py), compared with a local run.

The cluster test needs root and apt (or SLURM already installed); anywhere else it is
skipped, with the reason in pytest's summary. Its wall time is mostly SLURM status
polling: ~30 s per dependency level (4 levels thanks to the profile's groups).
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from slurm_cluster import PARTITION, ClusterUnavailable, SlurmCluster
from workflow_helpers import BIN, MINIMAL, REPO, commit, copy_repo, tiny_dvc_run, write_params

PROFILE = REPO / "profiles/slurm/config.yaml"
TIMEOUT_S = 540  # the whole SLURM run; `timeout -k` because a polling failure hangs, not fails


def rules_with_jobs() -> set[str]:
    """Rules that run something (script/shell/run), from workflow/rules/*.smk."""
    names = set()
    for smk in (REPO / "workflow/rules").glob("*.smk"):
        for block in re.split(r"^(?=rule |checkpoint )", smk.read_text(), flags=re.M)[1:]:
            if re.search(r"^    (script|shell|run|notebook|wrapper):", block, flags=re.M):
                names.add(re.match(r"(?:rule|checkpoint) (\w+):", block).group(1))
    return names


# Training (per fold, and the final model export) is the real work: one SLURM job each.
UNGROUPED = {"train_fold", "export_model"}


def test_profile_groups_every_rule_but_training():
    profile = yaml.safe_load(PROFILE.read_text())
    assert profile["executor"] == "slurm"
    assert profile["slurm-status-command"] == "squeue"
    grouped = set(profile["groups"])
    missing = rules_with_jobs() - grouped - UNGROUPED
    assert not missing, (f"rules {sorted(missing)} would each be a separate SLURM job: add them "
                         f"to `groups:` in {PROFILE.relative_to(REPO)}")
    assert not UNGROUPED & grouped
    assert set(profile["groups"].values()) <= set(profile["group-components"])


def test_cluster_unavailable_says_why(monkeypatch, tmp_path):
    import slurm_cluster

    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 1000)
    with pytest.raises(ClusterUnavailable, match="needs root"):
        SlurmCluster(tmp_path).start()
    monkeypatch.setattr(slurm_cluster, "DAEMONS", ("/nonexistent/slurmd",))
    with pytest.raises(ClusterUnavailable, match="installing it needs root"):
        slurm_cluster.ensure_installed()
    monkeypatch.setattr(slurm_cluster.os, "geteuid", lambda: 0)
    monkeypatch.setattr(slurm_cluster.shutil, "which", lambda name: None)
    with pytest.raises(ClusterUnavailable, match="no apt-get"):
        slurm_cluster.ensure_installed()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    scratch = tmp_path_factory.mktemp("slurm")
    try:
        started = SlurmCluster(scratch).start()
    except ClusterUnavailable as reason:
        pytest.skip(f"cannot start a SLURM cluster on this machine: {reason}")
    yield started
    started.stop()


def node_size() -> tuple[int, int]:
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"CPUs=(\d+)", line).group(1)), int(re.search(r"RealMemory=(\d+)", line).group(1))


@pytest.mark.slurm
@pytest.mark.slow
def test_tiny_workflow_on_slurm_equals_local_run(cluster, tmp_path, tmp_path_factory):
    repo = copy_repo(tmp_path / "mer")
    write_params(repo, MINIMAL)
    commit(repo, "tiny params")
    cpus, memory_mb = node_size()
    command = ["timeout", "-k", "10", str(TIMEOUT_S), "snakemake", "--profile", "profiles/slurm",
               # this node's size: no grouped job may ask for more than it has
               "--cores", str(cpus), "--resources", f"mem_mb={memory_mb}",
               # no accounting on the test cluster; keep the sbatch logs as evidence
               "--slurm-no-account", "--slurm-keep-successful-logs", "--verbose"]
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               MER_SLURM_PARTITION=PARTITION)  # the partition reaches sbatch through the profile
    log = tmp_path / "snakemake.log"
    with open(log, "w") as out:
        slurm_run = subprocess.Popen(command, cwd=repo, stdout=out, stderr=subprocess.STDOUT,
                                     env=env)
    try:
        local = tiny_dvc_run(tmp_path_factory)  # the local run, while SLURM polls (or cached)
        returncode = slurm_run.wait(timeout=TIMEOUT_S + 30)
    finally:
        if slurm_run.poll() is None:
            slurm_run.kill()
    output = log.read_text(errors="replace")
    queue = subprocess.run(["squeue"], capture_output=True, text=True).stdout
    assert returncode == 0, (f"snakemake on SLURM failed ({returncode}; 124 = timed out):\n"
                             f"{output[-6000:]}\nsqueue:\n{queue}\n{cluster.logs()}")

    # Every job with work went to SLURM: small jobs grouped, one SLURM job per training fold
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+) \(log: (.+?)\)\.", output)
    folders = [re.search(r"logs/slurm/([^/]+)/", path).group(1) for _, path in submitted]
    kinds = sorted("_".join(f.split("_")[:2]) if f.startswith("group_") else f for f in folders)
    n_folds = MINIMAL["cv"]["folds"]
    assert kinds == ["group_features", "group_prepare", "group_report"] + ["rule_train_fold"] * n_folds
    assert set(re.findall(r"^localrule (\w+):", output, flags=re.M)) <= {"all"}
    sbatch = re.findall(r"^sbatch call: (.*)$", output, flags=re.M)
    assert len(sbatch) == len(submitted) and all(f" -p {PARTITION} " in call for call in sbatch)

    # SLURM's own record (jobcomp/filetxt): each of those jobs completed on our node
    records = {record["JobId"]: record for record in cluster.completed_jobs()}
    for job_id, _ in submitted:
        assert records[job_id]["JobState"] == "COMPLETED", records[job_id]
        assert records[job_id]["ExitCode"] == "0:0", records[job_id]
    run_names = {records[job_id]["Name"] for job_id, _ in submitted}
    assert len(run_names) == 1  # one Snakemake run (its run uuid is the SLURM job name)

    # ... and each rule of the DAG ran inside one of them (the job step's log names it)
    slurm_logs = "".join(Path(path).read_text() for _, path in submitted)
    stats = output[output.index("Job stats:"):output.index("total")]
    dag_rules = set(re.findall(r"^(\w+)\s+\d+$", stats, flags=re.M)) - {"all", "job"}
    assert {"generate_synthetic_dataset", "train_fold", "make_tables"} <= dag_rules
    ran_in_slurm = set(re.findall(r"^rule (\w+):", slurm_logs, flags=re.M))
    assert dag_rules <= ran_in_slurm, f"not seen in any SLURM job log: {dag_rules - ran_in_slurm}"

    # Same results as the local run with the same params
    assert json.loads((repo / "reports/metrics.json").read_text()) == \
        json.loads((local / "reports/metrics.json").read_text())
    for summary in sorted((local / "results").rglob("cv_summary.json")):
        relative = summary.relative_to(local)
        assert json.loads((repo / relative).read_text()) == json.loads(summary.read_text()), relative
