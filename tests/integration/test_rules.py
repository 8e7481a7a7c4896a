"""GET /api/rules over a real server: each rule the page reads agrees with what the server
enforces (validation accepts exactly the losses listed for a task, dead units are counted for
exactly the listed activations)."""

from __future__ import annotations

from typing import Any, get_args

import httpx
import pytest
import torch
from pydantic import ValidationError
from wsclient import TIMEOUT

from torchplay.engine.build import build_model
from torchplay.engine.probes import RELU_FAMILY
from torchplay.spec.model import (
    OWN_DATA_KINDS,
    ActivationFn,
    DataKind,
    ExperimentSpec,
    LossSpec,
)


@pytest.fixture(scope="module")
def rules(server: Any) -> dict[str, Any]:
    return httpx.get(server.url + "/api/rules", timeout=TIMEOUT).json()


def accepts(kind: str, loss: str, classes: int = 3) -> bool:
    try:
        ExperimentSpec.model_validate({"data": {"kind": kind, "classes": classes},
                                       "loss": {"kind": loss}})
    except ValidationError:
        return False
    return True


def test_losses_listed_for_a_task_are_exactly_those_validation_accepts(rules) -> None:
    losses = get_args(LossSpec.model_fields["kind"].annotation)
    for kind in get_args(DataKind):
        if kind in OWN_DATA_KINDS:  # their task is the data's own (tests/unit/test_table.py)
            continue
        for classes in (2, 3):
            n = rules["classes"][kind] if rules["classes"][kind] is not None else classes
            task = "classification" if n else "regression"
            listed = {loss for loss in rules["losses"][task]
                      if loss not in rules["two_class_losses"] or n == 2}
            assert {loss for loss in losses if accepts(kind, loss, classes)} == listed, kind


def test_relu_family_is_what_the_probes_count(rules) -> None:
    for fn in get_args(ActivationFn):
        spec = ExperimentSpec.model_validate(
            {"network": {"layers": [{"type": "linear", "units": 2},
                                    {"type": "activation", "fn": fn}]}})
        module = build_model(spec, torch.Generator(), torch.Generator())[1]
        assert isinstance(module, RELU_FAMILY) == (fn in rules["relu_family"]), fn


def test_every_schedule_kind_and_dataset_is_described(rules) -> None:
    kinds = get_args(ExperimentSpec.model_fields["schedule"].annotation.model_fields["kind"]
                     .annotation)
    assert set(rules["schedule_params"]) == set(kinds)
    assert all(rules["noise"][kind] for kind in get_args(DataKind))
