"""Training loop of the paper's protocol, and prediction.

Protocol (paper, "Training protocol"; other settings TensorFlow 1.14 / Keras defaults):

* Loss: MSE over all (real) frames of all songs in a minibatch.
* Optimiser: RMSprop (``mer.optim``), learning rate 1e-3. TensorFlow's defaults are
  rho = 0.9 and epsilon = 1e-7; torch's are alpha = 0.99 and eps = 1e-8, so both are set
  explicitly (torch's ``alpha`` is TensorFlow's ``rho``). TF 1.14 adds epsilon inside the
  square root, torch outside it (``config.rmsprop_eps``: ``"inside"``, the default, or
  ``"outside"``). The difference is not negligible: inside, the step of a parameter whose
  gradients are below sqrt(eps) = 3.2e-4 shrinks with them (docs/training.md measures it).
* Initialisation (``config.init``, ``mer.models.init``): ``fit`` first re-draws the
  model's weights by Keras' defaults (``"keras"``, the default: Glorot-uniform kernels,
  orthogonal recurrent weights, zero biases with forget-gate bias 1), or keeps torch's
  (``"torch"``). So ``fit`` always trains from a fresh initialisation with ``"keras"``.
* Device (``config.device``): data stay on the CPU and each minibatch is moved to the
  device; every tensor the models make (masks, positions, fed-back predictions) is
  created on the device of their input. ``config.deterministic`` (default True) turns on
  deterministic algorithms and cuDNN / cuBLAS determinism for the fit (``_determinism``);
  ``config.autocast = "bf16"`` runs the training forward pass under bfloat16 autocast
  (the loss in float32; validation and ``predict`` in float32).
* Minibatches of ``batch_size`` songs, reshuffled every epoch by a ``torch.Generator``
  seeded from ``config.seed`` (the last batch may be smaller).
* Early stopping as Keras ``EarlyStopping(monitor="val_loss", min_delta, patience,
  restore_best_weights=True)``: an epoch *improves* when its validation MSE is below the
  best so far by more than ``min_delta``; after ``patience`` epochs in a row without an
  improvement training stops. The weights of the last improving epoch are restored, also
  when ``max_epochs`` is reached without stopping (Keras would keep the final weights
  there; we always restore). Without validation data all ``max_epochs`` epochs run.
* Feedback of y_{t-1} (AT/BAT) during training: ``"free_running"`` (the model's own
  predictions, gradients through the recurrence; default) or ``"teacher_forcing"`` (the
  annotations are passed as ``y_prev_true``). Validation and ``predict`` always run in
  evaluation mode, where models feed back their own predictions.

Arrays: ``x`` is (n_songs, T, n_features) float, already standardised; ``y`` is
(n_songs, T). Variable-length songs (DEAM) are padded at the end to a common T, with
``lengths`` (n_songs,) their numbers of real frames (the convention of ``mer.models``);
values in padded frames may be anything, NaN included, and are never used: the loss and
the validation MSE are sums of squared errors over real frames divided by their count
(equal to the plain mean when nothing is padded), padded targets are replaced by 0 before
teacher forcing, and every minibatch is cropped to its longest song. ``lengths=None``, or
lengths all equal to T, runs exactly the unpadded code; a dataset whose songs all have
the same length L < T gives the same results, bit for bit, as its first L frames without
lengths. Determinism: callers run ``mer.runtime.seed_everything(config.seed)`` before
building the model; on CPU the same seed and data then give bitwise identical weights,
losses and predictions.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

# re-exported, so ``from mer.training import RMSprop, save_checkpoint, load_checkpoint,
# resolve_device, training_gpus`` works
from mer.checkpoints import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from mer.batches import as_tensors, crop_to_longest, minibatch, n_features, real_frames
from mer.devices import (AUTOCAST_MODES, DEVICES, autocast, determinism, native_cpu_kernels,
                         resolve_device, training_gpus)
from mer.errors import ConfigError, DataError
from mer.models.init import INIT_SCHEMES, initialise
from mer.optim import EPS_PLACEMENTS, RMSprop

__all__ = ["AUTOCAST_MODES", "CHECKPOINT_FORMAT", "DEVICES", "FEEDBACK_MODES", "RMSprop", "TrainConfig",
           "config_dict", "fit", "load_checkpoint", "predict", "resolve_device",
           "save_checkpoint", "training_gpus"]

FEEDBACK_MODES = ("free_running", "teacher_forcing")


@dataclass
class TrainConfig:
    max_epochs: int = 50
    batch_size: int = 20
    learning_rate: float = 1e-3
    rho: float = 0.9      # TensorFlow RMSprop default; torch's ``alpha``
    eps: float = 1e-7     # TensorFlow RMSprop default (torch's is 1e-8)
    patience: int = 5
    min_delta: float = 1e-4
    seed: int = 0
    feedback: str = "free_running"   # or "teacher_forcing"
    device: str = "cpu"              # "auto" | "cpu" | "cuda"
    init: str = "keras"              # "keras" (TF 1.14 defaults) | "torch"; mer.models.init
    rmsprop_eps: str = "inside"      # "inside" sqrt(ms + eps) (TF 1.14) | "outside" (torch)
    deterministic: bool = True       # cuDNN / cuBLAS determinism on CUDA (see fit)
    autocast: str = "none"           # "none" | "bf16": forward pass and loss under autocast

    def validate(self) -> None:
        for key in ("max_epochs", "batch_size", "patience"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"train.{key} must be a positive integer, got {value!r}")
        for key in ("learning_rate", "eps"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"train.{key} must be > 0, got {getattr(self, key)!r}")
        if not 0 <= self.rho < 1:
            raise ConfigError(f"train.rho must be in [0, 1), got {self.rho!r}")
        if not self.min_delta >= 0:
            raise ConfigError(f"train.min_delta must be >= 0, got {self.min_delta!r}")
        if self.feedback not in FEEDBACK_MODES:
            raise ConfigError(f"train.feedback must be one of {FEEDBACK_MODES}, "
                              f"got {self.feedback!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"train.device must be one of {DEVICES}, "
                              f"got {self.device!r}")
        for key, allowed in (("init", INIT_SCHEMES), ("rmsprop_eps", EPS_PLACEMENTS),
                             ("autocast", AUTOCAST_MODES)):
            if getattr(self, key) not in allowed:
                raise ConfigError(f"train.{key} must be one of {allowed}, "
                                  f"got {getattr(self, key)!r}")
        if not isinstance(self.deterministic, bool):
            raise ConfigError(f"train.deterministic must be true or false, "
                              f"got {self.deterministic!r}")


def _mean_squared_error(model: nn.Module, x: torch.Tensor, y: torch.Tensor,
                        lengths: torch.Tensor | None, batch_size: int,
                        device: torch.device) -> float:
    """MSE over the real frames, in evaluation mode."""
    model.eval()
    total = 0.0
    with torch.no_grad():
        if lengths is None:
            for start in range(0, len(x), batch_size):
                xb, yb = x[start:start + batch_size].to(device), y[start:start + batch_size].to(device)
                prediction, _ = model(xb)
                total += float(((prediction - yb) ** 2).sum())
            return total / y.numel()
        order = torch.argsort(lengths, stable=True)  # similar lengths together: less padding
        for start in range(0, len(x), batch_size):
            xb, yb, lb = minibatch(x, y, lengths, order[start:start + batch_size], device)
            squared = (model(xb, lengths=lb)[0] - yb) ** 2
            if lb is not None:
                squared = torch.where(real_frames(lb, xb.shape[1]), squared, 0.0)
            total += float(squared.sum())
    return total / int(lengths.sum())


@native_cpu_kernels
def fit(model: nn.Module, train_x: np.ndarray, train_y: np.ndarray,
        val_x: np.ndarray | None, val_y: np.ndarray | None, config: TrainConfig, *,
        log: Callable[[str], None] | None = None, train_lengths=None,
        val_lengths=None) -> list[dict]:
    """Train ``model`` in place (see the module docstring); return one row per epoch.

    ``train_x`` / ``val_x``: (n_songs, T, n_features) arrays, or lists of one
    (length_i, n_features) array per song (targets then one (length_i,) array per song, or
    a NaN-padded (n_songs, T) array); songs given one by one are padded only per minibatch.
    ``train_lengths`` / ``val_lengths``: for arrays, (n_songs,) integers, the real frames of
    songs padded at the end, or None when every frame is real; targets may be NaN beyond.
    Rows: ``epoch`` (1-based), ``train_loss`` (mean MSE over the epoch's minibatches,
    weighted by their sizes (their real frames with lengths), as Keras reports it),
    ``val_loss`` (MSE of the validation set's real frames in evaluation mode after the
    epoch; NaN without validation data), ``seconds`` (wall time of the epoch) and
    ``improved`` (whether it became the restored best).
    On return the model holds the best weights and is in evaluation mode.
    """
    config.validate()
    device = resolve_device(config.device)
    with determinism(config.deterministic, device):
        return _fit(model, train_x, train_y, val_x, val_y, config, device, log=log,
                    train_lengths=train_lengths, val_lengths=val_lengths)


def _fit(model, train_x, train_y, val_x, val_y, config: TrainConfig, device: torch.device, *,
         log, train_lengths, val_lengths) -> list[dict]:
    x, y, lengths = crop_to_longest(*as_tensors(train_x, train_y, "training", train_lengths))
    has_validation = val_x is not None
    if val_lengths is not None and not has_validation:
        raise DataError("validation lengths were given without validation features")
    if has_validation:
        if val_y is None:
            raise DataError("validation features were given without validation targets")
        vx, vy, v_lengths = crop_to_longest(
            *as_tensors(val_x, val_y, "validation", val_lengths))
        if n_features(vx) != n_features(x):
            raise DataError(f"validation has {n_features(vx)} features, training {n_features(x)}")
    initialise(model, config.init)  # before .to(device): the same weights on any device
    model.to(device)
    optimizer = RMSprop(model.parameters(), lr=config.learning_rate, rho=config.rho,
                        eps=config.eps, eps_placement=config.rmsprop_eps)
    generator = torch.Generator().manual_seed(config.seed)
    teacher_forcing = config.feedback == "teacher_forcing"

    history: list[dict] = []
    best_loss, best_state, epochs_without_improvement = math.inf, None, 0
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=generator)
        # summed on the device, read once per epoch: no host sync per step on a GPU
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        for start in range(0, len(x), config.batch_size):
            batch = order[start:start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            if lengths is None:
                xb, yb = x[batch].to(device), y[batch].to(device)
                with autocast(config.autocast, device):
                    prediction, _ = model(xb, yb if teacher_forcing else None)
                prediction = prediction.float()  # the loss in float32 under autocast too
                loss = torch.mean((prediction - yb) ** 2)
                weight = len(batch)
            else:
                xb, yb, lb = minibatch(x, y, lengths, batch, device)
                with autocast(config.autocast, device):
                    prediction, _ = model(xb, yb if teacher_forcing else None, lengths=lb)
                prediction = prediction.float()
                if lb is None:
                    loss, weight = torch.mean((prediction - yb) ** 2), yb.numel()
                else:  # masked MSE; padded targets are 0, padded predictions finite
                    real = real_frames(lb, xb.shape[1])
                    weight = int(lengths[batch].sum())
                    loss = torch.where(real, (prediction - yb) ** 2, 0.0).sum() / weight
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach().double() * weight
        train_loss = float(loss_sum) / (len(x) if lengths is None else int(lengths.sum()))
        if not math.isfinite(train_loss):
            raise DataError(f"training diverged: loss is {train_loss} at epoch {epoch}")

        if has_validation:
            val_loss = _mean_squared_error(model, vx, vy, v_lengths,
                                           max(config.batch_size, 64), device)
            improved = val_loss < best_loss - config.min_delta
        else:
            val_loss, improved = math.nan, True
        if improved:
            best_loss = val_loss if has_validation else best_loss
            best_state = copy.deepcopy(model.state_dict())
            epochs_without_improvement = 0
        else:
            epochs_without_improvement += 1
        row = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
               "seconds": time.perf_counter() - started, "improved": improved}
        history.append(row)
        if log is not None:
            log(f"epoch {epoch:3d}  train_loss {train_loss:.6f}  val_loss {val_loss:.6f}  "
                f"{row['seconds']:.1f}s{'  *' if improved else ''}")
        if epochs_without_improvement >= config.patience:
            if log is not None:
                log(f"early stop after epoch {epoch}: no val_loss improvement > "
                    f"{config.min_delta:g} in {config.patience} epochs")
            break

    if best_state is not None:
        model.load_state_dict(best_state)
        if log is not None and has_validation:
            best_epoch = max(r["epoch"] for r in history if r["improved"])
            log(f"restored weights of epoch {best_epoch} (val_loss {best_loss:.6f})")
    model.eval()
    return history


@native_cpu_kernels
def predict(model: nn.Module, x: np.ndarray, *, lengths=None, batch_size: int = 64,
            device: str = "cpu", ragged_attention: bool = False
            ) -> tuple[np.ndarray, np.ndarray | list[np.ndarray] | None]:
    """Predictions (n, T) and attention (n, T, T) or None, in evaluation mode (own feedback).

    With ``lengths`` (n,) of songs padded at the end, predictions beyond a song's length
    are NaN and its attention there (rows and columns) 0; songs are batched by length,
    each batch cropped to its longest song. With ``ragged_attention`` the attention is a
    list of one (length, length) array per song instead: a few long songs among many short
    ones (DEAM) then cost their own frames, not n x T x T.
    """
    torch_device = resolve_device(device)
    x_tensor, _, lengths_tensor = as_tensors(x, None, "prediction", lengths)
    model.to(torch_device).eval()
    if lengths_tensor is not None:
        predictions, per_song = _predict_padded(model, x_tensor, lengths_tensor, batch_size,
                                                torch_device)
        if per_song is None or ragged_attention:
            return predictions, per_song
        n_frames = predictions.shape[1]
        attention = np.zeros((len(x_tensor), n_frames, n_frames), dtype=np.float32)
        for row, weights in enumerate(per_song):
            attention[row, :len(weights), :len(weights)] = weights
        return predictions, attention
    predictions, attentions = [], []
    with torch.no_grad():
        for start in range(0, len(x_tensor), batch_size):
            prediction, attention = model(x_tensor[start:start + batch_size].to(torch_device))
            predictions.append(prediction.cpu().numpy())
            if attention is not None:
                attentions.append(attention.cpu().numpy())
    attention_array = np.concatenate(attentions) if attentions else None
    if attention_array is not None and ragged_attention:
        return np.concatenate(predictions), list(attention_array)
    return np.concatenate(predictions), attention_array


def _predict_padded(model: nn.Module, x: torch.Tensor, lengths: torch.Tensor,
                    batch_size: int, device: torch.device
                    ) -> tuple[np.ndarray, list[np.ndarray] | None]:
    """Predictions (n, T), NaN beyond each length, and each song's (length, length)
    attention (None if the model has none)."""
    n_songs, n_frames = len(x), int(lengths.max())
    predictions = np.full((n_songs, n_frames), np.nan, dtype=np.float32)
    attention = None
    order = torch.argsort(lengths, stable=True)  # similar lengths together: less padding
    with torch.no_grad():
        for start in range(0, n_songs, batch_size):
            index = order[start:start + batch_size]
            xb, _, lb = minibatch(x, None, lengths, index, device)
            prediction, weights = model(xb, lengths=lb)
            cropped = xb.shape[1]
            if lb is not None:
                prediction = prediction.masked_fill(~real_frames(lb, cropped), math.nan)
            rows = index.numpy()
            predictions[rows, :cropped] = prediction.cpu().numpy()
            if weights is not None:
                attention = [None] * n_songs if attention is None else attention
                weights = weights.cpu().numpy()
                for row, song_weights in zip(rows, weights):
                    length = int(lengths[row])
                    attention[row] = song_weights[:length, :length].copy()
    return predictions, attention


def config_dict(config: TrainConfig) -> dict[str, Any]:
    """The config as a plain dict, e.g. for ``save_checkpoint(extra=...)``."""
    return asdict(config)
