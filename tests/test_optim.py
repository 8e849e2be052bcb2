"""mer.optim.RMSprop: torch's placement of epsilon bit for bit, TensorFlow's by hand."""

import numpy as np
import pytest
import torch

from mer.optim import RMSprop

torch.set_num_threads(1)


def train_lstm(make_optimizer, steps=6):
    torch.manual_seed(0)
    model = torch.nn.LSTM(5, 7, batch_first=True)
    head = torch.nn.Linear(7, 1)
    parameters = [*model.parameters(), *head.parameters()]
    optimizer = make_optimizer(parameters)
    data = torch.Generator().manual_seed(1)
    for _ in range(steps):
        x, y = torch.randn(4, 9, 5, generator=data), torch.randn(4, 9, 1, generator=data)
        optimizer.zero_grad(set_to_none=True)
        loss = ((head(model(x)[0]) - y) ** 2).mean()
        loss.backward()
        optimizer.step()
    return [p.detach().clone() for p in parameters]


def test_outside_matches_torch_optim_bit_for_bit():
    ours = train_lstm(lambda ps: RMSprop(ps, lr=1e-3, rho=0.9, eps=1e-7, eps_placement="outside"))
    reference = train_lstm(lambda ps: torch.optim.RMSprop(ps, lr=1e-3, alpha=0.9, eps=1e-7))
    for mine, theirs in zip(ours, reference):
        assert torch.equal(mine, theirs)
    other_rho = train_lstm(lambda ps: RMSprop(ps, lr=1e-3, rho=0.5, eps=1e-7,
                                              eps_placement="outside"))
    assert not torch.equal(ours[0], other_rho[0])


def tensorflow_rmsprop(start, gradients, lr, rho, eps):
    """TF 1.14's ApplyRMSProp (momentum 0), by hand in float64:
    ms += (g² - ms)(1 - rho); var -= lr g / sqrt(ms + eps); ms starts at 0."""
    var, ms = start.astype(np.float64), np.zeros_like(start, dtype=np.float64)
    for g in gradients:
        g = g.astype(np.float64)
        ms += (g * g - ms) * (1 - rho)
        var -= lr * g / np.sqrt(ms + eps)
    return var


def test_inside_is_tensorflows_formula():
    """Gradients from 1e-6 to 1, where sqrt(ms + eps) and sqrt(ms) + eps part ways."""
    rng = np.random.default_rng(0)
    start = np.zeros(200, dtype=np.float32)  # weights = sums of updates: no cancellation
    scales = np.logspace(-6, 0, 200)
    gradients = [(rng.standard_normal(200) * scales).astype(np.float32) for _ in range(8)]

    def ours(placement):
        parameter = torch.nn.Parameter(torch.as_tensor(start.copy()))
        optimizer = RMSprop([parameter], lr=1e-3, rho=0.9, eps=1e-7, eps_placement=placement)
        for g in gradients:
            parameter.grad = torch.as_tensor(g)
            optimizer.step()
        return parameter.detach().numpy().astype(np.float64)

    expected = tensorflow_rmsprop(start, gradients, lr=1e-3, rho=0.9, eps=1e-7)
    inside, outside = ours("inside"), ours("outside")
    np.testing.assert_allclose(inside, expected, rtol=1e-5)  # float32 against float64
    # the placements differ by far more than rounding where |g| << sqrt(eps) = 3.2e-4
    small = scales < 1e-5
    assert np.all(np.abs(outside - start)[small] > 10 * np.abs(inside - start)[small])
    large = scales > 1e-1
    np.testing.assert_allclose(outside[large], inside[large], rtol=0.05)  # and agree here


def test_unknown_placement():
    with pytest.raises(ValueError, match="eps_placement"):
        RMSprop([torch.nn.Parameter(torch.zeros(1))], lr=1e-3, rho=0.9, eps=1e-7,
                eps_placement="both")
