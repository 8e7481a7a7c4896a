"""Train a lesson's variants: side by side where they can share a batch, alone otherwise.

Variants that `batched.check_batchable` accepts together (same layer stack, batch size, data
size and optimizer kind among sgd/adam/adamw) and that run for the same number of epochs train
as one `BatchedRuns`; the rest (BatchNorm, PReLU, other stacks, batch sizes or feature counts,
RMSprop, Adagrad, early stopping) train as plain `TrainingSession`s. Either way each variant
ends as a TrainingSession holding its own history, counters and weights.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from torchplay.engine.session import TrainingSession, resolve_device
from torchplay.engine.steppers.batched import BatchedRuns, check_batchable
from torchplay.spec.model import ExperimentSpec, SpecError


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


def run_variants(specs: Sequence[ExperimentSpec], steps: int | None = None,
                 device: torch.device | None = None,
                 probe_last: bool = True) -> list[TrainingSession]:
    """Train every spec for `steps` optimizer steps (None: its own `training.epochs`) and
    return one up-to-date session per spec, in the given order.

    A lone session stops early when it diverges or stops early (early stopping), as it would
    on the server; a batched group runs its steps in full (a diverged variant's session is
    marked diverged and its history ends at the step that broke; early stopping is not
    applied to batched runs, so give such specs a batch of their own). With probe_last, the last
    step is a probed one, so `session.last_layers` holds its per-layer statistics.
    """
    device = device or resolve_device(specs[0].training.device)
    sessions: list[TrainingSession | None] = [None] * len(specs)
    for group in batch_groups(specs):
        chosen = [specs[i] for i in group]
        if len(group) == 1:
            session = TrainingSession(chosen[0], device)
            _run_alone(session, steps, probe_last)
            sessions[group[0]] = session
            continue
        runs = BatchedRuns(chosen, device)
        total = steps if steps is not None else _steps_for(runs.sessions[0])
        for n in range(total):
            runs.step(probe=probe_last and n == total - 1)
        runs.sync()
        for i, session in zip(group, runs.sessions, strict=True):
            sessions[i] = session
    return [s for s in sessions if s is not None]


def _steps_for(session: TrainingSession) -> int:
    epochs = session.spec.training.epochs
    if epochs is None:
        raise ValueError("give steps, or set training.epochs in every spec")
    return epochs * session.steps_per_epoch


def _run_alone(session: TrainingSession, steps: int | None, probe_last: bool) -> None:
    """Step a lone session until `steps` are done or it stops itself (diverged or
    early_stopped; its epoch limit is where `steps` ends anyway when steps is None)."""
    total = steps if steps is not None else _steps_for(session)
    for n in range(total):
        if session.diverged or any(e["event"] == "early_stopped" for e in session.events):
            break
        session.step(probe=probe_last and n == total - 1)
