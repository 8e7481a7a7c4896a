"""Train a lesson's variants the way the page trains them: side by side, as one Training.

Variants that `batched.check_batchable` accepts together (same layer stack, batch size, data
size and optimizer kind among sgd/adam/adamw) are stepped as one batch; the rest (BatchNorm,
PReLU, other stacks, batch sizes or feature counts, RMSprop, Adagrad) alone. Either way each
variant is a Run (engine/run.py) holding its own history, counters, events and weights, and
follows the same rules: its own epoch limit, early stopping and divergence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from torchplay.engine.group import RunView, Training, batchable_groups
from torchplay.engine.run import resolve_device
from torchplay.spec.model import ExperimentSpec

__all__ = ["Watcher", "batch_groups", "run_variants"]

batch_groups = batchable_groups  # which specs the Training steps as one batch
Watcher = Callable[[int, RunView], None]  # (variant index, its run) after a probed step


def run_variants(specs: Sequence[ExperimentSpec], steps: int | None = None,
                 device: torch.device | None = None, probe_every: int = 0,
                 on_probe: Watcher | None = None) -> list[RunView]:
    """Train every spec for `steps` optimizer steps (None: each for its own
    `training.epochs`), side by side, and return a view of each one's run (its fields and
    its frame), in the given order. A run stops on its own where it would alone (its epoch
    limit, early stopping, divergence); the last step before each stop is a probed one, so
    `run.last_layers` holds its per-layer statistics. With probe_every = k > 0, every k-th
    step is probed too, as the page probes a step whenever a frame is due, and
    `on_probe(index, run)` is called after each such step for each run that took it."""
    device = device or resolve_device(specs[0].training.device)
    training = Training(specs, device)
    if steps is None:
        if any(spec.training.epochs is None for spec in specs):
            raise ValueError("give steps, or set training.epochs in every spec")
        training.resume()
    else:
        training.request(steps)
    views = [RunView(training, k) for k in range(len(specs))]
    n = 0
    while training.wants_work:
        n += 1
        probed = probe_every > 0 and n % probe_every == 0
        took = [run.active for run in training.runs]
        training.step(probe=probed)
        if probed and on_probe is not None:
            for k, view in enumerate(views):
                if took[k]:
                    on_probe(k, view)
    return views
