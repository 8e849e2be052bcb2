"""Training speed and memory of the paper's largest models, and batched vs looped attention.

    .venv/bin/python benchmarks/training.py            # largest sizes, CPU (+ CUDA if present)
    .venv/bin/python benchmarks/training.py --quick    # one timed step each
    .venv/bin/python benchmarks/training.py --grid     # all 37 sizes of Tables 1-2 (slow on CPU)
    .venv/bin/python benchmarks/training.py --jobs     # cost of one full-size training job

``--jobs`` prints only the cost of one pipeline training job at the paper's scale (one fold
of 744 songs: 603 fitted, 67 validation, 74 test songs of 61 frames) for the sizes a CPU
can fit (``JOBS``: the four families at 32 units / 1 layer on ``spectral``'s 197 dims, AT_32
on ComParE's 6373): each job runs ``mer.training.fit`` itself (the pipeline's defaults,
one thread, random standardised data of the fold's shape) for ``--job-epochs`` epochs
with early stopping off, then ``predict`` on the test songs, in its own subprocess. It
reports CPU seconds per epoch, the CPU seconds of a job of ``--epochs`` epochs
*extrapolated* from the epochs run (early stopping usually ends sooner: the epochs column
of a run's cv_summary says how much), and the job's peak RSS (torch and the fold's data
included), so a user can size a grid: jobs x CPU-s / cores.

Every case runs in its own subprocess so that its peak memory (CPU: the process's peak RSS,
torch import included; CUDA: ``torch.cuda.max_memory_allocated``) is its own. Input is
ComParE-sized: batch 20 songs x 61 frames x 6373 dims (``--batch``, ``--frames``,
``--input-dim``). A *train step* is what ``mer.training.fit`` does per minibatch: forward
(free-running feedback), MSE, backward, RMSprop step; on the CPU with oneDNN off, as
``fit`` runs. *eval* is a forward pass in evaluation mode without gradients.

The naive reference for attention is ``mer.models.reference_attention``: a Python loop over
the T output frames that, as a step-by-step decoder does, projects the keys U h_j again at
every step. A second loop that projects them once (``hoisted loop``) shows how much of the
gain is the hoisting and how much the batching. The batched form must be >= 3x the naive
loop at T = 61 (forward + backward); the script exits 1 otherwise.

Last, an estimate of the paper's full grid (37 configurations x 2 targets x 10 folds, 744
songs: 603 fitted, 67 validation, 74 test songs per fold) for ``--epochs`` epochs per
training (default 50, the paper's cap; early stopping ends earlier): configurations not
timed are scaled from the timed model of their family by matmul FLOPs. ``--grid`` times
all 37 instead (slow on a CPU: the 2048-wide ones take minutes each).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

LARGEST = ["LSTM_2048", "AT_2048_1024", "BAT_2048_1024", "TRANSFORMER_4"]
# (model, feature set, dims) of the --jobs table: the sizes of a CPU grid at full scale
JOBS = [("LSTM_32", "spectral", 197), ("AT_32", "spectral", 197), ("BAT_32", "spectral", 197),
        ("TRANSFORMER_1", "spectral", 197), ("AT_32", "compare", 6373)]
from mer.reports.paper import PAPER_GRID  # noqa: E402 (Tables 1-2: the 37 configurations)
# the pipeline's TRANSFORMER options (params.yaml train.transformer); read from there if found
TRANSFORMER_DEFAULTS = {"d_model": 64, "heads": 4, "ff_dim": 128, "dropout": 0.1}
# songs per fold for the paper's data: 744 songs, 10 folds, 10 % of training for validation
FIT_SONGS, VALIDATION_SONGS, TEST_SONGS, FOLDS, TARGETS = 603, 67, 74, 10, 2


def transformer_options(params: Path) -> dict:
    try:
        import yaml
        return dict(yaml.safe_load(params.read_text())["train"]["transformer"])
    except (OSError, KeyError, TypeError):
        return dict(TRANSFORMER_DEFAULTS)


def matmul_gflop(name: str, input_dim: int, frames: int, options: dict) -> float:
    """Multiply-add FLOPs of one forward pass per song (GFLOP); backward is about 2x this."""
    from mer.models import parse_model_name

    spec = parse_model_name(name)
    flop = 0.0
    if spec.family == "TRANSFORMER":
        d, ff = options["d_model"], options["ff_dim"]
        flop += 2 * frames * input_dim * d
        flop += spec.sizes[0] * (2 * frames * 4 * d * d + 2 * 2 * frames * frames * d
                                 + 2 * 2 * frames * d * ff)
        return flop / 1e9
    n_in = input_dim
    for hidden in spec.sizes:
        flop += 2 * frames * 4 * hidden * (n_in + hidden)
        n_in = hidden
    if spec.family in ("AT", "BAT"):
        hidden = spec.sizes[-1]  # attention_dim = last hidden size
        flop += 2 * 2 * frames * hidden * hidden          # W h_{t-1}, U h_j
        flop += 2 * frames * frames * hidden * 2          # v . tanh(...), sum_j alpha h_j
    return flop / 1e9


# ----------------------------------------------------------------------------- children

def _setup(device: str, threads: int):
    import torch
    torch.set_num_threads(threads)
    if device == "cpu":
        torch.backends.mkldnn.enabled = False  # as mer.training.fit runs on the CPU
    return torch


def _timed(torch, device, function, warmup: int, repeats: int) -> float:
    """Median seconds of ``function()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        function()
    seconds = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        function()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds)


