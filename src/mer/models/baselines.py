"""Baselines fitted in closed form: families ``MEAN``, ``RIDGE`` and ``RIDGE_SONG``.

They answer "compared with what?": each is trained by the same ``mer.cv.train_fold`` job
as the networks, on the same fit / validation / test songs of the fold and the same
standardised features, and is stored as a small ``nn.Module`` with the standard forward
signature, so checkpoints, bundles and ``mer predict`` handle it like any model.

* ``MEAN``: every frame of every song gets one level, the mean annotation over all real
  frames of the fitting songs (the R² ≈ 0 reference; it ignores the features).
* ``RIDGE``: ridge regression per frame, ``y_t = wᵀx_t + b`` on the frame's standardised
  features, fitted on all real frames of the fitting songs (each frame one sample).
* ``RIDGE_SONG``: ridge regression on each song's mean feature vector
  ``x̄ = mean over the song's real frames of x_t``, fitted on one sample per fitting song
  (target: the song's mean annotation); it predicts ``wᵀx̄ + b`` for every frame of the
  song, i.e. one level per song (no dynamics: its within-song R² is exactly 0).

Ridge penalty: scikit-learn's ``Ridge(alpha)`` (objective ``||y - Xw - b||² + alpha
||w||²``, intercept unpenalised) is fitted on the fitting songs for each ``alpha`` of the
grid ``train.ridge_alphas``; the alpha with the lowest validation MSE (over the real
frames of the validation songs, as the networks' early stopping measures it) is kept
(ties: the first in grid order). The validation songs are never fitted on, and the test
songs are not touched. Fitting is in float64; the module keeps float64 weights and casts
only its output to float32.

Padding (``lengths``, convention in ``mer.models.lstm``): padded input frames are set to 0
before use, and ``RIDGE_SONG`` averages the real frames only, so padding never changes a
real frame's prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from mer.errors import ConfigError
from mer.models.lstm import real_frames, zero_padding

RIDGE_ALPHAS_KEY = "train.ridge_alphas"


class MeanBaseline(nn.Module):
    """One level for every frame: ``prediction[b, t] = level``."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.input_dim = input_dim
        self.level = nn.Parameter(torch.zeros((), dtype=torch.float64))

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        batch, n_frames = x.shape[:2]
        return self.level.to(torch.float32).expand(batch, n_frames).clone(), None

    def extra_repr(self) -> str:
        return f"input_dim={self.input_dim} (ignored)"


class RidgeFrameBaseline(nn.Module):
    """Linear map of each frame's features: ``prediction[b, t] = wᵀx[b, t] + b``."""

    def __init__(self, input_dim: int):
        super().__init__()
        self.linear = nn.Linear(input_dim, 1, dtype=torch.float64)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        x = zero_padding(x, real_frames(lengths, x.shape[0], x.shape[1], x.device))
        return self.linear(x.to(torch.float64)).squeeze(-1).to(torch.float32), None


class RidgeSongBaseline(RidgeFrameBaseline):
    """Linear map of the song's mean features, the same level on every real frame (the
    same float64 ``linear`` layer as RidgeFrameBaseline, applied to the song mean)."""

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        batch, n_frames = x.shape[:2]
        real = real_frames(lengths, batch, n_frames, x.device)
        x = zero_padding(x, real).to(torch.float64)
        if real is None:
            song_mean = x.mean(dim=1)
        else:
            song_mean = x.sum(dim=1) / real.sum(dim=1, keepdim=True).to(torch.float64)
        level = self.linear(song_mean).to(torch.float32)  # (batch, 1)
        return level.expand(batch, n_frames).clone(), None


# -- fitting ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BaselineFit:
    """What a closed-form fit reports: the chosen alpha (None for MEAN), the validation MSE
    of the fitted model (NaN without validation songs), the MSE on the fitting frames, and
    the validation MSE of every alpha tried (grid order)."""

    alpha: float | None
    val_loss: float
    train_loss: float
    val_losses: tuple[float, ...] = ()


def checked_alphas(alphas) -> tuple[float, ...]:
    """The ridge penalty grid as floats; ConfigError naming ``train.ridge_alphas``."""
    if alphas is None or isinstance(alphas, (str, bytes)) or not hasattr(alphas, "__iter__"):
        raise ConfigError(f"`{RIDGE_ALPHAS_KEY}` must be a non-empty list of positive numbers "
                          f"(e.g. [0.1, 1, 10, 100, 1000, 10000]), got {alphas!r}")
    values = list(alphas)
    bad = [a for a in values if isinstance(a, bool) or not isinstance(a, (int, float))
           or not math.isfinite(a) or a <= 0]
    if not values or bad:
        raise ConfigError(f"`{RIDGE_ALPHAS_KEY}` must be a non-empty list of positive numbers "
                          f"(e.g. [0.1, 1, 10, 100, 1000, 10000]), got {values!r}")
    return tuple(float(a) for a in values)


