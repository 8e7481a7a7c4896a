"""Every path a step can take (eager, traced, batched, compiled) obeys every rule of a run
(issue 15): each run makes the lone eager run's curve (bitwise where the reproducibility
contract promises it, else within its tolerance) and emits the same events at the same epochs.

A scenario is a spec and a script of controls (steps, epochs, play until the run stops, live
updates, pause, reset) played on a lone eager run (the reference) and on each path; on the
batched and compiled paths the run under test trains beside a second variant (another seed).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from torchplay.engine.group import Training
from torchplay.engine.steppers import compiled
from torchplay.engine.steppers.batched import BatchedStepper
from torchplay.spec.model import ExperimentSpec, apply_patch, merge_patch

CPU = torch.device("cpu")
PATHS = ["eager", "traced", "batched", "compiled"]
BASE = {"data": {"kind": "circle", "points": 200, "noise": 0.2},
        "network": {"layers": [{"type": "linear", "units": 6},
                               {"type": "activation", "fn": "tanh"}]},
        "training": {"batch_size": 10}}
NOISY = {"data": {"kind": "gauss", "points": 120, "noise": 1.0},
         "network": {"layers": [{"type": "linear", "units": 32},
                                {"type": "activation", "fn": "tanh"}]},
         "training": {"batch_size": 20}}
SCENARIOS: dict[str, tuple[dict[str, Any], list[tuple[Any, ...]]]] = {
    "sgd-epoch-limit": ({"training": {"epochs": 6}}, [("steps", 7), ("run",)]),
    "momentum-nesterov-l1-l2-step-schedule": (
        {"optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True,
                       "weight_decay": 0.001},
         "regularization": {"l1": 0.001, "l2": 0.01},
         "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5},
         "training": {"epochs": 8}},
        [("epochs", 3), ("run",)]),
    "adam-amsgrad-cosine": (
        {"optimizer": {"kind": "adam", "lr": 0.02, "amsgrad": True},
         "schedule": {"kind": "cosine", "t_max": 6}, "training": {"epochs": 6}},
        [("run",)]),
    "adamw-weight-decay": (
        {"optimizer": {"kind": "adamw", "lr": 0.01, "weight_decay": 0.1},
         "training": {"epochs": 4}}, [("run",)]),
    "early-stopping": (
        {**NOISY, "optimizer": {"kind": "adam", "lr": 0.05},
         "regularization": {"early_stopping": {"enabled": True, "patience": 3}},
         "training": {"batch_size": 20, "epochs": 200}},
        [("run",), ("epochs", 2), ("run",)]),
    "divergence": (
        {"optimizer": {"kind": "sgd", "lr": 80.0}, "loss": {"kind": "mse"},
         "data": {"kind": "plane", "points": 200}, "training": {"epochs": 30}},
        [("run",)]),
    "live-updates-pause-resume": (
        {"training": {"epochs": 12}},
        [("steps", 13), ("update", {"optimizer": {"lr": 0.3}}), ("steps", 9),
         ("update", {"optimizer": {"kind": "adam", "lr": 0.01}}), ("epochs", 2),
         ("update", {"training": {"batch_size": 7}}), ("steps", 5),
         ("update", {"regularization": {"l2": 0.01}}), ("pause",), ("run",)]),
    "reset": ({"training": {"epochs": 3}}, [("steps", 15), ("reset",), ("run",)]),
}


def scenario_specs(name: str) -> tuple[ExperimentSpec, ExperimentSpec]:
    patch, _ = SCENARIOS[name]
    spec = ExperimentSpec.model_validate(merge_patch(BASE, patch))
    other = ExperimentSpec.model_validate(merge_patch(spec.model_dump(),
                                                      {"training": {"seed": 11}}))
    return spec, other


def training_for(path: str, spec: ExperimentSpec, other: ExperimentSpec) -> Training:
    if path in ("eager", "traced"):
        return Training([spec], CPU, traced=path == "traced")
    training = Training([spec, other], CPU, compile=path == "compiled")
    assert training.batched
    return training


def play(training: Training, script: list[tuple[Any, ...]], compile_now: bool
         ) -> list[dict[str, Any]]:
    """Play the controls; the events of run 0 (the run under test), in order."""
    events: list[dict[str, Any]] = []
    for action in script:
        match action:
            case ("steps", n):
                training.request(n)
            case ("epochs", n):
                training.request(n, "epoch")
            case ("run",):
                training.resume()
            case ("pause",):
                training.pause()
            case ("update", patch):
                training.update([apply_patch(s, patch) for s in training.specs])
            case ("reset",):
                training.reset()
        for _ in range(100_000):  # a bound: each scenario stops long before
            if not training.wants_work:
                break
            training.step()
            if compile_now:
                _switch_to_compiled(training)
        events += [{k: v for k, v in e.items() if k != "variant"}
                   for e in training.take_events() if e.get("variant", 0) == 0]
    return events


def _switch_to_compiled(training: Training) -> None:
    """Wait for a batch's compile once asked for, so that the switch happens in the test
    (the server never waits: there the switch falls at a timing-dependent step)."""
    for stepper in training.steppers:
        if isinstance(stepper, BatchedStepper) and stepper._compiling:
            assert stepper.wait_compiled(timeout=600) or not stepper._compiling


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_path_makes_the_lone_eager_run(name: str, path: str) -> None:
    if path == "compiled" and not compiled.available():
        pytest.fail("no C++ compiler: install g++ (the compiled path cannot be tested)")
    spec, other = scenario_specs(name)
    _, script = SCENARIOS[name]
    reference = Training([spec], CPU, traced=False)
    expected = play(reference, script, compile_now=False)
    training = training_for(path, spec, other)
    got = play(training, script, compile_now=path == "compiled")
    alone, run = reference.current(0), training.current(0)
    exact = path in ("eager", "traced")
    assert run.step_count == alone.step_count and run.epoch == alone.epoch
    assert run.diverged == alone.diverged and run.halted == alone.halted
    assert_same_events(got, expected, exact)
    steps, want = run.history.steps.data, alone.history.steps.data
    evals, want_evals = run.history.evals.data, alone.history.evals.data
    assert steps["step"] == want["step"] and evals["step"] == want_evals["step"]
    if exact:
        assert steps["loss"] == want["loss"] and evals == want_evals
        for mine, its in zip(run.model.parameters(), alone.model.parameters(), strict=True):
            torch.testing.assert_close(mine, its, rtol=0, atol=0, equal_nan=True)
    else:
        torch.testing.assert_close(steps["loss"], want["loss"], rtol=1e-4, atol=1e-5)
        for column in ("lr", "train_loss", "test_loss", "train_metric", "test_metric"):
            assert_close_or_none(evals[column], want_evals[column], column)
        if not alone.diverged:
            for mine, its in zip(run.model.parameters(), alone.model.parameters(),
                                 strict=True):
                torch.testing.assert_close(mine, its, rtol=1e-4, atol=1e-5)
    assert (run.best is None) == (alone.best is None)
    if alone.best is not None:
        assert run.best[1:] == alone.best[1:]  # epoch and step of the best test loss
        assert math.isclose(run.best[0], alone.best[0], rel_tol=1e-4, abs_tol=1e-6)
    frame = training.frames()[0]
    assert frame["running"] is False
    if run.epoch >= 2 and not run.diverged:  # the fast path has had its chance: it is on it
        assert frame["path"] == path
        assert frame["path_reason"] == ("the traced step is off" if path == "eager" else None)


def assert_same_events(got: list[dict[str, Any]], expected: list[dict[str, Any]],
                       exact: bool) -> None:
    assert [e["event"] for e in got] == [e["event"] for e in expected]
    for mine, theirs in zip(got, expected, strict=True):
        assert mine.keys() == theirs.keys()
        for key, value in theirs.items():
            if isinstance(value, float) and not exact:
                assert math.isclose(mine[key], value, rel_tol=1e-4, abs_tol=1e-6), key
            elif key == "message" and not exact:
                assert mine[key].split(" became ")[0] == value.split(" became ")[0]
            else:
                assert mine[key] == value, key


def assert_close_or_none(mine: list[float | None], theirs: list[float | None],
                         column: str) -> None:
    assert [v is None for v in mine] == [v is None for v in theirs], column
    for a, b in zip(mine, theirs, strict=True):
        if a is not None and b is not None:
            assert math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-5), column


@pytest.mark.parametrize("path", PATHS[:3])
def test_a_deliberately_wrong_replayed_gradient_fails_the_gradient_check(
        path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The check compares the gradient that trains, not only autograd's: a replay whose
    gradients are 1.5 times too large is caught (eager autograd, the reference, is right)."""
    from torchplay.engine.steppers import traced
    from torchplay.lessons.gradcheck import PATH_TOLERANCE, check_now

    spec, other = scenario_specs("sgd-epoch-limit")
    training = training_for(path, spec, other)
    training.request(30)  # past the first epoch: the replay is what trains
    while training.wants_work:
        training.step()
    right = check_now(training, 0, points=8)
    assert right["path"] == path and right["max_path_rel_diff"] < PATH_TOLERANCE
    assert all(row["path_ok"] for row in right["layers"])
    record = traced.record_step

    def scaled(*args: Any, **kwargs: Any) -> traced.Replay:
        replay = record(*args, **kwargs)

        def wrong(*inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
            first, second, *grads = replay(*inputs)
            return (first, second, *[g * 1.5 for g in grads]) if path != "batched" else \
                (first, *[g * 1.5 for g in (second, *grads)])
        return wrong

    monkeypatch.setattr(traced, "record_step", scaled)
    for stepper in training.steppers:  # recorded again, through the broken recorder
        if isinstance(stepper, BatchedStepper):
            stepper._replays.clear()
    wrong = check_now(training, 0, points=8)
    if path == "eager":  # eager autograd has no replay to break
        assert wrong["max_path_rel_diff"] < PATH_TOLERANCE
    else:
        assert wrong["max_path_rel_diff"] > 0.1
        assert not any(row["path_ok"] for row in wrong["layers"])
    assert wrong["max_rel_diff"] < 1e-6  # autograd itself stays right
