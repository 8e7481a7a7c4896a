"""The frame contract for large data sets: what a frame evaluates and what `ready` carries.

A set is large when its training inputs hold more than LARGE_VALUES numbers (Fashion-MNIST's
60,000 x 784 images are 47 million; digits' 900 x 64 are 58 thousand). For a large set:
- once an epoch (the history's rows) the whole test set is evaluated, and the training
  figures are the epoch's own mini-batches' as they trained (Run.tally: mean loss and accuracy,
  train mode, as the course's loop reports them; a second pass over the training set would
  cost a third of an epoch). The frames in between evaluate a fixed sample: the first
  FRAME_SAMPLE points of each set (a
  frame says which in `evaluated_on`, and the page says so beside the figures), at most
  FIGURES_PER_SECOND times a second while the run trains (frames between repeat the last
  figures: an evaluation of 1,000 images costs about a training step, and at 30 frames a second
  would slow training by a fifth) and always once it stops;
- a step takes its mini-batch by index from the shared inputs instead of gathering a shuffled
  copy of the whole set each epoch.
For every library set, `ready` carries a bounded sample of the points (READY_VALUES numbers of
inputs per split at most) with the set's counts, column names and class names, not the set.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from torchplay.data.toy import Points
from torchplay.spec.model import FRAME_SAMPLE, LARGE_VALUES

FIGURES_PER_SECOND = 4.0
READY_VALUES = 10_000
READY_ROWS = 200


class Throttle:
    """Whether something measured of a run is due again: never twice for one step, at most
    once per `interval` seconds while the run trains, and always once it has stopped."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self.reset()

    def reset(self) -> None:
        self._last: tuple[int, float] | None = None  # step, time

    def due(self, step: int, settled: bool) -> bool:
        if self._last is None:
            return True
        last_step, last_time = self._last
        if step == last_step:
            return False
        return settled or time.perf_counter() - last_time >= self.interval

    def mark(self, step: int) -> None:
        self._last = (step, time.perf_counter())


def is_large(points: Points) -> bool:
    return points.train_x.size > LARGE_VALUES


def frame_sets(large: bool, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
               y_test: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """What a frame evaluates: the whole sets, or (large) the first FRAME_SAMPLE of each."""
    if not large:
        return x_train, y_train, x_test, y_test
    n = FRAME_SAMPLE
    return x_train[:n], y_train[:n], x_test[:n], y_test[:n]


def evaluated_on(large: bool, train: int, test: int) -> dict[str, Any]:
    """A frame's `evaluated_on`: how many points its figures come from, and whether that is a
    fixed sample rather than the whole sets."""
    if not large:
        return {"train": train, "test": test, "sample": False}
    return {"train": min(train, FRAME_SAMPLE), "test": min(test, FRAME_SAMPLE), "sample": True}


def _rows(x: np.ndarray, n: int, decimals: int) -> list[Any]:
    return x[:n].round(decimals).tolist()


def ready_data(points: Points, library: bool) -> dict[str, Any]:
    """`ready`'s data: every point of a generated set (at most 20,000 x 2), or a bounded sample
    of a library set's."""
    p = points
    info: dict[str, Any] = {"columns": p.columns, "class_names": p.class_names,
                            "image_shape": list(p.image_shape) if p.image_shape else None,
                            "train_count": len(p.train_y), "test_count": len(p.test_y)}
    if not library:
        return {"train_x": p.train_x.tolist(), "train_y": p.train_y.tolist(),
                "test_x": p.test_x.tolist(), "test_y": p.test_y.tolist(),
                "extent": list(p.extent), "sampled": False, **info}
    rows = max(1, min(READY_ROWS, READY_VALUES // len(p.columns)))
    decimals = 2 if p.image_shape else 4
    return {"train_x": _rows(p.train_x, rows, decimals), "train_y": p.train_y[:rows].tolist(),
            "test_x": _rows(p.test_x, rows, decimals), "test_y": p.test_y[:rows].tolist(),
            "extent": list(p.extent),
            "sampled": rows < len(p.train_y) or rows < len(p.test_y), **info}
