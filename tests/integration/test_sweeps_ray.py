"""A server started with `--ray-address local` trains a sweep's groups as Ray tasks: over the
socket the plan says so, summaries stream, and the results equal the same sweep trained
in-process bit for bit (the compiled step off)."""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from typing import Any

import orjson
import pytest
from wsclient import TIMEOUT, connect_to

from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

pytestmark = pytest.mark.anyio
SWEEP = {"base": {"data": {"kind": "xor", "points": 100}, "training": {"batch_size": 10},
                  "probes": {"grid": 10, "neuron_grid": 4}},
         "parameters": [
             {"kind": "log_uniform", "path": "optimizer.lr", "low": 0.01, "high": 1.0},
             {"kind": "choice", "path": "optimizer.kind", "values": ["sgd", "adam"]}],
         "trials": 8, "epochs": 2, "seed": 3}


async def test_a_sweep_on_ray_streams_summaries_and_matches_in_process(
        server_factory: Any) -> None:
    server = server_factory("--ray-address", "local", "--no-compile")
    async with connect_to(server) as client:
        async def recv() -> dict[str, Any]:  # raw: a sweep's messages
            return orjson.loads(await asyncio.wait_for(client.ws.recv(), 4 * TIMEOUT))

        await client.send({"type": "start_sweep", "sweep": SWEEP})
        ready = await recv()
        assert ready["type"] == "sweep_ready" and ready["where"] == "ray", ready
        assert len(ready["groups"]) == 2  # an optimizer kind a group
        progress = []
        while not (progress and progress[-1]["done"]):
            message = await recv()
            assert message["type"] in ("sweep_progress", "event"), message  # no frames
            if message["type"] == "sweep_progress":
                progress.append(message)
        await client.send({"type": "save_sweep", "name": "on ray"})
        while (saved := await recv())["type"] != "saved_sweep":
            assert saved["type"] in ("sweep_progress", "event"), saved
    local = SweepTraining(SweepSpec.model_validate(SWEEP))
    expected = [asdict(r) for r in local.run()]
    assert orjson.loads(orjson.dumps(expected)) == progress[-1]["results"]  # bitwise
