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
(ties: the first in grid order), for each target on its own. The validation songs are
never fitted on, and the test songs are not touched. ``fit_ridge_grid`` computes the same
solutions as sklearn for every alpha and every target (arousal, valence) from one Gram
matrix (``fit_baselines``: all targets of a fold at once). Fitting is in float64; the
module keeps float64 weights and casts only its output to float32.

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


@dataclass(frozen=True)
class RidgeGrid:
    """Ridge fits of several targets for every alpha of a grid: ``coefficients``
    (n_alphas, n_targets, dims), ``intercepts`` (n_alphas, n_targets) and ``fitted``
    (n_samples, n_alphas, n_targets), every fit's prediction of the fitting samples."""

    coefficients: np.ndarray
    intercepts: np.ndarray
    fitted: np.ndarray

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(n_samples, n_alphas, n_targets): every fit's prediction of ``x`` (n_samples, dims)."""
        return np.tensordot(x, self.coefficients, axes=([1], [2])) + self.intercepts


def fit_ridge_grid(design: np.ndarray, targets: np.ndarray, alphas) -> RidgeGrid:
    """scikit-learn's ``Ridge(alpha)`` for every alpha of ``alphas`` and every column of
    ``targets`` (n_samples, n_targets), from one Gram matrix and one factorisation per alpha.

    ``design`` (n_samples, dims) float64 is centred IN PLACE, so that the fitting frames
    exist once (the caller drops it after). As sklearn's "cholesky" solver: with x̄, ȳ the
    means over the fitting samples and Xc, Yc the centred design and targets,
    ``w = Xcᵀ(XcXcᵀ + αI)⁻¹Yc`` (kernel form) when n_samples < dims, else
    ``w = (XcᵀXc + αI)⁻¹XcᵀYc`` (primal form); the unpenalised intercept is ``ȳ − x̄ᵀw``.
    Memory: the design, the Gram matrix and one factor at a time.
    """
    # Hand-written because sklearn's Ridge(alpha=<one alpha per column>) solves (K + αI)
    # once per column: on the default run's 4,392 ComParE frames (kernel form) ~1.2 CPU-s
    # a solve after ~3.4 s for K, so 22.3 CPU-s a fold for arousal and valence (K twice, 12
    # solves). Here K is formed once and each alpha factored once (Cholesky), the factor
    # solving every target's column together: 9 CPU-s. tests/test_baselines.py compares
    # with Ridge(alpha) fitted alpha by alpha and target by target, in both forms.
    from scipy.linalg import cho_factor, cho_solve  # here: networks' jobs need not import it

    targets = np.asarray(targets, dtype=np.float64)
    x_mean, y_mean = design.mean(axis=0), targets.mean(axis=0)
    design -= x_mean
    centred_targets = targets - y_mean
    n_samples, dims = design.shape
    kernel = n_samples < dims
    gram = design @ design.T if kernel else design.T @ design  # numpy uses one syrk
    rhs = centred_targets if kernel else design.T @ centred_targets
    coefficients = np.empty((len(alphas), targets.shape[1], dims))
    for i, alpha in enumerate(alphas):
        # gram is symmetric: its transpose copied in Fortran order is gram again, in the
        # layout LAPACK factors in place (overwrite_a), so gram + αI is the only other matrix
        shifted = gram.T.copy(order="F")
        shifted.flat[::len(gram) + 1] += alpha
        solution = cho_solve(cho_factor(shifted, overwrite_a=True), rhs)
        del shifted
        coefficients[i] = (design.T @ solution if kernel else solution).T
    del gram
    fitted = np.tensordot(design, coefficients, axes=([1], [2])) + y_mean  # xc·w + ȳ = x·w + b
    return RidgeGrid(coefficients, y_mean - coefficients @ x_mean, fitted)


def _songs(x, lengths=None) -> list[np.ndarray]:
    """Per-song (length_i, dims) features (views, not copies): ``x`` an (n, T, dims) array
    (``lengths`` (n,) its songs' real frames; None: all T), or a list of (length_i, dims)."""
    if isinstance(x, (list, tuple)):
        return [np.asarray(song) for song in x]
    x = np.asarray(x)
    song_lengths = [x.shape[1]] * len(x) if lengths is None else [int(n) for n in lengths]
    return [song[:n] for song, n in zip(x, song_lengths)]


def _song_targets(y, songs) -> list[np.ndarray]:
    """Float64 (length_i,) annotations of each of ``songs``: ``y`` (n, >= longest)
    NaN-padded, or one array per song."""
    return [np.asarray(row, dtype=np.float64)[:len(song)] for row, song in zip(y, songs)]


