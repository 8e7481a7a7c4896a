"""A class on one server: a bystander beside a heavy run, and fifty sessions at once.

Run:  PYTHONPATH=backend python bench/class.py [--seconds 15] [--processes 1 2]
      [--workers 1]  (~2-3 min per setup)

Starts `python -m torchplay --port 0` (tests/conftest.start_server: temp db) and measures with
websockets asyncio clients in this process (compression off, loopback). Every client reads all
it is sent; epochs/s = steps advanced over the window / steps_per_epoch, from frame arrivals.
  bystander  (a) TF Playground's default (`{}`, fps 30) alone for --seconds: its solo rate; then
             beside the heaviest run both compute limits allow (20,000 points, full batch,
             [96, 96] tanh, grid 200, neuron grid 64: EDGE), whose client also `save`s
             every 2 s. Printed: the bystander's share of its solo rate (goal >= 40%, fair share
             50% on one worker), its largest gap between frames (goal < 1 s), the heavy run's
             rate, and how long its saves took.
  class      (b) one default session alone, then 50 at once (fps 30): total epochs/s over the
             lone session's (goal >= 1.5x, using both cores), fairness max/min of the sessions'
             rates (goal <= 1.2), app-level ping round trips p50/p99 (each client pings every
             0.5 s; goal p99 < 100 ms), frames per second per client.
Once per --processes value (training processes: 1 trains in the server's own process, 2 in two
children behind its relay; serve/shards.py), each with --workers training threads.
Times drift 20-30% between runs on this shared machine: read the ratios, each measured in one
run against its own baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import start_server, stop_server  # noqa: E402

TIMEOUT = 60.0
EDGE = {"data": {"kind": "circle", "points": 20_000},
        "network": {"layers": [{"type": "linear", "units": 96}, {"type": "activation"},
                               {"type": "linear", "units": 96}, {"type": "activation"}]},
        "training": {"batch_size": 20_000}, "probes": {"grid": 200, "neuron_grid": 64}}
now = time.perf_counter


@dataclass
class Run:
    """One client's view of its run over a measuring window."""

    ws: ClientConnection
    steps_per_epoch: int
    frames: list[tuple[float, int]] = field(default_factory=list)  # (arrival, step)
    pings: list[float] = field(default_factory=list)  # round trips, seconds
    saves: list[float] = field(default_factory=list)
    sent: dict[int, float] = field(default_factory=dict)
    saving: float | None = None
    measuring: bool = False
    seen: int = 0  # frames received, measuring or not
    step: int = 0  # the step of the last frame received
    settled: bool = False  # its step is on its lasting path (recorded, not still eager)
    reader: asyncio.Task[None] | None = None

    def rate(self) -> float:
        if len(self.frames) < 2:
            return 0.0
        (t0, s0), (t1, s1) = self.frames[0], self.frames[-1]
        return (s1 - s0) / self.steps_per_epoch / (t1 - t0) if t1 > t0 else 0.0

    def max_gap(self) -> float:
        times = [t for t, _ in self.frames]
        return max((b - a for a, b in zip(times, times[1:], strict=False)), default=0.0)


async def open_run(url: str, spec: dict[str, Any], fps: float = 30) -> Run:
    ws = await connect(url, max_size=None, compression=None, open_timeout=TIMEOUT)
    await ws.send(orjson.dumps({"type": "start", "spec": spec, "fps": fps}).decode())
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))
        if message["type"] == "error":
            raise RuntimeError(message["message"])
        if message["type"] == "ready":
            run = Run(ws, message["summary"]["steps_per_epoch"])
            # read from now on: a client that stops reading has its run paused (api/ws.py)
            run.reader = asyncio.create_task(read(run))
            return run


async def read(run: Run) -> None:
    """Read everything, forever; record frames, pongs and saves while measuring."""
    async for raw in run.ws:
        message = orjson.loads(raw)
        kind = message["type"]
        if kind == "frame":
            run.seen, run.step = run.seen + 1, message["step"]
            # eager only for now (first epoch, or waiting to record): not yet its lasting pace
            reason = message.get("path_reason") or ""
            run.settled = message["path"] != "eager" or not reason.startswith(
                ("the first epoch", "another recording"))
        if not run.measuring:
            continue
        if kind == "frame":
            run.frames.append((now(), message["step"]))
        elif kind == "pong" and message["id"] in run.sent:
            run.pings.append(now() - run.sent.pop(message["id"]))
        elif kind == "event" and message["event"] == "stalled":
            print("  (a bench client was too slow to read: its run was paused)")
        elif kind in ("saved", "error") and run.saving is not None:
            run.saves.append(now() - run.saving)
            run.saving = None


