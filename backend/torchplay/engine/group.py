"""Variants of one experiment trained side by side, as one run with one set of controls.

When the variants can share a computation (same layer stack, batch size and optimizer kind,
see batched.check_batchable) they train as one BatchedRuns; otherwise (BatchNorm or not, batch
1 vs 32, different widths) each lone session takes a step in turn. Either way every variant is
a TrainingSession with its own history and frames, so a comparison shows each variant exactly
as it would train alone.
"""

from __future__ import annotations

from typing import Any

import torch

from torchplay.engine.history import History
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers.batched import BatchedRuns, check_batchable
from torchplay.spec.model import ExperimentSpec, SpecError

MAX_VARIANTS = 16


class RunGroup:
    """K variants advanced together; the runner drives it as it drives one session."""

    def __init__(self, specs: list[ExperimentSpec], device: torch.device,
                 compile: bool = False) -> None:
        self.specs = specs
        self.device = device
        self.compile = compile  # the batch's step, in the background (compiled.py)
        self.reset()

    def reset(self) -> None:
        """Every variant back to step 0 with fresh weights from its seed."""
        try:
            check_batchable(self.specs)
            self.batch: BatchedRuns | None = BatchedRuns(self.specs, self.device, self.compile)
            self.sessions = self.batch.sessions
        except SpecError:
            self.batch = None
            self.sessions = [TrainingSession(spec, self.device) for spec in self.specs]
        self.running = False
        self.pending_steps = 0
        self.epoch_target: int | None = None
        self.events: list[dict[str, Any]] = []

    def current(self, variant: int) -> TrainingSession:
        """Variant k's session with its weights as they stand (batched ones live stacked)."""
        if self.batch is not None:
            self.batch.sync()
        return self.sessions[variant]

    @property
    def batched(self) -> bool:
        return self.batch is not None

    @property
    def histories(self) -> list[History]:
        return [s.history for s in self.sessions]

    @property
    def diverged(self) -> bool:
        return all(s.diverged for s in self.sessions)

    @property
    def epoch(self) -> int:
        """The epoch of the variant furthest behind among those that train now."""
        return min(s.epoch for s in self._training())

    def _training(self) -> list[TrainingSession]:
        """The variants a step advances: those short of their own epoch limit, so that each
        stops at its own; once all have reached theirs (a person resumed after the finish),
        every variant that has not diverged, as a lone session goes on past its limit."""
        alive = [s for s in self.sessions if not s.diverged] or self.sessions
        return [s for s in alive if not _at_limit(s)] or alive

    @property
    def last_layers(self) -> object:
        return self.sessions[0].last_layers

    @property
    def wants_work(self) -> bool:
        if self.diverged:
            return False
        return self.running or self.pending_steps > 0 or (
            self.epoch_target is not None and self.epoch < self.epoch_target)

    def request(self, n: int, unit: str = "step") -> None:
        if unit == "epoch":
            self.epoch_target = self.epoch + n
        else:
            self.pending_steps += n

    def update(self, specs: list[ExperimentSpec]) -> None:
        """New live settings for every variant (spec.apply_patch has checked each)."""
        kinds_changed = specs[0].optimizer.kind != self.specs[0].optimizer.kind
        self.specs = specs
        for session, spec in zip(self.sessions, specs, strict=True):
            session.update(spec)
        if self.batch is not None:
            try:
                check_batchable(specs)
            except SpecError:  # e.g. an optimizer batched runs lack: go on one by one
                self.batch.sync()
                self.batch = None
                return
            self.batch.refresh(new_optimizer=kinds_changed)

    def step(self, probe: bool = False) -> None:
        """One step of every variant still training."""
        epoch = self.epoch
        short = any(not _at_limit(s) for s in self._training())
        if self.batch is not None:  # batched variants share one epoch limit (check_batchable)
            self.batch.step(probe)
        else:
            for session in self._training():
                session.step(probe)
        self.pending_steps = max(0, self.pending_steps - 1)
        finished = short and all(_at_limit(s) for s in self._training())
        if finished or self.epoch > epoch:
            self._epoch_ended(finished)

    def _epoch_ended(self, finished: bool) -> None:
        if self.epoch_target is not None and self.epoch >= self.epoch_target:
            self.epoch_target = None
        if finished:  # the last variant short of its epoch limit has reached it
            if self.batch is not None:
                self.batch.flush()  # the step counts below
            self.running = False
            self.pending_steps = 0
            self.events.append({"event": "finished", "step": max(
                s.step_count for s in self.sessions), "epoch": self.epoch})

    def frames(self) -> list[dict[str, Any]]:
        """One frame per variant, each marked with its index."""
        if self.batch is not None:
            self.batch.sync()
        return [{**session.frame(), "variant": k} for k, session in enumerate(self.sessions)]

    def take_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        for k, session in enumerate(self.sessions):
            events += [{**event, "variant": k} for event in session.take_events()
                       if event["event"] == "diverged"]  # the group finishes as one
        return events


def _at_limit(session: TrainingSession) -> bool:
    limit = session.spec.training.epochs
    return limit is not None and session.epoch >= limit
