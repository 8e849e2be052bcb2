"""Training loop of the paper's protocol, and prediction.

Protocol (paper, "Training protocol"; other settings TensorFlow 1.14 / Keras defaults):

* Loss: MSE over all (real) frames of all songs in a minibatch.
* Optimiser: RMSprop, learning rate 1e-3. TensorFlow's defaults are rho = 0.9 and
  epsilon = 1e-7; torch's are alpha = 0.99 and eps = 1e-8, so both are set explicitly
  (torch's ``alpha`` is TensorFlow's ``rho``). TF adds epsilon inside the square root and
  torch outside it; with eps = 1e-7 the difference is negligible and is not emulated.
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
import functools
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

# re-exported, so ``from mer.training import RMSprop, save_checkpoint, load_checkpoint`` works
from mer.checkpoints import CHECKPOINT_FORMAT, load_checkpoint, save_checkpoint
from mer.errors import ConfigError, DataError
from mer.frames import checked_lengths
from mer.optim import RMSprop

__all__ = ["CHECKPOINT_FORMAT", "DEVICES", "FEEDBACK_MODES", "RMSprop", "TrainConfig",
           "config_dict", "fit", "load_checkpoint", "predict", "resolve_device",
           "save_checkpoint", "training_gpus"]

FEEDBACK_MODES = ("free_running", "teacher_forcing")
DEVICES = ("auto", "cpu", "cuda")


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

    def validate(self) -> None:
        for key in ("max_epochs", "batch_size", "patience"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"training.{key} must be a positive integer, got {value!r}")
        for key in ("learning_rate", "eps"):
            if not getattr(self, key) > 0:
                raise ConfigError(f"training.{key} must be > 0, got {getattr(self, key)!r}")
        if not 0 <= self.rho < 1:
            raise ConfigError(f"training.rho must be in [0, 1), got {self.rho!r}")
        if not self.min_delta >= 0:
            raise ConfigError(f"training.min_delta must be >= 0, got {self.min_delta!r}")
        if self.feedback not in FEEDBACK_MODES:
            raise ConfigError(f"training.feedback must be one of {FEEDBACK_MODES}, "
                              f"got {self.feedback!r}")
        if self.device not in DEVICES:
            raise ConfigError(f"training.device must be one of {DEVICES}, "
                              f"got {self.device!r}")


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
        raise ConfigError(f"training.device must be one of {DEVICES}, got {device!r}")
    if device == "auto":
        return int(torch.cuda.is_available())
    return int(device == "cuda")


def _as_lengths(lengths, n_songs: int, n_frames: int, what: str) -> np.ndarray | None:
    """Validated lengths as int64, or None when every song fills all ``n_frames``."""
    try:
        return checked_lengths(lengths, n_songs, n_frames)
    except ValueError as error:
        raise DataError(f"{what} {error}") from None


def _as_song_tensors(x: list, y, what: str):
    """Songs given one by one, (length_i, n_features) each: per-song tensors, so nothing is
    padded until a minibatch is built (DEAM's few long songs would otherwise make every
    song as long as the longest). Songs of one length are stacked as before. ``y``: one
    (length_i,) array per song, or an (n_songs, T >= longest) array cropped per song."""
    songs = [np.asarray(song) for song in x]
    if not songs or any(song.ndim != 2 or len(song) == 0 for song in songs):
        raise DataError(f"{what} features must be non-empty (length_i, n_features) arrays, one "
                        f"per song; got shapes {[song.shape for song in songs][:5]}")
    if len({song.shape[1] for song in songs}) > 1:
        raise DataError(f"{what} songs have different numbers of features: "
                        f"{sorted({song.shape[1] for song in songs})}")
    lengths = np.array([len(song) for song in songs], dtype=np.int64)
    targets = None if y is None else [np.asarray(row)[:n] for row, n in zip(y, lengths)]
    if targets is not None and (len(targets) != len(songs) or
                                any(t.shape != (n,) for t, n in zip(targets, lengths))):
        raise DataError(f"{what} targets must give each song one value per frame "
                        f"(lengths {lengths[:5].tolist()}...)")
    if (lengths == lengths[0]).all():
        return _as_tensors(np.stack(songs), None if targets is None else np.stack(targets), what)
    for row, song in enumerate(songs):
        if not np.isfinite(song).all():
            raise DataError(f"{what} features of song {row} (row index) contain NaN or "
                            f"infinite values")
        if targets is not None and not np.isfinite(targets[row]).all():
            raise DataError(f"{what} targets of song {row} (row index) contain NaN or "
                            f"infinite values")
    x_songs = [torch.as_tensor(song, dtype=torch.float32) for song in songs]
    y_songs = None if targets is None else [torch.as_tensor(t, dtype=torch.float32) for t in targets]
    return x_songs, y_songs, torch.as_tensor(lengths)


def _n_features(x) -> int:
    return int(x[0].shape[-1]) if isinstance(x, list) else int(x.shape[2])


def _as_tensors(x: np.ndarray, y: np.ndarray | None, what: str, lengths=None
                ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Checked tensors ``x``, ``y`` and ``lengths`` (None when every frame is real).

    With lengths only the real frames must be finite; padded targets become 0 (features
    are left as they are: the models zero their padding themselves).
    """
    if isinstance(x, (list, tuple)):
        if lengths is not None:
            raise DataError(f"{what}: songs given one by one carry their own lengths; "
                            f"do not pass lengths too")
        return _as_song_tensors(list(x), y, what)
    x = np.asarray(x)
    if x.ndim != 3 or x.shape[0] == 0:
        raise DataError(f"{what} features must be (n_songs > 0, T, n_features), "
                        f"got shape {x.shape}")
    lengths = _as_lengths(lengths, x.shape[0], x.shape[1], what)
    if lengths is None:
        if not np.isfinite(x).all():
            raise DataError(f"{what} features contain NaN or infinite values (if those are "
                            f"padded frames, pass the songs' lengths)")
    else:
        for song, length in enumerate(lengths):  # one song at a time: no full-size copy
            if not np.isfinite(x[song, :length]).all():
                raise DataError(f"{what} features of song {song} (row index) contain NaN or "
                                f"infinite values in its {length} real frames")
    x_tensor = torch.as_tensor(x, dtype=torch.float32)
    lengths_tensor = None if lengths is None else torch.as_tensor(lengths)
    if y is None:
        return x_tensor, None, lengths_tensor
    y = np.asarray(y)
    if y.shape != x.shape[:2]:
        raise DataError(f"{what} targets have shape {y.shape}, expected {x.shape[:2]} "
                        f"(n_songs, T) to match the features")
    if lengths is None:
        if not np.isfinite(y).all():
            raise DataError(f"{what} targets contain NaN or infinite values (if those are "
                            f"padded frames, pass the songs' lengths)")
        return x_tensor, torch.as_tensor(y, dtype=torch.float32), None
    real = np.arange(y.shape[1]) < lengths[:, None]
    bad = ~np.isfinite(np.where(real, y, 0.0)).all(axis=1)
    if bad.any():
        raise DataError(f"{what} targets contain NaN or infinite values in real frames "
                        f"(within lengths), e.g. in song {int(np.argmax(bad))} (row index)")
    y_tensor = torch.as_tensor(np.where(real, y, 0.0), dtype=torch.float32)
    return x_tensor, y_tensor, lengths_tensor


