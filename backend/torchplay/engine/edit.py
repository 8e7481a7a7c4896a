"""Direct edits of a live run's weights (the diagram's click-to-edit), made between two steps.

An edit changes the weight that trains, in place: a lone run's model (which its traced step
and optimizer hold), or a batch's stacked weights (engine/steppers/batched.py), where runs
side by side keep their parameters; each stepper's `set_weight` knows which. The run is marked
as changed, as a live spec update marks it, since its spec alone no longer replays it.
"""

from __future__ import annotations

import math

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


def set_weight(training: Training, layer: int, row: int, col: int, value: float,
               variant: int = 0) -> float:
    """Set weight[row, col] of the Linear module `layer` (as the frame's `links` number it) of
    run `variant` to `value`; returns the value it replaced. The other runs are untouched.
    Raises EditError naming the field at fault, and then changes nothing."""
    if not math.isfinite(value) or abs(value) > MAX_WEIGHT:
        raise EditError("value", f"value must be finite and within +-{MAX_WEIGHT:g}")
    count = len(training.runs)
    if not 0 <= variant < count:
        raise EditError("variant", f"this run has {count} variant(s), numbered "
                        "from 0")
    run = training.current(variant)  # its model up to date with what its stepper trains
    model = run.model
    if not 0 <= layer < len(model) or not isinstance(model[layer], nn.Linear):
        raise EditError("layer", f"module {layer} is not a Linear layer of this network")
    weight = model[layer].weight  # (out, in)
    for field, index, size in (("row", row, weight.shape[0]), ("col", col, weight.shape[1])):
        if not 0 <= index < size:
            raise EditError(field, f"{field} {index} is outside 0..{size - 1}")
    old = float(weight.detach()[row, col])
    training.stepper_of(variant).set_weight(run, layer, row, col, value)
    run.weight_edits += 1
    if run.spec_changed_at is None:
        run.spec_changed_at = run.step_count
    return old