def _frame_targets(ys, songs) -> np.ndarray:
    """(n_targets, frames) float64: row ``j``, target ``ys[j]`` on every real frame of ``songs``."""
    return np.stack([np.concatenate(_song_targets(y, songs)) for y in ys])


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
    """Fit the baseline ``model`` (built by ``mer.models.build_model``) in place: one
    target's ``fit_baselines``.

    Arrays as ``mer.cv.songs_data`` gives them (features already standardised): features
    (n, T, dims) or one (length_i, dims) array per song, annotations (n, T) NaN-padded;
    ``fit_lengths`` / ``val_lengths``: real frames of songs padded in an array (None: all).
    Without validation songs (the final model of an export) ``alphas`` must hold exactly
    one value. Returns the chosen alpha and the losses; the model ends in evaluation mode.
    """
    return fit_baselines([model], family, x_fit, [y_fit], x_val,
                         None if x_val is None else [y_val], alphas=alphas,
                         fit_lengths=fit_lengths, val_lengths=val_lengths)[0]


def fit_baselines(models, family: str, x_fit, ys_fit, x_val=None, ys_val=None, *,
                  alphas=None, fit_lengths=None, val_lengths=None) -> list[BaselineFit]:
    """``fit_baseline`` for several targets on the same features: ``models[j]`` fitted in
    place on the annotations ``ys_fit[j]`` (validation: ``ys_val[j]``), the ridge families
    by one ``fit_ridge_grid`` for all targets; each target chooses its own alpha on its own
    validation MSE. Returns one ``BaselineFit`` per model, in order."""
    has_validation = x_val is not None
    if len(ys_fit) != len(models) or (has_validation and len(ys_val) != len(models)):
        raise ValueError(f"{len(models)} model(s) need as many fitting and validation "
                         f"annotation arrays, got {len(ys_fit)} and "
                         f"{len(ys_val) if has_validation else 'no validation'}")
    fit_x = _songs(x_fit, fit_lengths)
    val_x = _songs(x_val, val_lengths) if has_validation else None
    frames_y = _frame_targets(ys_fit, fit_x)
    val_truth = _frame_targets(ys_val, val_x) if has_validation else None
    if family == "MEAN":
        fits = []
        for j, model in enumerate(models):
            level = float(frames_y[j].mean())
            with torch.no_grad():
                model.level.fill_(level)
            model.eval()
            fits.append(BaselineFit(None, _mse(level, val_truth[j]) if has_validation else math.nan,
                                    _mse(level, frames_y[j])))
        return fits
    if family not in ("RIDGE", "RIDGE_SONG"):
        raise ValueError(f"{family!r} is not a closed-form baseline family")
    grid = checked_alphas(alphas)
    if not has_validation and len(grid) != 1:
        raise ConfigError(f"without validation songs the ridge penalty cannot be chosen; "
                          f"give one alpha, got {list(grid)}")

    def samples(songs) -> np.ndarray:
        """The design's rows for ``songs``: their frames (RIDGE) or their mean features."""
        return _frames(songs) if family == "RIDGE" else _song_means(songs)

    def on_frames(predictions, songs) -> np.ndarray:
        """(frames, alphas, targets) from per-sample predictions (RIDGE_SONG: per song)."""
        return predictions if family == "RIDGE" else np.repeat(
            predictions, [len(song) for song in songs], axis=0)

    if family == "RIDGE":
        targets = frames_y.T
    else:
        targets = np.array([[song.mean() for song in _song_targets(y, fit_x)] for y in ys_fit]).T
    design = samples(fit_x)
    ridge = fit_ridge_grid(design, targets, grid)
    del design  # centred in place by the fit, of no further use: freed before validation
    fitted = on_frames(ridge.fitted, fit_x)
    if has_validation:
        errors = on_frames(ridge.predict(samples(val_x)), val_x) - val_truth.T[:, None, :]
        val_losses = np.mean(errors ** 2, axis=0)  # (alphas, targets)
        best = np.argmin(val_losses, axis=0)  # ties: the first in grid order
    else:
        val_losses, best = None, np.zeros(len(models), dtype=int)
    fits = []
    for j, model in enumerate(models):
        chosen = int(best[j])
        with torch.no_grad():
            model.linear.weight.copy_(torch.as_tensor(ridge.coefficients[chosen, j])[None])
            model.linear.bias.fill_(float(ridge.intercepts[chosen, j]))
        model.eval()
        losses = () if val_losses is None else tuple(float(v) for v in val_losses[:, j])
        fits.append(BaselineFit(grid[chosen], losses[chosen] if losses else math.nan,
                                _mse(fitted[:, chosen, j], frames_y[j]), losses))
    return fits
