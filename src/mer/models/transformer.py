"""Transformer encoder regressor (family ``TRANSFORMER_<layers>``).

x (B, T, input_dim) -> linear projection to ``d_model`` -> + sinusoidal positional encoding
(Vaswani et al.; computed for any T) -> dropout -> ``n_layers`` post-norm
``nn.TransformerEncoderLayer`` (batch_first, full unmasked self-attention, as AT) -> linear
head per frame. The projection is not scaled by sqrt(d_model): the features are already
standardised.

Exported attention: the *last* layer's self-attention weights averaged over heads,
(B, T, T), row t = how frame t attends to every frame. They are recomputed from that
layer's input with ``need_weights=True`` (the layer itself asks for none), and only in
evaluation mode; in training mode the second value is ``None``.

Padding (``lengths``, convention in ``mer.models.lstm``): padded input frames are set to 0
and every layer gets ``src_key_padding_mask`` (True on padded frames), so no frame attends
to a padded one: a real frame's output equals that of the song alone (positions count from
the song's first frame either way). Padded frames still attend to the real ones, which
keeps their (ignored) outputs finite. The exported weights are 0 in padded columns (the
mask) and set to 0 in padded rows.

Initial weights: torch's at construction; ``train.init: keras`` (``mer.models.init``)
re-draws every linear map Glorot-uniform with zero biases (Keras has no Transformer layer).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mer.errors import ConfigError
from mer.models.lstm import real_frames, zero_padding


def sinusoidal_positions(n_frames: int, d_model: int, *, device=None,
                         dtype=torch.float32) -> torch.Tensor:
    """(T, d_model): PE[t, 2i] = sin(t / 10000^(2i/d)), PE[t, 2i+1] = cos(same)."""
    position = torch.arange(n_frames, device=device, dtype=torch.float32).unsqueeze(1)
    frequency = torch.exp(torch.arange(0, d_model, 2, device=device, dtype=torch.float32)
                          * (-math.log(10000.0) / d_model))
    encoding = torch.zeros(n_frames, d_model, device=device)
    encoding[:, 0::2] = torch.sin(position * frequency)
    encoding[:, 1::2] = torch.cos(position * frequency)
    return encoding.to(dtype)


class TransformerRegressor(nn.Module):
    def __init__(self, input_dim: int, n_layers: int, *, d_model: int = 64, heads: int = 4,
                 ff_dim: int = 128, dropout: float = 0.1):
        super().__init__()
        if d_model % 2 or d_model % heads:
            raise ConfigError(f"transformer d_model={d_model} must be even and divisible "
                              f"by heads={heads}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"transformer dropout={dropout} must be in [0, 1)")
        self.d_model = d_model
        self.input_projection = nn.Linear(input_dim, d_model)
        self.input_dropout = nn.Dropout(dropout)
        layer = nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout,
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, 1)

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``y_prev_true`` is accepted for a common signature and ignored (no feedback)."""
        real = real_frames(lengths, x.shape[0], x.shape[1], x.device)
        padded = None if real is None else ~real
        z = self.input_projection(zero_padding(x, real)) + sinusoidal_positions(
            x.shape[1], self.d_model, device=x.device, dtype=x.dtype)
        z = self.input_dropout(z)
        *first, last = self.encoder.layers
        for layer in first:
            z = layer(z, src_key_padding_mask=padded)
        weights = None
        if not self.training:
            source = last.norm1(z) if last.norm_first else z
            _, weights = last.self_attn(source, source, source, key_padding_mask=padded,
                                        need_weights=True, average_attn_weights=True)
            if real is not None:
                weights = weights * (real.unsqueeze(2) & real.unsqueeze(1))
        z = last(z, src_key_padding_mask=padded)
        return self.head(z).squeeze(-1), weights