def _peak_mb(torch, device) -> float:
    if device == "cuda":
        return torch.cuda.max_memory_allocated() / 2**20
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def run_model_case(case: dict) -> dict:
    torch = _setup(case["device"], case["threads"])
    from mer.models import build_model, count_parameters
    from mer.runtime import seed_everything

    seed_everything(0)
    options = case["transformer"] if case["name"].startswith("TRANSFORMER") else {}
    device = torch.device(case["device"])
    model = build_model(case["name"], case["input_dim"], **options).to(device)
    x = torch.randn(case["batch"], case["frames"], case["input_dim"], device=device)
    y = torch.randn(case["batch"], case["frames"], device=device)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)

    def train_step():
        model.train()
        optimizer.zero_grad(set_to_none=True)
        prediction, _ = model(x)
        loss = torch.mean((prediction - y) ** 2)
        loss.backward()
        optimizer.step()

    def eval_step():
        model.eval()
        with torch.no_grad():
            model(x)

    train_s = _timed(torch, case["device"], train_step, case["warmup"], case["repeats"])
    eval_s = _timed(torch, case["device"], eval_step, case["warmup"], case["repeats"])
    return {"params": count_parameters(model), "train_step_s": train_s,
            "train_seq_s": case["batch"] / train_s, "eval_seq_s": case["batch"] / eval_s,
            "peak_mb": _peak_mb(torch, case["device"])}


def hoisted_loop_attention(attention, encoded, causal: bool):
    """The loop of ``reference_attention`` with W h and U h projected once, before it."""
    import torch
    from mer.models.attention import shift_right

    batch, n_frames, hidden = encoded.shape
    queries, keys = attention.query(shift_right(encoded)), attention.key(encoded)
    contexts = []
    for t in range(n_frames):
        n_allowed = t if causal else n_frames
        if n_allowed == 0:
            contexts.append(encoded.new_zeros(batch, hidden))
            continue
        energy = attention.score(torch.tanh(queries[:, t:t + 1] + keys[:, :n_allowed]))
        alpha = torch.softmax(energy, dim=1)  # (batch, n_allowed, 1)
        contexts.append((alpha * encoded[:, :n_allowed]).sum(dim=1))
    return torch.stack(contexts, dim=1), None


def run_attention_case(case: dict) -> dict:
    torch = _setup(case["device"], case["threads"])
    from mer.models import reference_attention
    from mer.models.attention import AdditiveAttention, shift_right
    from mer.runtime import seed_everything

    seed_everything(0)
    device = torch.device(case["device"])
    hidden = case["hidden"]
    attention = AdditiveAttention(hidden, hidden).to(device)
    encoded = torch.randn(case["batch"], case["frames"], hidden, device=device,
                          requires_grad=True)
    forms = {
        "batched": lambda: attention(shift_right(encoded), encoded, case["causal"]),
        "naive loop": lambda: reference_attention(attention, encoded, case["causal"]),
        "hoisted loop": lambda: hoisted_loop_attention(attention, encoded, case["causal"]),
    }

    def forward_backward(form):
        def step():
            attention.zero_grad(set_to_none=True)
            encoded.grad = None
            context, _ = form()
            context.square().mean().backward()
        return step

    return {label: _timed(torch, case["device"], forward_backward(form), case["warmup"],
                          case["repeats"]) for label, form in forms.items()}


