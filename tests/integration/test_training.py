"""Runs through the real server that a user would expect to learn, and the events that end them.

Each convergence test also checks the server's own metric against one computed here from what
the page draws: the decision grid looked up at the test points, or the 1-D curve interpolated
at them.
"""

from __future__ import annotations

import numpy as np
import pytest
from wsclient import Client, connect_to, mlp, output_at

pytestmark = pytest.mark.anyio


async def train_to_the_end(client: Client, spec: dict, timeout: float = 60) -> tuple[dict, dict]:
    """Start a run bounded by training.epochs; return its ready message and its final frame."""
    ready = await client.start(spec, fps=10)
    done = await client.event("finished", timeout=timeout)
    assert done["epoch"] == spec["training"]["epochs"]
    assert done["step"] == done["epoch"] * ready["summary"]["steps_per_epoch"]
    final = await client.frame_at(done["step"])
    assert final["running"] is False and final["epoch"] == done["epoch"]
    return ready, final


def grid_accuracy(final: dict, ready: dict) -> float:
    """Share of test points whose cell in the output grid shows their own class."""
    output, data = final["output"], ready["data"]
    cells = np.array(output_at(output, data["test_x"]))
    predicted = cells >= 128 if output["kind"] == "probability" else cells
    return float(np.mean(predicted == np.array(data["test_y"])))


async def test_circle_with_two_tanh_layers_and_sgd_learns(server) -> None:
    spec = {"data": {"kind": "circle", "noise": 0.1, "seed": 1},
            "network": {"layers": mlp(8, 8, fn="tanh")},
            "optimizer": {"kind": "sgd", "lr": 0.1}, "training": {"epochs": 60}}
    async with connect_to(server) as client:
        ready, final = await train_to_the_end(client, spec)
    assert final["metric"] == "accuracy" and final["output"]["kind"] == "probability"
    assert final["test_metric"] >= 0.95
    assert final["train_metric"] >= 0.95
    assert client.evals["test_metric"][-1] == final["test_metric"]  # the curve ends there too
    assert client.evals["epoch"] == list(range(61))
    assert grid_accuracy(final, ready) >= 0.93  # what the page shows agrees


async def test_spiral_with_three_arms_relu_and_adam_learns(server) -> None:
    spec = {"data": {"kind": "spiral", "classes": 3, "noise": 0.1},
            "network": {"layers": mlp(64, 64, fn="relu")},
            "optimizer": {"kind": "adam", "lr": 0.003}, "training": {"epochs": 100}}
    async with connect_to(server) as client:
        ready, final = await train_to_the_end(client, spec)
    assert ready["summary"]["classes"] == 3 and ready["summary"]["output_dim"] == 3
    assert final["output"]["kind"] == "classes"
    assert final["test_metric"] >= 0.90
    assert grid_accuracy(final, ready) >= 0.85
    losses = client.steps["loss"]
    assert np.mean(losses[-250:]) < np.mean(losses[:250]) / 4  # the curve falls


async def test_sine_regression_reaches_r2_of_0_9(server) -> None:
    spec = {"data": {"kind": "sine1d", "noise": 0.1}, "loss": {"kind": "mse"},
            "network": {"layers": mlp(32, 32, fn="relu")},
            "optimizer": {"kind": "adam", "lr": 0.01}, "training": {"epochs": 100}}
    async with connect_to(server) as client:
        ready, final = await train_to_the_end(client, spec)
    assert final["metric"] == "r2" and final["test_metric"] >= 0.9
    curve = final["output"]
    assert curve["kind"] == "curve" and len(curve["x"]) == len(curve["y"]) == spec_grid(ready)
    # R^2 of the drawn curve at the test points, computed here.
    x = np.array(ready["data"]["test_x"])[:, 0]
    y = np.array(ready["data"]["test_y"])
    predicted = np.interp(x, curve["x"], curve["y"])
    r2 = 1 - np.sum((predicted - y) ** 2) / np.sum((y - y.mean()) ** 2)
    assert r2 >= 0.9
    assert r2 == pytest.approx(final["test_metric"], abs=0.02)


def spec_grid(ready: dict) -> int:
    return ready["spec"]["probes"]["grid"]


async def test_early_stopping_reports_the_best_epoch(server) -> None:
    patience = 5
    spec = {"data": {"kind": "xor", "noise": 0.5, "points": 100},
            "network": {"layers": mlp(32, 32, fn="relu")},
            "optimizer": {"kind": "adam", "lr": 0.01},
            "regularization": {"early_stopping": {"enabled": True, "patience": patience}},
            "training": {"epochs": 1000}}
    async with connect_to(server) as client:
        ready = await client.start(spec, fps=10)
        stopped = await client.event("early_stopped")
        per_epoch = ready["summary"]["steps_per_epoch"]
        final = await client.frame_at(stopped["step"])
        assert final["running"] is False
        assert stopped["epoch"] - stopped["best_epoch"] == patience
        assert stopped["step"] == stopped["epoch"] * per_epoch
        assert stopped["best_step"] == stopped["best_epoch"] * per_epoch
        # The best test loss is the lowest point of the test curve the client received.
        test_losses = client.evals["test_loss"]
        assert stopped["best_test_loss"] == min(test_losses)
        assert client.evals["epoch"][test_losses.index(min(test_losses))] == stopped["best_epoch"]
        assert len(test_losses) == stopped["epoch"] + 1
        await client.send({"type": "resume"})  # the run is paused, not over
        await client.frame(lambda f: f["step"] > stopped["step"])


async def test_finished_pauses_at_the_epoch_limit_and_resume_goes_on(server) -> None:
    spec = {"data": {"kind": "circle", "points": 100}, "training": {"epochs": 4}}
    async with connect_to(server) as client:
        ready, final = await train_to_the_end(client, spec)
        assert final["step"] == 4 * ready["summary"]["steps_per_epoch"]
        assert client.steps["step"] == list(range(1, final["step"] + 1))  # every step, once
        assert client.evals["epoch"] == [0, 1, 2, 3, 4]
        assert await client.ping()  # paused, nothing else arrives
        await client.send({"type": "resume"})
        await client.frame(lambda f: f["step"] > final["step"] and f["running"])
