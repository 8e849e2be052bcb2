"""The prepared GPU check: CPU/CUDA parity, training throughput and memory, N training jobs
sharing one card, a tiny workflow run on CUDA, and the paper grid's GPU-hours.

    .venv/bin/python benchmarks/gpu.py --out gpu.md   # the check (~4 min on one GPU)
    .venv/bin/python benchmarks/gpu.py --short        # tiny sizes, for the tests (~20 s on a CPU)
    bash benchmarks/gpu_run.sh gpu.md                 # on a GPU machine that has no mer venv

Every section prints a markdown table and the whole report is (re)written to ``--out``
after each section, so a run stopped by a time limit keeps what it measured. Without CUDA
the same code runs on the CPU and says so: parity is then CPU against CPU (trivially
equal), and the workflow run on CUDA is skipped with a line saying why.

Sections (docs/gpu.md explains each column):

* **parity**: one model per family (multi-layer sizes) on a padded, DEAM-style batch
  (songs of different lengths, NaN in the padded frames). The model is built once on the
  CPU and copied to the device. Compared: the forward outputs on real frames, the masked
  MSE loss of ``mer.training.fit``, every gradient, one ``mer.training.RMSprop`` step on
  identical gradients, one whole ``fit`` minibatch step on each device (own gradients),
  ``predict`` after it, and the device's checkpoint loaded and evaluated on the CPU.
  TF32 is off throughout (``torch.backends.cuda.matmul.allow_tf32`` and
  ``torch.backends.cudnn.allow_tf32``), so the device computes in true fp32; TRANSFORMER
  dropout is 0 (the two devices draw different dropout masks). Tolerances: ``TOLERANCES``.
* **throughput**: one training step as ``fit`` runs it per minibatch (forward with
  free-running feedback, MSE, backward, RMSprop step) at the paper's largest and smallest
  sizes on ComParE-shaped input (batch 20 x 61 frames x 6373 dims), in fp32 with torch's
  default math (cuDNN may use TF32 for LSTMs on Ampere and newer: what a training job
  gets) and under ``torch.autocast(dtype=torch.bfloat16)``; peak memory is
  ``torch.cuda.max_memory_allocated`` for that case alone (weights, RMSprop state,
  activations, input).
* **concurrency**: N = 1, 2, 4, 8 training processes on one card at once (each one thread,
  as a pipeline training job), each timing train steps for the same seconds; the sum of
  their sequences/s against N = 1 gives the N worth setting in profiles/gpu.
* **workflow**: a copy of the repository with a tiny params.yaml (tests/workflow_helpers'
  MINIMAL) and ``train.device: cuda`` runs the real Snakemake workflow with
  ``--profile profiles/gpu``; its checkpoint is then loaded on the CPU.
* **grid**: the GPU-hours of params.yaml's ``grids.paper`` from the throughput measured
  above (see ``grid_section`` for the assumptions).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))  # training.py's FLOP count and song counts
sys.path.insert(0, str(REPO / "tests"))       # workflow_helpers.MINIMAL (the tiny run)

# Each tolerance bounds max |CUDA - CPU| over the compared values, divided by the largest
# |CPU| value of the same quantity (so it does not depend on the output scale). fp32 has a
# relative rounding error of 6e-8; cuDNN's LSTM and cuBLAS sum in other orders than ATen's
# CPU kernels, over up to ~10^4 terms per dot product and through T recurrent steps, which
# gives ~1e-6..1e-5 in practice. The bounds leave a factor ~10 above that.
TOLERANCES = {
    "forward": 1e-4,         # predictions on real frames, training mode
    "loss": 1e-4,            # the masked MSE: inherits the forward's error (~2 dy / rms error)
    "gradient": 1e-3,        # per parameter tensor (relative to its largest |gradient|)
    "step": 1e-6,            # RMSprop step on identical gradients: element-wise arithmetic only
    # One fit step on each device's own gradients. RMSprop's first step moves each weight by
    # about lr * g / (sqrt(1 - rho) |g| + eps): ~3 lr whatever |g|, so a weight whose
    # gradient is ~0 on both devices (within their rounding) may move on one and not the
    # other. The element-wise maximum therefore says nothing; bounded instead: the share of
    # weights whose moves differ by more than 10 % of lr (a gradient error dg moves a
    # weight by at most dg * lr / eps apart), and the function after the step.
    "step_share": 1e-2,
    # predict() after that step (real frames; NaN beyond lengths on both): the few weights
    # above move by up to ~6 lr apart, so this catches a device bug (O(1)), not rounding
    "predict": 1e-2,
    "checkpoint": 1e-4,      # the device's model, saved and loaded on the CPU, vs the device
}


# ----------------------------------------------------------------------------- setup

def torch_setup(threads: int | None = None):
    import torch
    if threads:
        torch.set_num_threads(threads)
    return torch


def pick_device(name: str) -> str:
    import torch
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: torch sees no CUDA GPU here (use --device auto or cpu)")
    return name


def synchronize(device: str) -> None:
    import torch
    if device == "cuda":
        torch.cuda.synchronize()


def transformer_options() -> dict:
    import yaml
    return dict(yaml.safe_load((REPO / "params.yaml").read_text())["train"]["transformer"])


def model_options(name: str, dropout: float | None = None) -> dict:
    if not name.startswith("TRANSFORMER"):
        return {}
    options = transformer_options()
    if dropout is not None:
        options["dropout"] = dropout
    return options


def header(device: str, short: bool) -> str:
    import torch
    lines = [f"# GPU check ({'short' if short else 'full'} mode)", "",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             f"- torch {torch.__version__}, Python {platform.python_version()}, "
             f"{os.cpu_count()} CPUs"]
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        lines.append(f"- device: **{props.name}**, {props.total_memory / 2**30:.0f} GiB, "
                     f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version()}; "
                     f"torch's defaults here: cuDNN TF32 {torch.backends.cudnn.allow_tf32}, "
                     f"matmul TF32 {torch.backends.cuda.matmul.allow_tf32} (parity turns both off)")
    else:
        lines.append("- device: **ran on the CPU** (torch sees no CUDA GPU): parity is CPU "
                     "against CPU, trivially equal; timings are the CPU's")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- parity

def masked_mse(prediction, target, lengths):
    """The training loss of ``mer.training.fit`` for a padded minibatch: squared errors
    summed over real frames, divided by their count (targets in padded frames are 0)."""
    import torch
    real = torch.arange(prediction.shape[1], device=prediction.device) < lengths.unsqueeze(1)
    return torch.where(real, (prediction - target) ** 2, 0.0).sum() / int(lengths.sum())


def relative_difference(reference, other) -> float:
    """max |other - reference| / max |reference| (0 when both are 0)."""
    reference, other = np.asarray(reference, dtype=np.float64), np.asarray(other, dtype=np.float64)
    scale = float(np.abs(reference).max()) if reference.size else 0.0
    difference = float(np.abs(other - reference).max()) if reference.size else 0.0
    return difference / scale if scale > 0 else difference


def padded_batch(n_songs: int, n_frames: int, dims: int, seed: int = 0):
    """DEAM-style songs of different lengths padded at the end: features N(0, 1) with NaN
    in padded frames, targets in [-0.5, 0.5] (NaN padded), lengths (one song full length)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(max(2, n_frames // 4), n_frames + 1, size=n_songs)
    lengths[0] = n_frames
    real = np.arange(n_frames) < lengths[:, None]
    x = rng.standard_normal((n_songs, n_frames, dims)).astype(np.float32)
    x[~real] = np.nan
    y = np.cumsum(rng.normal(0, 0.05, (n_songs, n_frames)), axis=1).clip(-0.5, 0.5).astype(np.float32)
    y[~real] = np.nan
    return x, y, lengths.astype(np.int64)


def to_device(model, device: str):
    """The device's copy of a model built on the CPU."""
    return copy.deepcopy(model).to(device)


def parity_case(name: str, device: str, n_songs: int, n_frames: int, dims: int,
                transfer=to_device) -> dict:
    """Every parity figure of one model (the module docstring); ``transfer`` makes the
    device's copy of a CPU model (tests/test_gpu_check.py perturbs it to see a failure)."""
    import torch
    from mer.models import build_model
    from mer.models.init import initialise
    from mer.runtime import seed_everything
    from mer.training import RMSprop, TrainConfig, fit, load_checkpoint, predict, save_checkpoint

    defaults = TrainConfig()  # the pipeline's: init, RMSprop settings, determinism
    options = model_options(name, dropout=0.0)
    x, y, lengths = padded_batch(n_songs, n_frames, dims)
    real = np.arange(n_frames) < lengths[:, None]
    seed_everything(0)
    models = {"cpu": initialise(build_model(name, dims, **options), defaults.init)}
    models["dev"] = transfer(models["cpu"], device)
    outputs, grads, losses = {}, {}, {}
    for key, model in models.items():
        where = "cpu" if key == "cpu" else device
        model.train()
        xb = torch.as_tensor(x, device=where)
        yb = torch.as_tensor(np.where(real, y, 0.0), device=where)
        lb = torch.as_tensor(lengths, device=where)
        prediction, _ = model(xb, lengths=lb)
        loss = masked_mse(prediction, yb, lb)
        loss.backward()
        outputs[key] = prediction.detach().cpu().numpy()[real]
        losses[key] = loss.item()
        grads[key] = {n: p.grad.detach().cpu().numpy() for n, p in model.named_parameters()}
    grad_differences = {n: relative_difference(grads["cpu"][n], grads["dev"][n]) for n in grads["cpu"]}
    worst = max(grad_differences, key=grad_differences.get)

    # RMSprop on identical gradients: the CPU's, copied to the device
    for parameter, (_, cpu_parameter) in zip(models["dev"].parameters(), models["cpu"].named_parameters()):
        parameter.grad = cpu_parameter.grad.detach().to(device)
    before = {n: p.detach().cpu().numpy().copy() for n, p in models["cpu"].named_parameters()}
    for model in models.values():
        RMSprop(model.parameters(), lr=defaults.learning_rate, rho=defaults.rho, eps=defaults.eps,
                eps_placement=defaults.rmsprop_eps).step()
    step = max(relative_difference(dict(models["cpu"].named_parameters())[n].detach().numpy(),
                                   dict(models["dev"].named_parameters())[n].detach().cpu().numpy())
               for n in before)

    # one whole fit minibatch (own gradients) on each device, as a training job runs it: a
    # CPU model handed to fit, which draws its weights (same seed) before moving it; both
    # start from the same weights, so their moves differ by their end weights' difference
    fitted, histories, predictions = {}, {}, {}
    for key, where in (("cpu", "cpu"), ("dev", device)):
        seed_everything(0)
        model = build_model(name, dims, **options)
        config = TrainConfig(max_epochs=1, batch_size=n_songs, seed=0, device=where)
        histories[key] = fit(model, x, y, None, None, config, train_lengths=lengths)
        fitted[key] = model
        predictions[key], _ = predict(model, x, lengths=lengths, device=where)
    ends = {key: np.concatenate([p.detach().cpu().numpy().ravel() for p in model.parameters()])
            for key, model in fitted.items()}
    step_share = float(np.mean(np.abs(ends["dev"] - ends["cpu"]) > 0.1 * defaults.learning_rate))
    same_nan = bool((np.isnan(predictions["cpu"]) == np.isnan(predictions["dev"])).all()
                    and np.isnan(predictions["cpu"][~real]).all())
    predict_difference = relative_difference(predictions["cpu"][real], predictions["dev"][real])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.pt"
        save_checkpoint(path, fitted["dev"], model_name=name, input_dim=dims, model_options=options)
        loaded, _ = load_checkpoint(path, device="cpu")
        on_cpu, _ = predict(loaded, x, lengths=lengths, device="cpu")
    checkpoint = relative_difference(predictions["dev"][real], on_cpu[real])

    result = {
        "forward": relative_difference(outputs["cpu"], outputs["dev"]),
        "loss": abs(losses["dev"] - losses["cpu"]) / abs(losses["cpu"]),
        "gradient": grad_differences[worst], "worst_gradient": worst,
        "step": step,
        "step_share": step_share,
        "fit_loss": abs(histories["dev"][0]["train_loss"] - histories["cpu"][0]["train_loss"])
        / histories["cpu"][0]["train_loss"],
        "predict": predict_difference if same_nan else math.inf,
        "checkpoint": checkpoint,
    }
    failed = [key for key, bound in TOLERANCES.items() if not result[key] <= bound]
    if not result["fit_loss"] <= TOLERANCES["loss"]:
        failed.append("fit_loss")
    result["verdict"] = "pass" if not failed else "FAIL: " + ", ".join(failed)
    return result


def parity_section(device: str, short: bool) -> tuple[str, bool]:
    import torch
    models = (["LSTM_12_8", "AT_12_8", "BAT_12_8", "TRANSFORMER_2"] if short else
              ["LSTM_512_256", "AT_512_256", "BAT_512_256", "TRANSFORMER_4"])
    n_songs, n_frames, dims = (4, 15, 20) if short else (12, 100, 260)
    tf32 = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        rows, ok = [], True
        for name in models:
            try:
                r = parity_case(name, device, n_songs, n_frames, dims)
            except Exception as error:  # noqa: BLE001 (a crash on the device is a finding too)
                ok = False
                rows.append(f"| {name} | " + " | " * 7 + f"FAIL: {type(error).__name__}: "
                            f"{str(error).splitlines()[0][:120]} |")
                continue
            ok &= r["verdict"] == "pass"
            rows.append(f"| {name} | {r['forward']:.1e} | {r['loss']:.1e} / {r['fit_loss']:.1e} | "
                        f"{r['gradient']:.1e} (`{r['worst_gradient']}`) | {r['step']:.1e} | "
                        f"{100 * r['step_share']:.3f} % | {r['predict']:.1e} | "
                        f"{r['checkpoint']:.1e} | {r['verdict']} |")
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = tf32
    against = "CUDA against CPU" if device == "cuda" else "CPU against CPU (no CUDA here: trivially equal)"
    lines = [
        f"## Parity: {against}", "",
        f"{n_songs} padded songs of {n_frames // 4}-{n_frames} frames (NaN in the padding) x "
        f"{dims} dims; TF32 off; TRANSFORMER dropout 0. Each figure: max |device - CPU| / "
        f"max |CPU|; the step share is the weights whose one-step moves differ by > 10 % of lr.",
        "",
        "| model | forward | loss / fit loss | gradient (worst tensor) | RMSprop step, same "
        "gradients | fit step: weights off | predict after step | checkpoint on CPU | verdict |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
        *rows,
        f"| *tolerance* | {TOLERANCES['forward']:.0e} | {TOLERANCES['loss']:.0e} | "
        f"{TOLERANCES['gradient']:.0e} | {TOLERANCES['step']:.0e} | "
        f"{100 * TOLERANCES['step_share']:g} % | {TOLERANCES['predict']:.0e} | "
        f"{TOLERANCES['checkpoint']:.0e} | |",
    ]
    return "\n".join(lines) + "\n", ok


# ----------------------------------------------------------------------------- throughput

def train_step(model, x, y, precision: str, device: str):
    """One minibatch of ``fit``: forward (free running), MSE, backward, RMSprop step (the
    pipeline's settings); under bf16 autocast (what ``train.autocast: bf16`` does) the
    forward runs in bfloat16 and the loss, gradients and weights in fp32."""
    import torch
    from mer.training import RMSprop, TrainConfig

    defaults = TrainConfig()
    optimizer = RMSprop(model.parameters(), lr=defaults.learning_rate, rho=defaults.rho,
                        eps=defaults.eps, eps_placement=defaults.rmsprop_eps)

    def step():
        optimizer.zero_grad()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=precision.startswith("bf16")):
            prediction, _ = model(x)
        loss = torch.mean((prediction.float() - y) ** 2)
        loss.backward()
        optimizer.step()
        return float(loss.detach())  # fit reads the loss every minibatch (a sync)
    return step


def throughput_case(name: str, device: str, precision: str, batch: int, frames: int,
                    dims: int, warmup: int, repeats: int) -> dict:
    import torch
    from mer.devices import determinism
    from mer.models import build_model, count_parameters
    from mer.runtime import seed_everything

    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
    seed_everything(0)
    model = build_model(name, dims, **model_options(name)).to(device).train()
    x = torch.randn(batch, frames, dims, device=device)
    y = torch.randn(batch, frames, device=device).clamp(-1, 1)
    step = train_step(model, x, y, precision, device)
    mkldnn = torch.backends.mkldnn.enabled
    torch.backends.mkldnn.enabled = device != "cpu"  # fit turns oneDNN off on the CPU
    # train.deterministic (default true) unless the variant says otherwise
    with determinism(not precision.endswith("nondeterministic"), torch.device(device)), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # warn-only determinism: ops without such a kernel
        try:
            seconds = timed_steps(step, device, warmup, repeats)
        finally:
            torch.backends.mkldnn.enabled = mkldnn
    peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else math.nan
    return {"parameters": count_parameters(model), "step_s": seconds, "seq_s": batch / seconds,
            "peak_mib": peak}


def timed_steps(step, device: str, warmup: int, repeats: int) -> float:
    """Mean seconds of ``step()`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        step()
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    synchronize(device)
    return (time.perf_counter() - started) / repeats


def throughput_shape(short: bool) -> dict:
    return ({"batch": 4, "frames": 12, "dims": 64, "warmup": 1, "repeats": 2} if short else
            {"batch": 20, "frames": 61, "dims": 6373, "warmup": 3, "repeats": 10})


def throughput_models(short: bool) -> dict[str, tuple[str, str]]:
    """family -> (small, large) model; the paper's smallest and largest sizes."""
    if short:
        return {"LSTM": ("LSTM_8", "LSTM_32_16_8"), "AT": ("AT_8", "AT_32_16_8"),
                "BAT": ("BAT_8", "BAT_32_16_8"), "TRANSFORMER": ("TRANSFORMER_1", "TRANSFORMER_2")}
    return {"LSTM": ("LSTM_32", "LSTM_2048_1024_700"), "AT": ("AT_32", "AT_2048_1024_512"),
            "BAT": ("BAT_32", "BAT_2048_1024_512"), "TRANSFORMER": ("TRANSFORMER_1", "TRANSFORMER_4")}


VARIANTS = ("fp32", "fp32 nondeterministic", "bf16")  # fp32, bf16: train.deterministic true


def throughput_section(device: str, short: bool) -> tuple[str, dict]:
    shape = throughput_shape(short)
    measured, rows = {}, []
    for family, sizes in throughput_models(short).items():
        for name in sizes:
            results = {}
            for variant in VARIANTS:
                try:
                    results[variant] = throughput_case(name, device, variant, **shape)
                except (RuntimeError, NotImplementedError) as error:  # e.g. out of memory
                    results[variant] = {"error": str(error).splitlines()[0][:80]}
            measured[name] = results
            fp32, free, bf16 = (results[v] for v in VARIANTS)

            def ms(r):
                return f"error: {r['error']}" if "error" in r else f"{1000 * r['step_s']:.1f}"

            def peak(r):
                return "" if "error" in r or math.isnan(r["peak_mib"]) else f"{r['peak_mib']:.0f}"

            def ratio(a, b):
                return f"{a['step_s'] / b['step_s']:.2f}x" if "error" not in a and "error" not in b else "—"
            parameters = next((r["parameters"] for r in results.values() if "parameters" in r), 0)
            cells = [ms(fp32), "" if "error" in fp32 else f"{fp32['seq_s']:.1f}", peak(fp32) or "—",
                     ms(free), ratio(fp32, free), ms(bf16),
                     "" if "error" in bf16 else f"{bf16['seq_s']:.1f}", peak(bf16) or "—", ratio(fp32, bf16)]
            rows.append(f"| {name} | {parameters:,} | " + " | ".join(cells) + " |")
    where = "CUDA" if device == "cuda" else "the CPU (no CUDA here)"
    lines = [
        f"## Training throughput on {where}", "",
        f"One `fit` minibatch (forward with free-running feedback, MSE, backward, RMSprop step) "
        f"on {shape['batch']} songs x {shape['frames']} frames x {shape['dims']} dims; mean of "
        f"{shape['repeats']} steps after {shape['warmup']} warm-up. fp32: torch's default math "
        f"with `train.deterministic: true` (the pipeline's defaults); *non-det.*: the same with "
        f"determinism off (*determinism cost*: fp32 step ÷ non-det. step); bf16: "
        f"`torch.autocast(dtype=torch.bfloat16)` around the forward, as `train.autocast: bf16`. "
        f"Peak memory: "
        f"`torch.cuda.max_memory_allocated` of the case (— on the CPU).",
        "",
        "| model | parameters | fp32 step (ms) | fp32 seq/s | fp32 peak MiB | non-det. step (ms) | "
        "determinism cost | bf16 step (ms) | bf16 seq/s | bf16 peak MiB | bf16 speed-up |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
    ]
    return "\n".join(lines) + "\n", measured


# ----------------------------------------------------------------------------- concurrency

def worker(spec: dict) -> None:
    """One training process of the concurrency test. For each model in turn: build it, warm
    up, say "ready", wait for "go", run train steps for ``seconds``, print its steps and
    peak memory as JSON. (One process for all models: start-up is paid once.)"""
    torch = torch_setup(threads=1)  # one thread, as a pipeline training job (threads: 1)
    from mer.models import build_model
    from mer.runtime import seed_everything

    from mer.devices import determinism

    device = spec["device"]
    context = determinism(True, torch.device(device))  # train.deterministic's default
    context.__enter__()
    warnings.simplefilter("ignore")
    for name in spec["models"]:
        if device == "cuda":
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        seed_everything(0)
        model = build_model(name, spec["dims"], **model_options(name)).to(device).train()
        x = torch.randn(spec["batch"], spec["frames"], spec["dims"], device=device)
        y = torch.randn(spec["batch"], spec["frames"], device=device).clamp(-1, 1)
        step = train_step(model, x, y, "fp32", device)
        for _ in range(2):
            step()
        synchronize(device)
        print("ready", flush=True)
        sys.stdin.readline()
        steps, started = 0, time.perf_counter()
        while time.perf_counter() - started < spec["seconds"]:
            step()
            steps += 1
        synchronize(device)
        seconds = time.perf_counter() - started
        peak = torch.cuda.max_memory_allocated() / 2**20 if device == "cuda" else math.nan
        print(json.dumps({"steps": steps, "seconds": seconds, "peak_mib": peak}), flush=True)
        del model, x, y, step


def concurrent_runs(models: list[str], n_jobs: int, device: str, seconds: float,
                    shape: dict) -> dict[str, dict]:
    """``n_jobs`` worker processes; for each model, all start timing together. Per model:
    their summed sequences/s, the mean per job and the largest peak memory (or an error)."""
    spec = {"models": models, "device": device, "seconds": seconds,
            **{k: shape[k] for k in ("batch", "frames", "dims")}}
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]),
               OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    workers = [subprocess.Popen([sys.executable, __file__, "--worker", json.dumps(spec)], env=env,
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True) for _ in range(n_jobs)]

    def failure(process) -> str:
        process.kill()
        lines = process.communicate(timeout=60)[1].strip().splitlines()
        raised = [line for line in lines if re.match(r"[\w.]*(Error|Exception)\b", line)]
        return ((raised or lines or [f"worker exited {process.returncode}"])[-1])[:120]

    results: dict[str, dict] = {}
    try:
        for model in models:
            try:
                for process in workers:
                    if process.stdout.readline().strip() != "ready":
                        raise RuntimeError(failure(process))
                for process in workers:
                    process.stdin.write("go\n")
                    process.stdin.flush()
                runs = []
                for process in workers:
                    line = process.stdout.readline()
                    if not line.strip():
                        raise RuntimeError(failure(process))
                    runs.append(json.loads(line))
            except (RuntimeError, OSError, ValueError) as error:
                results.update({m: {"error": str(error)} for m in models if m not in results})
                break
            per_job = [r["steps"] * shape["batch"] / r["seconds"] for r in runs]
            results[model] = {"seq_s": sum(per_job), "per_job": float(np.mean(per_job)),
                              "peak_mib": max(r["peak_mib"] for r in runs)}
    finally:
        for process in workers:
            if process.poll() is None:
                process.kill()
            process.communicate()
    return results


