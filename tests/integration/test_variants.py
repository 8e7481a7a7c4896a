"""Variants of one experiment trained side by side over one socket: one frame per variant,
each with its own complete curve, and controls that act on all of them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from wsclient import mlp

pytestmark = pytest.mark.anyio
TIMEOUT = 30.0


class VariantClient:
    """Receives frames and keeps each variant's step curve as a page would."""

    def __init__(self, ws: Any, count: int) -> None:
        self.ws = ws
        self.curves: list[list[int]] = [[] for _ in range(count)]
        self.latest: dict[int, dict[str, Any]] = {}

    async def recv(self) -> dict[str, Any]:
        message = json.loads(await asyncio.wait_for(self.ws.recv(), TIMEOUT))
        if message["type"] == "frame":
            k = message["variant"]
            if message["history"]["replace"]:
                self.curves[k].clear()
            self.curves[k] += message["history"]["steps"]["step"]
            self.latest[k] = message
        return message

    async def until(self, done: Any) -> dict[str, Any]:
        while not done(message := await self.recv()):
            pass
        return message

    async def all_at_least(self, step: int) -> None:
        await self.until(lambda _m: len(self.latest) == len(self.curves) and
                         all(f["step"] >= step for f in self.latest.values()))


BASE = {"data": {"kind": "circle", "points": 100},
        "network": {"layers": mlp(8, 8, fn="relu")}, "optimizer": {"kind": "sgd", "lr": 0.1}}


@pytest.mark.parametrize("variants, batched", [
    ([{"label": "no dropout", "patch": {}},
      {"label": "dropout 0.5", "patch": {"network": {"layers": [
          {"type": "linear", "units": 8}, {"type": "activation", "fn": "relu"},
          {"type": "dropout", "p": 0.5}, {"type": "linear", "units": 8},
          {"type": "activation", "fn": "relu"}]}}}], False),  # different stacks: one by one
    ([{"label": "lr 0.1", "patch": {}}, {"label": "lr 0.01", "patch": {"optimizer": {"lr": 0.01}}},
      {"label": "momentum", "patch": {"optimizer": {"momentum": 0.9}}}], True),
])
async def test_variants_train_side_by_side_with_their_own_curves(
        server, variants: list[dict], batched: bool) -> None:
    async with connect(server.ws_url, max_size=None) as ws:
        client = VariantClient(ws, len(variants))
        await ws.send(json.dumps({"type": "start", "spec": BASE, "variants": variants,
                                  "run": False}))
        ready = await client.until(lambda m: m["type"] == "ready")
        assert [v["label"] for v in ready["variants"]] == [v["label"] for v in variants]
        assert ready["batched"] is batched
        await ws.send(json.dumps({"type": "step", "n": 7}))
        await client.all_at_least(7)
        for k, curve in enumerate(client.curves):
            assert curve == list(range(1, 8)), f"variant {k} curve is not whole"
        lrs = [client.latest[k]["lr"] for k in range(len(variants))]
        assert lrs == [v["spec"]["optimizer"]["lr"] for v in ready["variants"]]

        await ws.send(json.dumps({"type": "update", "patch": {"optimizer": {"lr": 0.05}}}))
        await ws.send(json.dumps({"type": "step", "n": 1}))
        await client.all_at_least(8)
        assert all(f["lr"] == 0.05 and f["step"] == 8 for f in client.latest.values())
        assert len({f["train_loss"] for f in client.latest.values()}) == len(variants)


async def test_an_invalid_variant_is_refused_by_its_path(server) -> None:
    async with connect(server.ws_url, max_size=None) as ws:
        client = VariantClient(ws, 2)
        await ws.send(json.dumps({"type": "start", "spec": BASE, "variants": [
            {"label": "fine", "patch": {}},
            {"label": "broken", "patch": {"network": {"layers": [{"type": "linear",
                                                                  "units": 0}]}}}]}))
        error = await client.until(lambda m: m["type"] == "error")
        assert error["code"] == "invalid_spec"
        assert error["field"] == "variants.1.patch.network.layers.0.units"
