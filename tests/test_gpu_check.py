"""The GPU check's code path without a GPU: benchmarks/gpu.py in its short mode on the CPU
(every table, in order), its parity verdict on a device copy that differs, the GPU
profile's dry run (each CUDA training job takes one GPU slot), and mer.gpu_slots' round
robin over several GPUs."""

from __future__ import annotations

import importlib.util
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from workflow_helpers import MINIMAL, REPO, copy_repo, run, write_params

GPU_SCRIPT = REPO / "benchmarks" / "gpu.py"


def gpu_module():
    spec = importlib.util.spec_from_file_location("gpu_check", GPU_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def section(report: str, title: str) -> str:
    """The text of the ``## <title>...`` section."""
    parts = [part for part in report.split("\n## ") if part.startswith(title)]
    assert len(parts) == 1, f"expected one section {title!r} in:\n{report}"
    return parts[0]


def table_rows(text: str) -> list[list[str]]:
    """Cells of a markdown table's body rows (header and separator dropped)."""
    lines = [line for line in text.splitlines() if line.startswith("|")]
    assert len(lines) >= 3 and set(lines[1].replace("|", "").strip()) <= set("-: "), text
    width = lines[0].count("|")
    assert all(line.count("|") == width for line in lines), f"ragged table:\n{text}"
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines[2:]]


