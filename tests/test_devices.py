"""Device correctness checks that run without a GPU (issue 16, item 3).

* Every tensor a model makes in ``forward`` (masks, positions, fed-back predictions) is
  created on the device of its input: the models run entirely on torch's ``meta`` device
  (no data, shapes only), where any tensor made on the CPU and combined with a meta one
  raises. This is what a CUDA run needs too (0-dim CPU tensors, which CUDA also accepts,
  are the only exception).
* A checkpoint whose tensors were saved from CUDA loads on a CPU-only machine.
* ``train.deterministic`` sets and restores torch's global flags; ``train.autocast: bf16``
  trains on the CPU with finite losses.
What needs a GPU (cuDNN / cuBLAS results, their determinism and cost, bf16 speed) is left
to ``benchmarks/gpu.py``.
"""

import math
import os

import numpy as np
import pytest
import torch

from mer.devices import determinism
from mer.models import build_model
from mer.runtime import seed_everything
from mer.training import TrainConfig, fit, load_checkpoint, predict, save_checkpoint

torch.set_num_threads(1)

FAMILIES = {"LSTM_8": {}, "AT_8_4": {}, "BAT_8": {},
            "TRANSFORMER_2": {"d_model": 8, "heads": 2, "ff_dim": 16, "dropout": 0.1}}


@pytest.mark.parametrize("padded", [False, True], ids=["unpadded", "padded"])
@pytest.mark.parametrize("name", list(FAMILIES))
def test_forward_and_backward_stay_on_the_input_device(name, padded):
    meta = torch.device("meta")
    model = build_model(name, 5, **FAMILIES[name]).to(meta)
    x = torch.empty(3, 7, 5, device=meta)
    y = torch.empty(3, 7, device=meta)
    lengths = torch.empty(3, dtype=torch.int64, device=meta) if padded else None
    model.train()
    for y_prev in (None, y):  # free running and teacher forcing
        prediction, _ = model(x, y_prev, lengths=lengths)
        assert prediction.device == meta and prediction.shape == (3, 7)
        prediction.sum().backward()
        assert all(p.grad is None or p.grad.device == meta for p in model.parameters())
    model.eval()
    with torch.no_grad():
        prediction, attention = model(x, lengths=lengths)
    assert prediction.device == meta
    assert attention is None or (attention.device == meta and attention.shape == (3, 7, 7))


def test_lengths_on_the_cpu_follow_the_input():
    """The padding mask is built on the input's device even when lengths come from the CPU."""
    model = build_model("AT_8", 5).to("meta").eval()
    with torch.no_grad():
        prediction, _ = model(torch.empty(2, 6, 5, device="meta"),
                              lengths=torch.tensor([6, 4]))
    assert prediction.device.type == "meta"


def test_checkpoint_saved_from_cuda_loads_on_a_cpu_only_machine(tmp_path, monkeypatch):
    seed_everything(0)
    model = build_model("BAT_8", 5)
    path = tmp_path / "model.pt"
    # torch.save records each tensor's device ("location tag"); pretend they were on CUDA
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    save_checkpoint(path, model, model_name="BAT_8", input_dim=5)
    monkeypatch.undo()
    if not torch.cuda.is_available():  # what load_checkpoint's map_location prevents
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(path, weights_only=True)
    loaded, _ = load_checkpoint(path, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(),
                                                 loaded.state_dict().values()))
    assert all(p.device.type == "cpu" for p in loaded.parameters())


def songs(n=6, frames=10, dims=4):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, frames, dims)).astype(np.float32)
    return x, (x[:, :, 0] * 0.5).astype(np.float32)


def test_deterministic_sets_the_flags_during_fit_and_restores_them(monkeypatch):
    seen = []

    class Spy(torch.nn.Module):  # records the global flags while fit runs it
        def __init__(self):
            super().__init__()
            self.inner = build_model("LSTM_8", 4)

        def forward(self, x, y_prev_true=None, lengths=None):
            seen.append((torch.are_deterministic_algorithms_enabled(),
                         torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark))
            return self.inner(x, y_prev_true, lengths)

    x, y = songs()
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
              torch.backends.cudnn.benchmark)
    fit(Spy(), x, y, None, None, TrainConfig(max_epochs=1, batch_size=6, deterministic=True))
    assert seen and all(flags == (True, True, False) for flags in seen)
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic,
            torch.backends.cudnn.benchmark) == before
    seen.clear()
    fit(Spy(), x, y, None, None, TrainConfig(max_epochs=1, batch_size=6, deterministic=False))
    assert all(flags == before for flags in seen)
    # on CUDA it also fixes cuBLAS' workspace, unless the environment already chose one
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    with determinism(True, torch.device("cpu")):
        assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ
    with determinism(True, torch.device("cuda")):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
    with determinism(True, torch.device("cuda")):
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"


def test_deterministic_changes_nothing_on_the_cpu():
    x, y = songs()
    results = []
    for deterministic in (True, False):
        seed_everything(0)
        model = build_model("AT_8", 4)
        history = fit(model, x, y, x, y, TrainConfig(max_epochs=3, batch_size=3,
                                                     deterministic=deterministic))
        results.append(([r["train_loss"] for r in history], predict(model, x)[0]))
    assert results[0][0] == results[1][0]
    assert np.array_equal(results[0][1], results[1][1])


@pytest.mark.parametrize("name", ["LSTM_8", "AT_8", "TRANSFORMER_2"])
def test_bf16_autocast_trains_on_the_cpu(name):
    x, y = songs()
    histories = {}
    for mode in ("bf16", "none"):
        seed_everything(0)
        model = build_model(name, 4, **FAMILIES.get(name, {}))
        histories[mode] = fit(model, x, y, None, None, TrainConfig(
            max_epochs=30, batch_size=6, learning_rate=1e-2, autocast=mode))
    losses = [row["train_loss"] for row in histories["bf16"]]
    assert all(math.isfinite(loss) for loss in losses)
    assert losses[-1] < 0.5 * losses[0]
    assert losses != [row["train_loss"] for row in histories["none"]]  # autocast was on
