"""set_weight over a real socket: the next frame shows the new weight, training goes on from
it, a saved run says it was edited, and bad edits are refused by field with the run intact;
in runs side by side (one batch), the variant named is edited and the others are not."""

from __future__ import annotations

import httpx
import pytest
from wsclient import TIMEOUT, connect_to, mlp

pytestmark = pytest.mark.anyio

SPEC = {"data": {"kind": "xor", "points": 200}, "network": {"layers": mlp(3)},
        "training": {"batch_size": 10}}


def weight(frame: dict, layer: int, row: int, col: int) -> float:
    link = next(link for link in frame["links"] if link["layer"] == layer)
    return link["values"][row * link["shape"][1] + col]


async def test_a_set_weight_shows_in_the_next_frame_and_is_recorded(server) -> None:
    async with connect_to(server) as client:
        await client.start(SPEC, run=False)
        await client.frame()
        await client.step(5)
        await client.send({"type": "set_weight", "layer": 0, "row": 1, "col": 0,
                           "value": 2.5})
        frame = await client.frame(lambda f: weight(f, 0, 1, 0) == 2.5, "the edited weight")
        assert frame["step"] == 5  # paused: the edit alone, no step taken
        moved = await client.step(1)
        assert moved["step"] == 6
        assert weight(moved, 0, 1, 0) != 2.5  # trained on from the new value
        assert abs(weight(moved, 0, 1, 0) - 2.5) < 0.5
        await client.send({"type": "save", "name": "edited", "note": ""})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved",
                                   timeout=2 * TIMEOUT)  # a save queues behind others
        assert saved["type"] == "saved", saved
    found = httpx.get(f"{server.url}/api/experiments/{saved['id']}", timeout=TIMEOUT).json()
    assert found["run"]["weight_edits"] == 1
    assert found["run"]["spec_changed_at_step"] == 5


VARIANTS = [{"label": "lr 0.03", "patch": {}},
            {"label": "lr 0.3", "patch": {"optimizer": {"lr": 0.3}}}]


async def test_a_set_weight_in_a_batch_edits_the_variant_named(server) -> None:
    async with connect_to(server) as client:
        await client.send({"type": "start", "spec": SPEC, "variants": VARIANTS, "run": False})
        ready = await client.until(lambda m: m["type"] == "ready", "ready")
        assert ready["batched"]
        await client.send({"type": "step", "n": 5})
        before = {}
        while len(before) < 2:
            frame = await client.frame(lambda f: f["step"] == 5, "both variants at step 5")
            before[frame["variant"]] = weight(frame, 0, 1, 0)
        await client.send({"type": "set_weight", "variant": 1, "layer": 0, "row": 1, "col": 0,
                           "value": 2.5})
        edited = await client.frame(lambda f: f["variant"] == 1 and weight(f, 0, 1, 0) == 2.5,
                                    "variant 1's edited weight")
        assert edited["step"] == 5
        await client.send({"type": "step", "n": 1})
        moved = {}
        while len(moved) < 2:
            frame = await client.frame(lambda f: f["step"] == 6, "both variants at step 6")
            moved[frame["variant"]] = weight(frame, 0, 1, 0)
        assert moved[1] != 2.5 and abs(moved[1] - 2.5) < 0.5  # trained on from the new value
        assert abs(moved[0] - before[0]) < 0.5 and abs(moved[0] - 2.5) > 0.5  # untouched
        await client.send({"type": "set_weight", "variant": 2, "layer": 0, "row": 1, "col": 0,
                           "value": 1.0})
        refused = await client.error()
        assert refused["field"] == "variant", refused
        await client.send({"type": "save", "name": "edited group", "note": ""})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved",
                                   timeout=2 * TIMEOUT)  # a save queues behind others
        assert saved["type"] == "saved", saved
    run = httpx.get(f"{server.url}/api/experiments/{saved['id']}", timeout=TIMEOUT).json()["run"]
    assert (run["weight_edits"], run["spec_changed_at_step"]) == (0, None)
    (second,) = run["variants"]
    assert (second["run"]["weight_edits"], second["run"]["spec_changed_at_step"]) == (1, 5)


@pytest.mark.parametrize("fields, field", [
    ({"layer": 1, "row": 0, "col": 0, "value": 1.0}, "layer"),  # module 1 is the tanh
    ({"layer": 0, "row": 3, "col": 0, "value": 1.0}, "row"),  # 3 units: rows 0..2
    ({"layer": 2, "row": 0, "col": 3, "value": 1.0}, "col"),  # output layer: 3 inputs
    ({"layer": 0, "row": 0, "col": 0, "value": 1000.0}, "value"),
    ({"layer": 0, "row": 0, "col": 0, "value": True}, "value"),
    ({"layer": "0", "row": 0, "col": 0, "value": 1.0}, "layer"),
    ({"layer": 0, "row": 0, "col": 0, "value": 1.0, "variant": 1}, "variant"),  # a lone run
    ({"layer": 0, "row": 0, "col": 0, "value": 1.0, "variant": -1}, "variant"),
])
async def test_a_bad_edit_is_refused_by_field(server, fields: dict, field: str) -> None:
    async with connect_to(server) as client:
        await client.start(SPEC, run=False)
        await client.frame()
        await client.send({"type": "set_weight", **fields})
        refused = await client.error()
        assert refused["field"] == field, refused
        assert (await client.step(1))["step"] == 1  # the run is intact