def _crop_to_longest(x: torch.Tensor, y: torch.Tensor | None, lengths: torch.Tensor | None
                     ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Drop the frames beyond the longest song; lengths None if then every frame is real."""
    if lengths is None or isinstance(x, list):
        return x, y, lengths
    n_frames = int(lengths.max())
    if n_frames < x.shape[1]:
        x = x[:, :n_frames].contiguous()
        y = None if y is None else y[:, :n_frames].contiguous()
    return x, y, None if bool((lengths == n_frames).all()) else lengths


def _minibatch(x: torch.Tensor, y: torch.Tensor | None, lengths: torch.Tensor,
               index: torch.Tensor, device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    """Songs ``index`` cropped to their longest one, on ``device``; lengths None when all
    are that long (the model then runs its unpadded code)."""
    batch_lengths = lengths[index]
    n_frames = int(batch_lengths.max())
    if isinstance(x, list):  # songs one by one: padded here, to this batch's longest
        from torch.nn.utils.rnn import pad_sequence
        rows = index.tolist()
        xb = pad_sequence([x[i] for i in rows], batch_first=True).to(device)
        yb = None if y is None else pad_sequence([y[i] for i in rows], batch_first=True).to(device)
    else:
        xb = x[index, :n_frames].to(device)
        yb = None if y is None else y[index, :n_frames].to(device)
    if bool((batch_lengths == n_frames).all()):
        return xb, yb, None
    return xb, yb, batch_lengths.to(device)


def _real_frames(lengths: torch.Tensor, n_frames: int) -> torch.Tensor:
    return torch.arange(n_frames, device=lengths.device) < lengths.unsqueeze(1)


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
            xb, yb, lb = _minibatch(x, y, lengths, order[start:start + batch_size], device)
            squared = (model(xb, lengths=lb)[0] - yb) ** 2
            if lb is not None:
                squared = torch.where(_real_frames(lb, xb.shape[1]), squared, 0.0)
            total += float(squared.sum())
    return total / int(lengths.sum())


def _native_cpu_kernels(function):
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


@_native_cpu_kernels
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
    x, y, lengths = _crop_to_longest(*_as_tensors(train_x, train_y, "training", train_lengths))
    has_validation = val_x is not None
    if val_lengths is not None and not has_validation:
        raise DataError("validation lengths were given without validation features")
    if has_validation:
        if val_y is None:
            raise DataError("validation features were given without validation targets")
        vx, vy, v_lengths = _crop_to_longest(
            *_as_tensors(val_x, val_y, "validation", val_lengths))
        if _n_features(vx) != _n_features(x):
            raise DataError(f"validation has {_n_features(vx)} features, training {_n_features(x)}")
    model.to(device)
    optimizer = RMSprop(model.parameters(), lr=config.learning_rate, rho=config.rho, eps=config.eps)
    generator = torch.Generator().manual_seed(config.seed)
    teacher_forcing = config.feedback == "teacher_forcing"

    history: list[dict] = []
    best_loss, best_state, epochs_without_improvement = math.inf, None, 0
    for epoch in range(1, config.max_epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(len(x), generator=generator)
        loss_sum = 0.0
        for start in range(0, len(x), config.batch_size):
            batch = order[start:start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            if lengths is None:
                xb, yb = x[batch].to(device), y[batch].to(device)
                prediction, _ = model(xb, yb if teacher_forcing else None)
                loss = torch.mean((prediction - yb) ** 2)
                weight = len(batch)
            else:
                xb, yb, lb = _minibatch(x, y, lengths, batch, device)
                prediction, _ = model(xb, yb if teacher_forcing else None, lengths=lb)
                if lb is None:
                    loss, weight = torch.mean((prediction - yb) ** 2), yb.numel()
                else:  # masked MSE; padded targets are 0, padded predictions finite
                    real = _real_frames(lb, xb.shape[1])
                    weight = int(lengths[batch].sum())
                    loss = torch.where(real, (prediction - yb) ** 2, 0.0).sum() / weight
            loss.backward()
            optimizer.step()
            loss_sum += float(loss.detach()) * weight
        train_loss = loss_sum / (len(x) if lengths is None else int(lengths.sum()))
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


@_native_cpu_kernels
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
    x_tensor, _, lengths_tensor = _as_tensors(x, None, "prediction", lengths)
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
            xb, _, lb = _minibatch(x, None, lengths, index, device)
            prediction, weights = model(xb, lengths=lb)
            cropped = xb.shape[1]
            if lb is not None:
                prediction = prediction.masked_fill(~_real_frames(lb, cropped), math.nan)
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
