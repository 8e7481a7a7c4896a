"""Do more training threads or more processes pay off for a class's default runs?

Run:  PYTHONPATH=backend python bench/cores.py [--sessions 8] [--seconds 6]  (~1 min)

The Runner alone (no sockets): --sessions TF Playground default runs (fps 30, frames taken
every 50 ms as a client would) trained (a) in one process on 1 and then 2 worker threads, and
(b) split over 1 and then 2 processes of one worker each, all measured over the same window
after a 3 s warm-up. Printed: total steps/s of each, and each 2-way setup over its 1-way
baseline measured in the same sitting. The default run's step is mostly Python (tiny tensors),
so threads share one interpreter lock: a second thread cannot add a core's worth; a second
process can, where the machine has the core free. The server's `--processes` default (one per
CPU) rests on this measurement.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

BACKEND = Path(__file__).resolve().parent.parent / "backend"


def train(sessions: int, workers: int, seconds: float, results: mp.Queue | None = None
          ) -> float:
    """Total steps/s of `sessions` default runs on `workers` threads of this process."""
    sys.path.insert(0, str(BACKEND))
    from torchplay.serve.runner import Runner
    from torchplay.spec.model import ExperimentSpec

    runner = Runner(workers=workers, max_sessions=sessions)
    try:
        handles = [runner.open(ExperimentSpec(), 30, lambda: None) for _ in range(sessions)]

        def steps() -> int:
            return sum(h.session.runs[0].step_count for h in handles)

        time.sleep(3)  # warm-up: past each run's tracing epoch
        before, start = steps(), time.perf_counter()
        while time.perf_counter() - start < seconds:
            time.sleep(0.05)  # a client's cadence: take the frames
            for h in handles:
                h.mailbox.take()
        rate = (steps() - before) / (time.perf_counter() - start)
    finally:
        runner.shutdown()
    if results is not None:
        results.put(rate)
    return rate


def in_processes(count: int, sessions: int, seconds: float) -> float:
    results: mp.Queue = mp.Queue()
    processes = [mp.Process(target=train, args=(sessions // count, 1, seconds, results))
                 for _ in range(count)]
    for process in processes:
        process.start()
    total = sum(results.get() for _ in processes)
    for process in processes:
        process.join()
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=6.0)
    args = parser.parse_args()
    mp.set_start_method("spawn")
    one = in_processes(1, args.sessions, args.seconds)  # 1 process, 1 thread
    results: mp.Queue = mp.Queue()
    threaded = mp.Process(target=train, args=(args.sessions, 2, args.seconds, results))
    threaded.start()
    two_threads = results.get()
    threaded.join()
    two_processes = in_processes(2, args.sessions, args.seconds)
    print(f"{args.sessions} default sessions: 1 process, 1 thread {one:.0f} steps/s | "
          f"2 threads {two_threads:.0f} steps/s = {two_threads / one:.2f}x | 2 processes "
          f"{two_processes:.0f} steps/s = {two_processes / one:.2f}x | CPUs usable "
          f"{len(os.sched_getaffinity(0))}")


if __name__ == "__main__":
    main()
