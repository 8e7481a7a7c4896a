"""A server on PostgreSQL whose database goes away: REST answers 503 `store_unavailable`
(never a 500), a WebSocket save fails with a clear error while the run goes on, and once the
database is back the same server serves and saves again (it reconnects)."""

from __future__ import annotations

import httpx
import pytest
from wsclient import TIMEOUT, connect_to, mlp

pytestmark = pytest.mark.anyio

SPEC = {"data": {"kind": "xor"}, "network": {"layers": mlp(4)}, "training": {"epochs": 1}}


async def test_the_database_going_away_answers_503_and_its_return_heals(
        request: pytest.FixtureRequest) -> None:
    cluster = request.getfixturevalue("postgres")
    db = cluster.database()
    root = request.config.pluginmanager.get_plugin(str(request.config.rootpath / "tests" /
                                                       "conftest.py"))
    server = root.start_server(db)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as http:
            saved = (await http.post("/api/experiments", json={"spec": SPEC})).json()
            path = f"/api/experiments/{saved['id']}"
            async with connect_to(server) as client:
                await client.start(SPEC, fps=20)
                cluster.stop()
                try:
                    for answer in (await http.get(path),
                                   await http.post("/api/experiments", json={"spec": SPEC})):
                        assert answer.status_code == 503, answer.text
                        body = answer.json()
                        assert body["code"] == "store_unavailable"
                        assert "cannot be reached" in body["message"]
                    await client.send({"type": "save"})
                    failed = await client.error()
                    assert failed["code"] == "save_failed"
                    assert "cannot be reached" in failed["message"]
                    await client.ping()  # the connection and its run go on
                finally:
                    cluster.start()
                assert (await http.get(path)).status_code == 200
                await client.send({"type": "save", "token": saved["token"]})
                again = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
                assert again["type"] == "saved", again
    finally:
        root.stop_server(server)
