"""The activation gallery: every activation's curve and derivative, checked by hand."""

from __future__ import annotations

import math

import pytest
import torch

from torchplay.lessons.activations import ACTIVATION_NAMES, activation_curves, default_xs
from torchplay.spec.model import ActivationLayer

XS = [-3.0, -1.5, -0.25, 0.25, 1.5, 3.0]  # away from 0, where ReLU-family kinks sit


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def normal_cdf(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


# name: (f, f') written out independently of PyTorch.
BY_HAND = {
    "relu": (lambda x: max(0.0, x), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "prelu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "elu": (lambda x: x if x > 0 else math.exp(x) - 1, lambda x: 1.0 if x > 0 else math.exp(x)),
    "gelu": (lambda x: x * normal_cdf(x),
             lambda x: normal_cdf(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "silu": (lambda x: x * sigmoid(x), lambda x: sigmoid(x) * (1 + x * (1 - sigmoid(x)))),
    "sigmoid": (sigmoid, lambda x: sigmoid(x) * (1 - sigmoid(x))),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "softplus": (lambda x: math.log1p(math.exp(x)), sigmoid),
    "identity": (lambda x: x, lambda x: 1.0),
}


def test_every_activation_of_the_spec_is_drawn() -> None:
    curves = activation_curves(XS)
    assert set(curves) == set(ACTIVATION_NAMES) == set(BY_HAND)
    assert set(ACTIVATION_NAMES) == set(ActivationLayer.model_fields["fn"].annotation.__args__)


@pytest.mark.parametrize("name", sorted(BY_HAND))
def test_curve_and_derivative_match_the_formulas(name: str) -> None:
    curve = activation_curves(XS)[name]
    f, df = BY_HAND[name]
    # PReLU's slope is a float32 parameter, as in training: 0.01 is stored as 0.0099999998.
    rel = 1e-7 if name == "prelu" else 1e-10
    assert curve["f"] == pytest.approx([f(x) for x in XS], rel=rel, abs=1e-12)
    assert curve["df"] == pytest.approx([df(x) for x in XS], rel=rel, abs=1e-12)


def test_derivatives_agree_with_finite_differences() -> None:
    xs = default_xs(-3.9, 3.9, 80)  # an even count: no point at the kink, 0
    h = 1e-6
    up = activation_curves([x + h for x in xs])
    down = activation_curves([x - h for x in xs])
    for name, curve in activation_curves(xs).items():
        numeric = [(a - b) / (2 * h) for a, b in zip(up[name]["f"], down[name]["f"],
                                                   strict=True)]
        assert curve["df"] == pytest.approx(numeric, abs=1e-6), name


def test_tanh_is_a_rescaled_sigmoid_and_relu_steps() -> None:
    xs = default_xs()
    curves = activation_curves(xs)
    x = torch.tensor(xs, dtype=torch.float64)
    tanh = torch.tensor(curves["tanh"]["f"], dtype=torch.float64)
    assert torch.allclose(tanh + 1, 2 * torch.sigmoid(2 * x), atol=1e-14, rtol=0)
    relu_df = curves["relu"]["df"]
    assert relu_df[xs.index(0.0)] == 0.0  # PyTorch's choice at the kink
    assert all(d == (1.0 if v > 0 else 0.0) for v, d in zip(xs, relu_df, strict=True))


def test_slope_sets_leaky_and_prelu() -> None:
    curves = activation_curves([-2.0], slope=0.2)
    assert curves["leaky_relu"]["f"] == pytest.approx([-0.4])
    assert curves["prelu"]["df"] == pytest.approx([0.2])
