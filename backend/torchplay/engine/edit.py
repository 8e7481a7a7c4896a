"""Direct edits of a live run's weights (the diagram's click-to-edit), made between two steps.

An edit changes the model in place, so the traced step and the optimizer, which hold the same
parameter tensors, train on from the new value; the run is marked as changed, as a live spec
update marks it, since its spec alone no longer replays it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from torchplay.engine.group import Training

# A hand-set weight stays within what the spec's initialisers can draw and then some.
MAX_WEIGHT = 100.0


class EditError(ValueError):
    """An edit that does not fit the model; `field` names the message field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def set_weight(training: Training, layer: int, row: int, col: int, value: float) -> float:
    """Set weight[row, col] of the Linear module `layer` (as the frame's `links` number it) of
    a lone run to `value`; returns the value it replaced. Raises EditError naming the field at
    fault. (Runs side by side train stacked weights; the web layer refuses them first.)"""
    if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
        raise EditError("value", f"value must be finite and within +-{MAX_WEIGHT:g}")
    session = training.current(0)
    model = session.model
    if not 0 <= layer < len(model) or not isinstance(model[layer], nn.Linear):
        raise EditError("layer", f"module {layer} is not a Linear layer of this network")
    weight = model[layer].weight  # (out, in)
    for field, index, size in (("row", row, weight.shape[0]), ("col", col, weight.shape[1])):
        if not 0 <= index < size:
            raise EditError(field, f"{field} {index} is outside 0..{size - 1}")
    with torch.no_grad():
        old = float(weight[row, col])
        weight[row, col] = value
    session.weight_edits += 1
    if session.spec_changed_at is None:
        session.spec_changed_at = session.step_count
    return old