def run_job_case(case: dict) -> dict:
    """One training job as the pipeline runs it (``mer.training.fit`` + ``predict``)."""
    import resource

    import numpy as np
    torch = _setup("cpu", 1)
    from mer.models import build_model
    from mer.runtime import seed_everything
    from mer.training import TrainConfig, fit, predict

    rng = np.random.default_rng(0)

    def songs(n):
        return (rng.standard_normal((n, case["frames"], case["input_dim"]), dtype=np.float32),
                rng.standard_normal((n, case["frames"]), dtype=np.float32))

    (x, y), (vx, vy), (tx, _) = songs(FIT_SONGS), songs(VALIDATION_SONGS), songs(TEST_SONGS)
    seed_everything(0)
    options = case["transformer"] if case["name"].startswith("TRANSFORMER") else {}
    model = build_model(case["name"], case["input_dim"], **options)
    epochs = case["epochs"]
    started = time.process_time()
    fit(model, x, y, vx, vy, TrainConfig(max_epochs=epochs, patience=epochs + 1))
    fit_cpu = time.process_time() - started
    started = time.process_time()
    predict(model, tx)
    predict_cpu = time.process_time() - started
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {"epoch_cpu_s": fit_cpu / epochs, "predict_cpu_s": predict_cpu,
            "peak_mb": usage.ru_maxrss / 1024, "torch_threads": torch.get_num_threads()}


def child(case: dict) -> dict:
    if case["kind"] == "model":
        return run_model_case(case)
    if case["kind"] == "job":
        return run_job_case(case)
    return run_attention_case(case)


def print_jobs(args, transformer: dict) -> None:
    print(f"# one training job at full scale: {FIT_SONGS} fitted + {VALIDATION_SONGS} "
          f"validation songs per epoch, {TEST_SONGS} test songs predicted, {args.frames} "
          f"frames, batch 20, 1 thread, mer.training defaults; {args.job_epochs} epoch(s) "
          f"run per job, the {args.epochs}-epoch column EXTRAPOLATED from them")
    print(f"\n| model | feature set (dims) | CPU-s / epoch | CPU-s, {args.epochs} epochs + "
          f"predict | CPU-h, 2 targets x 10 folds | peak RSS (MiB) |")
    print("|---|---|---:|---:|---:|---:|")
    for name, feature_set, dims in JOBS:
        case = {"kind": "job", "name": name, "input_dim": dims, "frames": args.frames,
                "epochs": args.job_epochs, "transformer": transformer}
        result = run_in_subprocess(case)
        job = args.epochs * result["epoch_cpu_s"] + result["predict_cpu_s"]
        print(f"| {name} | {feature_set} ({dims}) | {result['epoch_cpu_s']:.2f} | {job:.0f} "
              f"| {TARGETS * FOLDS * job / 3600:.2f} | {result['peak_mb']:.0f} |", flush=True)


