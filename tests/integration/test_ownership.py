"""Owner tokens and quotas through a real server: REST and WebSocket saves issue a token once,
only its holder renames, annotates and deletes; saves per minute, bytes per client address and
the store's cap answer with their documented errors; X-Forwarded-For counts only from a
`--trusted-proxy`."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from wsclient import TIMEOUT, connect_to, mlp

from torchplay.spec.model import ExperimentSpec

pytestmark = pytest.mark.anyio

SPEC = {"data": {"kind": "xor"}, "network": {"layers": mlp(4)}, "training": {"epochs": 1}}
SETUP_BYTES = len(orjson.dumps(ExperimentSpec.model_validate(SPEC).model_dump(mode="json")))


async def http(server: Any, method: str, path: str, token: str | None = None,
               forwarded: str | None = None, **kwargs: Any) -> httpx.Response:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if forwarded is not None:
        headers["X-Forwarded-For"] = forwarded
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        return await client.request(method, path, headers=headers, **kwargs)


async def save(server: Any, token: str | None = None, forwarded: str | None = None,
               name: str = "") -> httpx.Response:
    return await http(server, "POST", "/api/experiments", token, forwarded,
                      json={"spec": SPEC, "name": name})


def refused(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert body["type"] == "error" and body["code"] == code and body["message"], body
    assert body["errors"] and body["errors"][0]["message"] == body["message"]
    return body


async def test_only_the_owner_renames_annotates_and_deletes(server_factory: Any) -> None:
    server = server_factory()
    first = await save(server, name="mine")
    assert first.status_code == 201
    token, experiment_id = first.json()["token"], first.json()["id"]
    assert len(token) == 32
    path = f"/api/experiments/{experiment_id}"
    intruder = (await save(server)).json()["token"]
    for sent in (None, intruder, "x" * 32):
        body = refused(await http(server, "PATCH", path, sent, json={"name": "theirs"}), 403,
                       "forbidden")
        assert body["field"] == "token" and "owner token" in body["message"]
        refused(await http(server, "DELETE", path, sent), 403, "forbidden")
    refused(await http(server, "DELETE", path, headers={"Authorization": "Basic abc"}), 403,
            "forbidden")
    assert (await http(server, "GET", path)).json()["name"] == "mine"

    renamed = await http(server, "PATCH", path, token, json={"name": "Renamed"})
    assert renamed.json() == {"id": experiment_id, "name": "Renamed", "note": ""}
    annotated = await http(server, "PATCH", path, token, json={"note": "try lr 0.3"})
    assert annotated.json() == {"id": experiment_id, "name": "Renamed", "note": "try lr 0.3"}
    bad = await http(server, "PATCH", path, token, json={"name": "x" * 201})
    assert bad.status_code == 422 and bad.json()["field"] == "name"
    bad = await http(server, "PATCH", path, token, json={"colour": "red"})
    assert bad.status_code == 422 and bad.json()["field"] == "colour"

    # A later save sends the token: no new token, and the same owner may delete it.
    async with connect_to(server) as client:
        await client.start(SPEC, fps=20)
        await client.event("finished")
        await client.send({"type": "save", "name": "run", "token": token})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert saved["type"] == "saved" and saved["token"] is None, saved
        await client.send({"type": "save", "token": "A" * 32})
        unknown = await client.error()
        assert (unknown["code"], unknown["field"]) == ("unknown_token", "token")
    for gone in (experiment_id, saved["id"]):
        deleted = await http(server, "DELETE", f"/api/experiments/{gone}", token)
        assert deleted.status_code == 204 and deleted.content == b""
        for route in ("", "/spec.json", "/script.py", "/weights.pt"):
            missing = await http(server, "GET", f"/api/experiments/{gone}{route}")
            assert missing.json()["code"] == "not_found", route
        refused(await http(server, "DELETE", f"/api/experiments/{gone}", token), 404,
                "not_found")
    refused(await save(server, token="B" * 32), 403, "unknown_token")


async def test_saves_per_minute_answer_429_with_retry_after_and_a_forged_header_is_ignored(
        server_factory: Any) -> None:
    server = server_factory("--saves-per-minute", "2", "--client-saves-per-minute", "3")
    token = (await save(server)).json()["token"]
    assert (await save(server, token)).status_code == 201
    answer = await save(server, token)
    body = refused(answer, 429, "rate_limited")
    assert "per owner token" in body["message"] and 1 <= int(answer.headers["retry-after"]) <= 60
    assert (await save(server)).status_code == 201  # a new owner, the third from this address
    # Without --trusted-proxy, X-Forwarded-For is the client's own claim: not believed.
    body = refused(await save(server, forwarded="203.0.113.9"), 429, "rate_limited")
    assert "per client address" in body["message"]
    async with connect_to(server) as client:  # the WebSocket's save counts the same
        await client.start(SPEC, fps=20, run=False)
        await client.send({"type": "save"})
        assert (await client.error())["code"] == "rate_limited"


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_quota(
        server_factory: Any) -> None:
    server = server_factory("--trusted-proxy", "127.0.0.1", "--client-saves-per-minute", "10",
                            "--bytes-per-client", str(2 * SETUP_BYTES),
                            "--storage-cap", str(5 * SETUP_BYTES))
    for _ in range(2):
        assert (await save(server, forwarded="198.51.100.1")).status_code == 201
    body = refused(await save(server, forwarded="198.51.100.1"), 413, "quota_exceeded")
    assert f"stores {2 * SETUP_BYTES:,} bytes" in body["message"]
    # The proxy appends the address it saw: the rightmost untrusted entry is the client, and
    # whatever the client itself wrote to the left of it changes nothing.
    refused(await save(server, forwarded="10.9.9.9, 198.51.100.1"), 413, "quota_exceeded")
    for client in ("198.51.100.2", "198.51.100.2", "198.51.100.3"):
        assert (await save(server, forwarded=client)).status_code == 201
    body = refused(await save(server, forwarded="198.51.100.4"), 507, "storage_full")
    assert f"cap of {5 * SETUP_BYTES:,}" in body["message"]


SWEEP = {"base": {"data": {"kind": "xor", "points": 40}, "network": {"layers": mlp(2)}},
         "parameters": [{"kind": "log_uniform", "path": "optimizer.lr", "low": 0.01,
                         "high": 0.1}], "trials": 2, "epochs": 1}


async def save_sweep(server: Any, token: str | None) -> dict[str, Any]:
    """Run a tiny sweep to its end and save it with `token`: the reply."""
    async with connect_to(server) as client:
        async def recv() -> dict[str, Any]:  # raw: a sweep's frames are not a lone run's
            return orjson.loads(await asyncio.wait_for(client.ws.recv(), TIMEOUT))

        await client.send({"type": "start_sweep", "sweep": SWEEP})
        while not ((message := await recv())["type"] == "sweep_progress" and message["done"]):
            assert message["type"] in ("sweep_ready", "sweep_progress", "frame", "event"), message
        await client.send({"type": "save_sweep", "token": token})
        while (message := await recv())["type"] not in ("saved_sweep", "error"):
            pass
        return message


async def test_a_sweep_saves_with_the_owner_token_and_counts_in_the_saves_a_minute(
        server_factory: Any) -> None:
    server = server_factory("--saves-per-minute", "2")
    first = await save_sweep(server, None)
    assert first["type"] == "saved_sweep" and len(first["token"]) == 32, first
    token = first["token"]
    assert (await save(server, token)).status_code == 201  # an experiment by the same owner
    body = await save_sweep(server, token)  # its third save this minute
    assert body["type"] == "error" and body["code"] == "rate_limited", body
    assert "2 saves a minute per owner token" in body["message"]
    body = await save_sweep(server, "x" * 32)
    assert (body["code"], body["field"]) == ("unknown_token", "token"), body


async def test_only_a_sweeps_owner_deletes_it(server_factory: Any) -> None:
    server = server_factory()
    saved = await save_sweep(server, None)
    sweep_id, token = saved["id"], saved["token"]
    assert (await http(server, "GET", f"/api/sweeps/{sweep_id}")).status_code == 200
    refused(await http(server, "DELETE", f"/api/sweeps/{sweep_id}"), 403, "forbidden")
    other = (await save(server)).json()["token"]  # a real token, of someone else
    refused(await http(server, "DELETE", f"/api/sweeps/{sweep_id}", other), 403, "forbidden")
    assert (await http(server, "GET", f"/api/sweeps/{sweep_id}")).status_code == 200
    assert (await http(server, "DELETE", f"/api/sweeps/{sweep_id}", token)).status_code == 204
    refused(await http(server, "GET", f"/api/sweeps/{sweep_id}"), 404, "not_found")
    refused(await http(server, "DELETE", f"/api/sweeps/{sweep_id}", token), 404, "not_found")
