"""GET /api/rules: the rules the page needs that JSON Schema cannot say (which loss fits which
task, which activations count dead units, which fields a kind reads, what noise means per
dataset). Each table lives once, beside the code that enforces it; this route only serves it,
so the page asks rather than repeats."""

from __future__ import annotations

from typing import Any, get_args

from fastapi import APIRouter

from torchplay.data.toy import NOISE_MEANING
from torchplay.spec.model import (
    LOSSES_BY_TASK,
    OWN_DATA_KINDS,
    RELU_FAMILY,
    SCHEDULE_PARAMS,
    SLOPE_ACTIVATIONS,
    TWO_CLASS_LOSSES,
    VARIABLE_CLASSES,
    DataKind,
    DataSpec,
)

router = APIRouter(prefix="/api", tags=["rules"])

def page_rules() -> dict[str, Any]:
    """The rules as the page reads them (docs/experiments.md, "Rules")."""
    kinds = get_args(DataKind)
    return {
        "losses": {task: list(losses) for task, losses in LOSSES_BY_TASK.items()},
        "two_class_losses": list(TWO_CLASS_LOSSES),
        # null: the count is data.classes, or the data's own (drawn points, a table)
        "classes": {kind: None if kind in VARIABLE_CLASSES or kind in OWN_DATA_KINDS
                    else DataSpec(kind=kind).n_classes for kind in kinds},
        "relu_family": list(RELU_FAMILY),
        "slope_activations": list(SLOPE_ACTIVATIONS),
        "schedule_params": {kind: list(fields) for kind, fields in SCHEDULE_PARAMS.items()},
        "noise": {kind: NOISE_MEANING.get(kind, "") for kind in kinds},
    }


@router.get("/rules")
def rules() -> dict[str, Any]:
    """Rules JSON Schema cannot say: losses per task, the ReLU family, the fields each kind
    reads, class counts (null: data.classes), what noise does per dataset."""
    return page_rules()
