"""Sessions as the server counts them: a closed socket frees its session, and the cap on
concurrent sessions refuses one more with `busy` while the others train on."""

from __future__ import annotations

import pytest
from wsclient import connect_to, health, sessions_become

pytestmark = pytest.mark.anyio

SPEC = {"data": {"kind": "circle", "points": 100}, "training": {"device": "cpu"}}


@pytest.fixture(scope="module")
def capped(server_factory):
    """A server of its own that trains at most two sessions at once."""
    return server_factory("--max-sessions", "2")


async def test_a_closed_socket_frees_its_session(capped) -> None:
    server = capped
    await sessions_become(server, 0)
    async with connect_to(server) as a:
        await a.start(SPEC)
        await a.frame(lambda f: f["step"] > 0)
        async with connect_to(server) as b:
            await b.start(SPEC, run=False)
            assert health(server)["sessions"] == 2
        await sessions_become(server, 1)  # b closed the socket without sending stop
        await a.send({"type": "stop"})
        assert (await a.event("stopped"))["event"] == "stopped"
        await sessions_become(server, 0)
    async with connect_to(server) as c:  # a socket dropped without a closing handshake
        await c.start(SPEC)
        await sessions_become(server, 1)
        c.ws.transport.abort()
    await sessions_become(server, 0)


async def test_the_session_cap_refuses_one_more_and_the_others_train_on(capped) -> None:
    server = capped
    await sessions_become(server, 0)
    assert health(server)["max_sessions"] == 2
    async with connect_to(server) as a, connect_to(server) as b, connect_to(server) as c:
        await a.start(SPEC)
        await b.start(SPEC)
        await c.send({"type": "start", "spec": SPEC})
        refused = await c.error()
        assert refused["code"] == "busy" and "2" in refused["message"]
        assert (await c.ping())["type"] == "pong"
        assert health(server)["sessions"] == 2
        for client in (a, b):  # both keep training past where they were when c was refused
            seen = client.last_frame["step"] if client.last_frame else 0
            await client.frame(lambda f, seen=seen: f["step"] > seen + 50)
        # At the cap, a client may still replace its own run (start replaces, never adds).
        ready = await a.start({**SPEC, "training": {"device": "cpu", "seed": 3}})
        assert ready["spec"]["training"]["seed"] == 3
        await a.frame(lambda f: f["step"] > 0)
        # When one leaves, the refused client gets in.
        await b.ws.close()
        await sessions_become(server, 1)
        await c.start(SPEC)
        assert health(server)["sessions"] == 2