@pytest.fixture(scope="module")
def short_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("gpu-check") / "gpu.md"
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    result = subprocess.run([sys.executable, str(GPU_SCRIPT), "--short", "--device", "cpu",
                             "--out", str(out)], capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout, out.read_text()


def test_short_mode_on_the_cpu_prints_every_table(short_report):
    stdout, report = short_report
    assert "ran on the CPU" in report.split("\n## ")[0]
    titles = [part.split("\n")[0] for part in report.split("\n## ")[1:]]
    assert [t.split(" ")[0] for t in titles] == ["Parity:", "Training", "N", "The", "Tiny"], titles

    parity = table_rows(section(report, "Parity: CPU against CPU"))
    models = [row[0] for row in parity[:-1]]
    assert [m.split("_")[0] for m in models] == ["LSTM", "AT", "BAT", "TRANSFORMER"]
    assert all(len(name.split("_")) > 2 or name.startswith("TRANSFORMER_2") for name in models)
    for row in parity[:-1]:  # CPU against CPU: every difference exactly 0
        assert row[-1] == "pass", row
        figures = [row[1], *row[2].split(" / "), row[3].split(" ")[0], row[4], row[6], row[7]]
        assert all(float(figure) == 0.0 for figure in figures), row
        assert row[5] == "0.000 %"
    assert parity[-1][0] == "*tolerance*" and float(parity[-1][1]) > 0

    throughput = table_rows(section(report, "Training throughput"))
    assert len(throughput) == 8
    for row in throughput:  # every variant measured: positive times and sequences/s
        assert all(float(row[i]) > 0 for i in (2, 3, 5, 7, 8)), row
        assert row[4] == row[9] == "—"  # no GPU memory on the CPU
        assert row[6].endswith("x") and row[10].endswith("x")

    concurrency = table_rows(section(report, "N training jobs"))
    assert [(row[0].split(":")[0], row[1]) for row in concurrency] == [
        ("small", "1"), ("small", "2"), ("large", "1"), ("large", "2")]
    assert all(float(row[2]) > 0 for row in concurrency)
    assert concurrency[0][4] == concurrency[2][4] == "1.00x"

    from mer.config import grid_runs
    from mer.models import is_baseline
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    n_runs = sum(not is_baseline(model) for _, model in grid_runs({**params, "grid": "paper"}))
    grid = table_rows(section(report, "The paper's grid"))
    total = grid[-1]
    assert total[0] == "**total**" and int(total[1]) == n_runs
    assert int(total[2]) == n_runs * len(params["train"]["targets"]) * params["cv"]["folds"] \
        * params["train"]["seeds"]
    assert sum(int(row[1]) for row in grid[:-1]) == n_runs
    assert all(math.isfinite(float(cell)) and float(cell) > 0 for cell in total[3:])

    assert "skipped: no CUDA GPU here" in section(report, "Tiny workflow run")
    for part in report.split("\n## ")[1:]:  # printed as written
        assert part.split("\n")[0] in stdout


def test_parity_flags_a_device_copy_that_differs():
    import torch

    gpu = gpu_module()

    def perturbed(model, device):
        copy = gpu.to_device(model, device)
        with torch.no_grad():
            for parameter in copy.parameters():
                parameter.add_(1e-2 * torch.randn_like(parameter))
        return copy

    same = gpu.parity_case("AT_6_4", "cpu", 3, 8, 5)
    assert same["verdict"] == "pass"
    different = gpu.parity_case("AT_6_4", "cpu", 3, 8, 5, transfer=perturbed)
    assert different["verdict"].startswith("FAIL") and "forward" in different["verdict"]
    assert different["forward"] > gpu.TOLERANCES["forward"]


def dry_run_resources(repo: Path, device: str) -> dict[str, list[dict]]:
    """Each job's resources in ``snakemake -n --profile profiles/gpu``, by rule."""
    write_params(repo, {**MINIMAL, "train": {**MINIMAL["train"], "device": device}})
    output = run(["snakemake", "-n", "--profile", "profiles/gpu"], repo).stdout
    jobs, rule = {}, None
    for line in output.splitlines():
        if line.startswith("rule ") or line.startswith("localrule "):
            rule = line.split()[1].rstrip(":")
        elif line.strip().startswith("resources:") and rule:
            pairs = (item.split("=", 1) for item in line.split(":", 1)[1].split(", "))
            jobs.setdefault(rule, []).append({key.strip(): value for key, value in pairs})
            rule = None
    return jobs


def test_gpu_profile_gives_each_cuda_training_job_one_slot(tmp_path):
    """The dry run needs no GPU. With `train.device: cuda` every training job asks for one
    of the profile's `gpu_slots` (so Snakemake runs at most that many at once: 4 per GPU by
    default) and nothing else does; on the CPU no job takes a slot."""
    profile = yaml.safe_load((REPO / "profiles/gpu/config.yaml").read_text())
    slots = profile["resources"]["gpu_slots"]
    assert isinstance(slots, int) and slots > 1
    repo = copy_repo(tmp_path)
    on_cuda = dry_run_resources(repo, "cuda")
    assert len(on_cuda["train_fold"]) == MINIMAL["cv"]["folds"]
    assert all(job["gpu_slots"] == "1" and job["gpu"] == "1" for job in on_cuda["train_fold"])
    others = [job for rule, jobs in on_cuda.items() if rule != "train_fold" for job in jobs]
    assert others and not any("gpu_slots" in job for job in others)
    on_cpu = dry_run_resources(repo, "cpu")
    assert all(job.get("gpu_slots", "0") == "0" for jobs in on_cpu.values() for job in jobs)


def test_claim_gpu_spreads_jobs_round_robin(tmp_path, monkeypatch):
    """Jobs alive at once take GPUs 3, 5, 3, ...; a finished job's slot is taken again."""
    from mer.gpu_slots import claim_gpu

    env = dict(os.environ, CUDA_VISIBLE_DEVICES="3,5", MER_GPU_LOCKS=str(tmp_path),
               PYTHONPATH=str(REPO / "src"))
    code = ("import os, sys; from mer.gpu_slots import claim_gpu; gpu = claim_gpu('cuda'); "
            "print(gpu, os.environ['CUDA_VISIBLE_DEVICES'], flush=True); sys.stdin.read()")

    def job():
        process = subprocess.Popen([sys.executable, "-c", code], env=env, text=True,
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        return process, process.stdout.readline().split()

    jobs = [job() for _ in range(3)]
    try:
        assert [claimed for _, claimed in jobs] == [["3", "3"], ["5", "5"], ["3", "3"]]
        jobs[1][0].communicate("")  # the job on GPU 5 ends: its slot is free again
        jobs.append(job())
        assert jobs[-1][1] == ["5", "5"]
    finally:
        for process, _ in jobs:
            if process.poll() is None:
                process.communicate("")
    monkeypatch.setenv("MER_GPU_LOCKS", str(tmp_path / "here"))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    assert claim_gpu("cpu") is None  # CPU jobs never pin a GPU
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    assert claim_gpu("cuda") is None and os.environ["CUDA_VISIBLE_DEVICES"] == "1"
    assert not (tmp_path / "here").exists()  # one GPU: nothing to share out
