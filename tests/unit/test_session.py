"""TrainingSession in-process: the same spec and seed give the same run however it is watched,
and a mid-run learning-rate update reaches the optimizer on the next step."""

from __future__ import annotations

import pytest
import torch

from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec, apply_patch

NOISY = {  # dropout and BatchNorm: every random draw and running statistic must be the session's
    "data": {"kind": "spiral", "points": 120, "noise": 0.2},
    "network": {"layers": [
        {"type": "linear", "units": 16}, {"type": "batchnorm"},
        {"type": "activation", "fn": "relu"}, {"type": "dropout", "p": 0.3},
        {"type": "linear", "units": 8}, {"type": "activation", "fn": "tanh"},
        {"type": "dropout", "p": 0.2}]},
    "optimizer": {"kind": "adam", "lr": 0.01},
    "training": {"batch_size": 8, "device": "cpu", "seed": 11},
}
STEPS = 60



def session(spec: dict) -> TrainingSession:
    return TrainingSession(ExperimentSpec.model_validate(spec))


def run(s: TrainingSession, probe_at: set[int] = frozenset(), frame_at: set[int] = frozenset(),
        steps: int = STEPS) -> list[float]:
    for i in range(steps):
        s.step(probe=i in probe_at)
        if i in frame_at:
            s.frame()
    return list(s.history.steps.data["loss"])


def state(s: TrainingSession) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in s.model.state_dict().items()}


def test_same_spec_and_seed_give_the_same_run_however_it_is_probed() -> None:
    a, b = session(NOISY), session(NOISY)
    losses_a = run(a)
    losses_b = run(b, probe_at=set(range(0, STEPS, 7)), frame_at={3, 15, 16, 40})
    assert len(losses_a) == STEPS
    assert losses_a == losses_b  # exactly, step for step
    for key, value in state(a).items():  # BatchNorm's running statistics included
        assert torch.equal(value, state(b)[key]), key
    assert a.history.evals.data == b.history.evals.data


def test_interleaved_sessions_and_the_global_rng_do_not_disturb_a_run() -> None:
    alone = run(session(NOISY))
    a, b = session(NOISY), session({**NOISY, "training": {**NOISY["training"], "seed": 12}})
    for _ in range(STEPS):  # two runs sharing a thread, as on a worker, and others drawing
        a.step()
        torch.rand(5)
        b.step(probe=True)
        torch.nn.functional.dropout(torch.ones(4), 0.5)
    assert a.history.steps.data["loss"] == alone
    assert b.history.steps.data["loss"] != alone  # another seed is another run


def test_reset_replays_the_run_from_its_seed() -> None:
    s = session(NOISY)
    first = run(s, steps=25)
    s.reset()
    assert s.step_count == 0 and s.history.steps.data["loss"] == []
    assert run(s, probe_at={0, 24}, frame_at={10}, steps=25) == first


def test_a_learning_rate_update_reaches_the_next_step_and_keeps_the_count() -> None:
    spec = {"data": {"kind": "circle", "points": 100},
            "optimizer": {"kind": "sgd", "lr": 0.03},
            "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5},
            "training": {"device": "cpu"}}
    s = session(spec)
    run(s, steps=12)  # 5 steps per epoch: past epoch 2, so the schedule halves the rate
    assert s.epoch == 2 and s.lr == pytest.approx(0.015)
    steps, history = s.step_count, list(s.history.steps.data["step"])

    s.update(apply_patch(s.spec, {"optimizer": {"lr": 0.4}}))
    assert s.step_count == steps and s.history.steps.data["step"] == history
    assert [g["lr"] for g in s.optimizer.param_groups] == [pytest.approx(0.2)] * len(
        s.optimizer.param_groups)  # the new base rate, under the same schedule
    assert s.frame()["lr"] == pytest.approx(0.2)

    before = [p.detach().clone() for p in s.model.parameters()]
    s.step()
    assert s.step_count == steps + 1
    for p, old in zip(s.model.parameters(), before, strict=True):  # plain SGD: w -= lr * g
        torch.testing.assert_close(p.detach(), old - 0.2 * p.grad, rtol=0, atol=1e-7)


def test_changing_the_optimizer_kind_rebuilds_it_with_the_patch() -> None:
    s = session({"data": {"kind": "circle", "points": 100}, "training": {"device": "cpu"}})
    run(s, steps=3)
    old = s.optimizer
    s.update(apply_patch(s.spec, {"optimizer": {"kind": "adam", "lr": 0.002}}))
    assert isinstance(s.optimizer, torch.optim.Adam) and s.optimizer is not old
    assert s.optimizer.param_groups[0]["lr"] == 0.002
    assert s.optimizer.param_groups[0]["betas"] == (0.9, 0.999)  # Adam's own defaults
    assert s.step_count == 3
    s.step()
    assert s.step_count == 4 and len(s.optimizer.state) > 0


def test_resuming_after_an_early_stop_waits_a_full_patience_again() -> None:
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "gauss", "points": 60, "noise": 1.0},
        "network": {"layers": [{"type": "linear", "units": 64},
                               {"type": "activation", "fn": "relu"}]},
        "optimizer": {"kind": "adam", "lr": 0.05},
        "regularization": {"early_stopping": {"enabled": True, "patience": 3}},
        "training": {"batch_size": 30}})
    session = TrainingSession(spec, torch.device("cpu"))
    session.resume()
    while session.running:  # overfits a noisy set: the test loss stops improving
        session.step()
    first = session.take_events()[-1]
    assert first["event"] == "early_stopped" and first["epoch"] - first["best_epoch"] >= 3
    session.resume()  # after a stop, play goes on past it
    while session.running and session.epoch < first["epoch"] + 50:
        session.step()
    again = session.take_events()[-1]
    assert again["event"] == "early_stopped"
    assert again["epoch"] - first["epoch"] >= 3


def test_a_diverged_model_has_no_statistics_not_zeros() -> None:
    """NaN weights have no dead units to count: every per-layer figure is null, not 0.0."""
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "plane", "points": 100}, "loss": {"kind": "mse"},
        "network": {"layers": [{"type": "linear", "units": 8},
                               {"type": "activation", "fn": "relu"}]},
        "optimizer": {"kind": "sgd", "lr": 100.0}})
    session = TrainingSession(spec, torch.device("cpu"))
    session.resume()
    while session.wants_work:
        session.step()
    frame = session.frame()
    assert frame["diverged"] and not frame["running"]
    for column, values in frame["layers"].items():
        if column != "name":
            assert values == [None] * len(values), column
    assert frame["layers_step"] is None


@pytest.mark.parametrize("how", ["steps", "epochs", "finish", "early_stop"])
def test_a_frame_after_the_run_stops_describes_its_last_step(how: str) -> None:
    """Whatever ends the training (steps or epochs asked for, the epoch limit, an early stop),
    the step before it is probed, so the frame shown there describes that very step."""
    patch: dict = {"training": {"epochs": 3}} if how == "finish" else {}
    if how == "early_stop":
        patch = {"data": {"kind": "gauss", "points": 60, "noise": 1.0},
                 "optimizer": {"kind": "adam", "lr": 0.05},
                 "regularization": {"early_stopping": {"enabled": True, "patience": 2}}}
    session = TrainingSession(ExperimentSpec.model_validate(patch), torch.device("cpu"))
    match how:
        case "steps":
            session.request(37)
        case "epochs":
            session.request(2, "epoch")
        case _:
            session.resume()
    while session.wants_work:
        session.step()
    frame = session.frame()
    assert frame["step"] > 1 and frame["layers_step"] == frame["step"]
