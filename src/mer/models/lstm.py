"""Stacked LSTM encoder and the plain LSTM regressor (family ``LSTM``), and the padding
convention every model shares.

Shapes: input ``x`` is ``(batch, T, input_dim)`` float32, already standardised; any ``T``
works. Every model returns ``(prediction (batch, T), attention (batch, T, T) or None)``.

Variable-length songs are padded at the *end* to the batch's longest one; ``lengths``
(1-D integer tensor (batch,), 1 <= lengths[i] <= T) gives each song's number of real
frames, frames ``t >= lengths[i]`` are padding. ``lengths=None`` means every frame is real
and runs exactly the unpadded code (as does ``lengths`` with every entry equal to T). With
``lengths`` every model first replaces the padded input frames by 0, so any padding value
(even NaN) gives finite outputs; the predictions of a song's real frames then equal, to
float rounding, those of the song alone, unpadded. Predictions in padded frames are finite
but meaningless (the training loss and ``mer.training.predict`` ignore them); attention
weights in padded rows and columns are exactly 0.

``LSTM``: the recurrence runs forwards in time, so frames padded at the end cannot reach a
real frame; nothing beyond zeroing the padding is needed (no packed sequences).

Initial weights: torch's at construction; ``mer.models.init.initialise(model, "keras")``
re-draws them as Keras does (``mer.training.fit`` applies ``train.init``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


def real_frames(lengths: torch.Tensor | None, batch: int, n_frames: int,
                device: torch.device | None = None) -> torch.Tensor | None:
    """(batch, T) bool mask, True on real frames; ``None`` when every frame is real.

    ``lengths`` must be a 1-D integer tensor (batch,) with 1 <= lengths[i] <= T.
    """
    if lengths is None:
        return None
    lengths = torch.as_tensor(lengths, device=device)
    if lengths.shape != (batch,) or lengths.dtype.is_floating_point or lengths.is_complex() \
            or lengths.dtype == torch.bool:
        raise ValueError(f"lengths must be a 1-D integer tensor of {batch} songs, got "
                         f"{lengths.dtype} of shape {tuple(lengths.shape)}")
    if lengths.device.type == "meta":  # no values to check (shape inference, device tests)
        return torch.arange(n_frames, device=lengths.device) < lengths.unsqueeze(1)
    if batch and (int(lengths.min()) < 1 or int(lengths.max()) > n_frames):
        raise ValueError(f"lengths must be in [1, {n_frames}] (the padded length), got "
                         f"min {int(lengths.min())}, max {int(lengths.max())}")
    if bool((lengths == n_frames).all()):
        return None
    return torch.arange(n_frames, device=lengths.device) < lengths.unsqueeze(1)


def zero_padding(sequence: torch.Tensor, real: torch.Tensor | None) -> torch.Tensor:
    """``sequence`` (B, T, ...) with its padded frames (``real`` False) set to 0."""
    if real is None:
        return sequence
    return sequence.masked_fill(~real.view(*real.shape, *[1] * (sequence.dim() - 2)), 0)


class StackedLSTM(nn.Module):
    """LSTM layers on top of each other, each with its own hidden size.

    One ``nn.LSTM`` per layer because ``nn.LSTM(num_layers=k)`` forces one hidden size on
    all layers, and the paper's names (``700_128``) give one size per layer. No dropout
    between layers (TensorFlow 1.14 default). Returns the last layer's outputs h_1..h_T.
    """

    def __init__(self, input_dim: int, sizes: Sequence[int]):
        super().__init__()
        inputs = (input_dim, *sizes[:-1])
        self.layers = nn.ModuleList(
            nn.LSTM(n_in, n_out, batch_first=True) for n_in, n_out in zip(inputs, sizes))

    @property
    def output_size(self) -> int:
        return self.layers[-1].hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x, _ = layer(x)
        return x


class LSTMRegressor(nn.Module):
    """Stacked LSTM, then one linear output per frame: y_t = wᵀh_t + b."""

    def __init__(self, input_dim: int, sizes: Sequence[int]):
        super().__init__()
        self.encoder = StackedLSTM(input_dim, sizes)
        self.head = nn.Linear(self.encoder.output_size, 1)

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, None]:
        """``y_prev_true`` is accepted for a common signature and ignored (no feedback).

        Causal: padding at the end cannot change real frames (see the module docstring).
        """
        x = zero_padding(x, real_frames(lengths, x.shape[0], x.shape[1], x.device))
        return self.head(self.encoder(x)).squeeze(-1), None
