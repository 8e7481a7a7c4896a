"""Training: one or more runs side by side, as one run with one set of controls.

The one interface the runner and the web layer drive. Its runs (engine/run.py) own their
bookkeeping; its steppers (engine/steppers/) compute their steps: runs that can share a
computation (same layer stack, batch size and optimizer kind: batched.check_batchable) are
stepped as one batch, the others alone (eager, or the traced replay). A lone run is a Training
of one. Here: play/pause, steps and epochs asked for, reading the step losses back lazily
(each step's losses stay on the device until a frame, an epoch end or a check reads them, so
a GPU is not stalled once a step), which steps are probed, and the events.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch

from torchplay.engine import views
from torchplay.engine.history import History
from torchplay.engine.run import Run
from torchplay.engine.steppers.base import Stepper
from torchplay.engine.steppers.batched import BatchedStepper, check_batchable
from torchplay.engine.steppers.lone import LoneStepper
from torchplay.spec.model import ExperimentSpec, SpecError

MAX_VARIANTS = 16
# Step losses reach the histories when read (a frame, an epoch end) or after this many steps;
# whether they are finite (a divergence) is checked every CHECK_EVERY steps and at epoch ends.
FLUSH_AT = 1000
CHECK_EVERY = 64


class Training:
    """K runs advanced together; K = 1 is a lone run."""

    def __init__(self, specs: Sequence[ExperimentSpec], device: torch.device,
                 compile: bool = False, traced: bool = True) -> None:
        """compile: batches switch to an inductor-compiled step when it is ready (CPU);
        traced=False keeps lone runs' steps eager (the reference path of the tests)."""
        self.specs = list(specs)
        self.device = device
        self.compile = compile
        self.traced = traced
        self.runs = [Run(spec, device) for spec in self.specs]
        self._start()

    # --- controls -------------------------------------------------------------------------

    def reset(self) -> None:
        """Every run back to step 0 with fresh weights from its seed; the specs are kept."""
        for run in self.runs:
            run.reset()
        self._start()

    def _start(self) -> None:
        for run in self.runs:
            run.record_eval(run.eval_row())  # step 0's evaluation
        self.steppers = self._make_steppers()
        self.running = False
        self.pending_steps = 0
        self.epoch_target: int | None = None
        # per stepper: the (k,) losses of the steps not yet read back, how many of them are
        # known finite, and which runs were active while they were taken (a run stops or
        # resumes only after its losses so far have been read)
        self._unread: dict[int, list[torch.Tensor]] = {id(s): [] for s in self.steppers}
        self._unchecked: dict[int, int] = {id(s): 0 for s in self.steppers}
        self._window: dict[int, list[bool]] = {}
        self._finished_reported = False
        self._rate_marks = [(time.perf_counter(), 0) for _ in self.runs]

    def _make_steppers(self) -> list[Stepper]:
        """Runs grouped into batches that can share a computation; a group of one steps
        alone."""
        groups = [[self.runs[i] for i in group] for group in batchable_groups(self.specs)]
        return [BatchedStepper(group, self.compile) if len(group) > 1 else
                LoneStepper(group[0], self.traced) for group in groups]

    def resume(self) -> None:
        """Play. Where every run has stopped (finished or stopped early), each that has not
        diverged goes on, past its limit or patience, as a lone run does."""
        if not any(run.active for run in self.runs):
            self.read_all()
            for run in self.runs:
                run.halted = False
            self._finished_reported = False
            self._activity_changed()
        self.running = True

    def pause(self) -> None:
        self.running = False

    def request(self, n: int, unit: str = "step") -> None:
        """Ask for n more steps, or for training up to n more epoch boundaries."""
        if not any(run.active for run in self.runs):
            self.resume()
            self.running = False
        if unit == "epoch":
            self.epoch_target = self.epoch + n
        else:
            self.pending_steps += n

    def update(self, specs: Sequence[ExperimentSpec]) -> None:
        """New live settings for every run (spec.apply_patch has checked each)."""
        self.specs = list(specs)
        changes = [run.update(spec) for run, spec in zip(self.runs, specs, strict=True)]
        new_optimizer = any(c.optimizer_kind for c in changes)
        objective = any(c.objective for c in changes)
        for stepper in list(self.steppers):
            if isinstance(stepper, BatchedStepper):
                try:
                    check_batchable([run.spec for run in stepper.runs])
                except SpecError:  # e.g. an optimizer kind batches lack: each run alone
                    self._unbatch(stepper)
                    continue
            stepper.refresh(new_optimizer, objective)

    def _unbatch(self, stepper: Stepper) -> None:
        self._read(stepper)
        stepper.sync()
        at = self.steppers.index(stepper)
        lone = [LoneStepper(run, self.traced) for run in stepper.runs]
        self.steppers[at:at + 1] = lone
        for new in lone:
            self._unread[id(new)], self._unchecked[id(new)] = [], 0

    # --- state ----------------------------------------------------------------------------

    @property
    def diverged(self) -> bool:
        return all(run.diverged for run in self.runs)

    @property
    def epoch(self) -> int:
        """The epoch of the run furthest behind among those that train now."""
        active = [run for run in self.runs if run.active] or self.runs
        return min(run.epoch for run in active)

    @property
    def wants_work(self) -> bool:
        if not any(run.active for run in self.runs):
            return False
        return self.running or self.pending_steps > 0 or (
            self.epoch_target is not None and self.epoch < self.epoch_target)

    @property
    def histories(self) -> list[History]:
        return [run.history for run in self.runs]

    @property
    def batched(self) -> bool:
        return any(isinstance(s, BatchedStepper) for s in self.steppers)

    # --- training -------------------------------------------------------------------------

    def step(self, probe: bool = False) -> None:
        """One step of every active run. The step is also probed where it may be the last
        before a stop (the last step asked for, an epoch end that can stop a run or reach the
        epoch asked for), so that the frame shown there describes it."""
        probe = probe or self._last_before_stop()
        for stepper in self.steppers:
            runs = [run for run in stepper.runs if run.active]
            if not runs:
                continue
            points = stepper.points()
            result = stepper.step(probe)
            for run in runs:
                run.advance(points)
            if result.layers is not None:
                for run, columns in zip(stepper.runs, result.layers, strict=True):
                    if run.active:
                        run.set_layers(columns)
            key = id(stepper)
            if not self._unread[key]:
                self._window[key] = [run.active for run in stepper.runs]
            self._unread[key].append(result.losses)
            if runs[0].position >= runs[0].epoch_length:
                self._end_epoch(stepper)
            elif len(self._unread[key]) - self._unchecked[key] >= CHECK_EVERY:
                self._check(stepper)
            elif len(self._unread[key]) >= FLUSH_AT:
                self._read(stepper)
        self.pending_steps = max(0, self.pending_steps - 1)
        if self.epoch_target is not None and self.epoch >= self.epoch_target:
            self.epoch_target = None
        self._collect_halts()

    def _last_before_stop(self) -> bool:
        if any(run.last_layers is None for run in self.runs if run.active):
            return True
        if self.pending_steps == 1 and not self.running:
            return True
        for stepper in self.steppers:
            runs = [run for run in stepper.runs if run.active]
            if runs and runs[0].ends_epoch_next(stepper.points()) and (
                    any(run.may_halt_at_epoch_end() for run in runs) or
                    self.epoch_target is not None and runs[0].epoch + 1 >= self.epoch_target):
                return True
        return False

    def _end_epoch(self, stepper: Stepper) -> None:
        self._check(stepper)  # a run that diverged this epoch stops at that step
        rows = stepper.evaluate()
        active = [run.active for run in stepper.runs]
        for run, row in zip(stepper.runs, rows, strict=True):
            if run.active and run.position >= run.epoch_length:
                run.end_epoch(row)
        stepper.new_epoch()
        if [run.active for run in stepper.runs] != active:  # a run finished or stopped
            self._read(stepper)
            self._activity_changed()

    def _check(self, stepper: Stepper) -> None:
        """Read the losses back if one of them is not finite (a divergence): one tensor
        comparison and one boolean read for up to CHECK_EVERY steps."""
        key = id(stepper)
        fresh = self._unread[key][self._unchecked[key]:]
        if fresh and not bool(torch.stack(fresh).isfinite().all()):
            self._read(stepper)
        self._unchecked[key] = len(self._unread[key])

    def _read(self, stepper: Stepper) -> None:
        """Bring the runs' step histories up to date with the losses not yet read."""
        key = id(stepper)
        rows, self._unread[key], self._unchecked[key] = self._unread[key], [], 0
        if not rows:
            return
        columns = torch.stack(rows).T.tolist()  # (runs, steps): one read-back for all
        window = self._window.get(key, [True] * len(stepper.runs))
        diverged = False
        for run, losses, took in zip(stepper.runs, columns, window, strict=True):
            if took and not run.diverged:
                diverged |= not run.record_losses(losses)
        if diverged:
            self._activity_changed()

    def _activity_changed(self) -> None:
        for stepper in self.steppers:
            stepper.set_active()

    def _collect_halts(self) -> None:
        """Stop where no run is active any more; the group finishes once, when its last
        run reaches its epoch limit."""
        if any(run.active for run in self.runs):
            return
        if self.running or self.pending_steps or self.epoch_target is not None:
            self.running = False
            self.pending_steps = 0
            self.epoch_target = None

    def read_all(self) -> None:
        """Every run's counters, history and weights up to date (before a frame or a save)."""
        for stepper in self.steppers:
            self._read(stepper)
            stepper.sync()

    def take_events(self) -> list[dict[str, Any]]:
        """The runs' events since the last call, each marked with its run's index when
        there are several; one `finished` for the group when its last run finishes."""
        events = []
        for k, run in enumerate(self.runs):
            for event in run.take_events():
                if event["event"] == "finished" and len(self.runs) > 1:
                    continue
                events.append(event if len(self.runs) == 1 else {**event, "variant": k})
        if len(self.runs) > 1 and self._group_finished():
            events.append({"event": "finished", "step": max(r.step_count for r in self.runs),
                           "epoch": self.epoch})
        return events

    def _group_finished(self) -> bool:
        done = not any(run.active for run in self.runs) and any(
            run.halted and run.at_limit for run in self.runs)
        reported, self._finished_reported = self._finished_reported, done
        return done and not reported

    # --- views ----------------------------------------------------------------------------

    def stepper_of(self, k: int) -> Stepper:
        """The stepper that computes run k's steps (and holds the weights it trains)."""
        run = self.runs[k]
        return next(s for s in self.steppers if run in s.runs)

    def path(self, k: int) -> tuple[str, str | None]:
        return self.stepper_of(k).path(self.runs[k])

    def frames(self) -> list[dict[str, Any]]:
        """One frame per run (with its index when there are several)."""
        self.read_all()
        return [self._frame(k) for k in range(len(self.runs))]

    def frame(self, k: int) -> dict[str, Any]:
        """Run k's frame alone (a sweep streams only the trial on show)."""
        self.read_all()
        return self._frame(k)

    def _frame(self, k: int) -> dict[str, Any]:
        run, now = self.runs[k], time.perf_counter()
        mark_time, mark_step = self._rate_marks[k]
        rate = (run.step_count - mark_step) / (now - mark_time) if now > mark_time else 0.0
        self._rate_marks[k] = (now, run.step_count)
        path, reason = self.path(k)
        frame = views.frame(run, path, reason, rate, settled=not self.wants_work)
        frame["running"] = self.running and run.active
        if len(self.runs) > 1:
            frame["variant"] = k
        return frame

    def current(self, k: int) -> Run:
        """Run k with its counters, history and weights as they stand."""
        self.read_all()
        return self.runs[k]

    def gradients(self, k: int, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """Run k's float32 gradient on (x, y) as its own path computes it (no update)."""
        self.read_all()
        return self.stepper_of(k).gradients(self.runs[k], x, y)

    def summary(self, k: int = 0) -> dict[str, Any]:
        return views.summary(self.runs[k])

    def dataset(self, k: int = 0) -> dict[str, Any]:
        return views.dataset(self.runs[k])

    def snapshot(self, k: int = 0) -> views.Snapshot:
        """Run k as it stands, to save: cheap here, finished elsewhere (views.Snapshot)."""
        frame = self.frame(k)
        return views.snapshot(self.runs[k], frame)

    def recording(self, k: int = 0) -> tuple[dict[str, Any], bytes]:
        """Run k as it stands, to save (views.recording)."""
        return self.snapshot(k).finish()


def batchable_groups(specs: Sequence[ExperimentSpec]) -> list[list[int]]:
    """Indices of specs grouped greedily, in order, so that each group can be stepped as one
    batch (a group of one steps alone). check_batchable compares each spec with the first,
    so a newcomer is checked against its group's first alone: O(K x groups), not O(K^2)
    (a sweep's 256 trials took 36 s to group)."""
    groups: list[list[int]] = []
    for i, spec in enumerate(specs):
        for group in groups:
            try:
                check_batchable([specs[group[0]], spec])
            except SpecError:
                continue
            group.append(i)
            break
        else:
            groups.append([i])
    return groups


class RunView:
    """Run k of a Training, read as a lone run is read: its run's fields, and its frame."""

    def __init__(self, training: Training, k: int) -> None:
        self._training, self._k = training, k

    def __getattr__(self, name: str) -> Any:
        return getattr(self._training.current(self._k), name)

    def frame(self) -> dict[str, Any]:
        return self._training.frames()[self._k]
