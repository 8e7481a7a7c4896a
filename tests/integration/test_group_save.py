"""Runs trained side by side saved as one experiment over a real socket and read back over
REST: every run's spec, curves, last frame and weights, with their labels; or one of them
alone."""

from __future__ import annotations

import io

import httpx
import pytest
import torch
from wsclient import TIMEOUT, connect_to, mlp

pytestmark = pytest.mark.anyio

SPEC = {"data": {"kind": "circle", "points": 200}, "network": {"layers": mlp(3)},
        "training": {"batch_size": 20}}
VARIANTS = [{"label": "lr 0.03", "patch": {}},
            {"label": "lr 0.3", "patch": {"optimizer": {"lr": 0.3}}},
            {"label": "xor", "patch": {"data": {"kind": "xor"}}}]


async def start_group(client) -> None:
    await client.send({"type": "start", "spec": SPEC, "variants": VARIANTS, "run": False})
    await client.until(lambda m: m["type"] == "ready", "ready")
    await client.send({"type": "step", "n": 30})
    await client.frame(lambda f: f["step"] >= 30 and f.get("variant") == 2, "variant 2 at 30")


async def test_a_group_saves_as_one_experiment(server) -> None:
    async with connect_to(server) as client:
        await start_group(client)
        await client.send({"type": "save", "name": "three runs", "note": ""})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert saved["type"] == "saved", saved
    found = httpx.get(f"{server.url}/api/experiments/{saved['id']}", timeout=TIMEOUT).json()
    run = found["run"]
    assert run["label"] == "lr 0.03" and run["step"] == 30
    assert [v["label"] for v in run["variants"]] == ["lr 0.3", "xor"]
    second, third = run["variants"]
    assert second["spec"]["optimizer"]["lr"] == 0.3 and third["spec"]["data"]["kind"] == "xor"
    assert "data" not in second["run"]  # the first run's points
    assert len(third["run"]["data"]["train_x"]) == 100  # its own points
    assert second["run"]["history"]["steps"]["step"][-1] == 30
    assert second["run"]["history"]["steps"]["loss"] != run["history"]["steps"]["loss"]


async def test_only_the_run_on_show_saves_alone(server) -> None:
    async with connect_to(server) as client:
        await start_group(client)
        await client.send({"type": "save", "name": "", "note": "", "only": 1})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert saved["type"] == "saved", saved
        await client.send({"type": "save", "name": "", "note": "", "only": 3})
        refused = await client.error()
        assert refused["field"] == "only"
    found = httpx.get(f"{server.url}/api/experiments/{saved['id']}", timeout=TIMEOUT).json()
    assert found["spec"]["optimizer"]["lr"] == 0.3
    assert "variants" not in found["run"] and found["run"]["step"] == 30


def load_weights(server, experiment_id: str):
    answer = httpx.get(f"{server.url}/api/experiments/{experiment_id}/weights.pt",
                       timeout=TIMEOUT)
    assert answer.status_code == 200, answer.text
    return torch.load(io.BytesIO(answer.content), weights_only=True)


def assert_weights_are_the_frames(state_dict: dict, frame: dict) -> None:
    """The saved weights are those the run's last frame drew (its links, float32 as JSON)."""
    for link in frame["links"]:
        saved = state_dict[f"{link['layer']}.weight"]
        assert list(saved.shape) == link["shape"]
        assert saved.flatten().tolist() == pytest.approx(link["values"], rel=1e-6, abs=1e-7)


async def test_a_saved_groups_weights_hold_every_run(server) -> None:
    async with connect_to(server) as client:
        await start_group(client)
        await client.send({"type": "save", "name": "", "note": ""})
        group = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        await client.send({"type": "save", "name": "", "note": "", "only": 2})
        alone = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert (group["type"], alone["type"]) == ("saved", "saved"), (group, alone)
    run = httpx.get(f"{server.url}/api/experiments/{group['id']}", timeout=TIMEOUT).json()["run"]
    saved = load_weights(server, group["id"])
    frames = [run["frame"], *(v["run"]["frame"] for v in run["variants"])]
    assert isinstance(saved, list) and len(saved) == len(VARIANTS)
    for state_dict, frame in zip(saved, frames, strict=True):
        assert_weights_are_the_frames(state_dict, frame)
    assert not torch.equal(saved[0]["0.weight"], saved[1]["0.weight"])  # lr 0.3 moved apart
    # One run saved alone: its state_dict, the third run's.
    one = load_weights(server, alone["id"])
    assert isinstance(one, dict) and torch.equal(one["0.weight"], saved[2]["0.weight"])
