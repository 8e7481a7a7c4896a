"""Training a sweep: every trial at once in one Training, as few batched groups as possible.

Trials that share what shapes the computation (layer stack, loss, optimizer kind, batch size,
data size and kind, input count: engine/steppers/batched.check_batchable) are stepped as one
batch however many they are; a parameter that changes one of those splits the trials into
groups. The plan, made before training starts, lists the groups and why each is apart. A
trial that diverges is marked and stops; the others go on.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch

from torchplay.engine.group import Training, batchable_groups
from torchplay.engine.run import Run
from torchplay.engine.steppers.batched import check_batchable
from torchplay.spec.model import SpecError
from torchplay.sweeps.sample import Trial, narrowed, trials
from torchplay.sweeps.spec import SweepSpec, axes

CURVE_POINTS = 64  # a saved trial's curve at most (the page's live curves keep as many)


@dataclass(frozen=True)
class Group:
    """Trials trained as one computation (`batched`) or a trial trained alone (`lone`)."""

    trials: list[int]
    path: str
    why: str


@dataclass(frozen=True)
class TrialResult:
    """A trial's outcome: its values and seed, its last evaluation, whether it diverged."""

    index: int
    values: dict[str, Any]
    seed: int
    epochs: int
    steps: int
    train_loss: float | None
    test_loss: float | None
    test_metric: float | None  # accuracy (classification) or R^2 (regression)
    diverged: bool

    def score(self, metric: str) -> float | None:
        """Lower is better; None for a diverged or unfinished trial."""
        value = self.test_loss if metric == "test_loss" else self.test_metric
        if self.diverged or value is None or not math.isfinite(value):
            return None
        return value if metric == "test_loss" else -value


def plan(items: list[Trial]) -> list[Group]:
    """How the trials split into groups (as Training groups them), and why each group stands
    apart: a trial that cannot batch at all says why, another group names the first field
    in which it differs from group 0."""
    specs = [t.spec for t in items]
    groups: list[Group] = []
    for members in batchable_groups(specs):
        first = specs[members[0]]
        try:
            check_batchable([first])
            why = None
        except SpecError as error:
            why = f"{error.field}: {error.message}"
        if why is None and not groups:
            why = (f"{len(members)} trials share what shapes the computation"
                   if len(members) > 1 else "the only trial")
        elif why is None:
            try:
                check_batchable([specs[groups[0].trials[0]], first])
                why = "batched apart"  # not expected: greedy grouping would have joined them
            except SpecError as error:
                why = f"differs from group 0 in {error.field}"
        groups.append(Group(members, "batched" if len(members) > 1 else "lone", why))
    return groups


def curve(run: Run) -> list[list[float | None]]:
    """A run's test loss at each evaluation, [[epoch, loss], ...], thinned evenly to at most
    CURVE_POINTS points, the first and last kept (a saved sweep's curves)."""
    evals = run.history.evals.data
    points = list(zip(evals["epoch"], evals["test_loss"], strict=True))
    if len(points) > CURVE_POINTS:
        last = len(points) - 1
        points = [points[round(i * last / (CURVE_POINTS - 1))] for i in range(CURVE_POINTS)]
    return [[epoch, loss] for epoch, loss in points]


def result(trial: Trial, run: Run) -> TrialResult:
    evals = run.history.evals.data
    return TrialResult(
        index=trial.index, values=trial.values, seed=trial.seed, epochs=run.epoch,
        steps=run.step_count, train_loss=evals["train_loss"][-1],
        test_loss=evals["test_loss"][-1], test_metric=evals["test_metric"][-1],
        diverged=run.diverged)


