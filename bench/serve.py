"""What a client of the real server sees: shown training rate, start latency, sharing, streaming.

Run:  python bench/serve.py [--seconds 3] [--repeats 5] [--starts 20]  (~3 min)

Starts `python -m torchplay --port 0` (tests/conftest.start_server: temp db, one worker, torch on
one thread) and measures over websockets asyncio clients (compression off, loopback).
tf-default = spec {} (TF Playground's default: circle, 500 points, 50% train, batch 10, [4,2] tanh,
SGD 0.03, 25 steps/epoch); relu-8x6 = all 7 features, 6 x (linear 8, relu).
  start   `start` -> `ready` / first `frame`: the first start on the fresh server, then --starts on
          the warm one. Goal < 300 ms.
  shown   one client at fps 30 reads every frame: epochs/s = frame steps / steps_per_epoch over
          arrival times in a --seconds window after 1 s of warm-up. Baselines: `bare loop`, plain
          eager PyTorch of the same model in this process (1 thread, server idle meanwhile), and
          TF Playground's shown rate (constants from the issue). Goals: tf-default >= 180
          epochs/s, relu-8x6 >= 10x TF. cores: CPU used in the window by the server (srv), its
          main thread = event loop (loop), and other processes on the machine (oth: other jobs).
          "per CPU-s" rates divide by the CPU time the training thread got (server: srv - loop):
          they hold up better than wall-clock rates when other jobs take the CPU.
  stream  tf-default at fps 30 vs fps 1, back to back: cost = 1 - rate30/rate1. Goal <= 10%.
  share   10 clients train tf-default at fps 30: each session's epochs/s over one window (goal:
          all within 20% of the mean). An 11th client sends app `ping`s and protocol pings every
          20 ms, first without a run, then with one; baseline: the same on the idle server.
          "client lag" (this process's own event-loop delay) is included in every round trip.
  compile 16 variants of tf-default side by side (one batch, fps 5) on this server, whose
          inductor cache starts empty (its own TORCHINDUCTOR_CACHE_DIR), the first compile in the
          server's process: the group's epochs/s in each second from its start, in its
          first 3 (plain step while compiling, then the switch), its slowest, and its last 3 of
          --compile-seconds (compiled), and pings meanwhile against the idle server's. With
          --no-compile the server never compiles: the same rows give the group's plain rate.
          Last, so that the compile running in the server falls on no other figure.
value = median; spread = min..max over repeats (share: over sessions or thirds of the window).
Repeats interleave so drift hits every figure alike; read ratios, not absolute numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import torch
from torch import nn
from torch.nn import functional as F
from websockets.asyncio.client import ClientConnection, connect

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from conftest import start_server, stop_server  # noqa: E402

TIMEOUT = 20.0  # no single await may take longer: the bench fails rather than hangs
PING_EVERY = 0.02
RELU = {"features": {"inputs": ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]},
        "network": {"layers": [{"type": "linear", "units": 8},
                               {"type": "activation", "fn": "relu"}] * 6}}
# name: spec, and for the bare loop: inputs, hidden widths, activation; TF Playground's shown
# epochs/s (constants from the issue, not measured here)
SETUPS: dict[str, tuple[dict[str, Any], int, list[int], type[nn.Module], float]] = {
    "tf-default": ({}, 2, [4, 2], nn.Tanh, 60.0), "relu-8x6": (RELU, 7, [8] * 6, nn.ReLU, 12.0)}
CORES = ("srv", "loop", "oth")  # server (all threads), its event loop, other processes
Row = tuple[str, list[float], float, str]  # figure, values (median shown), baseline, what it is
now = time.perf_counter


class BareLoop:
    """The same model, data size, batch and SGD in plain eager PyTorch, without torchplay."""

    def __init__(self, inputs: int, hidden: list[int], act: type[nn.Module]) -> None:
        p = torch.rand(250, 2, generator=torch.Generator().manual_seed(0)) * 12 - 6
        x1, x2 = p[:, 0], p[:, 1]
        x = torch.stack([x1, x2, x1 * x1, x2 * x2, x1 * x2, x1.sin(), x2.sin()][:inputs], dim=1)
        self.x, self.y = (x - x.mean(0)) / x.std(0), (p.norm(dim=1) < 3).long()
        sizes = [inputs, *hidden]
        self.model = nn.Sequential(*[m for a, b in zip(sizes, sizes[1:], strict=False)
                                     for m in (nn.Linear(a, b), act())], nn.Linear(sizes[-1], 2))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=0.03)

    def epochs_per_second(self, seconds: float) -> tuple[float, float]:
        """Epochs per second of wall time, and per CPU-second of this thread."""
        epochs, start, cpu = 0, now(), time.thread_time()
        while now() - start < seconds:
            for idx in torch.randperm(len(self.y)).split(10):
                loss = F.cross_entropy(self.model(self.x[idx]), self.y[idx])
                self.opt.zero_grad(set_to_none=True)
                loss.backward()
                self.opt.step()
                loss.item()
            epochs += 1
        return epochs / (now() - start), epochs / (time.thread_time() - cpu)


class Client:
    """One socket; a reader task files frames (arrival, step, bytes), pongs and other messages."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws, self.frames, self.steps_per_epoch = ws, list[tuple[float, int, int]](), 1
        self.got_frame, self.pongs = asyncio.Event(), dict[int, asyncio.Future[float]]()
        self.inbox: asyncio.Queue[tuple[float, dict[str, Any]]] = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str) -> Client:
        return cls(await asyncio.wait_for(connect(url, compression=None, max_size=None, proxy=None,
                                                  ping_interval=None, close_timeout=2), TIMEOUT))

    async def _read(self) -> None:
        async for raw in self.ws:
            t, msg = now(), orjson.loads(raw)
            if msg["type"] == "frame":
                self.frames.append((t, msg["step"], len(raw)))
                self.got_frame.set()
            elif msg["type"] == "pong" and (fut := self.pongs.pop(msg["id"], None)):
                fut.set_result(t)
            else:
                if msg["type"] == "ready":  # frames of an earlier run are forgotten
                    self.frames.clear()
                    self.got_frame.clear()
                    self.steps_per_epoch = msg["summary"]["steps_per_epoch"]
                self.inbox.put_nowait((t, msg))

    async def send(self, message: dict[str, Any]) -> None:
        await asyncio.wait_for(self.ws.send(orjson.dumps(message).decode()), TIMEOUT)

    async def expect(self, kind: str, event: str | None = None) -> float:
        while True:
            t, msg = await asyncio.wait_for(self.inbox.get(), TIMEOUT)
            if msg["type"] == "error":
                raise RuntimeError(f"server answered {msg}")
            if msg["type"] == kind and msg.get("event") == event:
                return t

    async def start(self, spec: dict[str, Any], fps: int) -> tuple[float, float]:
        """Start a run; milliseconds from sending `start` to `ready` and to the first frame."""
        sent = now()
        await self.send({"type": "start", "spec": spec, "fps": fps})
        ready = await self.expect("ready")
        await asyncio.wait_for(self.got_frame.wait(), TIMEOUT)
        return 1e3 * (ready - sent), 1e3 * (self.frames[0][0] - sent)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), TIMEOUT)
        self.reader.cancel()

    def rates(self, a: float, b: float) -> tuple[float, float, float]:
        """Epochs/s (frame steps over arrival times), frames/s and KB/s within [a, b]."""
        got = [f for f in self.frames if a <= f[0] <= b]
        if len(got) < 2:
            return math.nan, len(got) / (b - a), math.nan
        epochs = (got[-1][1] - got[0][1]) / self.steps_per_epoch / (got[-1][0] - got[0][0])
        return epochs, len(got) / (b - a), sum(f[2] for f in got) / (b - a) / 1e3


