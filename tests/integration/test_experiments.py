"""Saved experiments through a real server: `save` over the WebSocket, the REST routes and
exports, the limits, ids that cannot be guessed, and saves that survive a SIGKILL.

The server's SQLite file is counted directly (WAL lets a reader in beside the server) to show
that refused saves store nothing.
"""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import torch
from wsclient import TIMEOUT, Client, connect_to, mlp

from torchplay.engine.build import build_model
from torchplay.spec.model import ExperimentSpec

pytestmark = pytest.mark.anyio

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"
SPEC = {"data": {"kind": "circle", "noise": 0.1}, "network": {"layers": mlp(6, fn="tanh")},
        "optimizer": {"kind": "sgd", "lr": 0.1}, "training": {"epochs": 4}}
EVIL = "<script>alert('x')</script>"
ID = re.compile(r"[A-Za-z0-9_-]{16}")  # 16 URL-safe characters: 96 bits


def root_conftest(config: pytest.Config) -> Any:
    plugin = config.pluginmanager.get_plugin(str(ROOT_CONFTEST))
    assert plugin is not None, f"{ROOT_CONFTEST} is not loaded"
    return plugin


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A server of this module's own, and its database file."""
    root = root_conftest(request.config)
    db = tmp_path_factory.mktemp("experiments") / "torchplay.sqlite3"
    server = root.start_server(db)
    yield server, db
    root.stop_server(server)


@pytest.fixture
def server(served: tuple[Any, Path]) -> Any:
    return served[0]


def rows(db: Path) -> int:
    with sqlite3.connect(db) as reader:
        return reader.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]


