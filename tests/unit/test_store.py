"""The store of saved experiments (SQLite), and the migration of specs from older versions."""

from __future__ import annotations

import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from torchplay.spec import model as spec_module
from torchplay.spec.model import SPEC_VERSION, ExperimentSpec, SpecError, migrate
from torchplay.store.experiments import (
    MAX_NAME,
    MAX_NOTE,
    SCHEMA_VERSION,
    NewExperiment,
    Store,
    StoreError,
    valid_id,
)

RUN = {"step": 25, "epoch": 1, "history": {"steps": {"stride": 1, "step": [1], "loss": [0.5]}}}


def new(**changes: Any) -> NewExperiment:
    fields: dict[str, Any] = {"spec": ExperimentSpec().model_dump(mode="json"),
                              "spec_version": SPEC_VERSION, "name": "circle", "note": "a note"}
    return NewExperiment(**{**fields, **changes})


@pytest.fixture
def store(tmp_path: Path) -> Any:
    opened = Store(tmp_path / "db.sqlite3")
    yield opened
    opened.close()


def test_a_new_file_is_in_wal_mode_with_full_sync_and_the_current_schema(tmp_path: Path) -> None:
    store = Store(tmp_path / "sub" / "new.sqlite3")
    assert store.schema_version == SCHEMA_VERSION
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    store.close()


def test_a_file_of_schema_version_1_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)  # what torchplay wrote before saved experiments
    old.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    old.execute("INSERT INTO meta VALUES ('schema_version', '1'), ('owner', 'kept')")
    old.commit()
    old.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION
    assert store._db.execute("SELECT value FROM meta WHERE key = 'owner'").fetchone() == ("kept",)
    assert store.get(store.save(new())) is not None
    store.close()


def test_a_file_from_a_newer_torchplay_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "newer.sqlite3"
    Store(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(RuntimeError, match="newer than this torchplay"):
        Store(path)


def test_an_experiment_reads_back_as_saved(store: Store) -> None:
    weights = bytes(range(256)) * 4
    experiment_id = store.save(new(name="<script>alert(1)</script>", note="é & <b>", run=RUN,
                                   weights=weights))
    found = store.get(experiment_id)
    assert found is not None
    assert found.name == "<script>alert(1)</script>" and found.note == "é & <b>"  # verbatim
    assert found.spec == ExperimentSpec().model_dump(mode="json")
    assert found.spec_version == SPEC_VERSION
    assert found.run == RUN and found.has_weights
    assert store.weights(experiment_id) == weights
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", found.created)


def test_a_setup_alone_has_no_run_and_no_weights(store: Store) -> None:
    found = store.get(store.save(new()))
    assert found is not None and found.run is None and not found.has_weights
    assert store.weights(found.id) is None


def test_ids_are_random_96_bit_and_url_safe(store: Store) -> None:
    ids = {store.save(new()) for _ in range(200)}
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


def test_saves_survive_closing_and_reopening(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    first = Store(path)
    experiment_id = first.save(new(run=RUN, weights=b"\x00\x01"))
    first.close()
    again = Store(path)
    found = again.get(experiment_id)
    assert found is not None and found.run == RUN and again.weights(experiment_id) == b"\x00\x01"
    again.close()


def test_threads_may_save_and_read_at_once(store: Store) -> None:
    found: list[bool] = []

    def work() -> None:
        for _ in range(10):
            found.append(store.get(store.save(new())) is not None)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert found == [True] * 80 and store.count() == 80


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
