"""Strict input, over the real socket and REST: no boolean passes for a number nor a number for
a boolean, integers are bounded before any encoder sees them, a lone surrogate is refused by
name, and every refusal leaves the connection answering and its run training."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from wsclient import TIMEOUT, connect_to

pytestmark = pytest.mark.anyio
RUN = {"data": {"kind": "circle", "points": 100}}

BAD = {  # what the client sends: (error code, field named)
    '{"type": "ping", "id": 18446744073709551616}': ("invalid_message", "id"),
    '{"type": "ping", "id": -18446744073709551616}': ("invalid_message", "id"),
    '{"type": "ping", "id": true}': ("invalid_message", "id"),
    '{"type": "step", "n": true}': ("invalid_message", "n"),
    '{"type": "rate", "fps": true}': ("invalid_message", "fps"),
    '{"type": "check_gradients", "points": 1e400}': ("invalid_message", "points"),
    '{"type": "save", "name": "a\\ud800b"}': ("bad_json", "name"),
    '{"type": "save", "\\udfff": 1}': ("bad_json", "\\udfff"),
    '{"type": "update", "patch": {"optimizer": {"lr": true}}}': ("invalid_update",
                                                                 "patch.optimizer.lr"),
    '{"type": "update", "patch": {"training": {"epochs": 18446744073709551616}}}': (
        "invalid_update", "patch.training.epochs"),
    '{"type": "start", "spec": {"network": {"layers": [{"type": "linear", "units": true}]}}}':
        ("invalid_spec", "spec.network.layers.0.units"),
    '{"type": "start", "spec": {"features": {"standardize": 1}}}': (
        "invalid_spec", "spec.features.standardize"),
    '{"type": "start", "spec": {"training": {"seed": 18446744073709551616}}}': (
        "invalid_spec", "spec.training.seed"),
    '{"type": "start", "spec": {"data": {"noise": "0.1"}}}': ("invalid_spec", "spec.data.noise"),
    '{"type": "start", "spec": {"data": {"kind": "circle\\ud800"}}}': ("bad_json",
                                                                      "spec.data.kind"),
    '{"type": "start", "run": 1, "spec": {}}': ("invalid_spec", "run"),
    # the heavy setup, every number inside its own bound: over the compute limits
    '{"type": "start", "spec": {"data": {"points": 20000}, "training": {"batch_size": 20000},'
    ' "network": {"layers": [{"type": "linear", "units": 1024}, {"type": "activation"},'
    ' {"type": "linear", "units": 1024}, {"type": "activation"}]}, "probes": {"grid": 200}}}':
        ("invalid_spec", "spec.training.batch_size"),
}


@pytest.mark.parametrize("raw", list(BAD))
async def test_refused_by_name_and_the_run_goes_on(server, raw: str) -> None:
    code, field = BAD[raw]
    async with connect_to(server) as client:
        await client.start(RUN)
        first = await client.frame()
        await client.send_raw(raw)
        answer = await client.error()
        assert (answer["code"], answer["field"]) == (code, field), answer
        assert answer["errors"][0]["field"] == field and answer["message"]
        await client.ping()  # the connection answers
        later = await client.frame(lambda f: f["step"] > first["step"], "a later frame")
        assert later["running"]


async def test_a_start_refused_strictly_leaves_the_old_run(server) -> None:
    async with connect_to(server) as client:
        await client.start(RUN)
        await client.send_raw('{"type": "start", "spec": {"training": {"batch_size": true}}}')
        answer = await client.error()
        assert answer["field"] == "spec.training.batch_size"
        await client.frame()


async def test_the_largest_ping_id_comes_back_exactly(server) -> None:
    async with connect_to(server) as client:
        await client.send({"type": "ping", "id": 2**53 - 1})
        pong = await client.until(lambda m: m["type"] == "pong", "pong")
        assert pong["id"] == 2**53 - 1


def post(server, path: str, body: str) -> httpx.Response:
    return httpx.post(server.url + path, content=body.encode(), timeout=TIMEOUT,
                      headers={"Content-Type": "application/json"})


REST_BAD = {  # (path, body): field named
    ("/api/diagnosis", '{"train_error": NaN, "test_error": 0.1}'): "train_error",
    ("/api/diagnosis", '{"train_error": Infinity, "test_error": 0.1}'): "train_error",
    ("/api/diagnosis", '{"train_error": "\\ud800", "test_error": 0.1}'): "train_error",
    ("/api/diagnosis", '{"train_error": 0.1, "test_error": 0.1, "\\ud800": 1}'): "\\ud800",
    ("/api/diagnosis", '{"train_error": true, "test_error": 0.1}'): "train_error",
    ("/api/diagnosis", '{"train_error": 0.1}'): "test_error",
    ("/api/diagnosis", '[1, 2]'): "body",
    ("/api/experiments", '{"spec": {}, "name": "\\ud83d"}'): "name",
    ("/api/experiments", '{"spec": {"data": {"points": true}}}'): "spec.data.points",
    ("/api/experiments", '{"spec": {"training": {"seed": 1e400}}}'): "spec.training.seed",
    ("/api/spec/migrate", '{"version": true}'): "version",
    # an old link over the compute limit per frame is refused with that error
    ("/api/spec/migrate", '{"version": 1, "data": {"points": 20000}, "network": {"layers": '
     '[{"type": "linear", "units": 1024}]}, "probes": {"grid": 200}}'): "probes.grid",
}


@pytest.mark.parametrize(("path", "body"), list(REST_BAD))
async def test_rest_refusals_have_the_documented_shape(server, path: str, body: str) -> None:
    answer = await asyncio.to_thread(post, server, path, body)
    assert answer.status_code == 422, answer.text
    error = answer.json()
    assert error["type"] == "error" and error["code"] in ("invalid_request", "bad_json")
    assert error["field"] == REST_BAD[(path, body)], error
    assert error["message"] and error["errors"][0]["field"] == error["field"]


async def test_rest_errors_everywhere_have_the_shape(server) -> None:
    for method, path in (("GET", "/no/such/page"), ("DELETE", "/api/health"),
                         ("GET", "/api/lessons/no-such-lesson"),
                         ("GET", "/api/activations?slope=abc"),
                         ("GET", "/api/activations?slope=true"),
                         ("GET", "/static/no-such-file.js")):
        answer = httpx.request(method, server.url + path, timeout=TIMEOUT)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
        error = answer.json()
        assert error["type"] == "error" and error["code"] and error["message"], error
        assert set(error) == {"type", "code", "message", "field", "errors"}


async def test_schema_says_what_is_enforced(server) -> None:
    schema = httpx.get(server.url + "/api/schema", timeout=TIMEOUT).json()
    linear = schema["$defs"]["LinearLayer"]["properties"]
    assert linear["units"]["type"] == "integer" and linear["bias"]["type"] == "boolean"
    assert schema["$defs"]["FeatureSpec"]["properties"]["standardize"]["type"] == "boolean"
    assert schema["$defs"]["DataSpec"]["properties"]["noise"]["type"] == "number"
    text = json.dumps(schema)
    assert "strict" not in text  # pydantic keeps strictness out of the schema: types say it


async def test_client_helper_is_not_strict_about_ints_for_floats(server) -> None:
    """An integer is a number: `"lr": 1` is a learning rate of 1.0, as JSON Schema says."""
    async with connect_to(server) as client:
        ready = await client.start({**RUN, "optimizer": {"kind": "sgd", "lr": 1}})
        assert ready["spec"]["optimizer"]["lr"] == 1.0
