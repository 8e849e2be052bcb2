"""Where training runs: device names, CPU kernels, determinism and autocast settings.

``train.device`` names: ``"cpu"``, ``"cuda"`` (an error without a GPU) and ``"auto"``
(CUDA when torch sees one). ``native_cpu_kernels`` (``fit`` and ``predict``) and
``determinism`` (``fit``) change torch's global settings for the duration of one call and
restore them afterwards; ``autocast`` wraps the training forward pass.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys

import torch

from mer.errors import ConfigError

DEVICES = ("auto", "cpu", "cuda")
AUTOCAST_MODES = ("none", "bf16")
CUBLAS_WORKSPACE = ":4096:8"  # cuBLAS' documented setting for deterministic results


def resolve_device(name: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; ``"cuda"`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError("device 'cuda' was asked for but torch sees no CUDA GPU; "
                              "use 'cpu' or 'auto'")
        return torch.device("cuda")
    raise ConfigError(f"device must be one of {DEVICES}, got {name!r}")


def training_gpus(device: str) -> int:
    """GPUs one training job needs with ``device``, for the scheduler's ``gpu`` resource.

    ``"cuda"`` needs one; ``"auto"`` needs one when torch sees a GPU on the machine that
    asks (the one running Snakemake: on a cluster whose login node has no GPU, say
    ``cuda`` to request one); ``"cpu"`` none.
    """
    if device not in DEVICES:
        raise ConfigError(f"train.device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return int(torch.cuda.is_available())
    return int(device == "cuda")


def native_cpu_kernels(function):
    """Run ``function`` with oneDNN off. On the CPU, ATen's own LSTM kernels train faster
    than oneDNN's on our input sizes (LSTM_32, 64 songs x 61 frames x 6373 ComParE dims,
    1 thread: 0.55 s per epoch against 0.69-0.89 s); results are deterministic either way."""
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        enabled = torch.backends.mkldnn.enabled
        torch.backends.mkldnn.enabled = False
        try:
            return function(*args, **kwargs)
        finally:
            torch.backends.mkldnn.enabled = enabled
    return wrapper


@contextlib.contextmanager
def determinism(enabled: bool, device: torch.device):
    """With ``enabled``: deterministic algorithms (``torch.use_deterministic_algorithms``,
    warn-only: an op without a deterministic kernel warns instead of failing the job),
    cuDNN's deterministic mode without autotuning, and, on CUDA, cuBLAS' fixed workspace
    (``CUBLAS_WORKSPACE_CONFIG``, read when cuBLAS starts: set here before the first CUDA
    matmul of the process unless the environment already sets it). The previous global
    settings are restored afterwards. On the CPU our kernels are deterministic anyway."""
    if not enabled:
        yield
        return
    if device.type == "cuda":
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    saved = (torch.are_deterministic_algorithms_enabled(),
             torch.is_deterministic_algorithms_warn_only_enabled(),
             torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    _use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        _use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = saved[2:]


def _use_deterministic_algorithms(mode: bool, warn_only: bool) -> None:
    """``torch.use_deterministic_algorithms`` without its ``import torch._inductor.config``
    (which imports torch._dynamo and sympy: ~1.8 CPU-s, a third of a small training job;
    benchmarks/jobs.py). That config only matters to ``torch.compile``, which mer does not
    use; it is still set when something has imported it. The eager kernels read the same
    global flag either way."""
    inductor_config = sys.modules.get("torch._inductor.config")
    if inductor_config is not None:
        inductor_config.deterministic = mode
    torch._C._set_deterministic_algorithms(mode, warn_only=warn_only)


def autocast(mode: str, device: torch.device):
    """``torch.autocast`` to bfloat16 on ``device``'s type for ``mode == "bf16"``; else off."""
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16,
                          enabled=mode == "bf16")
