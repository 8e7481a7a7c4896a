"""Curves of every activation function and its derivative, for the page's gallery (lesson 2).

The curves come from the very modules the engine builds (`build.ACTIVATIONS`), evaluated in
float64, and the derivatives from autograd, so the gallery shows exactly what a network with
that layer computes and backpropagates. ReLU-family derivatives at exactly 0 are what PyTorch
uses there (0 for ReLU).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import get_args

import torch

from torchplay.engine.build import ACTIVATIONS, call
from torchplay.spec.model import ActivationFn, ActivationLayer

ACTIVATION_NAMES: tuple[str, ...] = get_args(ActivationFn)


def default_xs(low: float = -4.0, high: float = 4.0, n: int = 161) -> list[float]:
    """Evenly spaced inputs for the gallery; 0 is exactly among them when the range is
    symmetric and n odd (torch.linspace would give -2e-16 there, off ReLU's kink)."""
    return [low + (high - low) * i / (n - 1) for i in range(n)]


def activation_curves(xs: Sequence[float] | None = None,
                      slope: float = 0.01) -> dict[str, dict[str, list[float]]]:
    """{name: {"f": f(xs), "df": f'(xs)}} for every activation in spec.ActivationFn.

    `slope` is leaky ReLU's negative slope and PReLU's initial one, as in ActivationLayer.
    """
    points = default_xs() if xs is None else list(xs)
    curves = {}
    for name in ACTIVATION_NAMES:
        module = ACTIVATIONS[name](ActivationLayer(fn=name, slope=slope)).double()
        x = torch.tensor(points, dtype=torch.float64, requires_grad=True)
        y = call(module, x)
        # Elementwise, so the gradient of the sum is each point's own derivative.
        (dy,) = torch.autograd.grad(y.sum(), x)
        curves[name] = {"f": y.detach().tolist(), "df": dy.tolist()}
    return curves
