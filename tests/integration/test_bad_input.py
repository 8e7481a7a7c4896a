"""Bad input, one kind per test: each is answered with an `error` naming its code and field, and
afterwards the connection answers, the run on it goes on where it was, and the server is up;
another client's run is not disturbed at all."""

from __future__ import annotations

import json

import pytest
from wsclient import Client, connect_to, health

pytestmark = pytest.mark.anyio


def start(spec: dict) -> str:
    return json.dumps({"type": "start", "spec": spec})


def layers(*hidden: dict) -> str:
    return start({"network": {"layers": list(hidden)}})


BAD = {  # name: (what the client sends, error code, field named)
    "malformed_json": ('{"type": "start", "spec": {', "bad_json", None),
    "not_an_object": ('["start"]', "bad_message", "type"),
    "unknown_message_type": ('{"type": "jump"}', "invalid_message", "type"),
    "unknown_layer_type": (layers({"type": "conv", "units": 3}), "invalid_spec",
                           "spec.network.layers.0"),
    "unknown_activation": (layers({"type": "linear"}, {"type": "activation", "fn": "swish"}),
                           "invalid_spec", "spec.network.layers.1.fn"),
    "a_million_units": (layers({"type": "linear", "units": 10**6}), "invalid_spec",
                        "spec.network.layers.0.units"),
    "a_hundred_layers": (layers(*[{"type": "linear", "units": 2}] * 100), "invalid_spec",
                         "spec.network.layers"),
    "negative_learning_rate": (start({"optimizer": {"kind": "sgd", "lr": -0.1}}),
                               "invalid_spec", "spec.optimizer.lr"),
    "negative_learning_rate_no_kind": (start({"optimizer": {"lr": -0.1}}), "invalid_spec",
                                       "spec.optimizer.lr"),
    "nan_learning_rate": ('{"type": "start", "spec": {"optimizer": {"kind": "sgd", "lr": NaN}}}',
                          "invalid_spec", "spec.optimizer.lr"),
    "batch_size_0": (start({"training": {"batch_size": 0}}), "invalid_spec",
                     "spec.training.batch_size"),
    "a_device_the_server_lacks": (start({"training": {"device": "mps"}}), "invalid_spec",
                                  "spec.training.device"),
    "step_of_0": ('{"type": "step", "n": 0}', "invalid_message", "n"),
    "binary_garbage": (bytes(range(256)) * 8, "binary_not_supported", None),
    "ten_megabytes": (json.dumps({"type": "ping", "pad": "x" * 10_000_000}),
                      "message_too_large", None),
    "nested_too_deep": ('{"type": "start", "spec": ' + "[" * 100_000 + "]" * 100_000 + "}",
                        "bad_json", None),
}
RUN = {"data": {"kind": "circle", "points": 100}}


async def refused(client: Client, raw: str | bytes, code: str, field: str | None) -> dict:
    await client.send_raw(raw)
    answer = await client.error()
    assert answer["code"] == code, answer
    assert answer["field"] == field, answer
    assert answer["message"] and answer["errors"][0]["field"] == (field or "")
    return answer


@pytest.mark.parametrize("name", BAD)
async def test_bad_input_is_refused_and_changes_nothing(server, name: str) -> None:
    raw, code, field = BAD[name]
    async with connect_to(server) as client:
        await client.start(RUN, run=False)
        await client.frame()
        assert (await client.step(2))["step"] == 2
        answer = await refused(client, raw, code, field)
        if name == "nan_learning_rate":
            assert "finite" in answer["message"]
        if name == "ten_megabytes":
            assert "1,000,000" in answer["message"]
        assert (await client.ping())["type"] == "pong"
        assert (await client.step(1))["step"] == 3  # the same run, where it was
        assert client.steps["step"] == [1, 2, 3]
    assert health(server)["status"] == "ok"


async def test_a_control_before_start_needs_a_session(server) -> None:
    async with connect_to(server) as client:
        await refused(client, '{"type": "pause"}', "no_session", "type")
        assert (await client.ping())["type"] == "pong"


async def test_an_update_touching_the_network_needs_a_restart_and_the_run_goes_on(
        server) -> None:
    async with connect_to(server) as client:
        ready = await client.start(RUN)
        await client.frame(lambda f: f["step"] > 0)
        answer = await refused(client, json.dumps(
            {"type": "update", "patch": {"network": {"layers": []}}}), "needs_restart",
            "patch.network.layers")
        assert "network.layers" in answer["message"]
        seen = client.last_frame["step"]
        frame = await client.frame(lambda f: f["step"] > seen + 20)
        assert frame["running"] is True
        assert frame["layers"]["name"] == [layer["name"] for layer in ready["summary"]["layers"]]
        # A live field still updates; a bad value for it is refused with its path as sent.
        await refused(client, json.dumps({"type": "update", "patch": {"optimizer": {"lr": -1}}}),
                      "invalid_update", "patch.optimizer.lr")
        await client.send({"type": "update", "patch": {"optimizer": {"lr": 0.2}}})
        await client.frame(lambda f: f["lr"] == 0.2 and f["running"])


async def test_bad_input_on_one_connection_leaves_another_run_alone(server) -> None:
    async with connect_to(server) as a, connect_to(server) as b:
        await a.start(RUN, fps=20)
        last = (await a.frame(lambda f: f["step"] > 0))["step"]
        sent = [*BAD.values(), ('{"type": "pause"}', "no_session", "type"),
                ('{"type": "reset"}', "no_session", "type")]
        for raw, code, field in sent:
            await refused(b, raw, code, field)
            frame = await a.frame(lambda f, last=last: f["step"] > last, "A's next frame", 5)
            assert frame["running"] is True
            last = frame["step"]
        assert a.steps["step"] == list(range(1, last + 1))  # A's curve is whole
        assert health(server)["status"] == "ok"
