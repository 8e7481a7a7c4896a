"""`torchplay copy-store`: a SQLite store into PostgreSQL, keeping ids and owners, and
`torchplay delete-experiment` for the operator."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pgcluster import Cluster

from torchplay.spec.model import SPEC_VERSION
from torchplay.store.access import Limits, Saver
from torchplay.store.experiments import NewExperiment, Store

ROOT = Path(__file__).resolve().parents[2]
RUN = {"step": 3, "history": {"steps": {"loss": [0.5, 0.25]}}}


def torchplay(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "backend")}
    return subprocess.run([sys.executable, "-m", "torchplay", *args], capture_output=True,
                          text=True, env=env, timeout=120)


def test_a_sqlite_store_copies_into_postgresql_with_its_ids_owners_and_weights(
        tmp_path: Path, postgres: Cluster) -> None:
    sqlite = str(tmp_path / "old.sqlite3")
    source = Store(sqlite, Limits(0, 0, 0, 0, 0))
    first = source.save(NewExperiment({"a": 1}, SPEC_VERSION, "run", "é", RUN, b"\x00\xff" * 9))
    second = source.save(NewExperiment({"b": 2}, SPEC_VERSION, "setup"), Saver(first.token))
    other = source.save(NewExperiment({"c": 3}, SPEC_VERSION, "other's"))
    source.close()
    url = postgres.database()

    copied = torchplay("copy-store", sqlite, url)
    assert copied.returncode == 0, copied.stderr
    assert "owners: 2 copied, 0 already there" in copied.stdout
    assert "experiments: 3 copied, 0 already there" in copied.stdout
    again = torchplay("copy-store", sqlite, url)  # safe to repeat: nothing doubles
    assert "experiments: 0 copied, 3 already there" in again.stdout

    target = Store(url)
    found = target.get(first.id)
    assert found is not None and (found.name, found.note, found.run) == ("run", "é", RUN)
    assert target.weights(first.id) == b"\x00\xff" * 9
    assert target.usage() == Store(sqlite).usage()
    # The owner's token still owns both, and works on the new store.
    assert target.edit(second.id, first.token, name="renamed").name == "renamed"
    assert target.save(NewExperiment({}, SPEC_VERSION), Saver(first.token)).token is None
    assert target.delete(other.id, other.token) and target.count() == 3
    target.close()


def test_the_operator_deletes_by_id_without_a_token(tmp_path: Path) -> None:
    db = str(tmp_path / "db.sqlite3")
    store = Store(db)
    kept, dropped = (store.save(NewExperiment({}, SPEC_VERSION)).id for _ in range(2))
    store.close()
    done = torchplay("delete-experiment", "--db", db, dropped, "AAAAAAAAAAAAAAAA",
                     "-AAAAAAAAAAAAAAA")  # ids are URL-safe base64: one may begin with '-'
    assert "-AAAAAAAAAAAAAAA: no such" in done.stderr
    assert done.returncode == 1  # one id was unknown: said so, and the exit status shows it
    assert f"{dropped}: deleted" in done.stdout and "AAAAAAAAAAAAAAAA: no such" in done.stderr
    store = Store(db)
    assert store.get(dropped) is None and store.get(kept) is not None
    store.close()
