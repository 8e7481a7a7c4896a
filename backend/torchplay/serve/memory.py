"""A server process's memory, kept out of its sessions' way.

Python's full garbage collection walks every object the process keeps, holding the interpreter
lock. torch alone brings ~176,000 objects and a first run ~125,000 more (the recorder's
modules, imported on first use): ~150 ms a walk, and a class's sessions set one off every few
seconds, stalling every session in the process (50 sessions: pings of 190 ms, bench/class.py).
So:
- `settle`, once at start: load what a first run loads, then freeze everything the process
  holds (gc.freeze), so that no walk visits it again. Only what exists at start is frozen:
  nothing a closed session leaves behind is kept.
- A training process then never starts a full collection by itself: one would land inside
  some session's slice (a walk of the sessions' own objects still took ~27 ms) and be charged
  to that session, which then waited 0.7 s for its next turn among 25. A thread of its own
  runs one every FULL_COLLECTION_SECONDS instead: the worker it pauses is waiting for the
  interpreter lock, not using CPU, so no session is charged for it. Young objects are still
  collected as usual.
"""

from __future__ import annotations

import gc
import threading
import time

from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec

FULL_COLLECTION_SECONDS = 30.0
NEVER = 1 << 30  # gen-1 collections before a full one: none happens by itself


def settle(train: bool) -> None:
    """train: this process trains (run TF Playground's default setup through its recording
    and a frame first, and leave full collections to a thread of their own); a relay only
    freezes what it has."""
    if train:
        session = TrainingSession(ExperimentSpec())
        for _ in range(3 * session.steps_per_epoch):  # the second epoch records its step
            session.step()
        session.frames()
    gc.collect()
    gc.freeze()
    if train:
        young, middle, _ = gc.get_threshold()
        gc.set_threshold(young, middle, NEVER)
        threading.Thread(target=_collect_forever, name="torchplay-gc", daemon=True).start()


def _collect_forever() -> None:
    while True:
        time.sleep(FULL_COLLECTION_SECONDS)  # a period, not a synchronisation
        gc.collect()
