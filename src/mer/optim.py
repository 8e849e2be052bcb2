"""The optimiser of the paper's protocol: RMSprop, with TensorFlow's or torch's epsilon.

The paper trains with Keras' RMSprop under TensorFlow 1.14 (learning rate 1e-3, rho 0.9,
epsilon 1e-7). ``tf.keras.optimizers.RMSprop`` there runs the ``ApplyRMSProp`` kernel:

    ms  <- ms + (g² - ms)·(1 - rho)            (ms starts at 0)
    var <- var - lr·g / sqrt(ms + eps)         ``eps_placement="inside"``

``torch.optim.RMSprop`` (and standalone Keras 2.2) put epsilon outside the root:

    ms  <- rho·ms + (1 - rho)·g²
    var <- var - lr·g / (sqrt(ms) + eps)       ``eps_placement="outside"``

The two are not interchangeable. Inside, the denominator never falls below sqrt(eps)
(3.2e-4 for eps = 1e-7), so a parameter whose gradients are smaller than that (ComParE's
6373 inputs into a 32-wide LSTM: median |g| ~ 1e-4) moves by less than lr per step;
outside, the floor is eps itself and every parameter moves by about lr·sign(g) once ms
has caught up. ``mer.training`` picks the placement from ``train.rmsprop_eps``;
docs/training.md has the measured effect.
"""

from __future__ import annotations

import torch

EPS_PLACEMENTS = ("inside", "outside")


class RMSprop:
    """RMSprop without momentum or centring (both TensorFlow's and torch's defaults).

    ``eps_placement="outside"`` computes exactly what ``torch.optim.RMSprop(lr=lr,
    alpha=rho, eps=eps)`` computes on the CPU: the same in-place operations in the same
    order, so the same weights bit for bit (tests/test_optim.py checks it).
    ``eps_placement="inside"`` follows TensorFlow 1.14's ``ApplyRMSProp`` kernel, in its
    order of operations (see the module docstring).

    Written here, not taken from torch.optim, because the first use of any torch.optim
    optimiser imports torch._dynamo: ~1.5 s, a third of a small model's training job, paid
    by every one of the default run's training jobs. We never compile, so we never need it.
    """

    def __init__(self, parameters, *, lr: float, rho: float, eps: float,
                 eps_placement: str = "outside"):
        if eps_placement not in EPS_PLACEMENTS:
            raise ValueError(f"eps_placement must be one of {EPS_PLACEMENTS}, "
                             f"got {eps_placement!r}")
        self.parameters = [p for p in parameters if p.requires_grad]
        self.lr, self.rho, self.eps = lr, rho, eps
        self.eps_placement = eps_placement
        self.square_averages = [torch.zeros_like(p, memory_format=torch.preserve_format)
                                for p in self.parameters]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        inside = self.eps_placement == "inside"
        for parameter, square_average in zip(self.parameters, self.square_averages):
            if parameter.grad is None:
                continue
            grad = parameter.grad
            if inside:  # TF: ms += (g² - ms)(1 - rho); var -= lr g / sqrt(ms + eps)
                square_average.add_((grad * grad - square_average) * (1 - self.rho))
                parameter.sub_(grad * self.lr / (square_average + self.eps).sqrt())
            else:       # torch.optim.RMSprop's own sequence of in-place operations
                square_average.mul_(self.rho).addcmul_(grad, grad, value=1 - self.rho)
                parameter.addcdiv_(grad, square_average.sqrt().add_(self.eps), value=-self.lr)
