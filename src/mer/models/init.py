"""Weight initialisation schemes: ``initialise(model, scheme)``, the one place they live.

``"torch"``: the weights as torch builds them, left unchanged (nn.LSTM: every weight and
both bias vectors U(±1/√H); nn.Linear: Kaiming-uniform weights, U(±1/√fan_in) biases;
nn.MultiheadAttention: Xavier-uniform in-projection, zero biases).

``"keras"``: the defaults of TensorFlow 1.14 / Keras, which the paper leaves untouched:

* ``LSTM`` layers (``keras.layers.LSTM``): the input kernel Glorot-uniform,
  U(±√(6 / (n_in + 4H))) over the (4H, n_in) matrix as one; the recurrent kernel
  orthogonal over the (4H, H) matrix as one (``torch.nn.init.orthogonal_`` draws the
  same distribution as Keras' ``Orthogonal``: its H columns are orthonormal); biases 0
  except the forget gate's, 1 (``unit_forget_bias=True``). torch's gate order (i, f, g, o)
  has the forget gate in the same rows, H..2H-1, as Keras' (i, f, c, o). torch has two
  bias vectors, b_ih and b_hh, that are added: b_ih's forget part is set to 1 and b_hh
  to 0, so their sum is Keras' single bias.
* Dense layers (``keras.layers.Dense``): Glorot-uniform kernels, zero biases: the output
  layers of every family and the attention's W, U, v (which have no biases).
* ``TRANSFORMER``: Keras 2.2 / TF 1.14 have no Transformer layer, so ``keras`` means the
  Dense rule applied to every linear map in it (input projection, head, feed-forward,
  and the query / key / value / output projections of each self-attention, the
  in-projection drawn as three (d, d) blocks as Keras' ``MultiHeadAttention`` would)
  with zero biases; LayerNorm stays at weight 1, bias 0 (Keras' default too).
* Other parameters keep their construction values (the AT/BAT feedback weight u = 0).

Initialisation draws from torch's global generator: seed it first
(``mer.runtime.seed_everything``) for a reproducible model.
"""

from __future__ import annotations

import torch
from torch import nn

INIT_SCHEMES = ("keras", "torch")


def _keras_lstm(layer: nn.LSTM) -> None:
    hidden = layer.hidden_size
    for name, parameter in layer.named_parameters():
        if name.startswith("weight_ih"):
            nn.init.xavier_uniform_(parameter)
        elif name.startswith("weight_hh"):
            nn.init.orthogonal_(parameter)
        elif name.startswith("bias_ih"):
            nn.init.zeros_(parameter)
            parameter.data[hidden:2 * hidden] = 1.0  # forget gate (rows H..2H-1)
        elif name.startswith("bias_hh"):
            nn.init.zeros_(parameter)
        else:  # projections (proj_size) are never built by mer
            raise ValueError(f"no Keras initialisation for LSTM parameter {name!r}")


def _keras_linear(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


def _keras_attention(layer: nn.MultiheadAttention) -> None:
    if layer.in_proj_weight is None:  # separate q/k/v weights (kdim != embed_dim)
        for weight in (layer.q_proj_weight, layer.k_proj_weight, layer.v_proj_weight):
            nn.init.xavier_uniform_(weight)
    else:
        for block in layer.in_proj_weight.data.chunk(3, dim=0):  # query, key, value
            nn.init.xavier_uniform_(block)
    if layer.in_proj_bias is not None:
        nn.init.zeros_(layer.in_proj_bias)
    # layer.out_proj is an nn.Linear: ``initialise`` visits it next


@torch.no_grad()
def initialise(model: nn.Module, scheme: str) -> nn.Module:
    """Re-draw ``model``'s weights in place by ``scheme`` (see the module docstring);
    return the model. ``"torch"`` leaves it unchanged."""
    if scheme not in INIT_SCHEMES:
        raise ValueError(f"initialisation scheme must be one of {INIT_SCHEMES}, got {scheme!r}")
    if scheme == "torch":
        return model
    for module in model.modules():
        if isinstance(module, nn.LSTM):
            _keras_lstm(module)
        elif isinstance(module, nn.MultiheadAttention):
            _keras_attention(module)
        elif isinstance(module, nn.Linear):
            _keras_linear(module)
    return model
