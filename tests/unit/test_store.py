"""The store of saved experiments, on both backends (a SQLite file and a PostgreSQL database of
the tests' own cluster), and the migration of specs from older versions. Ownership and quotas:
test_store_access.py."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from torchplay.spec import model as spec_module
from torchplay.spec.model import SPEC_VERSION, ExperimentSpec, SpecError, migrate
from torchplay.store.access import AccessError, Limits, Saver
from torchplay.store.backends import connect
from torchplay.store.experiments import (
    MAX_NAME,
    MAX_NOTE,
    MIGRATIONS,
    SCHEMA_VERSION,
    NewExperiment,
    Store,
    StoreError,
    valid_id,
)

RUN = {"step": 25, "epoch": 1, "history": {"steps": {"stride": 1, "step": [1], "loss": [0.5]}}}
V2_EXPERIMENTS = MIGRATIONS[1]  # the experiments table as torchplay 0.x (schema 2) made it


def new(**changes: Any) -> NewExperiment:
    fields: dict[str, Any] = {"spec": ExperimentSpec().model_dump(mode="json"),
                              "spec_version": SPEC_VERSION, "name": "circle", "note": "a note"}
    return NewExperiment(**{**fields, **changes})


@pytest.fixture
def store(db_location: str) -> Any:
    opened = Store(db_location)
    yield opened
    opened.close()


def test_a_new_store_commits_durably_and_has_the_current_schema(db_location: str) -> None:
    store = Store(db_location)
    assert store.schema_version == SCHEMA_VERSION
    with store._transaction() as db:
        if db.name == "sqlite":
            assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        else:
            assert db.execute("SHOW synchronous_commit").fetchone()[0] == "on"
            assert db.execute("SHOW fsync").fetchone()[0] == "on"
    store.close()


def test_a_sqlite_file_is_made_with_its_folder(tmp_path: Path) -> None:
    store = Store(tmp_path / "sub" / "new.sqlite3")
    assert store.schema_version == SCHEMA_VERSION and (tmp_path / "sub").is_dir()
    store.close()


def test_replicas_opening_a_new_store_together_make_its_schema_once(db_location: str) -> None:
    opened: list[Store] = []
    threads = [threading.Thread(target=lambda: opened.append(Store(db_location)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(opened) == 4 and {store.schema_version for store in opened} == {SCHEMA_VERSION}
    assert opened[0].get(opened[3].save(new()).id) is not None
    for store in opened:
        store.close()


def test_a_store_of_schema_version_1_is_upgraded_in_place(db_location: str) -> None:
    old = connect(db_location)  # what torchplay wrote before saved experiments
    with old.transaction(write=True) as db:
        db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        db.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('owner', 'kept')")
    old.close()
    store = Store(db_location)
    assert store.schema_version == SCHEMA_VERSION
    with store._transaction() as db:
        assert db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone()[0] == "kept"
    assert store.get(store.save(new()).id) is not None
    store.close()


def test_experiments_of_schema_version_2_keep_opening_and_count_their_bytes_but_have_no_owner(
        db_location: str) -> None:
    old = connect(db_location)
    with old.transaction(write=True) as db:
        db.execute(MIGRATIONS[0])
        db.execute(V2_EXPERIMENTS)
        db.execute("INSERT INTO meta VALUES ('schema_version', '2')")
        db.execute("INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   ("AAAAAAAAAAAAAAAA", "2026-11-01T00:00:00.000Z", "old", "n", '{"a":1}', 1,
                    '{"r":2}', b"wxyz"))
    old.close()
    store = Store(db_location)
    found = store.get("AAAAAAAAAAAAAAAA")
    assert found is not None and found.name == "old" and found.run == {"r": 2}
    assert store.usage() == {"experiments": 1, "bytes": 7 + 7 + 4 + 3 + 1}
    token = store.save(new()).token
    with pytest.raises(AccessError) as caught:  # saved before owners: nobody's to change
        store.delete("AAAAAAAAAAAAAAAA", token)
    assert caught.value.status == 403
    assert store.delete_as_operator("AAAAAAAAAAAAAAAA") and store.count() == 1
    store.close()


def test_a_store_from_a_newer_torchplay_is_refused(db_location: str) -> None:
    Store(db_location).close()
    db = connect(db_location)
    with db.transaction(write=True):
        db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'",
                   (str(SCHEMA_VERSION + 1),))
    db.close()
    with pytest.raises(RuntimeError, match="newer than this torchplay"):
        Store(db_location)


def test_an_experiment_reads_back_as_saved(store: Store) -> None:
    weights = bytes(range(256)) * 4
    experiment_id = store.save(new(name="<script>alert(1)</script>", note="é & <b>", run=RUN,
                                   weights=weights)).id
    found = store.get(experiment_id)
    assert found is not None
    assert found.name == "<script>alert(1)</script>" and found.note == "é & <b>"  # verbatim
    assert found.spec == ExperimentSpec().model_dump(mode="json")
    assert found.spec_version == SPEC_VERSION
    assert found.run == RUN and found.has_weights
    assert store.weights(experiment_id) == weights
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", found.created)


def test_a_setup_alone_has_no_run_and_no_weights(store: Store) -> None:
    found = store.get(store.save(new()).id)
    assert found is not None and found.run is None and not found.has_weights
    assert store.weights(found.id) is None


def test_ids_are_random_96_bit_and_url_safe(store: Store) -> None:
    ids = {store.save(new(), Saver(client=str(i))).id for i in range(200)}
    assert len(ids) == 200
    for experiment_id in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}", experiment_id)  # 16 x 6 bits
    # Random, not counted: no two share a long prefix, as consecutive counters would.
    assert len({i[:6] for i in ids}) == 200


@pytest.mark.parametrize("text", ["", "short", "AAAAAAAAAAAAAAA", "AAAAAAAAAAAAAAAAA",
                                  "../../etc/passwd", "AAAAAAAA%AAAAAAA", "1 OR 1=1;--xxxxx"])
def test_strings_that_are_no_id_find_nothing(store: Store, text: str) -> None:
    assert not valid_id(text)
    assert store.get(text) is None and store.weights(text) is None


def test_an_unknown_id_finds_nothing(store: Store) -> None:
    store.save(new())
    assert store.get("AAAAAAAAAAAAAAAA") is None and store.weights("AAAAAAAAAAAAAAAA") is None


@pytest.mark.parametrize("changes, message", [
    ({"name": "x" * (MAX_NAME + 1)}, "name"),
    ({"note": "x" * (MAX_NOTE + 1)}, "note"),
    ({"spec": {"padding": "x" * 1_000_001}}, "spec"),
    ({"run": RUN}, "weights"),
    ({"weights": b"w"}, "weights"),
])
def test_refused_saves_store_nothing(store: Store, changes: dict, message: str) -> None:
    store.save(new())
    with pytest.raises(StoreError, match=message):
        store.save(new(**changes))
    assert store.count() == 1


def test_saves_survive_closing_and_reopening(db_location: str) -> None:
    first = Store(db_location)
    experiment_id = first.save(new(run=RUN, weights=b"\x00\x01")).id
    first.close()
    again = Store(db_location)
    found = again.get(experiment_id)
    assert found is not None and found.run == RUN and again.weights(experiment_id) == b"\x00\x01"
    again.close()


def test_threads_may_save_and_read_at_once(db_location: str) -> None:
    store = Store(db_location, Limits(0, 0, 0, 0, 0))
    found: list[bool] = []

    def work() -> None:
        for _ in range(10):
            found.append(store.get(store.save(new()).id) is not None)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [True] * 80 and store.count() == 80
    store.close()


# --- spec versions ---------------------------------------------------------------------------

def rename_learning_rate(raw: dict[str, Any]) -> dict[str, Any]:
    """A test-only step: a hypothetical version 0 called optimizer.lr 'learning_rate'."""
    optimizer = dict(raw.get("optimizer", {}))
    if "learning_rate" in optimizer:
        optimizer["lr"] = optimizer.pop("learning_rate")
    return {**raw, "optimizer": optimizer}


OLD_SPEC = {"version": 0, "data": {"kind": "xor"},
            "optimizer": {"kind": "sgd", "learning_rate": 0.1}}


def test_registered_steps_bring_an_old_spec_to_the_current_version() -> None:
    migrated = migrate(OLD_SPEC, {0: rename_learning_rate}, current=1)
    assert migrated == {"version": 1, "data": {"kind": "xor"},
                        "optimizer": {"kind": "sgd", "lr": 0.1}}
    assert OLD_SPEC["optimizer"] == {"kind": "sgd", "learning_rate": 0.1}  # input untouched


def test_steps_chain_one_version_at_a_time() -> None:
    seen: list[int] = []

    def step(raw: dict[str, Any]) -> dict[str, Any]:
        seen.append(raw["version"])
        return raw

    assert migrate({"version": 1}, {1: step, 2: step, 3: step}, current=4)["version"] == 4
    assert seen == [1, 2, 3]


def test_validation_migrates_through_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """What an old link or an old saved experiment goes through: every ExperimentSpec is
    validated, and validation migrates first."""
    monkeypatch.setattr(spec_module, "MIGRATIONS", {0: rename_learning_rate})
    spec = ExperimentSpec.model_validate(OLD_SPEC)
    assert spec.version == SPEC_VERSION and spec.optimizer.lr == 0.1
    assert spec.data.kind == "xor"


@pytest.mark.parametrize("version, message", [
    (SPEC_VERSION + 1, "newer than this server"),
    (0, "not supported"),
])
def test_versions_that_cannot_be_read_are_refused_at_the_version_field(
        version: int, message: str) -> None:
    with pytest.raises(SpecError, match=message) as caught:
        migrate({"version": version})
    assert caught.value.field == "version"
    with pytest.raises(ValidationError, match=message):
        ExperimentSpec.model_validate({"version": version})


def test_a_spec_without_a_version_is_current() -> None:
    assert migrate({"data": {}}) == {"data": {}}
    assert ExperimentSpec.model_validate({}).version == SPEC_VERSION


def test_sweeps_of_schema_version_5_keep_opening_and_count_their_bytes_with_no_owner(
        db_location: str) -> None:
    old = connect(db_location)
    with old.transaction(write=True) as db:
        for step in MIGRATIONS[:5]:
            for statement in (step,) if isinstance(step, str) else step:
                db.execute(statement)
        db.execute("INSERT INTO meta VALUES ('schema_version', '5')")
        db.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?)", ("BBBBBBBBBBBBBBBB",
                   "2026-12-01T00:00:00.000Z", "lr", '{"sweep":{},"results":[]}'))
    old.close()
    store = Store(db_location)
    assert store.schema_version == SCHEMA_VERSION == 6
    assert store.sweep("BBBBBBBBBBBBBBBB") == {"id": "BBBBBBBBBBBBBBBB", "name": "lr",
                                               "created": "2026-12-01T00:00:00.000Z",
                                               "sweep": {}, "results": []}
    assert store.usage() == {"experiments": 0, "bytes": 25 + 2, "sweeps": 1}
    with store._transaction() as db:
        assert db.execute("SELECT owner FROM sweeps").fetchone()[0] is None
    store.close()