def clock(pid: int) -> tuple[float, ...]:
    """CPU seconds so far: server (all threads), server main thread, other processes; and now."""
    def used(path: str) -> float:  # utime + stime of a process or thread
        fields = Path(path).read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / hz
    hz = os.sysconf("SC_CLK_TCK")
    cpu = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    server = used(f"/proc/{pid}/stat")
    busy = (sum(cpu) - cpu[3] - cpu[4]) / hz  # all but idle and iowait
    return server, used(f"/proc/{pid}/task/{pid}/stat"), busy - server - time.process_time(), now()


def cores(c0: tuple[float, ...], c1: tuple[float, ...]) -> list[float]:
    """Cores used between two clocks: server, its event loop, others."""
    return [(b - a) / (c1[-1] - c0[-1]) for a, b in zip(c0[:-1], c1[:-1], strict=True)]


async def pings(client: Client, seconds: float) -> list[list[float]]:
    """Round trips (ms) of app `ping`s and of protocol pings, each sent every PING_EVERY, and
    this process's own event-loop lag (ms, overshoot of a 5 ms sleep) meanwhile."""
    end, ids = now() + seconds, iter(range(1, 1 << 30))

    async def app() -> None:
        i = next(ids)
        client.pongs[i] = fut = asyncio.get_running_loop().create_future()
        await client.send({"type": "ping", "id": i})
        await fut

    async def protocol() -> None:
        await (await client.ws.ping())

    async def timed(call: Callable[[], Awaitable[Any]], pause: float, less: float) -> list[float]:
        out = []
        while (sent := now()) < end:
            await asyncio.wait_for(call(), TIMEOUT)
            out.append(1e3 * (now() - sent - less))
            await asyncio.sleep(pause)
        return out
    return list(await asyncio.gather(timed(app, PING_EVERY, 0), timed(protocol, PING_EVERY, 0),
                                     timed(lambda: asyncio.sleep(0.005), 0, 0.005)))


