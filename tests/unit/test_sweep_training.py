"""Training a sweep: one batched group for trials of one shape, groups split by the layer
stack with the reason, a diverged trial marked while the others finish, results by seed."""

from __future__ import annotations

import math

from torchplay.engine.steppers.batched import BatchedStepper
from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

BASE = {"data": {"kind": "circle", "points": 120}, "training": {"batch_size": 20},
        "probes": {"grid": 10, "neuron_grid": 4}}
LR = {"kind": "log_uniform", "path": "optimizer.lr", "low": 1e-3, "high": 1.0}
L2 = {"kind": "log_uniform", "path": "regularization.l2", "low": 1e-6, "high": 1e-2}


def sweep(**fields: object) -> SweepSpec:
    return SweepSpec.model_validate({"base": BASE, "parameters": [LR, L2], "trials": 40,
                                     "epochs": 3, **fields})


def test_trials_of_one_shape_train_as_one_batch_to_their_budget() -> None:
    training = SweepTraining(sweep())
    assert [(g.path, len(g.trials)) for g in training.groups] == [("batched", 40)]
    assert "40 trials share" in training.groups[0].why
    steppers = training.training.steppers
    assert len(steppers) == 1 and isinstance(steppers[0], BatchedStepper)
    results = training.run()
    assert training.done and len(results) == 40
    for r in results:
        assert r.epochs == 3 and r.steps == 3 * 3 and not r.diverged
        assert r.test_loss is not None and math.isfinite(r.test_loss)
        assert 0.0 <= r.test_metric <= 1.0 and r.train_loss is not None


def test_a_choice_changing_the_layers_splits_the_groups_and_says_why() -> None:
    training = SweepTraining(sweep(parameters=[LR, {
        "kind": "choice", "path": "network.layers.0.units", "values": [3, 5]}], trials=20,
        epochs=1))
    groups = training.groups
    assert len(groups) == 2
    assert all(g.path == "batched" for g in groups)
    assert "network.layers" in groups[1].why
    units = {tuple(training.trials[i].values["network.layers.0.units"] for i in g.trials)
             for g in groups}
    assert all(len(set(u)) == 1 for u in units)
    assert sum(len(g.trials) for g in groups) == 20
    training.run()


def test_a_diverged_trial_is_marked_and_the_others_finish() -> None:
    """Regression with sgd: learning rates up to 80 diverge, small ones do not."""
    base = {"data": {"kind": "plane", "points": 100}, "loss": {"kind": "mse"},
            "training": {"batch_size": 10}, "probes": {"grid": 10, "neuron_grid": 4}}
    results = SweepTraining(SweepSpec.model_validate({
        "base": base, "strategy": "grid", "epochs": 4, "parameters": [
            {"kind": "choice", "path": "optimizer.lr", "values": [0.001, 0.01, 80.0]}]})).run()
    assert [r.diverged for r in results] == [False, False, True]
    assert results[2].score("test_loss") is None and results[2].score("test_metric") is None
    assert results[2].epochs < 4
    assert [r.epochs for r in results[:2]] == [4, 4]
    assert all(r.test_loss is not None for r in results[:2])


def test_same_seed_same_results_bitwise_with_compile_off() -> None:
    a = SweepTraining(sweep(trials=12, seed=3)).run()
    b = SweepTraining(sweep(trials=12, seed=3)).run()
    c = SweepTraining(sweep(trials=12, seed=4)).run()
    assert a == b
    assert [r.test_loss for r in a] != [r.test_loss for r in c]
