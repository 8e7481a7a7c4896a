"""How fast TrainingSession trains, bare and as served, against a plain PyTorch loop.

Run:  PYTHONPATH=backend python bench/engine.py [--seconds 1] [--repeats 5]

Everything runs on one torch thread (as the server does). Two setups, both circle, 500 points,
50% train, batch 10, SGD lr 0.03, cross-entropy (25 steps an epoch):
  tf-default  x1,x2 -> linear 4, tanh, linear 2, tanh -> 2     (TF Playground's default)
  relu-8x6    all 7 features -> (linear 8, relu) x 6 -> 2

Per setup, each figure is the median of --repeats runs of --seconds each, interleaved so that
drift (20-30% on this machine) hits every variant alike:
  plain    a hand-written nn.Sequential + SGD loop on shuffled batches (zero_grad, forward,
           loss, backward, step, loss.item()); the baseline, written without torchplay.
  bare     session.step() with no probes (includes its per-epoch train/test evaluation); from
           the second epoch on it replays the traced step (torchplay/engine/steppers/traced.py).
  eager    the same session with the traced step off (TrainingSession(traced=False)).
  served   what the runner does at 30 fps: every 1/30 s of wall time the step is probed and
           session.frame() + history delta + orjson encoding follow; other steps are bare.
Read the ratio column: bare/plain is torchplay's own overhead, served/plain what probes and
frames cost on top ("+x% time/step" is served time per step over plain time per step).
Per-call rows give one session.frame(), a probed step and an unprobed step; "frame+probe %"
is FPS x (frame + probed - bare step): the share of each second that frames take, so served/bare
should be about 1 - that share. The last block
gives the size and encode time of one frame, history delta of ~1/30 s, for grids 100 and 200.
Absolute numbers drift between runs; compare ratios within one run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import torch
from torch import nn
from torch.nn import functional as F

from torchplay.engine.history import Cursor
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import FEATURES_2D, ExperimentSpec

FPS = 30.0
Row = tuple[str, float, float, str]  # figure, value, baseline, what the baseline is
SETUPS: dict[str, dict[str, Any]] = {
    "tf-default": {},  # the spec's defaults are TF Playground's
    "relu-8x6": {"features": {"inputs": list(FEATURES_2D)},
                 "network": {"layers": [{"type": "linear", "units": 8},
                                        {"type": "activation", "fn": "relu"}] * 6}},
}


def make_spec(overrides: dict[str, Any], grid: int = 100) -> ExperimentSpec:
    return ExperimentSpec.model_validate({**overrides, "probes": {"grid": grid}})


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls of fn per second over about `seconds` of wall time."""
    calls, start = 0, time.perf_counter()
    end = start + seconds
    while (now := time.perf_counter()) < end:
        fn()
        calls += 1
    return calls / (now - start)


class PlainLoop:
    """The same network and optimizer in ordinary PyTorch, independent of torchplay."""

    def __init__(self, spec: ExperimentSpec) -> None:
        g = torch.Generator().manual_seed(0)
        n, width = spec.data.points // 2, len(spec.features.inputs)
        self.x = torch.randn(n, width, generator=g)
        self.y = (self.x[:, :2].norm(dim=1) < 1.2).long()
        sizes = [width] + [layer.units for layer in spec.network.layers if layer.type == "linear"]
        act = nn.Tanh if spec.network.layers[1].fn == "tanh" else nn.ReLU  # type: ignore[union-attr]
        modules: list[nn.Module] = []
        for a, b in zip(sizes, sizes[1:], strict=False):
            modules += [nn.Linear(a, b), act()]
        self.model = nn.Sequential(*modules, nn.Linear(sizes[-1], 2))
        self.opt = torch.optim.SGD(self.model.parameters(), lr=spec.optimizer.lr)
        self.batch = spec.training.batch_size
        self.order, self.pos = torch.randperm(n, generator=g), 0

    def step(self) -> float:
        if self.pos >= len(self.order):
            self.order, self.pos = torch.randperm(len(self.order)), 0
        idx = self.order[self.pos:self.pos + self.batch]
        self.pos += self.batch
        loss = F.cross_entropy(self.model(self.x[idx]), self.y[idx])
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.item()


class Served:
    """The runner's worker loop for one client at FPS: a probed step and a frame when due."""

    def __init__(self, session: TrainingSession) -> None:
        self.session, self.cursor = session, Cursor()
        self.last_frame, self.frames, self.busy = 0.0, 0, 0.0  # busy: seconds inside step()

    def step(self) -> None:
        start = time.perf_counter()
        due = start - self.last_frame >= 1.0 / FPS
        self.session.step(probe=due or self.session.last_layers is None)
        if due:
            encode_frame(self.session, self)
            self.last_frame = time.perf_counter()  # as the runner does: after the frame
            self.frames += 1
        self.busy += time.perf_counter() - start


def encode_frame(session: TrainingSession, reader: Served) -> bytes:
    """session.frame() plus the reader's history delta, as the WebSocket writer sends it."""
    frame = session.frame()
    frame["history"], reader.cursor = session.history.since(reader.cursor)
    return orjson.dumps({"type": "frame", **frame})