def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


async def starts(url: str, n: int) -> list[Row]:
    sent = now()
    client = await Client.open(url)
    connect_ms, got = 1e3 * (now() - sent), []
    try:
        for _ in range(n + 1):  # the first: the very first start on the fresh server
            got.append(await client.start({}, 30))
            await client.send({"type": "stop"})
            await client.expect("event", "stopped")
    finally:
        await client.close()
    frame = [w[1] for w in got[1:]]
    return [("start: first connect ms (fresh server)", [connect_ms], 0, ""),
            ("start: first -> ready ms (fresh server)", [got[0][0]], 300, "goal"),
            ("start: first -> frame ms (fresh server)", [got[0][1]], 300, "goal"),
            ("start: warm -> ready ms", [w[0] for w in got[1:]], 300, "goal"),
            ("start: warm -> frame ms", frame, 300, "goal"),
            ("start: warm -> frame ms, p90", [pct(frame, 90)], 300, "goal")]


async def shown(url: str, pid: int, seconds: float, repeats: int) -> tuple[list[Row], float]:
    runs: dict[str, list[float]] = defaultdict(list)
    loops = {name: BareLoop(*setup[1:4]) for name, setup in SETUPS.items()}
    for loop in loops.values():
        loop.epochs_per_second(0.3)  # warm up
    for _ in range(repeats):
        for name, (spec, *_) in SETUPS.items():
            for key, value in zip(("bare", "bare cpu"), loops[name].epochs_per_second(seconds),
                                  strict=True):
                runs[f"{name} {key}"].append(value)
            for fps in (30, 1) if name == "tf-default" else (30,):
                client = await Client.open(url)
                try:
                    await client.start(spec, fps)
                    await asyncio.sleep(1.0)  # warm-up
                    c0 = clock(pid)
                    await asyncio.sleep(seconds + (fps == 1))  # fps 1: a few more frames
                    c1 = clock(pid)
                finally:
                    await client.close()
                got = [*client.rates(c0[-1], c1[-1]), *cores(c0, c1)]
                got.append(got[0] / (got[3] - got[4]))  # per CPU-second of the worker thread
                for key, value in zip(("", "f", "kb", *CORES, "cpu"), got, strict=True):
                    runs[f"{name} {fps}{key}"].append(value)
    med = {key: statistics.median(values) for key, values in runs.items()}
    rows: list[Row] = []
    for name, (*_, tf) in SETUPS.items():
        got = runs[f"{name} 30"]
        rows += [(f"{name} shown epochs/s, fps 30", got, med[f"{name} bare"], "bare loop"),
                 (f"{name} shown epochs/s, fps 30", got, tf, "TF Playground"),
                 (f"{name} bare loop epochs/s", runs[f"{name} bare"], tf, "TF Playground"),
                 (f"{name} shown epochs per worker CPU-s", runs[f"{name} 30cpu"],
                  med[f"{name} bare cpu"], "bare, per CPU-s"),
                 (f"{name} frames/s received", runs[f"{name} 30f"], 30, "asked"),
                 (f"{name} KB/s received", runs[f"{name} 30kb"], 0, ""),
                 *[(f"{name} cores: {k}", runs[f"{name} 30{k}"], 0, "") for k in CORES]]

    def cost(key: str) -> list[float]:
        return [100 - 100 * a / b for a, b in zip(runs[f"tf-default 30{key}"],
                                                  runs[f"tf-default 1{key}"], strict=True)]
    return rows + [
        ("stream: tf-default epochs/s, fps 1", runs["tf-default 1"], med["tf-default bare"],
         "bare loop"),
        ("stream: cost % = 1 - rate30/rate1", cost(""), 10, "goal"),
        ("stream: same, rates per worker CPU-s", cost("cpu"), 10, "goal"),
        *[(f"stream: fps 1 cores: {k}", runs[f"tf-default 1{k}"], 0, "") for k in CORES]], \
        med["tf-default 30"]


