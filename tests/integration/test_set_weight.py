"""set_weight over a real socket: the next frame shows the new weight, training goes on from
it, a saved run says it was edited, and bad edits are refused by field with the run intact."""

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
        saved = await client.until(lambda m: m["type"] == "saved", "saved")
    found = httpx.get(f"{server.url}/api/experiments/{saved['id']}", timeout=TIMEOUT).json()
    assert found["run"]["weight_edits"] == 1
    assert found["run"]["spec_changed_at_step"] == 5


@pytest.mark.parametrize("fields, field", [
    ({"layer": 1, "row": 0, "col": 0, "value": 1.0}, "layer"),  # module 1 is the tanh
    ({"layer": 0, "row": 3, "col": 0, "value": 1.0}, "row"),  # 3 units: rows 0..2
    ({"layer": 2, "row": 0, "col": 3, "value": 1.0}, "col"),  # output layer: 3 inputs
    ({"layer": 0, "row": 0, "col": 0, "value": 1000.0}, "value"),
    ({"layer": 0, "row": 0, "col": 0, "value": True}, "value"),
    ({"layer": "0", "row": 0, "col": 0, "value": 1.0}, "layer"),
])
async def test_a_bad_edit_is_refused_by_field(server, fields: dict, field: str) -> None:
    async with connect_to(server) as client:
        await client.start(SPEC, run=False)
        await client.frame()
        await client.send({"type": "set_weight", **fields})
        refused = await client.error()
        assert refused["field"] == field, refused
        assert (await client.step(1))["step"] == 1  # the run is intact
