"""LoneStepper: one run's steps, eager autograd or, from its second epoch, the traced replay
(traced.py), which is bitwise the eager step; a probed step replays too. Models with Dropout
or BatchNorm step eagerly.
"""

from __future__ import annotations

import copy

import torch

from torchplay.engine import probes
from torchplay.engine.build import SeededDropout, forward, linear_weights
from torchplay.engine.run import EvalRow, Run
from torchplay.engine.steppers.base import Columns, FallbackLog, StepResult
from torchplay.engine.steppers.traced import RecorderBusy, TracedStep, optimizer_step, traceable

UNTRACEABLE = "Dropout and BatchNorm layers step eagerly (random masks, running statistics)"
FIRST_EPOCH = "the first epoch steps eagerly; the traced step is recorded for the second"
WAITING = "another recording or a compile is tracing; this run records its step after it"


class LoneStepper:
    """The steps of one run."""

    def __init__(self, run: Run, traced: bool = True) -> None:
        """traced=False keeps every step eager (the plain path the traced one is tested on)."""
        self.run = run
        self.runs = [run]
        self.allow_traced = traced
        self._fallback = FallbackLog()
        self.use_traced = self.allow_traced and traceable(self.run.model)
        self.reason: str | None = None if self.use_traced else (
            UNTRACEABLE if self.allow_traced else "the traced step is off")
        self._traced: TracedStep | None = None
        self._replayed = False  # whether the latest step replayed

    def path(self, run: Run) -> tuple[str, str | None]:
        if self._replayed:
            return "traced", None
        if self.use_traced:
            return "eager", FIRST_EPOCH if run.epoch == 0 else WAITING
        return "eager", self.reason

    def points(self) -> int:
        return self.run.batch_size

    def step(self, probe: bool) -> StepResult:
        run = self.run
        x, y = run.next_batch()
        traced = self._prepared(x, y)
        layers: list[Columns] | None = None
        if traced is not None:
            # a probed replay: a no-grad forward gives the activations (0.25 ms against 0.52
            # for an eager step with hooks, on TF Playground's default network)
            watch = probes.StepProbe(run.model, hooks=False) if probe else None
            if watch:
                watch.observe(x)
            data_loss, _, out, grads = traced(x, y)
            if watch:
                traced.set_grads(grads)
                watch.after_backward()
            traced.update(run.optimizer, grads)
            if watch:
                layers = [watch.finish()]
        else:
            run.train_mode()
            watch = probes.StepProbe(run.model) if probe else None
            out = forward(run.model, x)
            data_loss = run.loss_fn(out, y)
            penalty = run.penalty(linear_weights(run.model))
            loss = data_loss if penalty is None else data_loss + penalty
            run.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if watch:
                watch.after_backward()
            optimizer_step(run.optimizer)  # the update, without torch.optim's wrappers
            if watch:
                layers = [watch.finish()]
        self._replayed = traced is not None
        if run.tallies:
            run.tally(data_loss.detach(), out.detach(), y)
        return StepResult(data_loss.detach().reshape(1), layers)

    def _prepared(self, x: torch.Tensor, y: torch.Tensor) -> TracedStep | None:
        """The replayed step, recorded for this batch's size, once the first epoch has run
        eagerly; None means: step eagerly."""
        if not self.use_traced or self.run.epoch == 0:
            return None
        try:
            if self._traced is None:
                self._traced = TracedStep(self.run.model, self.run.loss_fn, self.run.penalty)
            self._traced.prepare(x, y)
        except RecorderBusy:  # another thread is tracing: this step eagerly, record later
            return None
        except Exception as error:  # a model the recorder cannot follow still trains
            self.use_traced, self._traced = False, None
            self.reason = "the step could not be recorded (" + self._fallback.warn(
                "a run", self.run, error) + ")"
            return None
        return self._traced

    def evaluate(self) -> list[EvalRow]:
        return [self.run.eval_row()]

    def new_epoch(self) -> None:
        pass  # the run reshuffled itself, and next_batch gathers its new order

    def refresh(self, new_optimizer: bool, objective: bool) -> None:
        if objective:
            self._traced = None  # the penalty and the loss are recorded into the traced step

    def set_active(self) -> None:
        pass  # a halted lone run is simply not stepped

    def sync(self) -> None:
        pass  # the run's model is what trains

    @torch.no_grad()
    def set_weight(self, run: Run, module: int, row: int, col: int, value: float) -> None:
        # in place: the optimizer and the traced step hold these very tensors
        run.model[module].weight[row, col] = value

    def gradients(self, run: Run, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        if self._replayed:  # a recording as the run's, of the data loss alone (no penalty)
            recorded = TracedStep(run.model, run.loss_fn, lambda _weights: None)
            recorded.prepare(x, y, wait=True)
            _, _, _, grads = recorded(x, y)
            return [g.clone() for g in grads]
        model = copy.deepcopy(run.model)  # BatchNorm's running statistics stay untouched
        for module in model.modules():
            if isinstance(module, SeededDropout):
                module.p = 0.0
        model.train()
        loss = run.loss_fn(forward(model, x), y)
        return list(torch.autograd.grad(loss, list(model.parameters())))