def _songs(x, y=None, lengths=None) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Per-song (length_i, dims) features (views, not copies) and float64 (length_i,) targets.

    ``x``: an (n, T, dims) array (``lengths`` (n,) its songs' real frames; None: all T),
    or a list of (length_i, dims) arrays; ``y``: (n, >= longest) NaN-padded, or one array
    per song."""
    if isinstance(x, (list, tuple)):
        songs = [np.asarray(song) for song in x]
        song_lengths = [len(song) for song in songs]
    else:
        x = np.asarray(x)
        song_lengths = [x.shape[1]] * len(x) if lengths is None else [int(n) for n in lengths]
        songs = [song[:n] for song, n in zip(x, song_lengths)]
    targets = None if y is None else [np.asarray(row, dtype=np.float64)[:n]
                                      for row, n in zip(y, song_lengths)]
    return songs, targets


def _frames(songs) -> np.ndarray:
    """All real frames of ``songs`` as one float64 (frames, dims) array (one allocation)."""
    return np.concatenate(songs, axis=0, dtype=np.float64)


def _song_means(songs) -> np.ndarray:
    """(n_songs, dims) float64: each song's mean feature vector over its real frames."""
    return np.stack([song.mean(axis=0, dtype=np.float64) for song in songs])


def _mse(prediction: np.ndarray, target: np.ndarray) -> float:
    return float(np.mean((prediction - target) ** 2))


def fit_baseline(model: nn.Module, family: str, x_fit, y_fit, x_val=None, y_val=None, *,
                 alphas=None, fit_lengths=None, val_lengths=None) -> BaselineFit:
    """Fit the baseline ``model`` (built by ``mer.models.build_model``) in place.

    Arrays as ``mer.cv.songs_data`` gives them (features already standardised): features
    (n, T, dims) or one (length_i, dims) array per song, annotations (n, T) NaN-padded;
    ``fit_lengths`` / ``val_lengths``: real frames of songs padded in an array (None: all).
    Without validation songs (the final model of an export) ``alphas`` must hold exactly
    one value. Returns the chosen alpha and the losses; the model ends in evaluation mode.
    """
    fit_x, fit_y = _songs(x_fit, y_fit, fit_lengths)
    has_validation = x_val is not None
    val_x, val_y = _songs(x_val, y_val, val_lengths) if has_validation else (None, None)
    frames_y = np.concatenate(fit_y)
    if family == "MEAN":
        level = float(frames_y.mean())
        with torch.no_grad():
            model.level.fill_(level)
        val_loss = _mse(level, np.concatenate(val_y)) if has_validation else math.nan
        model.eval()
        return BaselineFit(None, val_loss, _mse(level, frames_y))
    if family not in ("RIDGE", "RIDGE_SONG"):
        raise ValueError(f"{family!r} is not a closed-form baseline family")
    grid = checked_alphas(alphas)
    if not has_validation and len(grid) != 1:
        raise ConfigError(f"without validation songs the ridge penalty cannot be chosen; "
                          f"give one alpha, got {list(grid)}")
    from sklearn.linear_model import Ridge  # imported here: networks' jobs need not pay for it

    if family == "RIDGE":
        design, target = _frames(fit_x), frames_y
    else:
        design = _song_means(fit_x)
        target = np.array([song.mean() for song in fit_y])

    def predict_frames(regressor, songs) -> np.ndarray:
        """(frames, alphas): every alpha's prediction of the real frames of ``songs``."""
        if family == "RIDGE":
            return regressor.predict(_frames(songs)).reshape(-1, len(grid))
        levels = regressor.predict(_song_means(songs))
        return np.repeat(levels.reshape(-1, len(grid)), [len(song) for song in songs], axis=0)

    # One fit for the whole grid: sklearn's per-target penalties (the target repeated once
    # per alpha) compute the Gram matrix once instead of once per alpha, the same solution
    # as Ridge(alpha) alpha by alpha (tests/test_baselines.py compares), ~5x faster on ComParE.
    # copy_X=False: sklearn centres ``design`` in place (it is not used again), one copy of
    # the fitting frames fewer (~1.9 GB for RIDGE on emoMusic's ComParE frames)
    regressor = Ridge(alpha=np.array(grid), copy_X=False).fit(
        design, np.repeat(target[:, None], len(grid), axis=1))
    del design
    val_losses = []
    if has_validation:
        val_truth = np.concatenate(val_y)
        val_losses = [float(v) for v in
                      np.mean((predict_frames(regressor, val_x) - val_truth[:, None]) ** 2, axis=0)]
    best = int(np.argmin(val_losses)) if has_validation else 0
    coefficients = regressor.coef_.reshape(len(grid), -1)[best]
    intercept = float(np.atleast_1d(regressor.intercept_)[best])
    with torch.no_grad():
        model.linear.weight.copy_(torch.as_tensor(coefficients, dtype=torch.float64)[None])
        model.linear.bias.fill_(intercept)
    model.eval()
    return BaselineFit(grid[best], val_losses[best] if has_validation else math.nan,
                       _mse(predict_frames(regressor, fit_x)[:, best], frames_y), tuple(val_losses))
