"""Gradient checking: autograd agrees with finite differences, and a wrong backward is caught."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from torchplay.engine.session import TrainingSession
from torchplay.lessons.gradcheck import gradient_check
from torchplay.spec.model import ExperimentSpec

CPU = torch.device("cpu")
EVERY_LAYER = [{"type": "linear", "units": 6}, {"type": "batchnorm"},
               {"type": "activation", "fn": "tanh"}, {"type": "dropout", "p": 0.4},
               {"type": "linear", "units": 5, "bias": False}, {"type": "layernorm"},
               {"type": "activation", "fn": "gelu"}, {"type": "linear", "units": 4},
               {"type": "activation", "fn": "prelu", "slope": 0.2}]


def trained(raw: dict[str, Any], steps: int = 15) -> TrainingSession:
    session = TrainingSession(ExperimentSpec.model_validate(raw), CPU)
    for _ in range(steps):
        session.step()
    return session


@pytest.mark.parametrize("data, loss", [
    ({"kind": "spiral", "classes": 4}, "cross_entropy"),
    ({"kind": "moons"}, "bce"),
    ({"kind": "sine1d"}, "mse"),
    ({"kind": "multi_gauss"}, "huber"),
])
def test_autograd_agrees_with_finite_differences(data: dict[str, Any], loss: str) -> None:
    session = trained({"data": {**data, "points": 80}, "loss": {"kind": loss},
                       "network": {"layers": EVERY_LAYER},
                       "optimizer": {"kind": "adam", "lr": 0.01}})
    report = gradient_check(session)
    checked = {(row["layer"], row["name"]) for row in report}
    assert checked == {(i, n) for i, m in enumerate(session.model)
                       for n, _ in m.named_parameters(recurse=False)}
    assert max(row["rel_diff"] for row in report) < 1e-7
    # The bias feeding BatchNorm has a true gradient of exactly 0 (the batch mean cancels it).
    assert [(r["layer"], r["name"]) for r in report if r["below_resolution"]] == [(0, "bias")]


def test_a_spec_is_checked_at_its_initial_weights() -> None:
    report = gradient_check(ExperimentSpec.model_validate({"data": {"points": 40}}))
    assert [row["module"] for row in report] == ["linear 4"] * 2 + ["linear 2"] * 2 + \
        ["linear 2"] * 2
    assert max(row["rel_diff"] for row in report) < 1e-7


class WrongTanhGrad(torch.autograd.Function):
    """tanh with a wrong backward: 1 - tanh instead of 1 - tanh^2."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        y = torch.tanh(x)
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        (y,) = ctx.saved_tensors
        return grad * (1 - y)


class WrongTanh(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return WrongTanhGrad.apply(x)


def test_a_wrong_backward_is_caught_in_the_layers_below_it() -> None:
    session = TrainingSession(ExperimentSpec.model_validate({"data": {"points": 40}}), CPU)
    session.model[1] = WrongTanh()  # the first hidden activation
    report = {(row["layer"], row["name"]): row["rel_diff"] for row in gradient_check(session)}
    assert report[(0, "weight")] > 1e-3 and report[(0, "bias")] > 1e-3  # below the bug
    assert report[(2, "weight")] < 1e-7 and report[(4, "weight")] < 1e-7  # above it


def test_checking_leaves_the_run_untouched() -> None:
    session = trained({"data": {"points": 60}, "network": {"layers": EVERY_LAYER}})
    state = {k: v.clone() for k, v in session.model.state_dict().items()}
    dropout_state, mode = session.run.dropout_g.get_state(), session.model.training
    gradient_check(session)
    after = session.model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)  # weights and running stats
    assert torch.equal(session.run.dropout_g.get_state(), dropout_state)
    assert session.model[3].p == 0.4 and session.model.training == mode
