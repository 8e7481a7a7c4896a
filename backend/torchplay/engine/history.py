"""The run's curves: every step's mini-batch loss and every epoch's evaluation, kept complete.

Readers (one per connected client) hold a cursor and take only what is new, so a curve reaches
each client whole however many frames were skipped. Memory is bounded: past MAX_POINTS a series
keeps every second point and says so (`stride`); a reader whose cursor predates that gets the
whole series again (`replace`).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass

MAX_POINTS = 100_000

STEP_COLUMNS = ("step", "loss")
EVAL_COLUMNS = ("epoch", "step", "lr", "train_loss", "test_loss", "train_metric", "test_metric")


@dataclass(frozen=True)
class Cursor:
    """How much of the history a reader has already taken."""

    generation: int = -1
    steps: int = 0
    evals: int = 0


class Series:
    """Columnar rows of floats that thin themselves to stay under MAX_POINTS."""

    def __init__(self, columns: tuple[str, ...]) -> None:
        self.columns = columns
        self.data: dict[str, list[float | None]] = {c: [] for c in columns}
        self.stride = 1
        self._skip = 0  # rows dropped since the last kept one, while thinned

    def __len__(self) -> int:
        return len(self.data[self.columns[0]])

    def append(self, row: tuple[float | None, ...]) -> bool:
        """Add one row; True when the series was thinned (readers must start over)."""
        self._skip += 1
        if self._skip < self.stride:
            return False
        self._skip = 0
        for column, value in zip(self.columns, row, strict=True):
            self.data[column].append(value)
        if len(self) < MAX_POINTS:
            return False
        self.data = {c: values[1::2] for c, values in self.data.items()}
        self.stride *= 2
        return True

    def extend(self, columns: Sequence[Sequence[float | None]]) -> bool:
        """Add many rows, given as one sequence per column; True when the series was
        thinned."""
        if self.stride == 1 and len(self) + len(columns[0]) < MAX_POINTS:
            for column, values in zip(self.columns, columns, strict=True):
                self.data[column].extend(values)
            return False
        thinned = False
        for row in zip(*columns, strict=True):
            thinned = self.append(row) or thinned
        return thinned

    def since(self, start: int, stop: int | None = None) -> dict[str, object]:
        return {"stride": self.stride, **{c: v[start:stop] for c, v in self.data.items()}}


class History:
    """Both series of one run, shared between the training thread and the readers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.generation = 0
        self.steps = Series(STEP_COLUMNS)
        self.evals = Series(EVAL_COLUMNS)

    def add_step(self, step: int, loss: float) -> None:
        with self._lock:
            if self.steps.append((step, loss)):
                self.generation += 1

    def add_steps(self, steps: Sequence[int], losses: Sequence[float]) -> None:
        """Add many steps' losses at once (runs trained side by side flush in bulk)."""
        with self._lock:
            if steps and self.steps.extend((steps, losses)):
                self.generation += 1

    def add_eval(self, row: tuple[float | None, ...]) -> None:
        with self._lock:
            if self.evals.append(row):
                self.generation += 1

    def clear(self) -> None:
        with self._lock:
            self.steps = Series(STEP_COLUMNS)
            self.evals = Series(EVAL_COLUMNS)
            self.generation += 1

    def mark(self) -> Cursor:
        """Where the history stands now: a frame built now shows exactly this much of it."""
        with self._lock:
            return Cursor(self.generation, len(self.steps), len(self.evals))

    def since(self, cursor: Cursor, upto: Cursor | None = None) -> tuple[dict[str, object], Cursor]:
        """What is new to a reader at `cursor` (only up to `upto`, a mark, when given), and its
        next cursor. A mark taken before a clear or a thinning no longer fits: KeyError."""
        with self._lock:
            if upto is not None and upto.generation != self.generation:
                raise KeyError("the history was cleared or thinned after this mark")
            end = upto or Cursor(self.generation, len(self.steps), len(self.evals))
            replace = cursor.generation != self.generation
            steps_from = 0 if replace else cursor.steps
            evals_from = 0 if replace else cursor.evals
            delta = {"replace": replace, "steps": self.steps.since(steps_from, end.steps),
                     "evals": self.evals.since(evals_from, end.evals)}
            return delta, end
