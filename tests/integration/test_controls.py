"""The controls of a run, through the real server: pause, step, reset, a live learning-rate
update, and a run that diverges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from wsclient import connect_to, health, mlp

pytestmark = pytest.mark.anyio

SMALL = {"data": {"kind": "circle", "points": 100}}  # 50 training points: 5 steps per epoch


async def test_pause_stops_step_advances_exactly_and_reset_starts_over(server) -> None:
    async with connect_to(server) as client:
        ready = await client.start(SMALL, run=False)
        first = await client.frame()
        assert first["step"] == 0 and first["running"] is False
        await client.send({"type": "resume"})
        await client.frame(lambda f: f["step"] >= 20)
        paused = await client.pause()
        s = paused["step"]
        seen: list[dict] = []
        await client.ping(seen=seen)
        assert [m["step"] for m in seen if m["type"] == "frame"] in ([], [s])

        stepped = await client.step(3)
        assert stepped["step"] == s + 3 and stepped["running"] is False
        seen = []
        await client.ping(seen=seen)  # and it stays there
        assert [m["step"] for m in seen if m["type"] == "frame"] in ([], [s + 3])
        assert client.steps["step"] == list(range(1, s + 4))  # every step once, in order

        per_epoch = ready["summary"]["steps_per_epoch"]
        epoch = stepped["epoch"]
        stepped = await client.step(1, unit="epoch")
        assert stepped["epoch"] == epoch + 1 and stepped["step"] == (epoch + 1) * per_epoch
        assert client.evals["epoch"] == list(range(epoch + 2))

        await client.send({"type": "reset"})
        reset = await client.frame(lambda f: f["step"] == 0)
        assert reset["history"]["replace"] is True and reset["epoch"] == 0
        assert client.steps["step"] == [] and client.evals["step"] == [0]
        assert reset["links"] == first["links"]  # the same fresh weights, from the seed
        assert reset["test_loss"] == first["test_loss"]
        assert (await client.step(2))["step"] == 2
        assert client.steps["step"] == [1, 2]


async def test_the_first_frame_after_reset_replaces_the_history(server) -> None:
    # Frames built just before a reset but sent after it once carried the new (empty) history
    # with `replace`, so the real reset frame did not replace. Repeated to catch the race.
    async with connect_to(server) as client:
        await client.start({**SMALL, "probes": {"grid": 10, "neuron_grid": 4}}, run=False, fps=60)
        await client.frame()
        for i in range(100):
            await client.step(3)
            await client.send({"type": "update", "patch": {"optimizer": {"lr": 0.01 + i / 1e4}}})
            await client.send({"type": "reset"})
            reset = await client.frame(lambda f: f["step"] == 0)
            assert reset["history"]["replace"] is True, f"round {i}"
            assert client.steps["step"] == [] and client.evals["step"] == [0]


async def test_learning_rate_update_applies_to_the_next_step(server) -> None:
    spec = {**SMALL, "optimizer": {"kind": "sgd", "lr": 0.05}}
    async with connect_to(server) as client:
        await client.start(spec)
        await client.frame(lambda f: f["step"] >= 10)
        paused = await client.pause()
        s = paused["step"]
        assert paused["lr"] == 0.05
        await client.send({"type": "update", "patch": {"optimizer": {"lr": 0.5}}})
        updated = await client.frame(lambda f: f["lr"] == 0.5, "frame with the new lr")
        assert updated["step"] == s  # the update alone trains nothing

        stepped = await client.step(1)
        assert stepped["step"] == s + 1 and stepped["lr"] == 0.5
        assert client.steps["step"][-1] == s + 1
        # Plain SGD moved each weight by lr * gradient: the step used the new rate.
        layers = stepped["layers"]
        before = {link["layer"]: np.array(link["values"]) for link in updated["links"]}
        for link in stepped["links"]:
            i = link["layer"]
            moved = np.linalg.norm(np.array(link["values"]) - before[i])
            assert moved == pytest.approx(0.5 * layers["grad_norm_weight"][i], rel=1e-3)
            assert layers["update_ratio"][i] == pytest.approx(
                moved / np.linalg.norm(before[i]), rel=1e-3)

        await client.step(1, unit="epoch")  # evaluation rows after the update carry the new rate
        rates = dict(zip(client.evals["step"], client.evals["lr"], strict=True))
        assert {lr for step, lr in rates.items() if step <= s} == {0.05}
        assert {lr for step, lr in rates.items() if step > s} == {0.5}


async def test_a_diverging_run_stops_with_an_event_and_trains_again_after_reset(server) -> None:
    # lr 100 on a sigmoid classifier only saturates (cross-entropy gradients stay bounded);
    # with MSE on a regression set the output layer overshoots by ~100x per step and the loss
    # reaches inf within about ten steps.
    spec = {"data": {"kind": "plane"}, "loss": {"kind": "mse"},
            "network": {"layers": mlp(*[16] * 8, fn="sigmoid", init={"kind": "normal"})},
            "optimizer": {"kind": "sgd", "lr": 100}}
    async with connect_to(server) as client:
        await client.start(spec)
        event = await client.event("diverged")
        step = event["step"]
        assert step >= 1 and f"step {step}" in event["message"]
        frame = await client.frame_at(step)
        assert frame["diverged"] is True and frame["running"] is False
        assert all(s < step for s in client.steps["step"])  # the bad step is not a curve point
        assert all(math.isfinite(v) for v in client.steps["loss"])
        assert health(server)["status"] == "ok"

        for control in ({"type": "resume"}, {"type": "step", "n": 5}):
            await client.send(control)
            refused = await client.error()
            assert refused["code"] == "diverged"
        assert (await client.frame())["step"] == step

        await client.send({"type": "update", "patch": {"optimizer": {"lr": 0.01}}})
        await client.send({"type": "reset"})
        reset = await client.frame(lambda f: f["step"] == 0 and not f["diverged"])
        assert reset["history"]["replace"] is True and reset["lr"] == 0.01
        stepped = await client.step(5)
        assert stepped["step"] == 5 and stepped["diverged"] is False
        assert math.isfinite(stepped["train_loss"]) and client.steps["step"] == [1, 2, 3, 4, 5]
