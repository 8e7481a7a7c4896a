"""The runner's frame budget: while many sessions train on one worker, they share
FRAMES_PER_WORKER frames a second between them instead of each taking the rate it asked for;
every one of them still gets frames, and training speed is not what is rationed."""

from __future__ import annotations

import threading
import time
from collections import Counter

from torchplay.serve.runner import FRAMES_PER_WORKER, Runner, SessionHandle
from torchplay.spec.model import ExperimentSpec

SESSIONS = 12
WINDOW = 2.0  # seconds of frames counted


def test_many_sessions_share_the_frame_budget_and_each_gets_frames() -> None:
    # 2 ms slices: unbudgeted, 12 sessions at 60 frames/s would take ~500 frames/s in all
    runner = Runner(workers=1, max_sessions=SESSIONS, slice_seconds=0.002)
    handles: dict[int, SessionHandle] = {}
    frames: Counter[int] = Counter()
    lock = threading.Lock()
    warm = threading.Event()  # every session has shown two frames

    def notify(i: int):
        def take() -> None:
            handle = handles.get(i)
            if handle is not None:  # frames before open returned wait for the next notify
                with lock:
                    frames[i] += len(handle.mailbox.take()[1])
                    if len(frames) == SESSIONS and min(frames.values()) >= 2:
                        warm.set()
        return take

    try:
        spec = ExperimentSpec.model_validate({"probes": {"grid": 10, "neuron_grid": 4}})
        for i in range(SESSIONS):
            handles[i] = runner.open(spec, 60, notify(i))
        assert warm.wait(60), f"not every session showed frames: {frames}"
        with lock:
            before = Counter(frames)
        time.sleep(WINDOW)  # the measuring window
        with lock:
            got = {i: frames[i] - before[i] for i in range(SESSIONS)}
        steps = [h.session.runs[0].step_count for h in handles.values()]
    finally:
        runner.shutdown()
    total = sum(got.values())
    assert total <= FRAMES_PER_WORKER * WINDOW * 1.25, got
    assert min(got.values()) >= 1, got  # nobody is starved of frames
    assert min(steps) > 0, steps  # and all of them train
