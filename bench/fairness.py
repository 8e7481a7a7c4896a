"""A bystander beside a heavy run, in one process: the Runner alone, no sockets or clients.

Run:  PYTHONPATH=backend python bench/fairness.py [--seconds 8] [--backend DIR]  (~45 s)

TF Playground's default (the bystander, fps 30) trains alone for --seconds, then beside the
heaviest run both compute limits allow (bench/class.py's EDGE: 20,000 points, full batch,
[96, 96] tanh, grid 200, neuron grid 64) on one training thread. Printed: the bystander's
steps/s beside the heavy run over its solo rate (fair share by time: ~50%; the issue measured
2% with turns), the largest gap between its frames and the heavy run's, and the CPU the
process got (cores: on a shared machine, less than 1 means other jobs took the rest). With
--backend, another checkout's backend/ is measured instead (e.g. a copy with the previous
round-robin runner, for an A/B in one sitting). Frames are taken from the mailboxes every
10 ms, as a fast client would. A third window measures the same while the heavy run is saved
again and again (api/experiments.save_live_run into a temporary SQLite store, each save as
soon as the last is written): the bystander's share and largest frame gap, and the saves'
count and durations.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from pathlib import Path

EDGE = {"data": {"kind": "circle", "points": 20_000},
        "network": {"layers": [{"type": "linear", "units": 96}, {"type": "activation"},
                               {"type": "linear", "units": 96}, {"type": "activation"}]},
        "training": {"batch_size": 20_000}, "probes": {"grid": 200, "neuron_grid": 64}}


def steps(handle) -> int:
    return handle.session.runs[0].step_count


def window(handles: list, seconds: float) -> tuple[list[float], list[float], float]:
    """Steps/s and largest frame gap of each handle over `seconds`, and the cores used."""
    last: dict[int, float | None] = {h.id: None for h in handles}
    gaps: dict[int, float] = {h.id: 0.0 for h in handles}
    before = [steps(h) for h in handles]
    cpu, start = time.process_time(), time.perf_counter()
    while time.perf_counter() - start < seconds:
        time.sleep(0.01)  # a fast client's cadence
        for h in handles:
            if h.mailbox.take()[1]:
                now = time.perf_counter()
                if last[h.id] is not None:
                    gaps[h.id] = max(gaps[h.id], now - last[h.id])
                last[h.id] = now
    wall = time.perf_counter() - start
    rates = [(steps(h) - s) / wall for h, s in zip(handles, before, strict=True)]
    return rates, [gaps[h.id] for h in handles], (time.process_time() - cpu) / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--backend", type=Path,
                        default=Path(__file__).resolve().parent.parent / "backend")
    args = parser.parse_args()
    sys.path.insert(0, str(args.backend))
    from torchplay.serve.runner import Runner
    from torchplay.spec.model import ExperimentSpec

    runner = Runner(workers=1)
    try:
        bystander = runner.open(ExperimentSpec(), 30, lambda: None)
        window([bystander], 2)  # warm-up: past the bystander's tracing epoch
        (solo,), _, solo_cores = window([bystander], args.seconds)
        heavy = runner.open(ExperimentSpec.model_validate(EDGE), 30, lambda: None)
        window([bystander, heavy], 2)
        (beside, heavy_rate), (gap, heavy_gap), cores = window([bystander, heavy], args.seconds)
        with tempfile.TemporaryDirectory() as tmp:
            saves, (saving, _), (save_gap, _), save_cores = while_saving(
                runner, heavy, [bystander, heavy], args.seconds, Path(tmp) / "bench.sqlite3")
    finally:
        runner.shutdown()
    print(f"bystander solo {solo:.0f} steps/s (cores {solo_cores:.2f}) | beside the heavy run "
          f"{beside:.0f} steps/s = {beside / solo:.0%} of solo | largest frame gap "
          f"{gap * 1000:.0f} ms | heavy run {heavy_rate:.2f} steps/s, largest frame gap "
          f"{heavy_gap * 1000:.0f} ms (cores {cores:.2f})")
    print(f"while the heavy run saves: bystander {saving:.0f} steps/s = {saving / solo:.0%} of "
          f"solo (goal >= 40%) | largest frame gap {save_gap * 1000:.0f} ms (goal < 1000) | "
          f"{len(saves)} saves, {min(saves, default=0) * 1000:.0f}-"
          f"{max(saves, default=0) * 1000:.0f} ms each (cores {save_cores:.2f})")


def while_saving(runner, heavy, handles: list, seconds: float, db: Path
                 ) -> tuple[list[float], list[float], list[float], float]:
    """window() while another thread saves `heavy` over and over (as its client's `save`
    would, through save_live_run); also the saves' durations."""
    from torchplay.api.experiments import save_live_run
    from torchplay.store.access import Limits
    from torchplay.store.experiments import open_store

    store = open_store(str(db), Limits(0, 0, 0, 0, 0))  # no quotas: the bench saves often
    durations: list[float] = []
    done = threading.Event()

    def save_again_and_again() -> None:
        while not done.is_set():
            started = time.perf_counter()
            reply = asyncio.run(save_live_run(runner, store, heavy, "bench", ""))
            assert reply["type"] == "saved", reply
            durations.append(time.perf_counter() - started)

    saver = threading.Thread(target=save_again_and_again)
    saver.start()
    try:
        rates, gaps, cores = window(handles, seconds)
    finally:
        done.set()
        saver.join()
        store.close()
    return durations, rates, gaps, cores


if __name__ == "__main__":
    main()
