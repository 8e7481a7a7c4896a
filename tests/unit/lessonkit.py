"""What the lesson tests share: the seeds they try, and training a lesson as the page does.

Every lesson test runs over SEEDS, five (data seed, training seed) pairs drawn at random once
(none is a catalogue's own), so a card's claim is checked on samples and initialisations it
was not tuned on. Variants train as the page trains them (`lessons.batch_groups`: side by side
in one batch when all of them can share it, else each alone), so a test sees the numbers a
learner sees. Each test prints what it measured: run with -s to read them.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from torchplay.engine.group import RunView
from torchplay.engine.session import TrainingSession
from torchplay.lessons import lesson_specs, load_lessons, run_variants
from torchplay.lessons.runs import Watcher
from torchplay.spec.model import ExperimentSpec, merge_patch

CPU = torch.device("cpu")
LESSONS = {lesson.id: lesson for lesson in load_lessons()}

SEEDS = [(803136, 461419), (165074, 297924), (623845, 918612), (68565, 399059),
         (473826, 206352)]
seeded = pytest.mark.parametrize("seed", SEEDS, ids=[f"data{d}-train{t}" for d, t in SEEDS])
Seed = tuple[int, int]


def specs(lesson_id: str, seed: Seed | None = None) -> list[ExperimentSpec]:
    """The lesson's specs in the page's order, with data.seed and training.seed replaced."""
    found = [spec for _, spec in lesson_specs(LESSONS[lesson_id])]
    if seed is None:
        return found
    patch = {"data": {"seed": seed[0]}, "training": {"seed": seed[1]}}
    return [ExperimentSpec.model_validate(merge_patch(s.model_dump(), patch)) for s in found]


def train(found: list[ExperimentSpec], steps: int | None = None, probe_last: bool = False,
          probe_every: int = 0, on_probe: Watcher | None = None) -> list[RunView]:
    """Train as the page does: side by side when all can share a batch, else each alone."""
    # the step before each stop is probed whatever probe_last says (engine/group.py)
    return run_variants(found, steps, CPU, probe_every=probe_every, on_probe=on_probe)


def run(lesson_id: str, seed: Seed | None = None, steps: int | None = None,
        probe_last: bool = False) -> list[RunView]:
    return train(specs(lesson_id, seed), steps, probe_last)


def final(session: TrainingSession, column: str) -> float:
    """The latest evaluation's value (train_loss, test_loss, train_metric, test_metric, lr)."""
    value = session.history.evals.data[column][-1]
    assert value is not None, f"{column} is not finite"
    return value


def steps_to(session: TrainingSession, threshold: float) -> int | None:
    """First step at whose epoch-end evaluation the train loss is below threshold."""
    evals = session.history.evals.data
    for step, loss in zip(evals["step"], evals["train_loss"], strict=True):
        if loss is not None and loss < threshold:
            return int(step)
    return None


def probed_steps(spec: ExperimentSpec, steps: int) -> list[dict[str, list[float | None]]]:
    """Per-layer statistics of the first `steps` training steps from fresh weights, each
    probed (a lone run: what the page shows for a variant that trains alone)."""
    session = TrainingSession(spec, CPU)
    rows = []
    for _ in range(steps):
        session.step(probe=True)
        assert session.last_layers is not None
        rows.append(session.last_layers)
    return rows


def first_step(spec: ExperimentSpec) -> dict[str, list[float | None]]:
    """Per-layer statistics of one probed training step from fresh weights."""
    return probed_steps(spec, 1)[0]


def present(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def linear_weights(session: TrainingSession) -> torch.Tensor:
    return torch.cat([m.weight.detach().flatten() for m in session.model
                      if isinstance(m, nn.Linear)])


def finite(session: TrainingSession) -> bool:
    """The run did not diverge and every parameter is a finite number: statistics of a dead
    or broken model must not pass for a healthy one's."""
    return not session.diverged and all(bool(torch.isfinite(p).all())
                                        for p in session.model.parameters())
