"""Owner tokens and quotas in the store, on both backends. Two Store objects on one database
stand for two replicas: the limits hold across them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from torchplay.spec.model import SPEC_VERSION
from torchplay.store.access import AccessError, Limits, Saver, token_hash, valid_token
from torchplay.store.experiments import NewExperiment, Store

NO_LIMITS = Limits(0, 0, 0, 0, 0)


def new(size: int = 0, **changes: Any) -> NewExperiment:
    """An experiment of 2 + 8 + size bytes: spec {} and name "12345678" and a note of size."""
    return NewExperiment(**{"spec": {}, "spec_version": SPEC_VERSION, "name": "12345678",
                            "note": "x" * size, **changes})


@pytest.fixture
def opened(db_location: str) -> Iterator[Any]:
    """open(limits) opens the test's database with those limits; all are closed after."""
    stores: list[Store] = []

    def open_with(limits: Limits = NO_LIMITS) -> Store:
        stores.append(Store(db_location, limits))
        return stores[-1]

    yield open_with
    for store in stores:
        store.close()


def refused(call: Any, status: int, code: str) -> AccessError:
    with pytest.raises(AccessError) as caught:
        call()
    assert (caught.value.status, caught.value.code) == (status, code), str(caught.value)
    return caught.value


def test_a_save_without_a_token_issues_one_once_and_later_saves_with_it_share_the_owner(
        opened: Any) -> None:
    store = opened()
    first = store.save(new())
    assert first.token is not None and valid_token(first.token)
    second = store.save(new(), Saver(first.token))
    assert second.token is None  # shown once: the browser already has it
    other = store.save(new())
    assert other.token not in (None, first.token)
    with store._transaction() as db:  # only hashes are stored, never a token
        owners = {row[0] for row in db.execute("SELECT owner FROM experiments")}
        everything = repr(db.execute("SELECT * FROM experiments").fetchall()
                          + db.execute("SELECT * FROM owners").fetchall())
    assert owners == {token_hash(first.token), token_hash(other.token)}
    assert first.token not in everything and other.token not in everything


def test_the_owner_renames_annotates_and_deletes_and_nobody_else_can(opened: Any) -> None:
    store, replica = opened(), opened()
    saved = store.save(new())
    intruder = store.save(new()).token
    for token in (None, intruder, "", "x" * 32, saved.token[:-1] + "!"):
        refused(lambda t=token: replica.edit(saved.id, t, name="mine"), 403, "forbidden")
        refused(lambda t=token: replica.delete(saved.id, t), 403, "forbidden")
    assert store.get(saved.id).name == "12345678"
    renamed = replica.edit(saved.id, saved.token, name="Circle, tanh")
    assert renamed is not None and (renamed.name, renamed.note) == ("Circle, tanh", "")
    annotated = store.edit(saved.id, saved.token, note="try lr 0.3")
    assert (annotated.name, annotated.note) == ("Circle, tanh", "try lr 0.3")
    assert store.usage()["bytes"] == 2 * (2 + 8) - 8 + len("Circle, tanh") + len("try lr 0.3")
    assert replica.delete(saved.id, saved.token)
    assert store.get(saved.id) is None and store.weights(saved.id) is None
    assert not store.delete(saved.id, saved.token)  # gone: deleting again finds nothing
    assert store.edit(saved.id, saved.token, name="x") is None


def test_a_token_this_server_never_issued_is_refused_and_stores_nothing(opened: Any) -> None:
    store = opened()
    for token in ("A" * 32, "short", "x" * 33):
        refused(lambda t=token: store.save(new(), Saver(t)), 403, "unknown_token")
    assert store.count() == 0


def test_saves_per_minute_are_limited_per_owner_and_per_client(opened: Any) -> None:
    store = opened(Limits(saves_per_minute=2, client_saves_per_minute=3, bytes_per_owner=0,
                          bytes_per_client=0, storage_cap=0))
    token = store.save(new(), Saver(client="10.0.0.1")).token
    store.save(new(), Saver(token, "10.0.0.2"))
    error = refused(lambda: store.save(new(), Saver(token, "10.0.0.3")), 429, "rate_limited")
    assert "per owner token" in str(error) and 1 <= error.retry_after <= 60
    store.save(new(), Saver(client="10.0.0.1"))  # another owner on the first address
    store.save(new(), Saver(client="10.0.0.1"))
    error = refused(lambda: store.save(new(), Saver(client="10.0.0.1")), 429, "rate_limited")
    assert "per client address" in str(error)
    store.save(new(), Saver(client="10.0.0.9"))
    assert store.count() == 5