def run_in_subprocess(case: dict) -> dict:
    completed = subprocess.run([sys.executable, __file__, "--child", json.dumps(case)],
                               capture_output=True, text=True)
    if completed.returncode != 0:
        raise RuntimeError(f"case {case} failed:\n{completed.stderr[-3000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- parent

def grid_hours(result: dict, epochs: int) -> float:
    """Hours of one machine for 2 targets x 10 folds of one configuration."""
    per_fold = (epochs * (FIT_SONGS / result["train_seq_s"]
                          + VALIDATION_SONGS / result["eval_seq_s"])
                + TEST_SONGS / result["eval_seq_s"])
    return TARGETS * FOLDS * per_fold / 3600


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one warm-up and one timed step")
    parser.add_argument("--grid", action="store_true",
                        help="time all 37 configurations and estimate the full grid")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="auto: the CPU, and CUDA too when torch sees a GPU")
    parser.add_argument("--threads", type=int, default=os.cpu_count(),
                        help="torch CPU threads (default: all cores)")
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--frames", type=int, default=61)
    parser.add_argument("--input-dim", type=int, default=6373)
    parser.add_argument("--epochs", type=int, default=50, help="epochs per training in the grid estimate")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--jobs", action="store_true",
                        help="only the cost of one full-size training job per family")
    parser.add_argument("--job-epochs", type=int, default=2,
                        help="epochs each --jobs job runs (the rest is extrapolated)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0

    import torch
    if args.jobs:
        print(f"# torch {torch.__version__}")
        print_jobs(args, transformer_options(args.params))
        return 0
    devices = [args.device] if args.device != "auto" else (
        ["cpu", "cuda"] if torch.cuda.is_available() else ["cpu"])
    warmup, repeats = (1, 1) if args.quick else (1, 2)
    transformer = transformer_options(args.params)
    names = PAPER_GRID if args.grid else LARGEST
    print(f"# torch {torch.__version__}, {args.threads} CPU thread(s), batch {args.batch} x "
          f"{args.frames} frames x {args.input_dim} dims, {warmup} warm-up + {repeats} timed "
          f"step(s) each; transformer {transformer}")
    if "cuda" in devices:
        print(f"# CUDA: {torch.cuda.get_device_name(0)}")

    results = {}
    print("\n| model | device | parameters | GFLOP/step | train step (s) | train seq/s "
          "| eval seq/s | GFLOP/s | peak memory (MiB) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for device in devices:
        for name in names:
            case = {"kind": "model", "name": name, "device": device, "threads": args.threads,
                    "batch": args.batch, "frames": args.frames, "input_dim": args.input_dim,
                    "transformer": transformer, "warmup": warmup, "repeats": repeats}
            result = run_in_subprocess(case)
            results[name, device] = result
            gflop = 3 * args.batch * matmul_gflop(name, args.input_dim, args.frames, transformer)
            print(f"| {name} | {device} | {result['params']:,} | {gflop:.0f} "
                  f"| {result['train_step_s']:.3f} | {result['train_seq_s']:.1f} "
                  f"| {result['eval_seq_s']:.1f} | {gflop / result['train_step_s']:.0f} "
                  f"| {result['peak_mb']:.0f} |", flush=True)

    ok = True
    print(f"\n| attention (H = A = 1024, T = {args.frames}), forward + backward | device "
          "| batched (ms) | naive loop (ms) | hoisted loop (ms) | batched vs naive "
          "| batched vs hoisted |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for device in devices:
        for causal in (False, True):
            case = {"kind": "attention", "device": device, "threads": args.threads,
                    "batch": args.batch, "frames": args.frames, "hidden": 1024,
                    "causal": causal, "warmup": 1, "repeats": 1 if args.quick else 3}
            times = run_in_subprocess(case)
            speedup = times["naive loop"] / times["batched"]
            ok &= speedup >= 3
            print(f"| {'BAT' if causal else 'AT'} | {device} | {1e3 * times['batched']:.0f} "
                  f"| {1e3 * times['naive loop']:.0f} | {1e3 * times['hoisted loop']:.0f} "
                  f"| {speedup:.1f}x | {times['hoisted loop'] / times['batched']:.1f}x |",
                  flush=True)
    print(f"\nbatched attention >= 3x the naive loop at T = {args.frames}: "
          f"{'yes' if ok else 'NO'}")

    for device in devices:
        print(f"\n## full grid on {device} ({args.threads} thread(s)), one training at a time: "
              f"{TARGETS} targets x {FOLDS} folds x {args.epochs} epochs per configuration")
        print("| model | hours | cumulative hours (cheapest first) | from |\n|---|---:|---:|---|")
        rows = []
        for name in PAPER_GRID:
            result, source = estimate(results, name, device, args, transformer)
            rows.append((grid_hours(result, args.epochs), name, source))
        total = 0.0
        for hours, name, source in sorted(rows):
            total += hours
            print(f"| {name} | {hours:.2f} | {total:.1f} | {source} |")
    return 0 if ok else 1


def estimate(results: dict, name: str, device: str, args, transformer: dict
             ) -> tuple[dict, str]:
    """A configuration's measured speeds, or, when it was not timed, those of the timed
    model of its family scaled by matmul FLOPs (optimistic for small models, whose
    kernels run below the large ones' FLOP rate)."""
    if (name, device) in results:
        return results[name, device], "measured"
    from mer.models import parse_model_name

    family = parse_model_name(name).family
    timed = next(n for n in LARGEST if parse_model_name(n).family == family)
    ratio = (matmul_gflop(timed, args.input_dim, args.frames, transformer)
             / matmul_gflop(name, args.input_dim, args.frames, transformer))
    base = results[timed, device]
    return ({"train_seq_s": base["train_seq_s"] * ratio,
             "eval_seq_s": base["eval_seq_s"] * ratio}, f"FLOPs x {timed}")


if __name__ == "__main__":
    sys.exit(main())
