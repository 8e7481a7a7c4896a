"""The traced step (torchplay/engine/steppers/traced.py) must make the very run the eager
step makes: the same losses, bit for bit, for every loss, optimizer, activation and mid-run
change it takes on."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import torch

from torchplay.engine.history import Cursor
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import FEATURES_2D, ExperimentSpec, apply_patch, merge_patch

CPU = torch.device("cpu")


def layers(*fns: str, units: int = 6) -> dict[str, Any]:
    stack: list[dict[str, Any]] = []
    for fn in fns:
        stack += [{"type": "linear", "units": units}, {"type": "activation", "fn": fn}]
    return {"layers": stack}


SETUPS: dict[str, dict[str, Any]] = {
    "tf-default": {},
    "relu-8x6-all-features": {"features": {"inputs": list(FEATURES_2D)},
                              "network": layers(*["relu"] * 6, units=8)},
    "every-activation-bce": {
        "loss": {"kind": "bce"},
        "network": layers("leaky_relu", "prelu", "elu", "gelu", "silu", "sigmoid", "softplus",
                          "identity", units=5)},
    "spiral-3-layernorm-adam-l1-l2": {
        "data": {"kind": "spiral", "classes": 3, "points": 300},
        "network": {"layers": [{"type": "linear", "units": 12}, {"type": "layernorm"},
                               {"type": "activation", "fn": "relu"},
                               {"type": "linear", "units": 8},
                               {"type": "activation", "fn": "tanh"}]},
        "optimizer": {"kind": "adam", "lr": 0.01, "amsgrad": True},
        "regularization": {"l1": 0.001, "l2": 0.01}},
    # 100 training points in batches of 16: every epoch ends on a batch of 4
    "sine-huber-momentum-short-last-batch": {
        "data": {"kind": "sine1d", "points": 200, "noise": 0.1}, "loss": {"kind": "huber"},
        "features": {"degree": 3}, "network": layers("tanh", units=12),
        "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
        "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5},
        "training": {"batch_size": 16}},
    "plane-mse-rmsprop": {"data": {"kind": "plane"}, "loss": {"kind": "mse"},
                          "optimizer": {"kind": "rmsprop", "lr": 0.003, "centered": True}},
    "xor-adagrad-cosine": {"data": {"kind": "xor"}, "network": layers("relu", "relu"),
                           "optimizer": {"kind": "adagrad", "lr": 0.05},
                           "schedule": {"kind": "cosine", "t_max": 3}},
    "adamw-weight-decay": {"optimizer": {"kind": "adamw", "lr": 0.01, "weight_decay": 0.1}},
}


def history(session: TrainingSession) -> dict[str, Any]:
    return session.history.since(Cursor())[0]


def train(spec: ExperimentSpec, traced: bool, steps: int,
          patches: dict[int, dict[str, Any]] | None = None) -> TrainingSession:
    session = TrainingSession(spec, CPU, traced=traced)
    for i in range(steps):
        if patches and i in patches:
            session.update(apply_patch(session.spec, patches[i]))
        session.step(probe=i % 17 == 0)  # frames interleave probed (eager) steps
    return session


@pytest.mark.parametrize("name", list(SETUPS))
def test_traced_run_is_the_eager_run(name: str) -> None:
    spec = ExperimentSpec.model_validate(SETUPS[name])
    steps = 4 * TrainingSession(spec, CPU).steps_per_epoch + 3
    eager, traced = train(spec, False, steps), train(spec, True, steps)
    assert traced.frame()["path"] == "traced", "the traced step was never used"
    assert history(traced) == history(eager)
    for a, b in zip(traced.model.parameters(), eager.model.parameters(), strict=True):
        assert torch.equal(a, b)


def test_mid_run_changes_reach_the_traced_step() -> None:
    """lr, penalty, loss-free live fields and batch size change mid-run: the traced step
    follows each one from the next step, exactly as the eager step does."""
    spec = ExperimentSpec.model_validate(SETUPS["tf-default"])
    per_epoch = TrainingSession(spec, CPU).steps_per_epoch
    patches = {per_epoch + 3: {"optimizer": {"lr": 0.3}},
               per_epoch + 9: {"regularization": {"l2": 0.05}},
               2 * per_epoch + 1: {"regularization": {"l1": 0.01, "l2": 0.0}},
               2 * per_epoch + 5: {"training": {"batch_size": 7}},
               3 * per_epoch: {"optimizer": {"kind": "adam", "lr": 0.01}}}
    steps = 5 * per_epoch
    eager, traced = train(spec, False, steps, patches), train(spec, True, steps, patches)
    assert traced.frame()["path"] == "traced"
    assert history(traced) == history(eager)
    no_penalty = history(train(spec, True, steps, {k: v for k, v in patches.items()
                                                   if "regularization" not in v}))
    assert no_penalty["steps"] != history(traced)["steps"], "the penalty changed nothing"


@pytest.mark.parametrize("layer", [{"type": "dropout", "p": 0.3}, {"type": "batchnorm"}])
def test_random_or_stateful_layers_train_eagerly(layer: dict[str, Any]) -> None:
    spec = ExperimentSpec.model_validate(merge_patch(SETUPS["tf-default"], {"network": {
        "layers": [{"type": "linear", "units": 4}, layer, {"type": "activation", "fn": "tanh"}]}}))
    session = train(spec, True, 3 * TrainingSession(spec, CPU).steps_per_epoch)
    assert not session.use_traced and session.frame()["path"] == "eager"
    assert history(session) == history(train(spec, False, session.step_count))


def test_a_step_the_recorder_cannot_follow_trains_eagerly(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """Recording may fail on some future operation: the run goes on, eagerly, unchanged, and
    says so once in the log (with the spec's shape and the exception) and in every frame."""
    def refuse(*_: Any, **__: Any) -> Any:
        raise RuntimeError("cannot trace this")

    monkeypatch.setattr("torchplay.engine.steppers.traced.make_fx", refuse)
    spec = ExperimentSpec.model_validate(SETUPS["tf-default"])
    steps = 3 * TrainingSession(spec, CPU).steps_per_epoch
    with caplog.at_level(logging.WARNING, logger="torchplay.engine.steppers"):
        session = train(spec, True, steps)
    assert not session.use_traced and session.step_count == steps
    assert history(session) == history(train(spec, False, steps))
    said = [r.getMessage() for r in caplog.records if "falls back" in r.getMessage()]
    assert len(said) == 1, said
    assert "RuntimeError: cannot trace this" in said[0] and "layers [linear 4" in said[0]
    frame = session.frame()
    assert frame["path"] == "eager"
    assert "RuntimeError: cannot trace this" in frame["path_reason"]


def test_a_replay_drops_products_with_ones_and_no_other_product() -> None:
    """The seeds of a batch of backward passes (grad_outputs=ones) are multiplied away; a
    product with another constant, or one that broadcasts x to a bigger shape, is kept."""
    from torchplay.engine.steppers.traced import record_step

    def step(params: list[torch.Tensor], ones: torch.Tensor, twos: torch.Tensor,
             x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        (w,) = params
        per_row = (w * x).tanh().sum(1) * twos  # twos: a constant that is not one
        wide = ones[:, None] * x[:1]  # ones that broadcast x's first row to all four
        return (per_row.detach(), wide.sum(1),
                *torch.autograd.grad(per_row, params, grad_outputs=ones))

    w, x = torch.randn(4, 5), torch.randn(4, 5)
    ones, twos = torch.ones(4), torch.full((4,), 2.0)
    replay = record_step(step, [w], [w.detach(), ones, twos], ones, twos, x)
    eager = step([w.detach().requires_grad_()], ones, twos, x)
    for got, want in zip(replay(w.detach(), ones, twos, x), eager, strict=True):
        assert torch.equal(got, want)
    # forward: w * x, * twos, ones * x[:1]; backward: ones * twos (dropped), grad * x
    muls = [op for op in replay.__globals__.values() if op is torch.ops.aten.mul.Tensor._op]
    assert len(muls) == 4


def test_a_parameter_of_ones_when_recorded_is_no_constant() -> None:
    """Constant init (lesson: symmetry) may record a step whose weights are all ones; the
    product with them must stay, for the weights move afterwards."""
    from torchplay.engine.steppers.traced import record_step

    def step(params: list[torch.Tensor], x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        loss = (params[0] * x).tanh().sum()
        return loss.detach(), *torch.autograd.grad(loss, params)

    w, x = torch.ones(4, 5), torch.randn(4, 5)
    replay = record_step(step, [w], [w], x)
    w.add_(torch.randn(4, 5))  # trained
    for got, want in zip(replay(w, x), step([w.clone().requires_grad_()], x), strict=True):
        assert torch.equal(got, want)
