"""CPU-s of one Snakemake job of each kind, as Snakemake runs it (a new `python` per job).

    PATH=.venv/bin:$PATH python benchmarks/jobs.py [--before REV] [--repeats 3]

Builds a temporary copy of this repository (tests/workflow_helpers.py) with a tiny run: 8
generated songs, 2 folds, 1 epoch, arousal only, MEAN / RIDGE / RIDGE_SONG on ComParE and
on spectral, AT_32 on spectral. Runs it once with `snakemake --skip-script-cleanup`, which
keeps the script Snakemake wrote for each job (its preamble unpickles the job's
`snakemake` object, then the workflow script follows). Each kept script is then run again,
`--repeats` times, as a new process, with `mer` (and the workflow script's body) from
(a) the revision `--before` (default: the merge base with main) and (b) this working tree;
the table gives the minimum of user + sys CPU time (os.wait4), not wall time, so a loaded
machine inflates it less. It also checks that both write byte-identical outputs (the
predictions, metrics, attention and tables; model.pt of a network by its tensors).

"import" is the CPU time spent inside the outermost `import` statements of the job (an
import hook around builtins.__import__, process time; lazy imports inside functions
included; imports through importlib, such as the preamble's unpickling, are not); its share
is of that same run's total. The floors are bare interpreters
importing one library. Work that scales with the data (songs, epochs) is not in these
numbers: the tiny run has 8 songs and 1 epoch.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
import workflow_helpers as helpers  # noqa: E402

MODELS = {"compare": ["MEAN", "RIDGE", "RIDGE_SONG"], "spectral": ["AT_32", "MEAN", "RIDGE", "RIDGE_SONG"]}
PARAMS = dict(helpers.MINIMAL,
              synthetic={"n_songs": 8, "within_song_std": 0.03},
              grids={"tiny": {"max_epochs": 1, "baseline_model": "AT_32", "experiments": [
                  {"name": "families", "feature_sets": ["compare"], "models": MODELS["compare"]},
                  {"name": "feature_sets", "feature_sets": ["spectral"],
                   "models": MODELS["spectral"]}]}})
# Jobs measured (rule of the kept script); data and feature jobs are not (benchmarks/features.py).
# (plot_chromagrams, one job of ~14 CPU-s, is librosa's CQT: work, not fixed cost.)
# The other figure jobs (error histograms, attended frames) import what plot_figure1 does.
REPORT_RULES = ["split_folds", "summarize_cv", "make_tables", "make_claims", "compare_families",
                "plot_figure1", "plot_attention_maps"]
FLOORS = ["pass", "import numpy", "import pandas", "import torch", "import torch, pandas",
          "import sklearn.linear_model", "import scipy.stats", "import matplotlib.pyplot"]

# Runs a kept job script with an import hook; writes the CPU-s spent in outermost imports.
_HOOK = r"""
import builtins, runpy, sys, time, atexit
_real, _depth, _spent = builtins.__import__, [0], [0.0]
def _import(*args, **kwargs):
    if _depth[0]:
        return _real(*args, **kwargs)
    _depth[0] += 1; start = time.process_time()
    try:
        return _real(*args, **kwargs)
    finally:
        _spent[0] += time.process_time() - start; _depth[0] -= 1
builtins.__import__ = _import
_out = sys.argv[2]
atexit.register(lambda: open(_out, "w").write(str(_spent[0])))
script = sys.argv[1]; sys.argv = [script]
runpy.run_path(script, run_name="__main__")
"""


def cpu_seconds(args, env, cwd, repeats: int) -> float:
    """Minimum over `repeats` runs of the child's user + sys CPU time."""
    best = float("inf")
    for _ in range(repeats):
        child = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE)
        _, status, usage = os.wait4(child.pid, 0)
        stderr = child.stderr.read().decode(errors="replace")
        child.stderr.close()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{' '.join(map(str, args))} failed:\n{stderr[-3000:]}")
        best = min(best, usage.ru_utime + usage.ru_stime)
    return best


def job_label(rule: str, text: str) -> str:
    baselines = re.search(r"train/([a-z_]+)/baselines/seed0/fold(\d+)", text)
    if rule == "train_fold" and baselines:  # train_baselines_<set>: the set's baselines, one job
        return f"train_baselines {baselines.group(1)} (fold {baselines.group(2)})"
    if rule == "train_fold":
        feature_set, model, fold = re.search(
            r"results/[a-z_]+/[a-z]+/([a-z_]+)/([A-Z_0-9]+)/seed0/fold(\d+)", text).groups()
        return f"train_fold {model} {feature_set} (fold {fold})"
    return rule


def with_body(script: Path, body: str, destination: Path) -> Path:
    """The kept job script with its workflow-script part replaced by `body`."""
    marker = "######## snakemake preamble end #########\n"
    preamble = script.read_text().split(marker, 1)[0] + marker
    destination.write_text(preamble + body)
    return destination


