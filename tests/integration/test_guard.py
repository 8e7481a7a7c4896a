"""Origin and Host checks and the security headers, against real servers: a WebSocket opened
with a foreign Origin is refused before any session exists, a spoofed Host (DNS rebinding) is
refused on every route, and names given with --allow-host / --allow-origin (or their
variables) are accepted and printed at start."""

from __future__ import annotations

import asyncio
import json
import os
import socket

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from wsclient import TIMEOUT, Client, health

pytestmark = pytest.mark.anyio
ROUTES = ["/", "/api/health", "/api/schema", "/static/src/main.js", "/api/lessons",
          "/e/abc", "/no/such/page"]


def get(server, path: str, **headers: str) -> httpx.Response:
    return httpx.get(server.url + path, headers=headers, timeout=TIMEOUT)


def connection(server, host: str | None = None, **headers: str) -> connect:
    """A WebSocket handshake to the server that names `host` in its Host header (the URL's
    own by default), with these extra headers."""
    if host is None:
        return connect(server.ws_url, additional_headers=headers, open_timeout=TIMEOUT,
                       compression=None)
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    return connect(f"ws://{host}/ws", sock=sock, additional_headers=headers,
                   open_timeout=TIMEOUT, compression=None)


async def refused_handshake(server, host: str | None = None, **headers: str) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as caught:
        async with connection(server, host, **headers):
            pass
    return caught.value


async def opens(server, host: str | None = None, **headers: str) -> None:
    """A handshake with these headers is accepted and the socket answers a ping."""
    async with connection(server, host, **headers) as ws:
        await Client(ws).ping()


async def test_websocket_with_a_foreign_origin_is_refused(server) -> None:
    before = health(server)["sessions"]
    refusal = await refused_handshake(server, Origin="http://evil.example")
    assert refusal.response.status_code == 403
    body = json.loads(refusal.response.body)
    assert body["code"] == "bad_origin" and body["field"] == "Origin"
    assert "evil.example" in body["message"] and "--allow-origin" in body["message"]
    # another port of this very host is another origin too, and so is a sandboxed frame's
    port = int(server.url.rsplit(":", 1)[1])
    for origin in (f"http://127.0.0.1:{port + 1}", "null", f"http://localhost:{port}"):
        assert (await refused_handshake(server, Origin=origin)).response.status_code == 403
    assert health(server)["sessions"] == before


async def test_websocket_from_its_own_page_and_from_tools_is_accepted(server) -> None:
    await opens(server, Origin=server.url)  # the page the server itself served
    localhost = server.url.split("//")[1].replace("127.0.0.1", "localhost")
    await opens(server, localhost, Origin=f"http://{localhost}")
    await opens(server)  # no Origin: a script, not a page


async def test_spoofed_host_is_refused_on_every_route(server) -> None:
    port = server.url.rsplit(":", 1)[1]
    for path in ROUTES:
        answer = await asyncio.to_thread(get, server, path, Host=f"rebound.example:{port}")
        assert answer.status_code == 400, path
        body = answer.json()
        assert body["code"] == "bad_host" and body["field"] == "Host", body
        assert "rebound.example" in body["message"]
    refusal = await refused_handshake(server, f"rebound.example:{port}")
    assert refusal.response.status_code == 400
    assert json.loads(refusal.response.body)["code"] == "bad_host"
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        assert (await asyncio.to_thread(get, server, "/api/health", Host=host)).is_success


async def test_foreign_origin_is_refused_on_rest_too(server) -> None:
    answer = httpx.post(server.url + "/api/experiments", json={"spec": {}},
                        headers={"Origin": "http://evil.example"}, timeout=TIMEOUT)
    assert answer.status_code == 403 and answer.json()["code"] == "bad_origin"


async def test_security_headers_on_every_answer(server) -> None:
    for path in ROUTES:
        answer = await asyncio.to_thread(get, server, path)
        headers = answer.headers
        csp = headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
        assert "default-src 'self'" in csp and "'unsafe-inline'" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"


async def test_named_hosts_and_origins_are_accepted_and_printed(server_factory) -> None:
    os.environ["TORCHPLAY_ALLOW_ORIGIN"] = "http://teacher.example:9000"
    try:
        other = server_factory("--allow-host", "class.example,room.example")
    finally:
        del os.environ["TORCHPLAY_ALLOW_ORIGIN"]
    printed = "".join(other.banner)
    assert "class.example" in printed and "http://teacher.example:9000" in printed
    port = other.url.rsplit(":", 1)[1]
    for name in ("class.example", "room.example"):
        answer = await asyncio.to_thread(get, other, "/api/health", Host=f"{name}:{port}")
        assert answer.is_success
    assert (await asyncio.to_thread(get, other, "/", Host="evil.example")).status_code == 400
    await opens(other, f"class.example:{port}", Origin=f"http://class.example:{port}")
    await opens(other, Origin="http://teacher.example:9000")
    refusal = await refused_handshake(other, Origin="http://evil.example")
    assert refusal.response.status_code == 403


async def test_star_accepts_any_host_and_origin(server_factory) -> None:
    other = server_factory("--allow-host", "*", "--allow-origin", "*")
    assert "trust" in "".join(other.banner)
    assert (await asyncio.to_thread(get, other, "/", Host="anything.example")).is_success
    await opens(other, "anything.example", Origin="http://elsewhere.example")