def test_bytes_are_limited_per_owner_per_client_and_for_the_whole_store(opened: Any) -> None:
    store = opened(Limits(saves_per_minute=0, client_saves_per_minute=0, bytes_per_owner=100,
                          bytes_per_client=150, storage_cap=250))
    token = store.save(new(40), Saver(client="a")).token  # 50 bytes
    store.save(new(40), Saver(token, "b"))  # the owner holds 100
    error = refused(lambda: store.save(new(0), Saver(token, "c")), 413, "quota_exceeded")
    assert "owner token stores 100 bytes" in str(error) and "limit of 100" in str(error)
    store.save(new(90), Saver(client="a"))  # client a holds 150
    error = refused(lambda: store.save(new(0), Saver(client="a")), 413, "quota_exceeded")
    assert "client address stores 150 bytes" in str(error)
    store.save(new(40), Saver(client="d"))  # the store holds 250
    error = refused(lambda: store.save(new(0), Saver(client="e")), 507, "storage_full")
    assert "cap of 250" in str(error)
    assert store.delete(_first_id(store, token), token)
    store.save(new(0), Saver(client="e"))  # deleting made room
    assert store.usage() == {"experiments": 4, "bytes": 250 - 50 + 10}


def _first_id(store: Store, token: str) -> str:
    with store._transaction() as db:
        return db.execute("SELECT id FROM experiments WHERE owner = ? ORDER BY created",
                          (token_hash(token),)).fetchone()[0]


def test_the_storage_cap_holds_across_replicas_saving_at_once(opened: Any) -> None:
    """Eight threads on two Store objects (two replicas) race for room for 10 experiments: the
    check and the insert are one serialised transaction, so exactly 10 get in."""
    limits = Limits(0, 0, 0, 0, storage_cap=10 * 110)
    replicas = [opened(limits), opened(limits)]
    outcomes: list[str] = []

    def work(store: Store) -> None:
        for _ in range(5):
            try:
                store.save(new(100))
                outcomes.append("saved")
            except AccessError as exc:
                outcomes.append(exc.code)

    threads = [threading.Thread(target=work, args=(replicas[i % 2],)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("saved") == 10 and outcomes.count("storage_full") == 30
    assert replicas[0].usage() == {"experiments": 10, "bytes": 1100}


SWEEP_BODY = {"sweep": {}, "groups": [], "results": []}  # 43 bytes as JSON
SWEEP_BYTES = len('{"sweep":{},"groups":[],"results":[]}')


def test_a_sweep_is_saved_as_an_experiment_is_with_a_token_and_counted_in_the_same_quotas(
        opened: Any) -> None:
    store = opened(Limits(saves_per_minute=3, client_saves_per_minute=0,
                          bytes_per_owner=2 * SWEEP_BYTES + 10, bytes_per_client=0,
                          storage_cap=0))
    first = store.save_sweep("", SWEEP_BODY, Saver(client="a"))
    assert first.token is not None and store.sweep(first.id)["results"] == []
    again = store.save_sweep("", SWEEP_BODY, Saver(first.token, "a"))
    assert again.token is None  # the token was sent: none new
    assert store.usage() == {"experiments": 0, "bytes": 2 * SWEEP_BYTES, "sweeps": 2}
    # an experiment of the same owner counts against the same bytes: 10 left
    error = refused(lambda: store.save(new(1), Saver(first.token)), 413, "quota_exceeded")
    assert f"stores {2 * SWEEP_BYTES:,} bytes" in str(error)
    store.save(new(0), Saver(first.token))  # 10 bytes fit
    # and the same saves a minute: the owner has saved three times
    refused(lambda: store.save_sweep("", {}, Saver(first.token)), 429, "rate_limited")
    refused(lambda: store.save_sweep("", SWEEP_BODY, Saver("x" * 32)), 403, "unknown_token")
    with store._transaction() as db:
        owners = {row[0] for row in db.execute("SELECT owner FROM sweeps")}
    assert owners == {token_hash(first.token)}  # the hash only; the refused stored nothing


def test_sweeps_count_towards_the_whole_stores_cap(opened: Any) -> None:
    store = opened(Limits(0, 0, 0, 0, storage_cap=SWEEP_BYTES + 15))
    store.save(new(5))  # 15 bytes
    store.save_sweep("", SWEEP_BODY)
    error = refused(lambda: store.save_sweep("", SWEEP_BODY), 507, "storage_full")
    assert f"holds {SWEEP_BYTES + 15:,} bytes" in str(error)
    refused(lambda: store.save(new()), 507, "storage_full")


def test_a_deleted_sweep_frees_its_owners_bytes_and_the_operator_deletes_without_a_token(
        opened: Any) -> None:
    store = opened(Limits(0, 0, bytes_per_owner=SWEEP_BYTES, bytes_per_client=0,
                          storage_cap=0))
    first = store.save_sweep("", SWEEP_BODY)
    refused(lambda: store.save_sweep("", SWEEP_BODY, Saver(first.token)), 413,
            "quota_exceeded")
    refused(lambda: store.delete_sweep(first.id, "x" * 32), 403, "forbidden")
    assert store.delete_sweep(first.id, first.token) and store.sweep(first.id) is None
    again = store.save_sweep("", SWEEP_BODY, Saver(first.token))  # its bytes are free again
    assert store.delete_as_operator(again.id) and store.sweep(again.id) is None
    assert not store.delete_sweep(again.id, first.token)