class SweepViews:
    """What a client sees of a sweep, however its trials train (here: SweepTraining; on a
    Ray cluster: sweeps/remote.py): the plan, compact progress, results and what a save
    keeps. Subclasses set sweep, trials, groups, shown and give done, summary(), results()
    and curves()."""

    sweep: SweepSpec
    trials: list[Trial]
    groups: list[Group]
    shown: int
    where: str = "in-process"  # where the trials train, for `sweep_ready`

    @property
    def done(self) -> bool:
        raise NotImplementedError

    def summary(self) -> list[list[Any]]:
        raise NotImplementedError

    def results(self) -> list[TrialResult]:
        raise NotImplementedError

    def curves(self) -> list[list[list[float | None]]]:
        raise NotImplementedError

    def plan_json(self) -> list[dict[str, Any]]:
        return [asdict(g) for g in self.groups]

    def saved(self) -> dict[str, Any]:
        """What a saved sweep keeps (Store.save_sweep): with each trial's test-loss curve,
        [[epoch, test loss], ...] thinned to at most CURVE_POINTS points."""
        return {"sweep": self.sweep.model_dump(mode="json"), "groups": self.plan_json(),
                "results": [asdict(r) for r in self.results()], "curves": self.curves()}

    def ready(self, session: int) -> dict[str, Any]:
        """The `sweep_ready` message: the plan (before training starts) and every trial."""
        return {"type": "sweep_ready", "session": session, "sweep": self.sweep.model_dump(),
                "groups": self.plan_json(), **axes(self.sweep), "where": self.where,
                "trials": [{"index": t.index, "values": t.values, "seed": t.seed}
                           for t in self.trials]}

    def progress(self) -> dict[str, Any]:
        """The compact `sweep_progress` message; with every trial's result once done."""
        message: dict[str, Any] = {"type": "sweep_progress", "shown": self.shown,
                                   "done": self.done, "trials": self.summary()}
        if self.done:
            results = self.results()
            message["results"] = [asdict(r) for r in results]
            try:  # the next round around the best, for the page's "narrow"
                message["next"] = narrowed(
                    self.sweep, [r.values for r in results],
                    [r.score(self.sweep.metric) for r in results]).model_dump(mode="json")
            except SpecError:  # every trial diverged: nothing to narrow around
                message["next"] = None
        return message

    def frame(self, k: int) -> dict[str, Any] | None:
        """Trial k's full frame, where this process trains it; else None."""
        return None


class SweepTraining(SweepViews):
    """A sweep's trials trained side by side to their epoch budget, in this process."""

    def __init__(self, sweep: SweepSpec, device: torch.device | None = None,
                 compile: bool = False, shown: int = 0, only: list[int] | None = None) -> None:
        """shown: the trial whose full frames a client sees (`frame`); only: train just these
        trials (by index; a Ray task trains one group of a sweep so)."""
        self.sweep = sweep
        self.trials = trials(sweep)  # SpecError naming the field before anything is built
        if only is not None:
            self.trials = [self.trials[i] for i in only]
        self.groups = plan(self.trials)
        self.shown = min(shown, len(self.trials) - 1)
        self.training = Training([t.spec for t in self.trials], device or torch.device("cpu"),
                                 compile=compile)
        self.training.resume()

    @property
    def done(self) -> bool:
        return not self.training.wants_work

    def step(self, seconds: float) -> None:
        """Train for about `seconds` (or until every trial has stopped)."""
        end = time.perf_counter() + seconds
        while self.training.wants_work and time.perf_counter() < end:
            self.training.step()

    def run(self, on_progress: Callable[[SweepTraining], None] | None = None,
            every: float = 0.25) -> list[TrialResult]:
        """Train every trial to its end; `on_progress` is called about every `every` s."""
        while not self.done:
            self.step(every)
            if on_progress is not None:
                on_progress(self)
        return self.results()

    def results(self) -> list[TrialResult]:
        self.training.read_all()
        return [result(t, run) for t, run in zip(self.trials, self.training.runs, strict=True)]

    def summary(self) -> list[list[Any]]:
        """Compact progress, one row per trial: [epoch, test_loss, test_metric, diverged]
        (losses as read at the trial's last epoch end)."""
        rows = []
        for run in self.training.runs:
            evals = run.history.evals.data
            rows.append([run.epoch, evals["test_loss"][-1], evals["test_metric"][-1],
                         run.diverged])
        return rows

    def curves(self) -> list[list[list[float | None]]]:
        return [curve(run) for run in self.training.runs]

    # --- what a client sees while it trains ----------------------------------------------

    def frame(self, k: int) -> dict[str, Any] | None:
        """Trial k's full frame, as a lone run's (its boundary, curves, layers)."""
        return {**self.training.frame(k), "variant": k}