async def share(url: str, pid: int, seconds: float, alone: float) -> list[Row]:
    pinger, clients = await Client.open(url), list[Client]()
    try:
        idle = await pings(pinger, 2.0)
        for _ in range(10):
            clients.append(await Client.open(url))
            await clients[-1].start({}, 30)
        await asyncio.sleep(2.0)
        c0 = clock(pid)
        quiet = await pings(pinger, seconds)
        c1 = clock(pid)
        await pinger.start({}, 30)
        await asyncio.sleep(1.0)
        busy = await pings(pinger, seconds)
    finally:
        for c in [pinger, *clients]:
            await c.close()
    a, b = c0[-1], c1[-1]
    each, cuts = [c.rates(a, b)[0] for c in clients], [a + (b - a) * k / 3 for k in range(4)]
    thirds = [[c.rates(x, y)[0] for c in clients] for x, y in zip(cuts, cuts[1:], strict=False)]
    mean = statistics.fmean(each)
    print("share: epochs/s per session:", " ".join(f"{e:.1f}" for e in each))
    rows: list[Row] = [
        ("share: epochs/s per session (10)", each, alone, "1 client alone"),
        ("share: total epochs/s of 10", [sum(each)], alone, "1 client alone"),
        ("share: frames/s per session", [c.rates(a, b)[1] for c in clients], 30, "asked"),
        ("share: max/min over the window", [max(each) / min(each)], 1.2, "goal"),
        ("share: max/min per third of it", [max(t) / min(t) for t in thirds], 1.2, "goal"),
        ("share: max |rate/mean - 1| %", [100 * max(abs(e / mean - 1) for e in each)], 20, "goal"),
        *[(f"share: cores: {k}", [v], 0, "") for k, v in zip(CORES, cores(c0, c1), strict=True)]]
    stats: dict[str, Callable[[list[list[float]]], float]] = {
        "app p50": lambda g: pct(g[0], 50), "app p99": lambda g: pct(g[0], 99),
        "app max": lambda g: max(g[0]), "protocol p99": lambda g: pct(g[1], 99),
        "client lag p99": lambda g: pct(g[2], 99), "client lag max": lambda g: max(g[2])}
    return rows + [(f"ping {label}: {k} ms", [f(got)], f(idle), "idle server")
                   for label, got in (("11th idle", quiet), ("11th running", busy))
                   for k, f in stats.items()]


