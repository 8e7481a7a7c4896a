"""The compute limits per step and per frame: the issue's heavy setup (every number inside its
own bound) is refused by name, a setup at the edge is accepted, and an old link over a limit
is refused with that same error rather than breaking."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from torchplay.api.messages import validation_error
from torchplay.spec.model import (
    MAX_FRAME_WORK,
    MAX_STEP_WORK,
    ExperimentSpec,
    apply_patch,
    frame_points,
    point_cost,
    step_points,
)

HEAVY = {"data": {"kind": "circle", "points": 20_000},
         "network": {"layers": [{"type": "linear", "units": 1024}, {"type": "activation"},
                                {"type": "linear", "units": 1024}, {"type": "activation"}]},
         "training": {"batch_size": 20_000}, "probes": {"grid": 200, "neuron_grid": 64}}
# bench/class.py's heavy run: as large as both limits allow, roughly
EDGE = {"data": {"kind": "circle", "points": 20_000},
        "network": {"layers": [{"type": "linear", "units": 96}, {"type": "activation"},
                               {"type": "linear", "units": 96}, {"type": "activation"}]},
        "training": {"batch_size": 20_000}, "probes": {"grid": 200, "neuron_grid": 64}}


def refusal(raw: dict) -> dict:
    with pytest.raises(ValidationError) as caught:
        ExperimentSpec.model_validate(raw)
    return validation_error(caught.value, raw, "invalid_spec")


def test_a_heavy_step_is_refused_naming_the_limit() -> None:
    error = refusal(HEAVY)
    assert error["field"] == "training.batch_size"
    assert "compute limit per step" in error["message"] and f"{MAX_STEP_WORK:,}" in \
        error["message"]


def test_a_heavy_frame_is_refused_naming_the_limit() -> None:
    error = refusal({**HEAVY, "training": {"batch_size": 10}})
    assert error["field"] == "probes.grid"
    assert "compute limit per frame" in error["message"]


def test_the_edge_is_inside_both_limits() -> None:
    spec = ExperimentSpec.model_validate(EDGE)
    cost = point_cost(spec)
    assert step_points(spec) == 10_000  # full batch: the training half of the points
    assert 0.4 * MAX_STEP_WORK < step_points(spec) * cost <= MAX_STEP_WORK
    assert 0.9 * MAX_FRAME_WORK < frame_points(spec) * cost <= MAX_FRAME_WORK


def test_a_live_update_over_the_limit_is_refused() -> None:
    wide = {"data": {"kind": "circle", "points": 6_000},
            "network": {"layers": [{"type": "linear", "units": 384}, {"type": "activation"},
                                   {"type": "linear", "units": 384}, {"type": "activation"}]},
            "training": {"batch_size": 10}, "probes": {"grid": 20, "neuron_grid": 4}}
    spec = ExperimentSpec.model_validate(wide)
    for patch, field in (({"training": {"batch_size": 3000}}, "training.batch_size"),
                         ({"probes": {"grid": 100}}, "probes.grid")):
        with pytest.raises(ValidationError) as caught:
            apply_patch(spec, patch)
        assert validation_error(caught.value, {}, "invalid_update")["field"] == field


def test_the_default_and_one_d_sets_are_far_inside() -> None:
    for raw in ({}, {"data": {"kind": "sine1d"}, "loss": {"kind": "mse"}}):
        spec = ExperimentSpec.model_validate(raw)
        assert frame_points(spec) * point_cost(spec) < MAX_FRAME_WORK / 100
