"""Stacked LSTM encoder and the plain LSTM regressor (family ``LSTM``).

Shapes: input ``x`` is ``(batch, T, input_dim)`` float32, already standardised; any ``T``
works. Every model returns ``(prediction (batch, T), attention (batch, T, T) or None)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


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

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, None]:
        """``y_prev_true`` is accepted for a common signature and ignored (no feedback)."""
        return self.head(self.encoder(x)).squeeze(-1), None
