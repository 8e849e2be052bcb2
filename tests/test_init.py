"""mer.models.init: Keras' initialisation statistics, and fit starting from it."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from mer.config import load_params
from mer.errors import ConfigError
from mer.models import build_model
from mer.models.init import initialise
from mer.runtime import seed_everything
from mer.training import TrainConfig, fit

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]

TRANSFORMER = {"d_model": 32, "heads": 4, "ff_dim": 64, "dropout": 0.0}


def glorot_bound(weight: torch.Tensor) -> float:
    fan_out, fan_in = weight.shape
    return math.sqrt(6 / (fan_in + fan_out))


def assert_glorot_uniform(weight: torch.Tensor) -> None:
    """Inside ±bound, reaching near it, with the variance of U(±bound) (bound² / 3)."""
    bound, values = glorot_bound(weight), weight.detach().double().flatten()
    assert values.abs().max() <= bound
    assert values.abs().max() > 0.9 * bound
    if values.numel() >= 1000:  # enough values for a 10 % check of the variance
        assert values.var().item() == pytest.approx(bound ** 2 / 3, rel=0.1)


@pytest.mark.parametrize("name", ["LSTM_64", "AT_64_32", "BAT_48"])
def test_keras_lstm_layers(name):
    seed_everything(0)
    model = initialise(build_model(name, 300), "keras")
    lstms = [m for m in model.modules() if isinstance(m, nn.LSTM)]
    assert lstms
    for lstm in lstms:
        hidden = lstm.hidden_size
        assert_glorot_uniform(lstm.weight_ih_l0)  # bound from (4H, n_in) as one matrix
        recurrent = lstm.weight_hh_l0.detach().double()  # (4H, H): orthonormal columns
        assert torch.allclose(recurrent.T @ recurrent, torch.eye(hidden, dtype=torch.float64),
                              atol=1e-5)
        bias = (lstm.bias_ih_l0 + lstm.bias_hh_l0).detach()  # torch adds its two biases
        expected = torch.zeros(4 * hidden)
        expected[hidden:2 * hidden] = 1.0  # forget gate (gate order i, f, g, o)
        assert torch.equal(bias, expected)
        assert torch.equal(lstm.bias_hh_l0.detach(), torch.zeros(4 * hidden))


@pytest.mark.parametrize("name", ["LSTM_64", "AT_64", "BAT_64"])
def test_keras_dense_layers(name):
    seed_everything(1)
    model = initialise(build_model(name, 40), "keras")
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == (1 if name.startswith("LSTM") else 5)  # head / W, U, v, w_h, w_c
    for linear in linears:
        assert_glorot_uniform(linear.weight)
        if linear.bias is not None:
            assert torch.equal(linear.bias.detach(), torch.zeros_like(linear.bias))
    if not name.startswith("LSTM"):
        assert float(model.feedback_weight.detach()) == 0.0  # u keeps its construction value


def test_keras_transformer():
    seed_everything(2)
    model = initialise(build_model("TRANSFORMER_2", 50, **TRANSFORMER), "keras")
    d = TRANSFORMER["d_model"]
    for module in model.modules():
        if isinstance(module, nn.MultiheadAttention):
            for block in module.in_proj_weight.chunk(3):  # query, key, value: (d, d) each
                assert block.abs().max() <= math.sqrt(6 / (2 * d))
                assert block.detach().double().var().item() == pytest.approx(
                    (6 / (2 * d)) / 3, rel=0.15)
            assert torch.equal(module.in_proj_bias.detach(), torch.zeros(3 * d))
        elif isinstance(module, nn.Linear):
            assert_glorot_uniform(module.weight)
            assert torch.equal(module.bias.detach(), torch.zeros_like(module.bias))
        elif isinstance(module, nn.LayerNorm):
            assert torch.equal(module.weight.detach(), torch.ones(d))
            assert torch.equal(module.bias.detach(), torch.zeros(d))


def test_torch_scheme_keeps_the_built_weights():
    seed_everything(3)
    model = build_model("AT_16", 300)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    initialise(model, "torch")
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    # torch's own LSTM init is U(±1/√H) whatever the input size: wider than Glorot's here
    assert model.encoder.layers[0].weight_ih_l0.abs().max() > glorot_bound(
        model.encoder.layers[0].weight_ih_l0)
    with pytest.raises(ValueError, match="glorot"):
        initialise(model, "glorot")


def test_fit_starts_from_the_keras_initialisation():
    """With init=keras the weights fit trains from are re-drawn: two models built with
    different seeds end identical when fit runs under the same seed; with init=torch
    they keep their own weights and differ."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 10, 4)).astype(np.float32)
    y = rng.standard_normal((6, 10)).astype(np.float32)

    def trained(build_seed, init):
        seed_everything(build_seed)
        model = build_model("BAT_8", 4)
        seed_everything(99)
        fit(model, x, y, None, None, TrainConfig(max_epochs=2, batch_size=3, init=init))
        return [p.detach().clone() for p in model.parameters()]

    assert all(torch.equal(a, b) for a, b in zip(trained(0, "keras"), trained(1, "keras")))
    assert not all(torch.equal(a, b) for a, b in zip(trained(0, "torch"), trained(1, "torch")))


@pytest.mark.parametrize("key, value", [("init", "glorot"), ("rmsprop_eps", "both"),
                                        ("autocast", "fp16"), ("deterministic", "maybe")])
def test_invalid_training_settings_name_their_key(key, value, tmp_path):
    with pytest.raises(ConfigError, match=key):
        TrainConfig(**{key: value}).validate()
    params = (REPO / "params.yaml").read_text().replace(f"  {key}: ", f"  {key}: {value}  # ", 1)
    path = tmp_path / "params.yaml"
    path.write_text(params)
    with pytest.raises(ConfigError, match=f"train.{key}"):
        load_params(path, REPO / "workflow" / "schemas" / "params.schema.yaml")
