"""Sweeps on a Ray cluster: each group of trials one Ray task, its summaries streamed back.

With the server's `--ray-address` (`TORCHPLAY_RAY_ADDRESS`; the optional extra
`pip install 'torchplay[ray]'`), a sweep's trials split into the same groups as in-process
(train.py `plan`), and each group trains as one Ray task running the same code as
in-process: `train_group` builds a SweepTraining of just that group's trials (one Training,
batched as it would be here) and yields a compact summary about every `every` seconds, then
the group's results and curves. So, on the CPU with the compiled step off, every trial's
result is bitwise the one in-process training gives (tests/unit/test_sweep_ray.py).

The server's process keeps only the summaries: `RaySweep` is a SweepViews whose `training`
is a RemoteGroups, the session the Runner drives (it waits for news instead of stepping).
What Ray cannot do here, said once: the trial on show streams no full frames (its model is on
the cluster; open it as a run to watch it), and pause/step do not stop the tasks. A sweep
left by its client has its tasks cancelled.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

import torchplay
from torchplay.sweeps.sample import trials
from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining, SweepViews, TrialResult, plan

log = logging.getLogger("torchplay")
LOCAL = "local"  # --ray-address local: start a Ray instance in this process (one machine)
STEP_WAIT = 0.05  # seconds the Runner's step waits for news from the tasks


def train_group(sweep: dict[str, Any], indices: list[int], compile: bool = False,
                every: float = 0.25) -> Iterator[dict[str, Any]]:
    """A Ray task's body (a plain generator, runnable without Ray): train the sweep's trials
    `indices` as one SweepTraining on the CPU; yield {"rows": summary} about every `every` s,
    and last {"rows", "results", "curves"}."""
    part = SweepTraining(SweepSpec.model_validate(sweep), torch.device("cpu"), compile,
                         only=indices)
    while not part.done:
        part.step(every)
        if not part.done:
            yield {"rows": part.summary()}
    yield {"rows": part.summary(), "results": [asdict(r) for r in part.results()],
           "curves": part.curves()}


class RayUnavailable(RuntimeError):
    """Ray is not installed, or the cluster cannot be reached; nothing was started."""


def connect(address: str) -> Any:
    """The `ray` module, connected to `address` once per process (a `ray://` or `host:port`
    address, `auto`, or `local` to start one here); RayUnavailable otherwise."""
    try:
        import ray
    except ImportError as error:
        raise RayUnavailable("--ray-address needs Ray: pip install 'torchplay[ray]'") from error
    if not ray.is_initialized():
        # workers started here import this torchplay (a checkout or an editable install)
        here = {"env_vars": {"PYTHONPATH": str(Path(torchplay.__file__).parents[1])}}
        try:
            if address == LOCAL:
                ray.init(include_dashboard=False, runtime_env=here)
            else:
                ray.init(address=address)
        except Exception as error:  # Ray raises several kinds: one answer for all
            raise RayUnavailable(f"the Ray cluster at {address} cannot be reached: "
                                 f"{error}") from error
        log.info("sweeps train on Ray at %s", address)
    return ray


def disconnect() -> None:
    """Leave Ray, if this process joined it (a Ray started here stops with its processes)."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        ray.shutdown()


class RemoteGroups:
    """The session the Runner drives for a sweep on Ray: it holds the newest summary of every
    trial, and `step` waits (briefly) for the tasks' next one."""

    def __init__(self, count: int, groups: int) -> None:
        self.running = True
        self.rows: list[list[Any]] = [[0, None, None, False] for _ in range(count)]
        self.results: list[dict[str, Any] | None] = [None] * count
        self.curves: list[list[list[float | None]]] = [[] for _ in range(count)]
        self.pending = groups
        self.failure: str | None = None
        self.events: list[dict[str, Any]] = []
        self.cond = threading.Condition()
        self.news = False

    @property
    def wants_work(self) -> bool:
        return self.pending > 0 and self.failure is None

    @property
    def diverged(self) -> bool:
        return False  # a trial's divergence is in its row; the sweep goes on

    def step(self, probe: bool = False) -> None:
        with self.cond:
            if not self.news:
                self.cond.wait(STEP_WAIT)  # a bounded wait for the tasks' next summary
            self.news = False

    def take_events(self) -> list[dict[str, Any]]:
        with self.cond:
            events, self.events = self.events, []
        return events

    def take(self, members: list[int], item: dict[str, Any]) -> None:
        """A task's summary (and, last, its results) for trials `members`."""
        with self.cond:
            for k, row in zip(members, item["rows"], strict=True):
                self.rows[k] = row
            if "results" in item:
                for k, res, curve in zip(members, item["results"], item["curves"], strict=True):
                    self.results[k], self.curves[k] = res, curve
            self.news = True
            self.cond.notify_all()

    def ended(self, failure: str | None) -> None:
        with self.cond:
            self.pending -= 1
            if failure is not None and self.failure is None:
                self.failure = failure
                self.events.append({"event": "sweep_failed", "message": failure})
            self.news = True
            self.cond.notify_all()

    # controls a Ray task cannot honour: the tasks run to their end
    def pause(self) -> None:
        self.running = False

    def resume(self) -> None:
        self.running = True

    def request(self, n: int, unit: str = "step") -> None:
        self.running = False

    def reset(self) -> None:
        pass

    def update(self, specs: Any) -> None:
        pass


class RaySweep(SweepViews):
    """A sweep whose groups of trials train as Ray tasks (see the module's docstring)."""

    where = "ray"

    def __init__(self, sweep: SweepSpec, address: str, compile: bool = False, shown: int = 0,
                 every: float = 0.25) -> None:
        self.sweep = sweep
        self.trials = trials(sweep)  # SpecError naming the field before anything is sent
        self.groups = plan(self.trials)
        self.shown = min(shown, len(self.trials) - 1)
        ray = connect(address)
        task = ray.remote(num_cpus=1)(train_group)
        body = sweep.model_dump(mode="json")
        self.training = RemoteGroups(len(self.trials), len(self.groups))
        self.tasks = []
        for group in self.groups:
            members = [self.trials[k].index for k in group.trials]
            stream = task.remote(body, members, compile, every)
            self.tasks.append(stream)
            threading.Thread(target=self._follow, args=(ray, stream, members), daemon=True,
                             name="torchplay-ray-sweep").start()

    def _follow(self, ray: Any, stream: Any, members: list[int]) -> None:
        failure, finished = None, False
        try:
            for ref in stream:
                item = ray.get(ref)
                self.training.take(members, item)
                finished = "results" in item
            if not finished:  # a cancelled stream ends quietly, before its results
                failure = f"a group of {len(members)} trials failed on Ray: it was cancelled"
        except Exception as error:  # the task failed or the cluster went: say so, once
            failure = f"a group of {len(members)} trials failed on Ray: {error}"
        if failure is not None:
            log.warning("%s", failure)
        self.training.ended(failure)

    def cancel(self) -> None:
        """Stop the tasks (the sweep's client left)."""
        import ray

        for stream in self.tasks:
            try:
                ray.cancel(stream)
            except Exception as error:  # already finished, or the cluster is gone
                log.info("a Ray task was not cancelled: %s", error)

    @property
    def done(self) -> bool:
        return self.training.pending == 0 and self.training.failure is None

    def summary(self) -> list[list[Any]]:
        with self.training.cond:
            return [list(row) for row in self.training.rows]

    def results(self) -> list[TrialResult]:
        with self.training.cond:
            return [TrialResult(**r) for r in self.training.results if r is not None]

    def curves(self) -> list[list[list[float | None]]]:
        with self.training.cond:
            return list(self.training.curves)
