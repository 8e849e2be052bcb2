"""LSTM encoder with additive (Bahdanau) attention: families ``AT`` and ``BAT``.

Conventions (frames numbered t = 1..T as in the paper, index t-1 in tensors):

* The stacked LSTM encoder gives h_1..h_T (its last layer's outputs); h_0 = 0.
* Alignment e_tj = vᵀ tanh(W h_{t-1} + U h_j) (no biases, as in Bahdanau et al.); the
  query of frame 1 is therefore W·0 = 0 and e_1j = vᵀ tanh(U h_j).
* α_t = softmax over the allowed j of e_tj; c_t = Σ_j α_tj h_j.
  ``AT`` allows j = 1..T. ``BAT`` allows j = 1..t-1 only; frame 1 has no earlier frame, so
  α_1 is all zeros and c_1 = 0. In the returned (batch, T, T) attention, row t-1 is α_t;
  BAT rows are zero on and above the diagonal.
* Output y_t = g(h_t, y_{t-1}, c_t) with g linear: y_t = w_hᵀh_t + w_cᵀc_t + u·y_{t-1} + b,
  y_0 = 0, u a learnt scalar initialised to 0 (by every scheme of ``mer.models.init``).
* Feedback of y_{t-1}: in evaluation mode (``model.eval()``) the model always feeds back
  its *own* previous prediction; ``y_prev_true`` is ignored, so annotations cannot leak.
  In training mode it does the same ("free running", gradients flow through the
  recurrence) unless ``y_prev_true`` is given ("teacher forcing"): then frame t is fed the
  annotation y_{t-1} = ``y_prev_true[:, t-2]`` (and y_0 = 0 for frame 1). ``y_prev_true``
  is the annotated sequence of the same frames, shape (batch, T); the model shifts it.
* All queries h_0..h_{T-1} are known once the encoder has run, so attention for all t is
  computed in one batched (batch, T, T, attention_dim) operation; only the scalar y
  recurrence loops over t. ``reference_attention`` is the same computation with a Python
  loop over t, kept to test the batched one and to benchmark against.
* Padding (``lengths``, convention in ``mer.models.lstm``): padded input frames are set to
  0; ``AT`` masks the keys j > length (softmax over the song's real frames only);
  ``BAT`` is causal (row t sees j <= t-1 only), so keys padded at the end never reach a real
  row and its real frames are unchanged by padding even without a key mask. Both
  additionally zero the padded rows (t > length) and columns, so the returned weights are
  exactly 0 there. The encoder and the y recurrence run forwards in time, so padding at the
  end cannot reach a real frame either. Teacher forcing: annotations in padded frames are
  replaced by 0 (they may be NaN) and only feed padded frames anyway.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from mer.models.lstm import StackedLSTM, real_frames, zero_padding


class AdditiveAttention(nn.Module):
    """e_tj = vᵀ tanh(W q_t + U k_j), softmax over the allowed j, context Σ_j α_tj k_j."""

    def __init__(self, hidden_size: int, attention_dim: int):
        super().__init__()
        self.query = nn.Linear(hidden_size, attention_dim, bias=False)  # W
        self.key = nn.Linear(hidden_size, attention_dim, bias=False)    # U
        self.score = nn.Linear(attention_dim, 1, bias=False)            # v

    def forward(self, queries: torch.Tensor, keys: torch.Tensor, causal: bool,
                real: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """queries (B, T, H) = h_0..h_{T-1}, keys (B, T, H) = h_1..h_T; ``real`` (B, T)
        bool, True on real frames, or None when all are.

        Returns context (B, T, H) and weights (B, T, T), row t-1 = α_t.
        """
        energy = self._energy(self.query(queries), self.key(keys))
        if causal or real is not None:
            n_frames = keys.shape[1]
            allowed = torch.ones(n_frames, n_frames, dtype=torch.bool, device=keys.device)
            if causal:
                allowed = allowed.tril(-1)  # j <= t-1
            if real is not None:  # real rows over real keys only: (B, T, T)
                allowed = allowed & real.unsqueeze(2) & real.unsqueeze(1)
            # A very negative finite fill (not -inf) keeps rows with no allowed j (BAT's
            # frame 1, padded rows) free of NaN; multiplying by the mask then zeroes them.
            masked = energy.masked_fill(~allowed, torch.finfo(energy.dtype).min)
            weights = torch.softmax(masked, dim=-1) * allowed
        else:
            weights = torch.softmax(energy, dim=-1)
        return weights @ keys, weights


    def _energy(self, wq: torch.Tensor, uk: torch.Tensor) -> torch.Tensor:
        """e (B, T, T) from W q (B, T, A) and U k (B, T, A). The (B, T, T, A) tanh is the
        largest tensor of the model (6.6 GB for one 1-hour song, T = 7200, at A = 32), so
        without gradients (prediction) it is built ``ENERGY_CHUNK_ELEMENTS`` at a time,
        a block of query rows each; training keeps the one batched operation."""
        batch, n_queries, dim = wq.shape
        n_keys = uk.shape[1]
        rows = max(1, ENERGY_CHUNK_ELEMENTS // max(1, batch * n_keys * dim))
        if torch.is_grad_enabled() or rows >= n_queries:
            return self.score(torch.tanh(wq.unsqueeze(2) + uk.unsqueeze(1))).squeeze(-1)
        return torch.cat([self.score(torch.tanh(wq[:, r:r + rows].unsqueeze(2)
                                                + uk.unsqueeze(1))).squeeze(-1)
                          for r in range(0, n_queries, rows)], dim=1)


# Elements of one block of the (B, T, T, A) tanh in prediction (float32: 64 MiB).
ENERGY_CHUNK_ELEMENTS = 1 << 24


def shift_right(sequence: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) -> the same sequence delayed one frame, with zeros at frame 1."""
    padding = [0, 0] * (sequence.dim() - 2) + [1, 0]
    return F.pad(sequence[:, :-1], padding)


