"""TrainingSession: a lone run, as scripts, tests and lessons use it.

It is a Training of one (engine/group.py), so it follows exactly the rules every run follows;
it adds only the names a lone run is read by (its model, history, counters, frame). It knows
no HTTP and no threads: one caller at a time drives it.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchplay.engine.group import Training
from torchplay.engine.history import History
from torchplay.engine.run import EvalRow, Run, resolve_device
from torchplay.engine.steppers.lone import LoneStepper
from torchplay.spec.model import ExperimentSpec

__all__ = ["TrainingSession", "resolve_device"]


class TrainingSession(Training):
    """One experiment's run, with its controls and measurements."""

    def __init__(self, spec: ExperimentSpec, device: torch.device | None = None,
                 traced: bool = True) -> None:
        """traced=False keeps every step eager (the plain path the traced one is tested on)."""
        super().__init__([spec], device or resolve_device(spec.training.device), traced=traced)

    @property
    def run(self) -> Run:
        return self.runs[0]

    def update(self, new_spec: ExperimentSpec | list[ExperimentSpec]) -> None:  # type: ignore[override]
        super().update(new_spec if isinstance(new_spec, list) else [new_spec])

    @property
    def spec(self) -> ExperimentSpec:
        return self.run.spec

    @property
    def model(self) -> nn.Sequential:
        return self.run.model

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        return self.run.optimizer

    @property
    def history(self) -> History:
        self.read_all()
        return self.run.history

    @property
    def step_count(self) -> int:
        self.read_all()  # a divergence found on reading moves the count back to it
        return self.run.step_count

    @property
    def last_layers(self) -> dict[str, list[float | None]] | None:
        return self.run.last_layers

    @property
    def events(self) -> list[dict[str, Any]]:
        """The run's events not yet taken (take_events)."""
        self.read_all()
        return self.run.events

    @property
    def lr(self) -> float:
        return self.run.lr

    @property
    def batch_size(self) -> int:
        return self.run.batch_size

    @property
    def steps_per_epoch(self) -> int:
        return self.run.steps_per_epoch

    @property
    def diverged(self) -> bool:
        self.read_all()
        return self.run.diverged

    @property
    def use_traced(self) -> bool:
        stepper = self.steppers[0]
        return isinstance(stepper, LoneStepper) and stepper.use_traced

    @property
    def x_train(self) -> torch.Tensor:
        return self.run.x_train

    @property
    def y_train(self) -> torch.Tensor:
        return self.run.y_train

    @property
    def x_test(self) -> torch.Tensor:
        return self.run.x_test

    @property
    def y_test(self) -> torch.Tensor:
        return self.run.y_test

    @property
    def points(self) -> Any:
        return self.run.points

    @property
    def features(self) -> Any:
        return self.run.features

    @property
    def device_used(self) -> torch.device:
        return self.run.device

    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        return self.run.evaluate(x, y)

    def eval_row(self) -> EvalRow:
        return self.run.eval_row()

    def frame(self) -> dict[str, Any]:
        return self.frames()[0]
