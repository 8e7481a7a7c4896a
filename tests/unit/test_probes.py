"""The per-layer measurements of a frame, recomputed by hand.

A 2-3-3-2 network (tanh, then ReLU) takes full-batch SGD steps on six points; the forward pass,
the backward pass and the SGD update are written out here in float64 from a copy of the
weights, independently of probes.py and of autograd, and compared with what
TrainingSession.step(probe=True) and session.frame()["layers"] report.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec

LR = 0.5



def make_session(l2: float = 0.0, traced: bool = True) -> TrainingSession:
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "circle", "points": 12, "noise": 0.3},  # 6 training points
        "network": {"layers": [
            {"type": "linear", "units": 3}, {"type": "activation", "fn": "tanh"},
            {"type": "linear", "units": 3, "init": {"kind": "normal", "std": 1.0},
             "bias_init": {"kind": "constant", "value": -0.5}},  # so that one unit is dead
            {"type": "activation", "fn": "relu"}]},
        "optimizer": {"kind": "sgd", "lr": LR},
        "regularization": {"l2": l2},
        "training": {"batch_size": 1000, "device": "cpu", "seed": 2},  # the full batch
    })
    return TrainingSession(spec, traced=traced)


def weights(model: nn.Module) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(m.weight.detach().double().clone(), m.bias.detach().double().clone())
            for m in model if isinstance(m, nn.Linear)]


def forward(params: list[tuple[torch.Tensor, torch.Tensor]],
            x: torch.Tensor) -> list[torch.Tensor]:
    """Every module's output: linear, tanh, linear, relu, linear."""
    (w1, b1), (w2, b2), (w3, b3) = params
    z1 = x @ w1.T + b1
    a1 = torch.tanh(z1)
    z2 = a1 @ w2.T + b2
    a2 = torch.where(z2 > 0, z2, torch.zeros_like(z2))
    return [z1, a1, z2, a2, a2 @ w3.T + b3]


def by_hand(params: list[tuple[torch.Tensor, torch.Tensor]], x: torch.Tensor, y: torch.Tensor,
            l2: float) -> dict[str, object]:
    """One SGD step of mean cross-entropy (+ l2 * sum of squared weights), backpropagated by
    hand, with the measurements a frame reports."""
    outs = forward(params, x)
    z1, a1, z2, a2, z3 = outs
    n = len(y)
    p = torch.exp(z3 - z3.max(1, keepdim=True).values)
    p = p / p.sum(1, keepdim=True)
    d3 = (p - nn.functional.one_hot(y, 2).double()) / n  # dLoss/dz3
    d2 = (d3 @ params[2][0]) * (z2 > 0).double()
    d1 = (d2 @ params[1][0]) * (1 - a1**2)
    grads = [(d.T @ inp, d.sum(0)) for d, inp in ((d1, x), (d2, a1), (d3, a2))]
    grads = [(gw + 2 * l2 * w, gb) for (gw, gb), (w, _) in zip(grads, params, strict=True)]
    after = [(w - LR * gw, b - LR * gb) for (w, b), (gw, gb) in zip(params, grads, strict=True)]
    z2_after = forward(after, x)[2]
    return {
        "act_mean": [o.mean().item() for o in outs],
        "act_var": [((o - o.mean()) ** 2).mean().item() for o in outs],
        "grad_norm_weight": [gw.pow(2).sum().sqrt().item() for gw, _ in grads],
        "grad_norm_bias": [gb.pow(2).sum().sqrt().item() for _, gb in grads],
        "weight_norm": [w.pow(2).sum().sqrt().item() for w, _ in after],
        "update_ratio": [(wa - w).pow(2).sum().sqrt().item() / w.pow(2).sum().sqrt().item()
                         for (wa, _), (w, _) in zip(after, params, strict=True)],
        # ReLU units whose input is <= 0 for every training point, after the step.
        "dead": (z2_after <= 0).all(dim=0).double().mean().item(),
        "after": after,
    }


LINEARS = [0, 2, 4]  # module indices of the Linear layers


@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("traced", [True, False], ids=["replayed", "eager"])
def test_probed_step_matches_a_hand_computation(l2: float, traced: bool) -> None:
    session = make_session(l2, traced)
    session.step()
    session.step()  # probes report the last probed step, whatever came before
    x, y = session.x_train.double(), session.y_train
    expected = by_hand(weights(session.model), x, y, l2)

    session.step(probe=True)  # its third epoch: a traced run replays its recorded step
    frame = session.frame()
    assert frame["path"] == ("traced" if traced else "eager")
    layers = frame["layers"]

    close = {"rel": 1e-5, "abs": 1e-6}
    assert layers["act_mean"] == pytest.approx(expected["act_mean"], **close)
    assert layers["act_var"] == pytest.approx(expected["act_var"], **close)
    for column in ("grad_norm_weight", "grad_norm_bias", "weight_norm", "update_ratio"):
        reported = [layers[column][i] for i in LINEARS]
        assert reported == pytest.approx(expected[column], **close), column
        assert [layers[column][i] for i in (1, 3)] == [None, None], column
    assert layers["dead_fraction"] == [None, None, None, pytest.approx(expected["dead"]), None]
    assert 0 < expected["dead"] < 1  # the case is not trivial: some units dead, some alive
    assert all(g > 0 for g in expected["grad_norm_weight"])
    # The session's weights moved exactly as the hand-written SGD step moved them.
    for (w, b), (w_hand, b_hand) in zip(weights(session.model), expected["after"], strict=True):
        torch.testing.assert_close(w, w_hand, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(b, b_hand, rtol=1e-5, atol=1e-6)


def test_probing_changes_neither_the_step_nor_the_weights() -> None:
    plain, probed = make_session(), make_session()
    for i in range(5):
        plain.step()
        probed.step(probe=i % 2 == 0)
        probed.frame()
    for (w, b), (w2, b2) in zip(weights(plain.model), weights(probed.model), strict=True):
        assert torch.equal(w, w2) and torch.equal(b, b2)
    assert plain.history.steps.data == probed.history.steps.data


def test_before_the_first_step_the_step_probes_are_null() -> None:
    layers = make_session().frame()["layers"]
    assert layers["name"] == ["linear 3", "tanh", "linear 3", "relu", "linear 2"]
    for column in ("act_mean", "act_var", "grad_norm_weight", "grad_norm_bias", "weight_norm",
                   "update_ratio"):
        assert layers[column] == [None] * 5, column
