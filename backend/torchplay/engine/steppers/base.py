"""What every stepper promises: the protocol the Training drives, and what a step returns.

A stepper computes losses and gradients for the runs it covers and applies their updates;
it never decides when an epoch ends or whether a run stops (engine/run.py does). Paths:
"eager" (autograd), "traced" (a lone run's recorded step replayed), "batched" (K runs stacked
into one computation, replayed), "compiled" (that batch's step compiled by inductor).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Protocol

import torch

from torchplay.engine.run import EvalRow, Run

log = logging.getLogger("torchplay.engine.steppers")

Columns = dict[str, list[float | None]]  # per-layer statistics of one probed step


@dataclass
class StepResult:
    """One step of a stepper's runs: each run's data loss, (k,) and not yet read back, and
    for a probed step each run's per-layer statistics."""

    losses: torch.Tensor
    layers: list[Columns] | None = None


class Stepper(Protocol):
    runs: list[Run]

    def path(self, run: Run) -> tuple[str, str | None]:
        """How this run's steps are computed now, and why not faster (None: the fastest)."""

    def step(self, probe: bool) -> StepResult:
        """One optimizer step of every active run, each on its own next mini-batch."""

    def points(self) -> int:
        """How many points the step about to be taken uses (the same for all its runs)."""

    def evaluate(self) -> list[EvalRow]:
        """Each run's loss and metric on its training and test sets, as they stand."""

    def new_epoch(self) -> None:
        """The active runs' epochs ended: take their new orders and learning rates."""

    def refresh(self, new_optimizer: bool, objective: bool) -> None:
        """The runs' specs changed live (another optimizer kind, or another loss/penalty)."""

    def set_active(self) -> None:
        """Which runs are active changed: the others take no update and draw nothing."""

    def sync(self) -> None:
        """Bring each run's model up to date with the weights the stepper trains."""

    def set_weight(self, run: Run, module: int, row: int, col: int, value: float) -> None:
        """Set weight[row, col] of `run`'s Linear module `module` where it trains (checked by
        engine/edit.py); its next steps go on from it, the other runs are untouched."""

    def gradients(self, run: Run, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """The float32 gradient of `run`'s data loss on (x, y) as this path computes it,
        dropout off, in run.model.parameters() order; no update, no state changed."""


def spec_shape(run: Run) -> str:
    """What a recording depends on, in words, for a log line."""
    layers = ", ".join(f"{layer.type} {getattr(layer, 'units', '')}".strip()
                       if layer.type == "linear" else getattr(layer, "fn", layer.type)
                       for layer in run.spec.network.layers)
    return (f"layers [{layers}], {run.x_train.shape[1]} inputs, batch {run.batch_size}, "
            f"loss {run.spec.loss.kind}, optimizer {run.spec.optimizer.kind}")


def describe(error: BaseException) -> str:
    """A recording failure in words, for the log and the frame's path_reason."""
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


class FallbackLog:
    """Logs each run's fall back to a slower path once, with the spec's shape."""

    def __init__(self) -> None:
        self.said = False

    def warn(self, what: str, run: Run, error: BaseException) -> str:
        reason = describe(error)
        if not self.said:
            self.said = True
            log.warning("%s falls back to eager steps (%s): %s", what, spec_shape(run), reason,
                        exc_info=error)
        return reason
