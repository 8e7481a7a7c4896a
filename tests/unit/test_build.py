"""Building from a spec: initializers, learning-rate schedules, and the loss functions."""

from __future__ import annotations

import math

import pytest
import torch

from torchplay.engine.build import build_model, lr_factor, make_loss
from torchplay.spec.model import ExperimentSpec, LossSpec, ScheduleSpec


def model_for(init: dict, layers: int = 1) -> torch.nn.Sequential:
    spec = ExperimentSpec.model_validate({"network": {"layers": [
        {"type": "linear", "units": 64, "init": init, "bias_init": {"kind": "constant",
                                                                   "value": 0.25}}] * layers}})
    return build_model(spec, torch.Generator().manual_seed(0), torch.Generator())


def test_constant_init_gives_identical_units() -> None:
    weight = model_for({"kind": "constant", "value": 0.3})[0].weight
    assert torch.all(weight == 0.3)


def test_normal_init_has_the_asked_std() -> None:
    weight = model_for({"kind": "normal", "mean": 0.0, "std": 2.0}, layers=2)[1].weight
    assert abs(weight.std().item() - 2.0) < 0.1


def test_xavier_and_kaiming_scale_with_fan() -> None:
    xavier = model_for({"kind": "xavier_normal", "gain": 1.0}, layers=2)[1].weight
    kaiming = model_for({"kind": "kaiming_normal", "nonlinearity": "relu"}, layers=2)[1].weight
    assert abs(xavier.std().item() - math.sqrt(2 / (64 + 64))) < 0.01
    assert abs(kaiming.std().item() - math.sqrt(2 / 64)) < 0.02


def test_orthogonal_init_is_orthogonal_and_bias_constant() -> None:
    layer = model_for({"kind": "orthogonal", "gain": 1.0}, layers=2)[1]
    eye = layer.weight @ layer.weight.T
    assert torch.allclose(eye, torch.eye(64), atol=1e-5)
    assert torch.all(layer.bias == 0.25)


def test_same_seed_same_weights() -> None:
    a, b = model_for({"kind": "default"}), model_for({"kind": "default"})
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))


def torch_lrs(scheduler_of, epochs: int) -> list[float]:
    """Learning rates torch's own schedulers give, epoch by epoch (the reference)."""
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    sched = scheduler_of(opt)
    rates = []
    for _ in range(epochs):
        rates.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return rates


@pytest.mark.parametrize("schedule, reference", [
    (ScheduleSpec(kind="step", step_size=3, gamma=0.5),
     lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=3, gamma=0.5)),
    (ScheduleSpec(kind="exponential", gamma=0.9),
     lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9)),
    (ScheduleSpec(kind="cosine", t_max=10, eta_min=0.01),
     lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.01)),
    (ScheduleSpec(kind="inverse_time", k=0.5),
     lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda e: 1 / (1 + 0.5 * e))),
])
def test_schedules_match_torchs_schedulers(schedule: ScheduleSpec, reference) -> None:
    ours = [0.1 * lr_factor(schedule, epoch, 0.1) for epoch in range(11)]
    assert ours == pytest.approx(torch_lrs(reference, 11), rel=1e-9, abs=1e-12)


def test_losses_match_their_definitions() -> None:
    out = torch.tensor([[2.0, -1.0], [0.5, 0.5]])
    y = torch.tensor([0, 1])
    ce = make_loss(LossSpec(kind="cross_entropy"))(out, y)
    by_hand = -(torch.log_softmax(out, 1)[torch.arange(2), y]).mean()
    assert torch.isclose(ce, by_hand)
    bce = make_loss(LossSpec(kind="bce"))(out[:, :1], y)
    p = torch.sigmoid(out[:, 0])
    assert torch.isclose(bce, -(torch.log(1 - p[0]) + torch.log(p[1])) / 2)
    huber = make_loss(LossSpec(kind="huber", delta=1.0))(torch.tensor([[3.0]]),
                                                         torch.tensor([0.0]))
    assert huber.item() == pytest.approx(2.5)
