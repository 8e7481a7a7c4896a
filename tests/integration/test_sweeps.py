"""A sweep over the real server's socket: the plan before training, compact progress for
every trial, full frames for the trial on show only, results equal to the same sweep trained
in-process, and bad sweeps answered with the field."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect

from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

pytestmark = pytest.mark.anyio
TIMEOUT = 60.0

SWEEP = {"base": {"data": {"kind": "circle", "points": 100}, "training": {"batch_size": 10},
                  "probes": {"grid": 20, "neuron_grid": 4}},
         "parameters": [
             {"kind": "log_uniform", "path": "optimizer.lr", "low": 0.003, "high": 1.0},
             {"kind": "log_uniform", "path": "regularization.l2", "low": 1e-6, "high": 0.01}],
         "trials": 24, "epochs": 3, "seed": 11}


async def recv(ws: Any) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def test_a_sweep_streams_progress_and_one_trials_frames_and_ends_with_results(
        server) -> None:
    async with connect(server.ws_url, open_timeout=TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "start_sweep", "sweep": SWEEP, "show": 5}))
        ready = await recv(ws)
        assert ready["type"] == "sweep_ready", ready
        assert [(g["path"], len(g["trials"])) for g in ready["groups"]] == [("batched", 24)]
        assert len(ready["trials"]) == 24 and ready["log"]["optimizer.lr"] is True
        assert ready["where"] == "in-process"
        frames: list[int] = []
        progress: list[dict[str, Any]] = []
        shown_two = False
        while not (progress and progress[-1]["done"]):
            message = await recv(ws)
            if message["type"] == "frame":
                frames.append(message["variant"])
            elif message["type"] == "sweep_progress":
                progress.append(message)
                assert len(message["trials"]) == 24
                if not shown_two:
                    await ws.send(json.dumps({"type": "show", "trial": 2}))
                    shown_two = True
        final = progress[-1]
        # the trial asked for last has its frame, even where the sweep ended first
        while (message := await recv(ws))["type"] != "frame" or message["variant"] != 2:
            if message["type"] == "frame":  # a last progress summary may still come between
                frames.append(message["variant"])
        assert frames and set(frames) <= {5, 2}, frames
        results = final["results"]
        nxt = final["next"]  # the next round, narrowed around the best 8 trials
        assert nxt["round"] == 1 and nxt["seed"] == 11
        best = sorted(results, key=lambda r: r["test_loss"])[:8]
        lrs = [r["values"]["optimizer.lr"] for r in best]
        assert nxt["parameters"][0]["low"] < min(lrs) and max(lrs) < nxt["parameters"][0]["high"]
        assert [r["index"] for r in results] == list(range(24))
        assert all(r["epochs"] == 3 and not r["diverged"] for r in results)
        local = SweepTraining(SweepSpec.model_validate(SWEEP)).run()
        for mine, theirs in zip(local, results, strict=True):
            assert mine.values == theirs["values"] and mine.seed == theirs["seed"]
            # the server may compile the batch's step: equal within float tolerance
            assert theirs["test_loss"] == pytest.approx(mine.test_loss, rel=1e-4, abs=1e-6)

        await ws.send(json.dumps({"type": "save_sweep", "name": "lr and L2"}))
        while (saved := await recv(ws))["type"] != "saved_sweep":
            assert saved["type"] in ("frame", "sweep_progress", "event"), saved
    assert saved["url"] == f"/s/{saved['id']}" and len(saved["token"]) == 32
    async with httpx.AsyncClient(base_url=server.url) as http:
        kept = (await http.get(saved["api"])).json()
        assert kept["name"] == "lr and L2" and kept["results"] == results
        assert kept["sweep"]["seed"] == 11 and kept["groups"] == ready["groups"]
        assert kept["log"] == ready["log"] and kept["metric"] == ready["metric"] == "accuracy"
        assert kept["links"] == {"page": saved["url"], "csv": saved["csv"]}
        # each trial's test-loss curve, one point per epoch end (and before training)
        assert [[e for e, _ in c] for c in kept["curves"]] == [[0, 1, 2, 3]] * 24
        assert [c[-1][1] for c in kept["curves"]] == [r["test_loss"] for r in results]
        page = await http.get(saved["url"])  # the short link is the page, with its headers
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        table = (await http.get(saved["csv"])).text.splitlines()
        assert table[0] == ("index,seed,optimizer.lr,regularization.l2,epochs,steps,"
                            "train_loss,test_loss,test_metric,diverged")
        assert len(table) == 25
        first = table[1].split(",")
        assert first[:2] == ["0", str(results[0]["seed"])]
        assert float(first[2]) == results[0]["values"]["optimizer.lr"]
        assert float(first[7]) == results[0]["test_loss"]
        missing = await http.get("/api/sweeps/AAAAAAAAAAAAAAAA/results.csv")
        assert missing.status_code == 404 and missing.json()["field"] == "id"


async def test_a_sweep_is_saved_only_once_finished(server) -> None:
    async with connect(server.ws_url, open_timeout=TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "start_sweep", "sweep": {**SWEEP, "epochs": 1000}}))
        assert (await recv(ws))["type"] == "sweep_ready"
        await ws.send(json.dumps({"type": "save_sweep"}))
        while (reply := await recv(ws))["type"] != "error":
            assert reply["type"] in ("frame", "sweep_progress"), reply
        assert reply["code"] == "not_finished"


@pytest.mark.parametrize(("change", "code", "field"), [
    ({"parameters": [{"kind": "log_uniform", "path": "optimizer.nope", "low": 0.1,
                      "high": 1}]}, "invalid_sweep", "sweep.parameters.0.path"),
    ({"parameters": [{"kind": "log_uniform", "path": "optimizer.lr", "low": 0.1,
                      "high": 500}]}, "invalid_sweep", "sweep.parameters.0.high"),
    ({"trials": 100_000}, "invalid_sweep", "sweep.trials"),
    ({"parameters": [{"kind": "uniform", "path": "training.epochs", "low": 1,
                      "high": 5}]}, "invalid_sweep", "sweep.parameters.0.path"),
    ({"epochs": 0}, "invalid_message", "sweep.epochs"),
])
async def test_bad_sweeps_are_answered_with_the_field_and_the_server_stays_up(
        server, change: dict, code: str, field: str) -> None:
    async with connect(server.ws_url, open_timeout=TIMEOUT) as ws:
        await ws.send(json.dumps({"type": "start_sweep", "sweep": {**SWEEP, **change}}))
        reply = await recv(ws)
        assert reply["type"] == "error" and reply["code"] == code, reply
        assert reply["field"] == field, reply
        await ws.send(json.dumps({"type": "ping", "id": 3}))
        assert (await recv(ws)) == {"type": "pong", "id": 3}


async def test_the_server_lists_the_fields_a_sweep_of_a_spec_may_vary(server) -> None:
    async with httpx.AsyncClient(base_url=server.url) as http:
        answer = await http.post("/api/sweep-fields", json=SWEEP["base"])
        assert answer.status_code == 200
        fields = {f["path"]: f for f in answer.json()["fields"]}
        assert fields["optimizer.lr"] == {"path": "optimizer.lr", "type": "float",
                                          "choices": [], "low": 0.0, "low_open": True,
                                          "high": 100.0, "high_open": False, "value": 0.03}
        assert fields["training.batch_size"]["value"] == 10
        assert fields["optimizer.kind"]["choices"][0] == "sgd"
        assert "training.seed" not in fields
        bad = await http.post("/api/sweep-fields", json={"optimizer": {"lr": -1}})
        assert bad.status_code == 422 and bad.json()["field"] == "optimizer.lr"