def reference_attention(attention: AdditiveAttention, encoded: torch.Tensor, causal: bool
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """The attention of ``AttentionRegressor`` written naively, one frame t at a time.

    For tests (it must equal the batched computation) and the speed benchmark only.
    """
    batch, n_frames, hidden = encoded.shape
    queries = shift_right(encoded)  # h_0 = 0, h_1, ..., h_{T-1}
    contexts, rows = [], []
    for t in range(n_frames):
        n_allowed = t if causal else n_frames
        if n_allowed == 0:
            contexts.append(encoded.new_zeros(batch, hidden))
            rows.append(encoded.new_zeros(batch, n_frames))
            continue
        keys = encoded[:, :n_allowed]
        energy = attention.score(torch.tanh(
            attention.query(queries[:, t]).unsqueeze(1) + attention.key(keys))).squeeze(-1)
        alpha = torch.softmax(energy, dim=-1)
        contexts.append((alpha.unsqueeze(-1) * keys).sum(dim=1))
        rows.append(F.pad(alpha, (0, n_frames - n_allowed)))
    return torch.stack(contexts, dim=1), torch.stack(rows, dim=1)


class AttentionRegressor(nn.Module):
    """``AT`` (``causal=False``) and ``BAT`` (``causal=True``); see the module docstring.

    ``attention_dim`` (the size of W h and U h) defaults to the last LSTM layer's size.
    """

    def __init__(self, input_dim: int, sizes: Sequence[int], *, causal: bool = False,
                 attention_dim: int | None = None):
        super().__init__()
        self.causal = causal
        self.encoder = StackedLSTM(input_dim, sizes)
        hidden = self.encoder.output_size
        self.attention = AdditiveAttention(hidden, attention_dim or hidden)
        self.from_hidden = nn.Linear(hidden, 1)                 # w_h, b
        self.from_context = nn.Linear(hidden, 1, bias=False)    # w_c
        self.feedback_weight = nn.Parameter(torch.zeros(()))   # u

    def forward(self, x: torch.Tensor, y_prev_true: torch.Tensor | None = None,
                lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        real = real_frames(lengths, x.shape[0], x.shape[1], x.device)
        encoded = self.encoder(zero_padding(x, real))
        context, weights = self.attention(shift_right(encoded), encoded, self.causal, real)
        without_feedback = (self.from_hidden(encoded) + self.from_context(context)).squeeze(-1)
        if self.training and y_prev_true is not None:  # teacher forcing
            y_prev = shift_right(zero_padding(y_prev_true.to(without_feedback.dtype), real))
            return without_feedback + self.feedback_weight * y_prev, weights
        y = without_feedback.new_zeros(without_feedback.shape[0])  # y_0 = 0
        outputs = []
        for t in range(without_feedback.shape[1]):
            y = without_feedback[:, t] + self.feedback_weight * y
            outputs.append(y)
        return torch.stack(outputs, dim=1), weights