async def http(server: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        return await client.request(method, path, **kwargs)


async def run_and_save(client: Client, name: str = "", note: str = "") -> dict[str, Any]:
    """Train SPEC to its end, then save; the `saved` reply (the client holds the curves)."""
    await client.start(SPEC, fps=20)
    done = await client.event("finished")
    await client.frame_at(done["step"])  # the client now holds the whole curves
    await client.send({"type": "save", "name": name, "note": note})
    saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
    assert saved["type"] == "saved", saved
    assert saved["step"] == done["step"] and saved["epoch"] == SPEC["training"]["epochs"]
    return saved


async def test_a_saved_run_comes_back_with_its_curves_and_the_name_as_text(server) -> None:
    async with connect_to(server) as client:
        saved = await run_and_save(client, name=EVIL, note=f"note {EVIL} & more")
    assert ID.fullmatch(saved["id"]) and saved["url"] == f"/e/{saved['id']}"
    response = await http(server, "GET", f"/api/experiments/{saved['id']}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    found = response.json()
    assert found["name"] == EVIL and found["note"] == f"note {EVIL} & more"  # data, verbatim
    assert found["spec"] == ExperimentSpec.model_validate(SPEC).model_dump(mode="json")
    run = found["run"]
    assert run["history"]["steps"]["loss"] == client.steps["loss"]
    assert run["history"]["evals"]["train_loss"] == client.evals["train_loss"]
    assert run["history"]["evals"]["epoch"] == [0, 1, 2, 3, 4]
    assert run["frame"]["step"] == saved["step"] and run["frame"]["output"]["kind"] == \
        "probability"
    assert run["summary"]["parameters"] == 2 * 6 + 6 + 6 * 2 + 2
    assert len(run["data"]["train_x"]) == 250 and run["spec_changed_at_step"] is None
    page = await http(server, "GET", saved["url"])
    assert page.status_code == 200 and "<!doctype html>" in page.text.lower()


async def test_exports_download_and_parse(server) -> None:
    async with connect_to(server) as client:
        saved = await run_and_save(client)
    base = f"/api/experiments/{saved['id']}"
    found = (await http(server, "GET", base)).json()
    assert found["links"]["weights"] == f"{base}/weights.pt"

    spec = await http(server, "GET", f"{base}/spec.json")
    assert spec.json() == found["spec"]
    assert "attachment" in spec.headers["content-disposition"]

    metrics = await http(server, "GET", f"{base}/metrics.csv")
    assert metrics.headers["content-type"].startswith("text/csv")
    table = list(csv.DictReader(io.StringIO(metrics.text)))
    assert list(table[0]) == ["step", "epoch", "lr", "batch_loss", "train_loss", "test_loss",
                              "train_accuracy", "test_accuracy"]
    assert len(table) == saved["step"] + 1  # steps 1..n, and the evaluation at step 0
    assert [float(r["batch_loss"]) for r in table[1:]] == client.steps["loss"]
    assert [float(r["train_loss"]) for r in table if r["train_loss"]] == \
        client.evals["train_loss"]

    weights = await http(server, "GET", f"{base}/weights.pt")
    state = torch.load(io.BytesIO(weights.content), weights_only=True)
    model = build_model(ExperimentSpec.model_validate(found["spec"]), torch.Generator(),
                        torch.Generator())
    model.load_state_dict(state)  # strict: the same keys and shapes
    assert [list(state[f"{i}.weight"].shape) for i in (0, 2)] == [[6, 2], [2, 6]]

    script = await http(server, "GET", f"{base}/script.py")
    assert script.headers["content-type"].startswith("text/x-python")
    compile(script.text, "experiment.py", "exec")
    unsaved = await http(server, "POST", "/api/export/script", json=SPEC)
    assert unsaved.status_code == 200 and unsaved.text == script.text


async def test_save_over_the_websocket_refuses_what_it_should_and_stores_nothing(
        served: tuple[Any, Path]) -> None:
    server, db = served
    async with connect_to(server) as client:
        await client.send({"type": "save"})
        refused = await client.error()
        assert refused["code"] == "no_session"
        await client.start(SPEC, fps=20, run=False)
        before = rows(db)
        for message, field in (({"name": "x" * 201}, "name"), ({"note": "x" * 5001}, "note"),
                               ({"name": 5}, "name"), ({"colour": "red"}, "colour")):
            await client.send({"type": "save", **message})
            refused = await client.error()
            assert (refused["code"], refused["field"]) == ("invalid_message", field)
        assert rows(db) == before
        await client.ping()  # the connection goes on


async def test_rest_saves_refuse_oversized_and_malformed_bodies_and_store_nothing(
        served: tuple[Any, Path]) -> None:
    server, db = served
    before = rows(db)
    too_big = {"spec": {}, "note": "x" * 1_100_000}
    answer = await http(server, "POST", "/api/experiments", json=too_big)
    assert answer.status_code == 413
    assert answer.json()["code"] == "too_large" and "1,000,000" in answer.json()["message"]
    bad = {
        "not JSON": (b'{"spec": {', "bad_json", None),
        "nested too deep": (b'{"spec": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "bad_json",
                            None),
        "a million units": ({"spec": {"network": {"layers": [{"type": "linear",
                                                               "units": 10**6}]}}},
                            "invalid_request", "spec.network.layers.0.units"),
        "a regression loss for circle": ({"spec": {"loss": {"kind": "mse"}}},
                                         "invalid_request", "spec.loss.kind"),
        "a spec from the future": ({"spec": {"version": 99}}, "invalid_request",
                                   "spec.version"),
        "a long name": ({"spec": {}, "name": "x" * 201}, "invalid_request", "name"),
        "an unknown field": ({"spec": {}, "owner": "me"}, "invalid_request", "owner"),
        "no spec": ({"name": "x"}, "invalid_request", "spec"),
        "not an object": ([1, 2], "invalid_request", "body"),
    }
    for what, (body, code, field) in bad.items():
        sent = {"content": body} if isinstance(body, bytes) else {"json": body}
        answer = await http(server, "POST", "/api/experiments", **sent,
                            headers={"content-type": "application/json"})
        assert answer.status_code == 422, what
        assert (answer.json()["code"], answer.json()["field"]) == (code, field), what
        assert answer.json()["message"], what
    answer = await http(server, "POST", "/api/experiments", content=b'{"spec": {}}',
                        headers={"content-type": "text/plain"})
    assert answer.status_code == 415 and answer.json()["code"] == "bad_content_type"
    assert rows(db) == before

    saved = await http(server, "POST", "/api/experiments", json={"spec": {}, "name": EVIL})
    assert saved.status_code == 201 and rows(db) == before + 1
    setup = (await http(server, "GET", f"/api/experiments/{saved.json()['id']}")).json()
    assert setup["run"] is None and setup["name"] == EVIL
    assert setup["links"]["weights"] is None
    for export in ("weights.pt", "metrics.csv"):
        missing = await http(server, "GET", f"/api/experiments/{setup['id']}/{export}")
        assert missing.status_code == 404 and missing.json()["code"] == "no_run"


async def test_ids_are_random_and_unknown_or_malformed_ids_get_the_same_404(server) -> None:
    ids = [(await http(server, "POST", "/api/experiments", json={"spec": {}})).json()["id"]
           for _ in range(5)]
    assert len(set(ids)) == 5 and all(ID.fullmatch(i) for i in ids)
    unknown = (await http(server, "GET", "/api/experiments/AAAAAAAAAAAAAAAA")).json()
    assert unknown["code"] == "not_found"
    for path in ("AAAAAAAAAAAAAAAA", "abc", ids[0] + "x", ids[0][:-1], "%2e%2e%2fetc",
                 f"{ids[0][:-1]}%00", "1%20OR%201=1", "AAAAAAAAAAAAAAAA/weights.pt",
                 "abc/script.py", "abc/metrics.csv", "abc/spec.json"):
        answer = await http(server, "GET", f"/api/experiments/{path}")
        assert answer.status_code == 404, path
        assert answer.json() == unknown, path  # nothing tells a guess that is near


async def test_the_openapi_schema_documents_the_routes_and_their_limits(server) -> None:
    schema = (await http(server, "GET", "/openapi.json")).json()
    paths = schema["paths"]
    for path in ("/api/experiments", "/api/experiments/{experiment_id}",
                 "/api/experiments/{experiment_id}/spec.json",
                 "/api/experiments/{experiment_id}/metrics.csv",
                 "/api/experiments/{experiment_id}/weights.pt",
                 "/api/experiments/{experiment_id}/script.py", "/api/export/script",
                 "/api/spec/migrate"):
        assert path in paths, path
        for operation in paths[path].values():
            assert operation["description"], path
    post = paths["/api/experiments"]["post"]
    assert {"201", "413", "422"} <= set(post["responses"])
    assert "1,000,000" in post["responses"]["413"]["description"]
    assert "SaveRequest" in schema["components"]["schemas"]


async def test_migrate_fills_every_default_of_a_link_spec(server) -> None:
    answer = await http(server, "POST", "/api/spec/migrate", json={"data": {"kind": "xor"}})
    assert answer.status_code == 200
    assert answer.json()["spec"] == ExperimentSpec.model_validate(
        {"data": {"kind": "xor"}}).model_dump(mode="json")


async def test_acknowledged_saves_survive_a_sigkill(request: pytest.FixtureRequest,
                                                    db_location: str) -> None:
    """On both backends. With PostgreSQL the database server is then crashed too (stopped in
    immediate mode: no checkpoint since the one before the saves), so what was acknowledged
    must come back from its flushed WAL."""
    root = root_conftest(request.config)
    db = db_location
    if db.startswith("postgresql://"):
        request.getfixturevalue("postgres").checkpoint()  # recovery replays this test's WAL
    first = root.start_server(db)
    try:
        setup = await http(first, "POST", "/api/experiments", json={"spec": SPEC, "name": "a"})
        async with connect_to(first) as client:
            saved = await run_and_save(client, name="killed right after")
            first.process.kill()  # SIGKILL, the moment the save was acknowledged
            first.process.wait(timeout=TIMEOUT)
    finally:
        root.stop_server(first)
    if db.startswith("postgresql://"):
        cluster = request.getfixturevalue("postgres")
        cluster.crash()
        cluster.start()
    again = root.start_server(db)
    try:
        found = (await http(again, "GET", f"/api/experiments/{saved['id']}")).json()
        assert found["name"] == "killed right after"
        assert found["run"]["history"]["steps"]["loss"] == client.steps["loss"]
        assert found["run"]["history"]["evals"]["test_loss"] == client.evals["test_loss"]
        weights = await http(again, "GET", f"/api/experiments/{saved['id']}/weights.pt")
        assert weights.status_code == 200 and len(weights.content) > 0
        assert (await http(again, "GET", f"/api/experiments/{setup.json()['id']}")).json()[
            "name"] == "a"
    finally:
        root.stop_server(again)
