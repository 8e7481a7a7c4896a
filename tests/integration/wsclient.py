"""A small client of the real server for the integration tests.

`Client` sends JSON, receives until a predicate holds (always with a bounded timeout), and keeps
the run's curves the way a page does: it appends each frame's history delta and starts over when
the delta says `replace`, and checks on every frame that the curve ends at the frame's step.
"""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
from websockets.asyncio.client import ClientConnection, connect

TIMEOUT = 20.0  # seconds any single wait may take before the test fails
Message = dict[str, Any]
STEP_COLUMNS = ("step", "loss")
EVAL_COLUMNS = ("epoch", "step", "lr", "train_loss", "test_loss", "train_metric", "test_metric")


class Client:
    """One WebSocket connection to the server, with the history it has received."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.last_frame: Message | None = None
        self.steps: dict[str, list[Any]] = {c: [] for c in STEP_COLUMNS}
        self.evals: dict[str, list[Any]] = {c: [] for c in EVAL_COLUMNS}
        self._ping_id = 0

    async def send(self, message: Message) -> None:
        await self.ws.send(json.dumps(message))

    async def send_raw(self, data: str | bytes) -> None:
        await self.ws.send(data)

    async def recv(self, timeout: float = TIMEOUT) -> Message:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), timeout))
        if message["type"] == "frame":
            self._take_history(message["history"])
            self.last_frame = message
            self._check_curve_end(message)
        return message

    async def until(self, predicate: Callable[[Message], bool], what: str = "a message",
                    timeout: float = TIMEOUT, seen: list[Message] | None = None) -> Message:
        """Receive until a message satisfies predicate; fail after `timeout` seconds. Every
        message received on the way (that one included) is appended to `seen` if given."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            remaining = deadline - loop.time()
            try:
                message = await self.recv(max(remaining, 0.001))
            except TimeoutError:
                raise AssertionError(f"no {what} within {timeout} s") from None
            if seen is not None:
                seen.append(message)
            if predicate(message):
                return message

    async def frame(self, predicate: Callable[[Message], bool] = lambda f: True,
                    what: str = "frame", timeout: float = TIMEOUT) -> Message:
        return await self.until(lambda m: m["type"] == "frame" and predicate(m), what, timeout)

    async def frame_at(self, step: int) -> Message:
        """The frame showing `step`: the last one received if it does, else the next that does."""
        if self.last_frame is not None and self.last_frame["step"] == step:
            return self.last_frame
        return await self.frame(lambda f: f["step"] == step, f"frame at step {step}")

    async def event(self, name: str, timeout: float = TIMEOUT) -> Message:
        return await self.until(lambda m: m["type"] == "event" and m["event"] == name,
                                f"event {name!r}", timeout)

    async def error(self, timeout: float = TIMEOUT) -> Message:
        return await self.until(lambda m: m["type"] == "error", "error", timeout)

    async def start(self, spec: Message, fps: float = 30, run: bool = True) -> Message:
        """Start a run; return its `ready` message (fails on an error instead)."""
        await self.send({"type": "start", "spec": spec, "fps": fps, "run": run})
        answer = await self.until(lambda m: m["type"] in ("ready", "error"), "ready")
        assert answer["type"] == "ready", answer
        return answer

    async def ping(self, seen: list[Message] | None = None) -> Message:
        """A ping and its pong: proof that the connection still answers."""
        self._ping_id += 1
        ping_id = self._ping_id
        await self.send({"type": "ping", "id": ping_id})
        return await self.until(lambda m: m["type"] == "pong" and m["id"] == ping_id, "pong",
                                seen=seen)

    async def pause(self) -> Message:
        """Pause and return the frame the pause produced (the first that is not running)."""
        await self.send({"type": "pause"})
        return await self.frame(lambda f: not f["running"], "paused frame")

    async def step(self, n: int = 1, unit: str = "step") -> Message:
        """Ask a paused run for n steps (or epoch boundaries); return the first frame that
        reaches them. Frames paced by fps may show steps on the way: they are skipped."""
        assert self.last_frame is not None, "step needs a run that has sent a frame"
        key = "step" if unit == "step" else "epoch"
        target = self.last_frame[key] + n
        await self.send({"type": "step", "n": n, "unit": unit})
        return await self.frame(lambda f: f[key] >= target, f"frame at {key} {target}")

    def _check_curve_end(self, frame: Message) -> None:
        """Every frame's curve ends at the frame's own step (a diverged step has no point)."""
        rows = self.steps["step"]
        assert not rows or rows[-1] == frame["step"] - frame["diverged"], (
            f"the history reaches step {rows[-1]}, the frame shows step {frame['step']}")

    def _take_history(self, delta: Message) -> None:
        if delta["replace"]:
            for column in (*self.steps.values(), *self.evals.values()):
                column.clear()
        for held, series in ((self.steps, delta["steps"]), (self.evals, delta["evals"])):
            assert series["stride"] == 1, "these short runs are never thinned"
            for column, values in held.items():
                values.extend(series[column])


@asynccontextmanager
async def connect_to(server: Any) -> AsyncIterator[Client]:
    async with connect(server.ws_url, max_size=None, compression=None,
                       open_timeout=TIMEOUT) as ws:
        yield Client(ws)


def health(server: Any) -> Message:
    response = httpx.get(server.url + "/api/health", timeout=TIMEOUT)
    response.raise_for_status()
    return response.json()


async def sessions_become(server: Any, count: int, timeout: float = TIMEOUT) -> None:
    """Poll /api/health (bounded) until the server reports `count` live sessions."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (sessions := (await asyncio.to_thread(health, server))["sessions"]) != count:
        assert loop.time() < deadline, f"sessions stayed {sessions}, expected {count}"
        await asyncio.sleep(0.05)  # poll interval of a bounded loop, not a synchronisation


def mlp(*units: int, fn: str = "tanh", **linear: Any) -> list[Message]:
    """Hidden layers [linear u, activation fn] for each u."""
    return [layer for u in units for layer in (
        {"type": "linear", "units": u, **linear}, {"type": "activation", "fn": fn})]


def output_at(output: Message, points: list[list[float]]) -> list[int]:
    """The output grid's byte in the cell holding each (x, y) point: row 0 at the top (y_max),
    column 0 at the left (x_min), as docs/protocol.md lays the grid out."""
    raw = base64.b64decode(output["values"])
    n = output["size"]
    x_min, x_max, y_min, y_max = output["extent"]
    found = []
    for x, y in points:
        col = min(max(int((x - x_min) / (x_max - x_min) * n), 0), n - 1)
        row = min(max(int((y_max - y) / (y_max - y_min) * n), 0), n - 1)
        found.append(raw[row * n + col])
    return found
