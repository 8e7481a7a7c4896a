"""Your own data through a real server: uploads over REST (stored once by hash, every bad file
refused with its line and column and nothing stored, the size limit before parsing), and runs
on drawn points and on an uploaded table over the WebSocket, with bad input named by field."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from wsclient import TIMEOUT, connect_to, mlp

from torchplay.data.table import MAX_TABLE_BYTES, content_hash

pytestmark = pytest.mark.anyio
ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"
CSV = "".join(["x,y,z,kind\n"] + [f"{i % 7},{(i * 3) % 5},{i % 2},{'ab'[i % 2]}\n"
                                  for i in range(40)]).encode()


@pytest.fixture(scope="module")
def served(request: pytest.FixtureRequest,
           tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    root = request.config.pluginmanager.get_plugin(str(ROOT_CONFTEST))
    db = tmp_path_factory.mktemp("tables") / "torchplay.sqlite3"
    server = root.start_server(db)
    yield server, db
    root.stop_server(server)


def stored(db: Path) -> int:
    with sqlite3.connect(db) as reader:
        return reader.execute("SELECT COUNT(*) FROM datasets").fetchone()[0]


async def http(server: Any, method: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=TIMEOUT) as client:
        return await client.request(method, path, **kwargs)


def table_spec(digest: str, **table: Any) -> dict[str, Any]:
    return {"data": {"kind": "table", "table": {"hash": digest, "target": "kind",
                                                "inputs": ["x", "y", "z"], **table}},
            "network": {"layers": mlp(4)}, "training": {"epochs": 3}}


async def test_an_upload_is_stored_once_and_described(served: tuple[Any, Path]) -> None:
    server, db = served
    first = await http(server, "POST", "/api/tables?name=mine.csv", content=CSV)
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["hash"] == content_hash(CSV) and body["rows"] == 40 and body["name"] == "mine.csv"
    assert [c["name"] for c in body["columns"]] == ["x", "y", "z", "kind"]
    assert body["columns"][3]["labels"] == ["a", "b"] and body["columns"][0]["numeric"]
    again = await http(server, "POST", "/api/tables?name=other.csv", content=CSV)
    assert again.status_code == 201 and again.json()["hash"] == body["hash"]
    assert stored(db) == 1
    described = await http(server, "GET", f"/api/tables/{body['hash']}")
    assert described.json() == body  # the first name stays
    file = await http(server, "GET", f"/api/tables/{body['hash']}/file")
    assert file.content == CSV and "mine.csv" in file.headers["content-disposition"]


@pytest.mark.parametrize(("raw", "line", "column"), [
    (b"a,b\n1,2\n\xff,3\n4,5\n6,7\n", 3, None),
    (b"a,b\n1,2\n3\n4,5\n6,7\n", 3, None),
    (b"a,a\n1,2\n", 1, "'a'"),
    (b"", 1, None),
])
async def test_a_bad_file_gets_its_line_and_column_and_nothing_is_stored(
        served: tuple[Any, Path], raw: bytes, line: int, column: str | None) -> None:
    server, db = served
    before = stored(db)
    answer = await http(server, "POST", "/api/tables", content=raw)
    assert answer.status_code == 422
    body = answer.json()
    assert body["code"] == "bad_table" and body["field"] == "file"
    assert (body["line"], body["column"]) == (line, column)
    assert body["message"].startswith(f"line {line}")
    assert stored(db) == before


async def test_limits_and_unknown_hashes(served: tuple[Any, Path]) -> None:
    server, db = served
    before = stored(db)
    big = await http(server, "POST", "/api/tables", content=b"a,b\n" + b"1" * MAX_TABLE_BYTES)
    assert big.status_code == 413 and big.json()["code"] == "too_large"
    long_name = await http(server, "POST", "/api/tables?name=" + "n" * 300, content=CSV)
    assert long_name.status_code == 422 and long_name.json()["field"] == "name"
    assert stored(db) == before
    limits = (await http(server, "GET", "/api/tables/limits")).json()
    assert limits == {"max_bytes": 10_000_000, "max_rows": 100_000, "max_columns": 65}
    for path in ("/api/tables/" + "a" * 64, "/api/tables/nothex", "/api/tables/" + "b" * 64 +
                 "/file"):
        answer = await http(server, "GET", path)
        assert answer.status_code == 404 and answer.json()["code"] == "no_dataset"


async def test_a_table_trains_over_the_websocket(served: tuple[Any, Path]) -> None:
    server, _ = served
    digest = (await http(server, "POST", "/api/tables", content=CSV)).json()["hash"]
    async with connect_to(server) as client:
        ready = await client.start(table_spec(digest))
        assert ready["summary"]["features"] == ["x", "y", "z"]
        assert ready["summary"]["class_names"] == ["a", "b"]
        assert ready["data"]["plane"]["labels"] == ["PC1", "PC2"]
        assert 0 < ready["data"]["plane"]["explained"] <= 1
        assert len(ready["data"]["train_x"][0]) == 2  # projected onto the plane
        done = await client.event("finished")
        frame = await client.frame_at(done["step"])
        assert frame["output"]["kind"] == "probability" and frame["epoch"] == 3
        # two chosen columns instead of the principal plane
        ready = await client.start(table_spec(digest, plane=["z", "x"]))
        assert ready["data"]["plane"]["labels"] == ["z", "x"]


async def test_bad_table_runs_are_refused_naming_the_field(served: tuple[Any, Path]) -> None:
    server, _ = served
    bad = b"p,q,t\n1,2,a\n3,x,b\n5,6,a\n7,8,b\n"
    digest = (await http(server, "POST", "/api/tables", content=bad)).json()["hash"]
    async with connect_to(server) as client:
        cases = [
            (table_spec("c" * 64), "no_dataset", "spec.data.table.hash", "no data set"),
            ({**table_spec(digest), "data": {"kind": "table", "table": {
                "hash": digest, "target": "t", "inputs": ["p", "q"]}}}, "invalid_spec",
             "spec.data.table.inputs", "line 3, column 'q': 'x' is not a number"),
            (table_spec(digest, inputs=["p", "t"]), "invalid_spec", "spec.data.table.target",
             "no column 'kind'"),
            ({"data": {"kind": "table"}}, "invalid_spec", "spec.data.table",
             "needs its table data"),
            ({"data": {"kind": "circle", "table": {"hash": digest, "target": "t",
                                                    "inputs": ["p", "q"]}}},
             "invalid_spec", "spec.data.table", "only kind table"),
        ]
        for spec, code, field, words in cases:
            await client.send({"type": "start", "spec": spec})
            answer = await client.error()
            assert (answer["code"], answer["field"]) == (code, field), answer
            assert words in answer["message"]
        await client.ping()  # the connection still answers


async def test_drawn_points_train_and_bad_points_are_named(served: tuple[Any, Path]) -> None:
    server, _ = served
    xs = [-4.0, -3.0, -2.0, 2.0, 3.0, 4.0, -4.0, 4.0]
    drawn = {"task": "classification", "x1": xs, "x2": [1.0] * 8,
             "value": [0, 0, 0, 1, 1, 1, 0, 1]}
    spec = {"data": {"kind": "drawn", "classes": 2, "drawn": drawn, "train_fraction": 0.75},
            "network": {"layers": mlp(3)}, "training": {"epochs": 2}}
    async with connect_to(server) as client:
        ready = await client.start(spec)
        assert len(ready["data"]["train_x"]) == 6 and len(ready["data"]["test_x"]) == 2
        assert sorted(map(tuple, ready["data"]["train_x"] + ready["data"]["test_x"])) == \
            sorted(zip(xs, [1.0] * 8, strict=True))
        await client.event("finished")
        for change, field in [({"x1": [*xs[:3], 7.0, *xs[4:]]}, "spec.data.drawn.x1.3"),
                              ({"value": [0, 0, 0, 1, 1, 1, 0, 2]}, "spec.data.drawn.value"),
                              ({"x2": [1.0]}, "spec.data.drawn.value")]:
            bad = {**spec, "data": {**spec["data"], "drawn": {**drawn, **change}}}
            await client.send({"type": "start", "spec": bad})
            answer = await client.error()
            assert answer["field"] == field, answer
        await client.ping()


async def test_a_saved_table_experiment_links_its_data_file(served: tuple[Any, Path]) -> None:
    server, _ = served
    digest = (await http(server, "POST", "/api/tables", content=CSV)).json()["hash"]
    saved = await http(server, "POST", "/api/experiments", json={"spec": table_spec(digest)})
    assert saved.status_code == 201, saved.text
    found = (await http(server, "GET", f"/api/experiments/{saved.json()['id']}")).json()
    assert found["links"]["data"].endswith("/data.csv")
    data = await http(server, "GET", found["links"]["data"])
    assert data.content == CSV and 'filename="data.csv"' in data.headers["content-disposition"]
    script = await http(server, "GET", found["links"]["script"])
    assert "DATA_FILE" in script.text and digest in script.text
    plain = await http(server, "POST", "/api/experiments", json={"spec": {}})
    other = (await http(server, "GET", f"/api/experiments/{plain.json()['id']}")).json()
    assert other["links"]["data"] is None
    missing = await http(server, "GET", f"/api/experiments/{plain.json()['id']}/data.csv")
    assert missing.status_code == 404 and missing.json()["code"] == "no_dataset"
