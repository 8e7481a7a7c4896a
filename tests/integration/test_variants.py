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
            k = message.get("variant", 0)  # a lone run's frames carry no index
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


async def test_variants_stop_early_each_with_its_best_while_playing_says_running(
        server) -> None:
    """Side by side, every variant keeps every rule of a lone run: while they train their
    frames say running and their path; each stops early at its own epoch with its own best,
    in an event that names it; the group ends when the last one stops."""
    noisy = {"data": {"kind": "gauss", "points": 120, "noise": 1.0},
             "network": {"layers": mlp(32, fn="tanh")},
             "optimizer": {"kind": "adam", "lr": 0.05, "amsgrad": True},
             "regularization": {"early_stopping": {"enabled": True, "patience": 3}},
             "training": {"batch_size": 20, "epochs": 300}}
    variants = [{"label": "seed 0", "patch": {}},
                {"label": "seed 3", "patch": {"training": {"seed": 3}}}]
    async with connect(server.ws_url, max_size=None) as ws:
        client = VariantClient(ws, 2)
        await ws.send(json.dumps({"type": "start", "spec": noisy, "variants": variants,
                                  "fps": 60}))
        ready = await client.until(lambda m: m["type"] == "ready")
        assert ready["batched"] is True  # AMSGrad and early stopping batch now
        playing = await client.until(lambda m: m["type"] == "frame" and m["step"] > 0)
        assert playing["running"] is True and playing["path"] in ("batched", "compiled")
        stops: dict[int, dict[str, Any]] = {}
        while len(stops) < 2:
            message = await client.recv()
            if message["type"] == "event" and message["event"] == "early_stopped":
                stops[message["variant"]] = message
        for stop in stops.values():
            assert stop["epoch"] - stop["best_epoch"] >= 3
            assert stop["epoch"] < 300
        last = await client.until(lambda m: m["type"] == "frame" and not m["running"] and
                                  all(not f["running"] for f in client.latest.values()))
        assert last["best"] is not None
        for k, stop in stops.items():
            frame = client.latest[k]
            assert frame["best"]["epoch"] == stop["best_epoch"] and frame["halted"]
            assert frame["epoch"] == stop["epoch"]


async def test_a_gradient_check_of_one_point_on_batchnorm_is_refused_by_its_field(
        server) -> None:
    spec = {"data": {"kind": "circle", "points": 100},
            "network": {"layers": [{"type": "linear", "units": 4}, {"type": "batchnorm"},
                                   {"type": "activation", "fn": "tanh"}]}}
    async with connect(server.ws_url, max_size=None) as ws:
        client = VariantClient(ws, 1)
        await ws.send(json.dumps({"type": "start", "spec": spec, "run": False}))
        await client.until(lambda m: m["type"] == "ready")
        await ws.send(json.dumps({"type": "check_gradients", "points": 1}))
        refused = await client.until(lambda m: m["type"] == "error")
        assert refused["code"] == "invalid_message" and refused["field"] == "points"
        assert "BatchNorm" in refused["message"]
        await ws.send(json.dumps({"type": "check_gradients", "points": 8}))
        report = await client.until(lambda m: m["type"] == "gradient_check")
        assert report["max_rel_diff"] < 1e-5 and report["max_path_rel_diff"] < 1e-4
        assert report["path"] == "eager"