async def ping(run: Run, every: float) -> None:
    for i in range(1, 1_000_000):
        await asyncio.sleep(every)  # the client's own cadence, not a synchronisation
        if run.measuring:
            run.sent[i] = now()
            await run.ws.send(orjson.dumps({"type": "ping", "id": i}).decode())


async def save(run: Run, every: float) -> None:
    while True:
        await asyncio.sleep(every)  # the client's own cadence
        if run.measuring and run.saving is None:
            run.saving = now()
            await run.ws.send('{"type": "save", "name": "bench"}')


async def measure(runs: list[Run], seconds: float, pings: bool = False,
                  saving: Run | None = None) -> None:
    """Warm up until every run has shown 3 frames, reached its third epoch and trains on its
    lasting path (its one-time costs are paid: a session records its step in its second
    epoch, ~40 ms of CPU each, which 50 sessions on a loaded machine take a while to pay), and
    at least 1 s; then measure every run over `seconds` at once."""
    tasks = [r.reader for r in runs if r.reader is not None]
    if pings:
        tasks += [asyncio.create_task(ping(r, 0.5)) for r in runs]
    if saving is not None:
        tasks.append(asyncio.create_task(save(saving, 2.0)))
    await asyncio.sleep(1.0)  # warm-up: the window starts after it
    deadline = now() + 180

    def warm(r: Run) -> bool:
        return r.seen >= 3 and r.step > 2 * r.steps_per_epoch and r.settled

    while now() < deadline and not all(warm(r) for r in runs):
        await asyncio.sleep(0.1)  # polling the warm-up's end, bounded
    if not all(warm(r) for r in runs):
        print(f"  (warm-up cut at 180 s: {sum(not warm(r) for r in runs)} sessions not warm)")
    for r in runs:
        r.measuring = True
    await asyncio.sleep(seconds)  # the measuring window
    for r in runs:
        r.measuring = False
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(r.ws.close() for r in runs))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


async def bystander(url: str, seconds: float) -> None:
    alone = await open_run(url, {})
    await measure([alone], seconds)
    solo = alone.rate()
    heavy = await open_run(url, EDGE)
    beside = await open_run(url, {})
    await measure([heavy, beside], seconds, saving=heavy)
    share = beside.rate() / solo
    print(f"bystander  solo {solo:7.1f} epochs/s | beside heavy {beside.rate():7.1f} "
          f"epochs/s = {share:.0%} of solo (goal >= 40%) | its largest frame gap "
          f"{beside.max_gap() * 1000:.0f} ms (goal < 1000) | heavy run {heavy.rate():.2f} "
          f"epochs/s, {len(heavy.frames)} frames, largest gap {heavy.max_gap() * 1000:.0f} ms "
          f"| saves {len(heavy.saves)}, "
          f"{' '.join(f'{s * 1000:.0f}' for s in heavy.saves)} ms")


async def classroom(url: str, seconds: float, sessions: int) -> None:
    alone = await open_run(url, {})
    await measure([alone], seconds, pings=True)
    one = alone.rate()
    runs = [await open_run(url, {}) for _ in range(sessions)]
    await measure(runs, seconds, pings=True)
    rates = [r.rate() for r in runs]
    rtts = [p for r in runs for p in r.pings]
    fps = [len(r.frames) / seconds for r in runs]
    print(f"class      one alone {one:7.1f} epochs/s (ping p99 {pct(alone.pings, .99) * 1000:.1f}"
          f" ms) | {sessions} sessions: total {sum(rates):7.1f} epochs/s = "
          f"{sum(rates) / one:.2f}x one (goal >= 1.5) | each {min(rates):.1f}..{max(rates):.1f}"
          f", fairness max/min {max(rates) / max(min(rates), 1e-9):.2f} (goal <= 1.2) | ping "
          f"p50 {pct(rtts, .5) * 1000:.1f} p99 {pct(rtts, .99) * 1000:.1f} ms (goal < 100) | "
          f"frames/s per client {statistics.median(fps):.1f} (min {min(fps):.1f}) | "
          f"sessions with < 2 frames: {sum(len(r.frames) < 2 for r in runs)}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--skip-bystander", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for processes in args.processes:
            server = start_server(Path(tmp) / f"p{processes}.sqlite3", "--processes",
                                  str(processes), "--workers", str(args.workers),
                                  "--max-sessions", str(args.sessions + 2))
            try:
                print(f"--- {processes} training process(es), {args.workers} thread(s) each")
                if not args.skip_bystander:
                    await bystander(server.ws_url, args.seconds)
                await classroom(server.ws_url, args.seconds, args.sessions)
            finally:
                stop_server(server)


if __name__ == "__main__":
    asyncio.run(main())