def concurrency_section(device: str, short: bool) -> tuple[str, dict]:
    shape = throughput_shape(short)
    families = throughput_models(short)
    sizes = {"small": families["AT"][0], "large": families["AT"][1]}
    counts, seconds = ((1, 2), 0.5) if short else ((1, 2, 4, 8), 4.0)
    measured = {n_jobs: concurrent_runs(list(sizes.values()), n_jobs, device, seconds, shape)
                for n_jobs in counts}
    rows, gains = [], {}
    for label, model in sizes.items():
        base, best = None, (1, 1.0)
        for n_jobs in counts:
            r = measured[n_jobs][model]
            if "error" in r:
                rows.append(f"| {label}: {model} | {n_jobs} | error: {r['error']} | | | |")
                continue
            base = base or r["seq_s"]
            gain = r["seq_s"] / base
            if gain > best[1]:
                best = (n_jobs, gain)
            peak = "—" if math.isnan(r["peak_mib"]) else f"{r['peak_mib']:.0f}"
            rows.append(f"| {label}: {model} | {n_jobs} | {r['seq_s']:.1f} | {r['per_job']:.1f} | "
                        f"{gain:.2f}x | {peak} |")
        gains[label] = {"model": model, "best_n": best[0], "gain": best[1]}
    where = "one CUDA card" if device == "cuda" else "the CPU (no CUDA here; N jobs share its cores)"
    lines = [
        f"## N training jobs at once on {where}", "",
        f"N processes (one CPU thread each, as a pipeline training job) train the same model on "
        f"{shape['batch']} x {shape['frames']} x {shape['dims']} batches for {seconds:g} s each, "
        f"started together; grid throughput is the sum of their sequences/s.", "",
        "| size: model | N jobs | total seq/s | seq/s per job | vs N = 1 | peak MiB per job |",
        "|---|---:|---:|---:|---:|---:|",
        *rows, "",
        "Best N: " + "; ".join(f"{label} ({g['model']}): N = {g['best_n']} ({g['gain']:.2f}x)"
                               for label, g in gains.items()) + ".",
    ]
    return "\n".join(lines) + "\n", gains