def interleaved(fns: dict[str, Callable[[], object]], seconds: float,
                repeats: int) -> dict[str, float]:
    """Median calls/s of each fn; repeats take turns so that drift hits every fn alike."""
    runs: dict[str, list[float]] = {key: [] for key in fns}
    for _ in range(repeats):
        for key, fn in fns.items():
            runs[key].append(rate(fn, seconds))
    return {key: statistics.median(values) for key, values in runs.items()}


def bench_setup(name: str, overrides: dict[str, Any], seconds: float, repeats: int) -> list[Row]:
    spec = make_spec(overrides)
    plain, bare, served = PlainLoop(spec), TrainingSession(spec), Served(TrainingSession(spec))
    eager = TrainingSession(spec, traced=False)
    for fn in (plain.step, bare.step, served.step, eager.step):
        rate(fn, 0.2)  # warm up allocators and dispatch caches (and record the traced step)
    frames, busy = served.frames, served.busy
    r = interleaved({"plain": plain.step, "eager": eager.step, "bare": bare.step,
                     "served": served.step}, seconds, repeats)
    fps = (served.frames - frames) / (served.busy - busy)
    p, b, s, spe = r["plain"], r["bare"], r["served"], bare.steps_per_epoch
    us = {key: 1e6 / v for key, v in interleaved({
        "plain": plain.step, "bare": bare.step, "probed": lambda: bare.step(probe=True),
        "frame": bare.frame}, seconds / 3, repeats).items()}
    return [
        (f"{name} steps/s bare", b, p, "plain"),
        (f"{name} epochs/s bare", b / spe, p / spe, "plain"),
        (f"{name} epochs/s bare", b / spe, r["eager"] / spe, "eager (traced step off)"),
        (f"{name} steps/s served {FPS:g} fps", s, p, "plain"),
        (f"{name} steps/s served {FPS:g} fps", s, b, "bare"),
        (f"{name} epochs/s served", s / spe, p / spe, "plain"),
        (f"{name} served: extra time/step %", 100 * (p / s - 1), 0.0, "vs plain"),
        (f"{name} frames/s reached", fps, FPS, "asked"),
        (f"{name} session.frame() us", us["frame"], us["plain"], "plain step"),
        (f"{name} probed step us", us["probed"], us["bare"], "bare step"),
        (f"{name} bare step us", us["bare"], us["plain"], "plain step"),
        (f"{name} frame+probe % of 1 s at {FPS:g} fps",
         FPS * (us["frame"] + us["probed"] - us["bare"]) / 1e4, 0.0, "predicts served/bare"),
    ]


def bench_frames(name: str, overrides: dict[str, Any], repeats: int) -> list[Row]:
    rows: list[Row] = []
    for grid in (100, 200):
        session = TrainingSession(make_spec(overrides, grid))
        reader = Served(session)
        encode_frame(session, reader)  # the first frame replaces the whole history
        end = time.perf_counter() + 1.0 / FPS
        while time.perf_counter() < end:
            session.step()
        session.step(probe=True)
        frame = {"type": "frame", **session.frame()}
        frame["history"], _ = session.history.since(reader.cursor)
        size = len(orjson.dumps(frame))
        r = interleaved({"orjson": lambda: orjson.dumps(frame),  # noqa: B023
                         "json": lambda: json.dumps(frame),  # noqa: B023
                         "frame": session.frame}, 0.1, repeats)
        rows += [(f"{name} grid {grid} frame KB", size / 1e3, 0.0, ""),
                 (f"{name} grid {grid} session.frame() us", 1e6 / r["frame"], 0.0, ""),
                 (f"{name} grid {grid} encode us", 1e6 / r["orjson"], 1e6 / r["json"],
                  "json (orjson/json)")]
    return rows



def print_table(rows: list[Row]) -> None:
    print(f"{'figure':42} {'value':>10} {'baseline':>10} {'ratio':>7}  baseline is")
    for label, value, base, what in rows:
        ratio = f"{value / base:7.2f}" if base else " " * 7
        base_s = f"{base:10.4g}" if base else " " * 10
        print(f"{label:42} {value:10.4g} {base_s} {ratio}  {what}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="length of one repeat")
    parser.add_argument("--repeats", type=int, default=5, help="repeats; medians are shown")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread; medians of {args.repeats} x {args.seconds} s")
    rows: list[Row] = []

    def measure() -> None:
        for name, overrides in SETUPS.items():
            rows.extend(bench_setup(name, overrides, args.seconds, args.repeats))
        for name, overrides in SETUPS.items():
            rows.extend(bench_frames(name, overrides, args.repeats))

    # In a thread, as the server's worker trains: glibc gives other threads their own malloc
    # arena, and the main thread's arena returns a frame's large blocks to the OS and faults them
    # back in on the next frame, which doubled relu-8x6's frame time here.
    worker = threading.Thread(target=measure, name="bench-worker")
    worker.start()
    worker.join()
    print_table(rows)


if __name__ == "__main__":
    main()
