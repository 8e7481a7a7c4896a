"""Fair shares of the training threads, by compute time rather than by turns.

Each live session is charged the CPU time its worker thread spends on it (steps, frames,
evaluation, controls and whatever a `call` runs: a save's snapshot), and that of work done for
it aside (Runner.aside: a save's serialising and writing), not wall time, which on a
shared machine also counts waiting for the GIL and for other processes. The next session a free
worker takes is the runnable one charged least, so over any stretch where n sessions want work
each gets 1/n of the workers' time however costly its steps, frames or saves are. A session
that was idle (paused, or waiting for its client) comes back charged no less than the
least-charged runnable one minus one GRACE: an idle spell is not banked as credit to take back
later in a burst.

A group of runs side by side (RunGroup) is one session here: it is charged its whole step, so
K variants share one session's time, as a lone run would.

How long one unit of work may hold a worker is the spec's business (spec/model.py's compute
limits per step and per frame bound it); this module decides only the order. Pure Python, no
torch: the runner calls it under its own lock, so it needs none of its own.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Generic, TypeVar

GRACE = 0.05  # seconds of compute an idle session may be behind the others when it returns

T = TypeVar("T")


class FairQueue(Generic[T]):
    """Runnable items ordered by the compute time charged to each (the least goes first).
    Not thread-safe: the caller holds a lock."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, T]] = []
        self._order = itertools.count()  # ties go first come, first served
        self._used: dict[int, float] = {}  # id(item) -> seconds charged
        self._floor = 0.0  # charge of the item last taken: where the queue stands now

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, item: T) -> None:
        """Queue an item that has work; an item back from idling starts near the others."""
        key = id(item)
        used = max(self._used.get(key, 0.0), self._floor - GRACE)
        self._used[key] = used
        heapq.heappush(self._heap, (used, next(self._order), item))

    def pop(self) -> T:
        """The runnable item charged least (the queue must not be empty)."""
        used, _, item = heapq.heappop(self._heap)
        self._floor = max(self._floor, used)
        return item

    def charge(self, item: T, seconds: float) -> None:
        """Add the compute time an item just used (while it is out of the queue)."""
        key = id(item)
        self._used[key] = self._used.get(key, self._floor) + seconds

    def forget(self, item: T) -> None:
        """Drop an item's account (a closed session); if it is still queued it is skipped by
        whoever pops it, as the runner checks `closed`."""
        self._used.pop(id(item), None)

    def used(self, item: T) -> float:
        """Seconds charged to an item so far (since it was last forgotten)."""
        return self._used.get(id(item), 0.0)

    def clear(self) -> None:
        self._heap.clear()
        self._used.clear()