async def compiling(url: str, seconds: float) -> list[Row]:
    pinger, group = await Client.open(url), await Client.open(url)
    variants = [{"label": f"lr {0.003 * 10 ** (2 * i / 15):.3g}",
                 "patch": {"optimizer": {"lr": 0.003 * 10 ** (2 * i / 15)}}} for i in range(16)]
    try:
        idle = await pings(pinger, 2.0)
        sent = now()
        await group.send({"type": "start", "spec": {}, "variants": variants, "fps": 5})
        await group.expect("ready")
        during = await pings(pinger, seconds)
    finally:
        for c in (pinger, group):
            await c.close()
    end = now()
    each = [group.rates(sent + t, sent + t + 1)[0] for t in range(int(end - sent))]
    print("compile: group epochs/s in each second from its start:",
          " ".join(f"{rate:.0f}" for rate in each))
    return [("compile: group of 16, first 3 s epochs/s", [group.rates(sent, sent + 3)[0]], 0, ""),
            ("compile: group of 16, slowest s epochs/s", [min(each)], 0, ""),
            ("compile: group of 16, last 3 s epochs/s", [group.rates(end - 3, end)[0]], 0, ""),
            *[(f"ping while compiling: {k} ms", [f(during)], f(idle), "idle server")
              for k, f in (("app p99", lambda g: pct(g[0], 99)), ("app max", lambda g: max(g[0])),
                           ("protocol p99", lambda g: pct(g[1], 99)))]]


def print_table(rows: list[Row]) -> None:
    print(f"{'figure':42} {'value':>9} {'spread':>17} {'baseline':>9} {'ratio':>7}  baseline is")
    for label, values, base, what in rows:
        value = statistics.median(values)
        spread = f"{min(values):.4g}..{max(values):.4g}" if len(values) > 1 else ""
        ratio, base_s = (f"{value / base:.2f}", f"{base:.4g}") if base else ("", "")
        print(f"{label:42} {value:9.4g} {spread:>17} {base_s:>9} {ratio:>7}  {what}")


async def measure(url: str, pid: int, args: argparse.Namespace) -> list[Row]:
    rows = await starts(url, args.starts)
    more, alone = await shown(url, pid, args.seconds, args.repeats)
    rows += more + await share(url, pid, args.share_seconds, alone)
    return rows + await compiling(url, args.compile_seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="one shown-rate window")
    parser.add_argument("--repeats", type=int, default=5, help="shown-rate repeats (medians)")
    parser.add_argument("--starts", type=int, default=20, help="warm starts timed")
    parser.add_argument("--share-seconds", type=float, default=8.0, help="sharing windows")
    parser.add_argument("--compile-seconds", type=float, default=30.0,
                        help="the group's window from its start")
    parser.add_argument("--no-compile", action="store_true",
                        help="start the server with --no-compile (the group's plain rate)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, {os.cpu_count()} cpus, load {os.getloadavg()[0]:.2f}")
    began = now()
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(Path(tmp) / "inductor")  # the server's
        server = start_server(Path(tmp) / "bench.sqlite3",
                              *(["--no-compile"] if args.no_compile else []))
        output: list[str] = []  # drained so that a chatty server never blocks on its pipe
        threading.Thread(target=lambda: output.extend(server.process.stdout or []),
                         daemon=True).start()
        try:
            rows = asyncio.run(asyncio.wait_for(
                measure(server.ws_url, server.process.pid, args), 900))
        finally:
            stop_server(server)
            if output:
                print("server said:", "".join(output[-20:]), sep="\n")
    print_table(rows)
    print(f"took {now() - began:.0f} s, load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