def outputs_digest(run_dir: Path, text: str) -> dict[str, str]:
    """Digest per file a job writes (the paths named in its pickled snakemake object); the
    wall-clock column `seconds` of history.csv left out, model.pt compared by its tensors."""
    digests = {}
    for name in sorted(set(re.findall(rb"(?:results|reports)/[\w./-]+\.(?:csv|json|md|npz|tsv|pt)",
                                      text.encode("latin-1")))):
        path = run_dir / name.decode()
        if not path.is_file() or "benchmark" in path.name:
            continue
        if path.suffix == ".pt":
            import torch
            state = torch.load(path, map_location="cpu", weights_only=False)
            content = repr(sorted((k, v.numpy().tobytes() if torch.is_tensor(v) else repr(v))
                                  for k, v in _flat(state))).encode()
        elif path.name == "history.csv":
            import pandas as pd
            content = pd.read_csv(path).drop(columns="seconds").to_csv().encode()
        else:
            content = path.read_bytes()
        digests[name.decode()] = hashlib.sha256(content).hexdigest()
    return digests


def _flat(value, prefix=""):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _flat(item, f"{prefix}{key}.")
    else:
        yield prefix, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=None, help="revision to compare with "
                        "(default: git merge-base HEAD main)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="measure only jobs whose label contains this")
    parser.add_argument("--keep", type=Path, default=None, help="reuse/keep this run directory")
    args = parser.parse_args()
    before = args.before or subprocess.run(["git", "merge-base", "HEAD", "main"], cwd=REPO,
                                           capture_output=True, text=True, check=True).stdout.strip()
    work = Path(tempfile.mkdtemp(prefix="mer-jobs-"))
    subprocess.run(f"git archive {before} src workflow/scripts | tar -x -C {work}", shell=True,
                   cwd=REPO, check=True)
    run_dir = args.keep or work / "run"
    if not (run_dir / ".snakemake" / "scripts").is_dir():
        run_dir.mkdir(parents=True, exist_ok=True)
        helpers.copy_repo(run_dir)
        helpers.write_params(run_dir, PARAMS)
        helpers.commit(run_dir, "tiny params")
        helpers.run(["snakemake", "--cores", "2", "--skip-script-cleanup"], run_dir, timeout=3600,
                    env=dict(os.environ, PYTHONPATH=str(REPO / "src")))
    python = sys.executable
    trees = {"before": (work / "src", work / "workflow" / "scripts"),
             "after": (REPO / "src", REPO / "workflow" / "scripts")}
    jobs = {}
    for script in sorted((run_dir / ".snakemake" / "scripts").glob("*.py")):
        rule = script.name.split(".")[1]
        text = script.read_text(encoding="latin-1")
        if rule == "train_fold" and "fold0" not in re.search(r"seed0/fold\d+", text).group():
            continue
        if rule in ("train_fold", *REPORT_RULES) and args.only in job_label(rule, text):
            jobs.setdefault(job_label(rule, text), (rule, script, text))

    print(f"CPU-s per job (user + sys, min of {args.repeats}; tiny run: 8 songs, 2 folds, 1 epoch); "
          f"before = {before[:7]}, after = working tree\n")
    print("| job | before CPU-s | after CPU-s | after: in imports | outputs identical |")
    print("|---|---:|---:|---:|---|", flush=True)
    mismatches = []
    for label, (rule, script, text) in sorted(jobs.items(), key=lambda item: (
            item[1][0] != "train_fold", item[0])):
        result = {}
        for name, (src, scripts) in trees.items():
            job = with_body(script, (scripts / f"{rule}.py").read_text(), work / f"{name}.{rule}.py")
            env = dict(os.environ, PYTHONPATH=str(src), MPLBACKEND="Agg")
            total = cpu_seconds([python, str(job)], env, run_dir, args.repeats)
            digest = outputs_digest(run_dir, text)
            spent_file, imports = work / "import_seconds", (float("inf"), 1.0)
            for _ in range(max(1, args.repeats - 1)):  # (imports, total) of the same run
                hooked = cpu_seconds([python, "-c", _HOOK, str(job), str(spent_file)], env, run_dir, 1)
                imports = min(imports, (float(spent_file.read_text()), hooked))
            result[name] = (total, imports, digest)
        if result["before"][2] != result["after"][2]:
            mismatches.append(f"{label}: " + ", ".join(sorted(
                name for name in result["before"][2] | result["after"][2]
                if result["before"][2].get(name) != result["after"][2].get(name))))
        (b_total, _, b_digest), (a_total, a_imports, a_digest) = result["before"], result["after"]
        share = f"{a_imports[0]:.2f} ({100 * a_imports[0] / a_imports[1]:.0f} %)"
        print(f"| {label} | {b_total:.2f} | {a_total:.2f} | {share} | "
              f"{'yes' if b_digest == a_digest else 'NO'} |", flush=True)
    print("\nFloors (a bare `python -c`):\n\n| statement | CPU-s |\n|---|---:|")
    for statement in FLOORS:
        seconds = cpu_seconds([python, "-c", statement], dict(os.environ), REPO, args.repeats)
        print(f"| `{statement}` | {seconds:.2f} |")
    if mismatches:
        raise SystemExit(f"outputs differ between before and after: {mismatches}")


if __name__ == "__main__":
    main()
