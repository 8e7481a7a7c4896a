"""Sweep specs and sampling: strategies, distributions, narrowing, the seed rule, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from torchplay.spec.model import ExperimentSpec, SpecError
from torchplay.sweeps.sample import narrowed, trials
from torchplay.sweeps.spec import MAX_TRIALS, SweepSpec, sweepable

LR = {"kind": "log_uniform", "path": "optimizer.lr", "low": 1e-4, "high": 1.0}
L2 = {"kind": "log_uniform", "path": "regularization.l2", "low": 1e-6, "high": 1e-1}


def sweep(**fields: object) -> SweepSpec:
    return SweepSpec.model_validate({"parameters": [LR], **fields})


def test_random_trials_are_the_count_asked_within_range_with_epochs_and_seeds() -> None:
    items = trials(sweep(parameters=[LR, L2], trials=40, epochs=7))
    assert [t.index for t in items] == list(range(40))
    for t in items:
        assert 1e-4 <= t.values["optimizer.lr"] <= 1.0
        assert t.spec.optimizer.lr == t.values["optimizer.lr"]
        assert t.spec.regularization.l2 == t.values["regularization.l2"]
        assert t.spec.training.epochs == 7 and t.spec.training.seed == t.seed
    assert len({t.seed for t in items}) == 40


def test_log_uniform_values_have_uniform_logs() -> None:
    """Kolmogorov-Smirnov against the uniform law of the logs, fixed seed: the statistic
    stays under the 1% critical value; the linear values would fail the same check."""
    items = trials(sweep(trials=MAX_TRIALS, seed=7))
    u = np.sort([(math.log(t.values["optimizer.lr"]) - math.log(1e-4)) / math.log(1e4)
                 for t in items])
    n = len(u)
    ks = max(np.max(np.arange(1, n + 1) / n - u), np.max(u - np.arange(n) / n))
    critical = 1.63 / math.sqrt(n)
    assert ks < critical
    linear = np.sort([t.values["optimizer.lr"] for t in items])
    ks_linear = max(np.max(np.arange(1, n + 1) / n - linear), np.max(linear - np.arange(n) / n))
    assert ks_linear > critical


def test_grid_takes_every_combination_evenly_spaced_in_log_space() -> None:
    items = trials(sweep(strategy="grid", parameters=[
        {**LR, "steps": 5}, {"kind": "choice", "path": "optimizer.kind",
                             "values": ["sgd", "adam"]}]))
    assert len(items) == 10
    lrs = sorted({t.values["optimizer.lr"] for t in items})
    assert lrs == pytest.approx([1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert {(t.values["optimizer.lr"], t.values["optimizer.kind"]) for t in items} == {
        (lr, kind) for lr in lrs for kind in ("sgd", "adam")}
    adam = next(t for t in items if t.values["optimizer.kind"] == "adam")
    assert adam.spec.optimizer.kind == "adam" and adam.spec.optimizer.beta2 == 0.999


def test_choice_and_powers_of_two() -> None:
    items = trials(sweep(trials=200, parameters=[
        {"kind": "choice", "path": "network.layers.1.fn", "values": ["tanh", "relu"]},
        {"kind": "pow2", "path": "network.layers.0.units", "low": 2, "high": 32},
        {"kind": "uniform", "path": "training.batch_size", "low": 5, "high": 30}]))
    fns = [t.values["network.layers.1.fn"] for t in items]
    assert set(fns) == {"tanh", "relu"} and 70 < fns.count("relu") < 130
    units = {t.values["network.layers.0.units"] for t in items}
    assert units == {2, 4, 8, 16, 32}
    assert all(isinstance(t.values["training.batch_size"], int) for t in items)
    assert all(t.spec.network.layers[0].units == t.values["network.layers.0.units"]
               for t in items)


def test_same_seed_same_trials_other_seed_others_and_a_trial_depends_on_its_index() -> None:
    a = trials(sweep(parameters=[LR, L2], trials=32, seed=5))
    b = trials(sweep(parameters=[LR, L2], trials=32, seed=5))
    c = trials(sweep(parameters=[LR, L2], trials=32, seed=6))
    longer = trials(sweep(parameters=[LR, L2], trials=64, seed=5))
    assert [(t.values, t.seed) for t in a] == [(t.values, t.seed) for t in b]
    assert [t.values for t in a] != [t.values for t in c]
    assert [(t.values, t.seed) for t in longer[:32]] == [(t.values, t.seed) for t in a]


def test_narrowing_spans_the_best_values_widened_in_log_space() -> None:
    base = sweep(parameters=[LR, {"kind": "choice", "path": "network.layers.1.fn",
                                  "values": ["tanh", "relu", "sigmoid"]}],
                 narrow={"k": 3, "margin": 0.5})
    values = [{"optimizer.lr": lr, "network.layers.1.fn": fn} for lr, fn in
              [(1e-3, "tanh"), (1e-2, "relu"), (1e-1, "tanh"), (0.5, "sigmoid"), (1e-4, "relu")]]
    scores = [0.3, 0.1, 0.2, None, 0.9]  # best three: 1e-2, 1e-1, 1e-3; 0.5 diverged
    nxt = narrowed(base, values, scores)
    lr = nxt.parameters[0]
    assert lr.low == pytest.approx(1e-3 / 10) and lr.high == pytest.approx(1e-1 * 10)
    assert nxt.parameters[1].values == ["tanh", "relu"]
    assert nxt.round == 1 and nxt.seed == base.seed
    assert [t.values for t in trials(nxt)] != [t.values for t in trials(base)]
    with pytest.raises(SpecError) as caught:
        narrowed(base, values, [None] * 5)
    assert caught.value.field == "results"


def test_narrowing_stays_inside_the_fields_bounds() -> None:
    base = sweep(parameters=[{**LR, "high": 100.0}], narrow={"k": 2, "margin": 2.0})
    nxt = narrowed(base, [{"optimizer.lr": 50.0}, {"optimizer.lr": 100.0}], [0.1, 0.2])
    assert nxt.parameters[0].high == 100.0 and nxt.parameters[0].low < 50.0
    trials(nxt)


def test_narrowing_powers_of_two_stays_on_powers_the_field_admits() -> None:
    base = sweep(parameters=[{"kind": "pow2", "path": "optimizer.lr", "low": 2.0**-10,
                              "high": 64.0},
                             {"kind": "pow2", "path": "network.layers.0.units", "low": 1,
                              "high": 1024}], narrow={"k": 2, "margin": 3.0})
    nxt = narrowed(base, [{"optimizer.lr": 32.0, "network.layers.0.units": 1},
                          {"optimizer.lr": 64.0, "network.layers.0.units": 2}], [0.1, 0.2])
    lr, units = nxt.parameters
    assert lr.high == 64.0 and lr.low == 4.0  # 128 would pass lr's bound of 100
    assert units.low == 1 and units.high == 16
    trials(nxt)


@pytest.mark.parametrize(("fields", "field", "words"), [
    ({"parameters": [{**LR, "path": "optimizer.nope"}]}, "parameters.0.path", "no field"),
    ({"parameters": [{**LR, "path": "network.layers.9.units"}]}, "parameters.0.path",
     "no item 9"),
    ({"parameters": [L2, {**LR, "high": 200.0}]}, "parameters.1.high", "<= 100"),
    ({"parameters": [{"kind": "uniform", "path": "data.noise", "low": -0.5, "high": 0.5}]},
     "parameters.0.low", ">= 0"),
    ({"parameters": [{**LR, "low": 0.5, "high": 0.1}]}, "parameters.0.low", "above"),
    ({"trials": MAX_TRIALS + 1}, "trials", f"at most {MAX_TRIALS}"),
    ({"parameters": [{"kind": "uniform", "path": "training.seed", "low": 0, "high": 9}]},
     "parameters.0.path", "cannot vary"),
    ({"parameters": [{"kind": "choice", "path": "network.layers.0.type",
                      "values": ["linear"]}]}, "parameters.0.path", "cannot vary"),
    ({"parameters": [{"kind": "uniform", "path": "features.inputs", "low": 0, "high": 1}]},
     "parameters.0.path", "neither a number nor a choice"),
    ({"parameters": [{"kind": "choice", "path": "network.layers.1.fn",
                      "values": ["tanh", "swish"]}]}, "parameters.0.values.1", "not a value"),
    ({"parameters": [{"kind": "uniform", "path": "network.layers.1.fn", "low": 0,
                      "high": 1}]}, "parameters.0.kind", "choice"),
    ({"parameters": [{"kind": "pow2", "path": "network.layers.0.units", "low": 3,
                      "high": 16}]}, "parameters.0.low", "power of two"),
    ({"strategy": "grid", "parameters": [{**LR, "steps": 64}, {**L2, "steps": 64}]},
     "parameters", "combinations"),
])
def test_bad_sweeps_name_the_field(fields: dict, field: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        trials(sweep(**fields))
    assert caught.value.field == field and words in caught.value.message


def test_structural_errors_are_pydantic_errors() -> None:
    with pytest.raises(ValidationError):
        sweep(parameters=[])
    with pytest.raises(ValidationError):
        sweep(parameters=[{**LR, "low": -1.0}])
    with pytest.raises(ValidationError):
        sweep(parameters=[LR, LR])


def test_the_fields_a_sweep_may_vary_are_those_resolve_accepts_with_their_bounds() -> None:
    spec = ExperimentSpec.model_validate({"network": {"layers": [
        {"type": "linear", "units": 8}, {"type": "activation", "fn": "relu"},
        {"type": "dropout", "p": 0.2}]}})
    found = {target.path: (target, value) for target, value in sweepable(spec)}
    for path in ("optimizer.lr", "regularization.l2", "network.layers.0.units",
                 "network.layers.1.fn", "network.layers.2.p", "training.batch_size",
                 "optimizer.kind"):
        assert path in found, path
    for path in ("version", "training.seed", "training.epochs", "training.device",
                 "network.layers.0.type", "features.inputs"):
        assert path not in found, path
    lr, value = found["optimizer.lr"]
    assert (lr.type, lr.low, lr.low_open, value) == ("float", 0.0, True, spec.optimizer.lr)
    assert found["network.layers.0.units"][0].type == "int"
    assert found["network.layers.0.units"][1] == 8
    assert "adam" in found["optimizer.kind"][0].choices
    assert found["network.layers.1.fn"][0].choices[:2] == ("relu", "leaky_relu")