# ----------------------------------------------------------------------------- workflow

def copy_tree(destination: Path) -> None:
    """The project's files (git's list when this is a git checkout, else the tree without
    run outputs and environments)."""
    try:
        listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard",
                                 "-z"], cwd=REPO, capture_output=True, text=True)
    except OSError:  # no git on this machine
        listed = subprocess.CompletedProcess([], 1, "", "")
    if listed.returncode == 0 and listed.stdout:
        names = [n for n in listed.stdout.split("\0") if n and (REPO / n).is_file()]
    else:
        outputs = {".git", ".venv", ".venv-gpu", ".snakemake", "data", "results", "logs", "models",
                   "predictions"}  # top-level folders that are not the project's files

        def wanted(parts) -> bool:
            return (parts[0] not in outputs and parts[:2] != ("benchmarks", "results")
                    and "__pycache__" not in parts and ".pytest_cache" not in parts)
        names = [str(p.relative_to(REPO)) for p in REPO.rglob("*")
                 if p.is_file() and wanted(p.relative_to(REPO).parts)]
    for name in names:
        if name.startswith("reports/") or name == "dvc.lock":
            continue  # this run makes its own
        (destination / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination / name)


def workflow_section(device: str, workflow_device: str, timeout: int) -> str:
    title = f"## Tiny workflow run with `train.device: {workflow_device}`\n\n"
    if workflow_device == "cuda" and device != "cuda":
        return title + "skipped: no CUDA GPU here (the run needs `train.device: cuda` to train on one).\n"
    try:
        import snakemake  # noqa: F401
        import librosa  # noqa: F401
    except ImportError as error:
        return title + (f"skipped: {error.name} is not installed here (benchmarks/gpu_run.sh "
                        f"installs carried wheels; see docs/gpu.md).\n")
    from workflow_helpers import MINIMAL, write_params
    from mer.training import load_checkpoint

    with tempfile.TemporaryDirectory(prefix="mer-gpu-workflow-") as folder:
        repo = Path(folder)
        copy_tree(repo)
        write_params(repo, {**MINIMAL, "train": {**MINIMAL["train"], "device": workflow_device}})
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), os.environ.get("PYTHONPATH", "")]))
        command = [sys.executable, "-m", "snakemake", "--cores", "4", "--profile", "profiles/gpu"]
        started = time.perf_counter()
        try:
            result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            return title + f"FAIL: `snakemake` did not finish in {timeout} s.\n"
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            tail = "\n".join(result.stderr.strip().splitlines()[-15:])
            return title + f"FAIL: `{' '.join(command[1:])}` exited {result.returncode}:\n\n```\n{tail}\n```\n"
        checkpoints = sorted(repo.glob("results/*/*/*/*/seed*/fold*/model.pt"))
        metrics = sorted(repo.glob("results/*/*/*/*/seed*/fold*/metrics.json"))
        model, _ = load_checkpoint(checkpoints[0], device="cpu")  # written from a CUDA model
        first = json.loads(metrics[0].read_text())
        done = "reports/metrics.json exists" if (repo / "reports/metrics.json").exists() else \
            "reports/metrics.json MISSING"
    lines = [
        title.rstrip(), "",
        f"`snakemake --cores 4 --profile profiles/gpu` on MINIMAL params (6 songs, spectral, "
        f"LSTM_8, 2 folds, 1 epoch): **pass** in {seconds:.0f} s; {len(checkpoints)} fold "
        f"checkpoints; {done}.",
        ("The jobs trained on CUDA (`resolve_device` refuses `cuda` without a GPU)"
         if workflow_device == "cuda" else "The jobs trained on the CPU (a check of this "
         "section's code path)") + "; a fold checkpoint loads on the CPU "
        f"({type(model).__name__}); its fold metrics: "
        + ", ".join(f"{k} {v:.3f}" for k, v in first.items() if isinstance(v, float)) + ".",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- grid

def grid_section(measured: dict, gains: dict, short: bool) -> str:
    """GPU-hours of params.yaml's ``grids.paper``.

    Assumptions: emoMusic's 744 songs in 10 folds: 603 fitted and 67 validation songs per
    fold (benchmarks/training.py); every training runs all ``max_epochs`` (early stopping
    ends earlier: an upper bound); an epoch is ceil(603 / 20) train steps plus the
    validation forward pass, costed at a third of a train step per 20 songs. A model's
    step time comes from its family's two measured sizes: a straight line in matmul FLOPs
    through them (below the small one: the small one's time, the latency floor). ``N jobs``
    divides by the best concurrency gain of the measured size nearer in FLOPs.
    """
    from training import FIT_SONGS, VALIDATION_SONGS, matmul_gflop

    from mer.config import grid_max_epochs, grid_runs, load_params
    from mer.features.registry import feature_set
    from mer.models import is_baseline, parse_model_name

    params = load_params(REPO / "params.yaml", REPO / "workflow/schemas/params.schema.yaml")
    params = {**params, "grid": "paper"}
    runs, epochs = grid_runs(params), grid_max_epochs(params)
    n_targets, n_folds, n_seeds = (len(params["train"]["targets"]), params["cv"]["folds"],
                                   params["train"]["seeds"])
    shape = throughput_shape(short)
    options = transformer_options()
    smalls_larges = throughput_models(short)
    batch = params["train"]["batch_size"]
    steps_per_epoch = math.ceil(FIT_SONGS / batch) + VALIDATION_SONGS / batch / 3

    def step_seconds(model: str, dims: int, precision: str) -> float | None:
        small, large = smalls_larges[parse_model_name(model).family]
        points = []
        for name in (small, large):
            r = measured.get(name, {}).get(precision, {})
            if "step_s" not in r:
                return None
            points.append((matmul_gflop(name, shape["dims"], shape["frames"], options) * shape["batch"],
                           r["step_s"]))
        (f_small, t_small), (f_large, t_large) = points
        flop = matmul_gflop(model, dims, 61, options) * batch
        slope = (t_large - t_small) / (f_large - f_small) if f_large > f_small else 0.0
        return max(t_small, t_small + slope * (flop - f_small))

    def concurrency_gain(model: str, dims: int) -> float:
        if not gains:
            return 1.0
        flop = matmul_gflop(model, dims, 61, options)
        nearest = min(gains.values(), key=lambda g: abs(math.log(
            flop / matmul_gflop(g["model"], shape["dims"], shape["frames"], options))))
        return nearest["gain"]

    trainings_per_run = n_targets * n_folds * n_seeds
    table, totals = {}, {"fp32": 0.0, "bf16": 0.0, "fp32, best N": 0.0}
    counted, baselines = set(), set()
    for experiment in params["grids"]["paper"]["experiments"]:
        row = table.setdefault(experiment["name"], {"runs": 0, "fp32": 0.0, "bf16": 0.0, "fp32, best N": 0.0})
        for feature_set_name in experiment["feature_sets"]:
            dims = feature_set(feature_set_name).dims
            for model in experiment["models"]:
                if (feature_set_name, model) in counted:
                    continue  # trained once, whichever experiments list it
                counted.add((feature_set_name, model))
                if is_baseline(model):
                    baselines.add(model)
                    continue
                row["runs"] += 1
                for precision in ("fp32", "bf16"):
                    t = step_seconds(model, dims, precision)
                    hours = math.nan if t is None else t * steps_per_epoch * epochs * trainings_per_run / 3600
                    row[precision] += hours
                    if precision == "fp32":
                        row["fp32, best N"] += hours / concurrency_gain(model, dims)
    for row in table.values():
        for key in totals:
            totals[key] += row[key]
    where = "" if not short else " (short mode: from the tiny shapes above, not meaningful)"
    n_trained = sum(row["runs"] for row in table.values())
    lines = [
        f"## The paper's grid (`grids.paper`) in GPU-hours{where}", "",
        f"{n_trained} trained configurations (the baselines {', '.join(sorted(baselines)) or 'none'} "
        f"fit in closed form on the CPU in seconds: not counted) x {n_targets} targets x {n_folds} folds x {n_seeds} seed(s), "
        f"{epochs} epochs each (early stopping ends earlier: an upper bound) of "
        f"{FIT_SONGS} training songs in batches of {batch} plus {VALIDATION_SONGS} validation songs "
        f"(emoMusic's 744 songs); step times from the throughput table, scaled within each family "
        f"by matmul FLOPs between its two measured sizes. *best N*: divided by the concurrency "
        f"gain measured above.", "",
        "| experiment | configurations | trainings | GPU-h fp32 | GPU-h bf16 | GPU-h fp32, best N jobs per GPU |",
        "|---|---:|---:|---:|---:|---:|",
        *[f"| {name} | {row['runs']} | {row['runs'] * trainings_per_run} | {row['fp32']:.1f} | "
          f"{row['bf16']:.1f} | {row['fp32, best N']:.1f} |" for name, row in table.items()],
        f"| **total** | {n_trained} | {n_trained * trainings_per_run} | {totals['fp32']:.1f} | "
        f"{totals['bf16']:.1f} | {totals['fp32, best N']:.1f} |",
    ]
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- main

SECTIONS = ("parity", "throughput", "concurrency", "grid", "workflow")  # the order they run in


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--short", action="store_true", help="tiny sizes (the test suite)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--out", type=Path, help="also write the report (markdown) here")
    parser.add_argument("--sections", default=",".join(SECTIONS),
                        help=f"comma-separated subset of {','.join(SECTIONS)}")
    parser.add_argument("--workflow-device", choices=("cuda", "cpu"), default="cuda",
                        help="train.device of the tiny workflow run (cpu: test its code path here)")
    parser.add_argument("--workflow-timeout", type=int, default=300)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(json.loads(args.worker))
        return 0
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown section(s) {unknown}; pick from {', '.join(SECTIONS)}")

    from mer.devices import CUBLAS_WORKSPACE
    # what a training job with train.deterministic (the default) sets before cuBLAS starts
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch_setup()
    device = pick_device(args.device)
    parts = [header(device, args.short)]
    measured, gains, parity_ok, failed, timings = {}, {}, True, False, []

    def emit(text: str, name: str, seconds: float) -> None:
        print(text, flush=True)
        parts.append(text)
        timings.append(f"{name} {seconds:.0f} s")
        if args.out:
            from mer.io import write_text_atomic
            write_text_atomic("\n".join(parts) + f"\nSection times: {', '.join(timings)}.\n", args.out)

    print(parts[0], flush=True)
    for name in sections:
        started = time.perf_counter()
        try:
            if name == "parity":
                text, parity_ok = parity_section(device, args.short)
            elif name == "throughput":
                text, measured = throughput_section(device, args.short)
            elif name == "concurrency":
                text, gains = concurrency_section(device, args.short)
            elif name == "workflow":
                text = workflow_section(device, args.workflow_device, args.workflow_timeout)
            else:
                text = (grid_section(measured, gains, args.short) if measured else
                        "## The paper's grid in GPU-hours\n\nskipped: needs the throughput section.\n")
        except Exception as error:  # noqa: BLE001 (report it, go on with the next section)
            import traceback
            failed = True
            text = (f"## {name}: ERROR\n\n```\n"
                    f"{''.join(traceback.format_exception(error)[-6:]).strip()}\n```\n")
        emit(text, name, time.perf_counter() - started)
    print(f"Section times: {', '.join(timings)}.", flush=True)
    return 0 if parity_ok and not failed else 1


if __name__ == "__main__":
    sys.exit(main())
