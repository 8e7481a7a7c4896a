"""A training process settles its memory at start (serve/memory.py): a full garbage collection
then walks the sessions' own objects only, not torch's and the recorder's, and none starts
inside a session's slice. Checked in a fresh interpreter: freezing is for the whole process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

BACKEND = Path(__file__).resolve().parents[2] / "backend"
PROBE = """
import gc, json, threading
from torchplay.engine.session import TrainingSession
from torchplay.serve.memory import NEVER, settle
from torchplay.spec.model import ExperimentSpec

gc.collect()
unsettled = len(gc.get_objects())  # what a full collection walks before settling
settle(train=True)
sessions = []
for _ in range(10):  # ten sessions trained past their recording, each with a frame
    session = TrainingSession(ExperimentSpec())
    for _ in range(60):
        session.step()
    session.frames()
    sessions.append(session)
gc.collect()  # what is left: what the next full collection walks, besides new garbage
print(json.dumps({
    "unsettled": unsettled, "walked": len(gc.get_objects()),
    "full_threshold": gc.get_threshold()[2], "never": NEVER,
    "collector": any(t.name == "torchplay-gc" for t in threading.enumerate())}))
"""


def test_a_full_collection_walks_the_sessions_objects_only() -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(BACKEND), os.environ.get("PYTHONPATH")]))}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          env=env, timeout=300, check=True)
    got = json.loads(done.stdout.strip().splitlines()[-1])
    assert got["unsettled"] > 100_000, got  # torch's import alone: the case is real
    # ten live sessions leave a walk of a few thousand objects, not hundreds of thousands
    assert got["walked"] < 10_000, got
    assert got["full_threshold"] == got["never"], got  # none starts by itself...
    assert got["collector"], got  # ...a thread of its own runs them
