"""A heavy run's saves do not stall the others (issue 20): its worker only snapshots the run,
and the recording is serialised and written aside. Measured on a real server: a bystander's
frames keep coming, with no gap over the issue's bound, while the heaviest run the compute
limits allow saves again and again."""

from __future__ import annotations

import asyncio

import pytest
from wsclient import TIMEOUT, Client, connect_to

pytestmark = pytest.mark.anyio

# The heaviest run both compute limits allow (bench/class.py's EDGE): 20,000 points, full
# batch, [96, 96] tanh, grid 200, neuron grid 64; its recording is ~1.3 MB of JSON.
EDGE = {"data": {"kind": "circle", "points": 20_000},
        "network": {"layers": [{"type": "linear", "units": 96}, {"type": "activation"},
                               {"type": "linear", "units": 96}, {"type": "activation"}]},
        "training": {"batch_size": 20_000}, "probes": {"grid": 200, "neuron_grid": 64}}
SAVES = 4
MAX_GAP = 1.0  # seconds between a bystander's frames (the bound)


async def frame_times(client: Client, stop: asyncio.Event) -> list[float]:
    """Arrival times of the client's frames until `stop` is set."""
    loop = asyncio.get_running_loop()
    times: list[float] = []
    while not stop.is_set():
        try:
            message = await client.recv(0.1)
        except TimeoutError:
            continue  # no frame this tenth of a second: the gap grows, and is measured
        if message["type"] == "frame":
            times.append(loop.time())
    return times


async def test_a_heavy_runs_saves_leave_a_bystanders_frames_flowing(server) -> None:
    async with connect_to(server) as heavy, connect_to(server) as bystander:
        await heavy.start(EDGE, fps=10)
        await bystander.start({}, fps=30)
        await heavy.frame(lambda f: f["step"] >= 2, "the heavy run's second step")
        await bystander.frame(lambda f: f["epoch"] >= 2, "the bystander past its tracing")
        stop = asyncio.Event()
        watching = asyncio.create_task(frame_times(bystander, stop))
        saved = []
        try:
            for i in range(SAVES):
                await heavy.send({"type": "save", "name": f"heavy {i}", "note": ""})
                saved.append(await heavy.until(lambda m: m["type"] in ("saved", "error"),
                                               "saved", timeout=2 * TIMEOUT))
        finally:
            stop.set()
            times = await watching
    assert all(m["type"] == "saved" for m in saved), saved
    assert len(times) >= 2, "the bystander got no frames while the heavy run saved"
    gap = max(b - a for a, b in zip(times, times[1:], strict=False))
    print(f"{SAVES} saves; the bystander's {len(times)} frames, largest gap {gap * 1000:.0f} ms")
    assert gap < MAX_GAP, f"the bystander waited {gap:.2f} s for a frame while a run saved"
