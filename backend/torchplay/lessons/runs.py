"""Train a lesson's variants: side by side where they can share a batch, alone otherwise.

Variants that `batched.check_batchable` accepts together (same layer stack, batch size, data
size and optimizer kind among sgd/adam/adamw) and that run for the same number of epochs train
as one `BatchedRuns`; the rest (BatchNorm, PReLU, other stacks, batch sizes or feature counts,
RMSprop, Adagrad, early stopping) train as plain `TrainingSession`s. Either way each variant
ends as a TrainingSession holding its own history, counters and weights.

Two groupings: `batch_groups` batches greedily (as many variants per batch as can share one),
`page_groups` as the page's RunGroup does (engine/group.py): every variant in one batch when
all can share it, else every variant alone. The lesson tests use the page's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from torchplay.engine.session import TrainingSession, resolve_device
from torchplay.engine.steppers.batched import BatchedRuns, check_batchable
from torchplay.spec.model import ExperimentSpec, SpecError

Watcher = Callable[[int, TrainingSession], None]  # (variant index, its session) after a probe


def batch_groups(specs: Sequence[ExperimentSpec]) -> list[list[int]]:
    """Indices of specs grouped greedily, in order, so that each group can train as one batch
    (a group of one trains alone)."""
    groups: list[list[int]] = []
    for i, spec in enumerate(specs):
        if spec.regularization.early_stopping.enabled:  # BatchedRuns does not stop early
            groups.append([i])
            continue
        for group in groups:
            first = specs[group[0]]
            if first.regularization.early_stopping.enabled or \
                    first.training.epochs != spec.training.epochs:  # one step count per batch
                continue
            try:
                check_batchable([specs[j] for j in group] + [spec])
            except SpecError:
                continue
            group.append(i)
            break
        else:
            groups.append([i])
    return groups


def page_groups(specs: Sequence[ExperimentSpec]) -> list[list[int]]:
    """The grouping of a lesson's variants on the page (RunGroup.reset): one batch of all of
    them when `check_batchable` accepts them together, else each alone."""
    try:
        check_batchable(specs)
    except SpecError:
        return [[i] for i in range(len(specs))]
    return [list(range(len(specs)))]


def run_variants(specs: Sequence[ExperimentSpec], steps: int | None = None,
                 device: torch.device | None = None, probe_last: bool = True,
                 grouping: Callable[[Sequence[ExperimentSpec]], list[list[int]]] = batch_groups,
                 probe_every: int = 0, on_probe: Watcher | None = None,
                 ) -> list[TrainingSession]:
    """Train every spec for `steps` optimizer steps (None: its own `training.epochs`) and
    return one up-to-date session per spec, in the given order, grouped by `grouping`
    (batch_groups or page_groups).

    A lone session stops early when it diverges or stops early (early stopping), as it would
    on the server; a batched group runs its steps in full (a diverged variant's session is
    marked diverged and its history ends at the step that broke; early stopping is not
    applied to batched runs, so give such specs a batch of their own). With probe_last, the last
    step is a probed one, so `session.last_layers` holds its per-layer statistics. With
    probe_every = k > 0, every k-th step is probed too, as the page probes a step whenever a
    frame is due, and `on_probe(index, session)` is called after each probed step of each
    variant (index: its place in `specs`), to read `session.last_layers`.
    """
    device = device or resolve_device(specs[0].training.device)
    sessions: list[TrainingSession | None] = [None] * len(specs)
    for group in grouping(specs):
        chosen = [specs[i] for i in group]
        if len(group) == 1:
            session = TrainingSession(chosen[0], device)
            total = steps if steps is not None else _steps_for(session)
            for n in range(total):
                if session.diverged or any(e["event"] == "early_stopped"
                                           for e in session.events):
                    break  # as on the server: a lone run stops itself
                probe = _probed(n, total, probe_last, probe_every)
                session.step(probe=probe)
                if probe and on_probe is not None:
                    on_probe(group[0], session)
            sessions[group[0]] = session
            continue
        runs = BatchedRuns(chosen, device)
        total = steps if steps is not None else _steps_for(runs.sessions[0])
        for n in range(total):
            probe = _probed(n, total, probe_last, probe_every)
            runs.step(probe=probe)
            if probe and on_probe is not None:
                for i, session in zip(group, runs.sessions, strict=True):
                    on_probe(i, session)
        runs.sync()
        for i, session in zip(group, runs.sessions, strict=True):
            sessions[i] = session
    return [s for s in sessions if s is not None]


def _steps_for(session: TrainingSession) -> int:
    epochs = session.spec.training.epochs
    if epochs is None:
        raise ValueError("give steps, or set training.epochs in every spec")
    return epochs * session.steps_per_epoch


def _probed(n: int, total: int, probe_last: bool, probe_every: int) -> bool:
    """Whether step n (from 0) of `total` is a probed one."""
    return (probe_last and n == total - 1) or (probe_every > 0 and (n + 1) % probe_every == 0)
