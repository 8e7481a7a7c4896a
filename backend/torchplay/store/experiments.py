"""Saved experiments: one database (a SQLite file or PostgreSQL) that outlives the servers.

A saved experiment is its spec, a name and a note, and optionally the recorded run: the run as
JSON (curves, final frame, summary, points) and the weights as the bytes of a torch.save'd
state_dict. Uploaded tables (data.kind "table") are kept once each, by content hash, in
`datasets`; a spec refers to one by its hash. This module stores text and bytes and knows no
torch; the engine produces them.
backends.py runs the SQL on either database; access.py says who may change what and how much
anyone may save.

An acknowledged save is on disk: every write commits durably (SQLite: WAL with
`synchronous=FULL`; PostgreSQL: `synchronous_commit=on`), so killing the process (or the
machine) right after loses nothing that was acknowledged. Ids are random (96 bits,
`secrets.token_urlsafe`), so they cannot be enumerated. Callers on an event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from pathlib import Path
from typing import Any, NamedTuple

import orjson

from torchplay.store.access import (
    RATE_WINDOW_S,
    Limits,
    Saver,
    forbidden,
    new_token,
    over_quota,
    rate_limited,
    same_hash,
    store_full,
    token_hash,
    unknown_token,
    valid_token,
)
from torchplay.store.backends import Backend, connect

SCHEMA_VERSION = 6

# Schema version v is reached by running MIGRATIONS[v - 1] (one statement, or a tuple of them)
# on a database at version v - 1 (a new one is at version 0). Append only: databases written by
# older servers upgrade step by step. Written in the SQL both backends speak (backends.py):
# types TEXT, BIGINT and BLOB only.
MIGRATIONS: tuple[str | tuple[str, ...], ...] = (
    # 1: the version table alone (torchplay before saved experiments)
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # 2: saved experiments
    """CREATE TABLE experiments (
        id TEXT PRIMARY KEY,            -- secrets.token_urlsafe(ID_BYTES)
        created TEXT NOT NULL,          -- ISO 8601, UTC
        name TEXT NOT NULL,
        note TEXT NOT NULL,
        spec TEXT NOT NULL,             -- ExperimentSpec as JSON
        spec_version BIGINT NOT NULL,   -- the spec's version when it was saved
        run TEXT,                       -- the recorded run as JSON; NULL: the setup alone
        weights BLOB                    -- torch.save'd state_dict; NULL without a run
    )""",
    # 3: owners and quotas (access.py)
    (
        """CREATE TABLE owners (
            token_hash TEXT PRIMARY KEY,    -- SHA-256 of the owner token, hex; never the token
            created TEXT NOT NULL
        )""",
        # NULL owner: saved before owners existed; no token can change it
        "ALTER TABLE experiments ADD COLUMN owner TEXT",
        "ALTER TABLE experiments ADD COLUMN client TEXT NOT NULL DEFAULT ''",  # saver's address
        # what counts against quotas: spec + run + weights + name + note, in bytes
        "ALTER TABLE experiments ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0",
        "UPDATE experiments SET bytes = LENGTH(spec) + COALESCE(LENGTH(run), 0) "
        "+ COALESCE(LENGTH(weights), 0) + LENGTH(name) + LENGTH(note)",
        "CREATE INDEX experiments_owner ON experiments (owner)",
        "CREATE INDEX experiments_client ON experiments (client)",
        """CREATE TABLE save_log (         -- the last minute's saves, for saves per minute
            at TEXT NOT NULL,
            owner TEXT NOT NULL,
            client TEXT NOT NULL
        )""",
        "CREATE INDEX save_log_at ON save_log (at)",
    ),
    # 4: uploaded tables (data.kind "table"), stored once by content
    """CREATE TABLE datasets (
        hash TEXT PRIMARY KEY,          -- SHA-256 of the bytes, lowercase hex
        name TEXT NOT NULL,             -- the uploaded file's name
        bytes BLOB NOT NULL,            -- the file as uploaded (UTF-8 CSV or TSV)
        created TEXT NOT NULL           -- ISO 8601, UTC, of the first upload
    )""",
    # 5: finished sweeps (torchplay.sweeps), each saved whole as one JSON body
    """CREATE TABLE sweeps (
        id TEXT PRIMARY KEY,            -- secrets.token_urlsafe(ID_BYTES), as experiments'
        created TEXT NOT NULL,          -- ISO 8601, UTC
        name TEXT NOT NULL,
        body TEXT NOT NULL              -- {"sweep": SweepSpec, "groups": [...], "results": [...]}
    )""",
    # 6: sweeps have owners and count against the same quotas as experiments (access.py)
    (
        "ALTER TABLE sweeps ADD COLUMN owner TEXT",  # NULL: saved before sweeps had owners
        "ALTER TABLE sweeps ADD COLUMN client TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE sweeps ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0",  # body + name
        "UPDATE sweeps SET bytes = LENGTH(body) + LENGTH(name)",
        "CREATE INDEX sweeps_owner ON sweeps (owner)",
        "CREATE INDEX sweeps_client ON sweeps (client)",
    ),
)
COLUMNS = "id, created, name, note, spec, spec_version, run, weights, owner, client, bytes"
SWEEP_COLUMNS = "id, created, name, body, owner, client, bytes"
# Saves of both kinds count against one quota: bytes stored by an owner, a client, everyone.
STORED = ("experiments", "sweeps")
# Tables `torchplay copy-store` copies, in an order that keeps references valid. A new table:
# append its migration (in the common SQL above) and name it here; methods that use it open
# `self._transaction()` and call `db.execute(sql, params)` as with sqlite3.
COPIED_TABLES = ("owners", "experiments", "datasets", "sweeps")

ID_BYTES = 12  # 96 random bits: 16 URL-safe characters
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")
MAX_NAME = 200
MAX_NOTE = 5_000
MAX_SPEC_BYTES = 1_000_000
MAX_RUN_BYTES = 64_000_000  # curves are thinned to 100,000 rows a series, so runs stay below
MAX_WEIGHTS_BYTES = 64_000_000  # 2 million float32 parameters are 8 MB


class Saved(NamedTuple):
    id: str
    token: str | None  # the new owner token, when the saver sent none; shown once


class StoreError(ValueError):
    """A save that this store refuses (too large, malformed); nothing was written."""


@dataclass(frozen=True)
class NewExperiment:
    """What a save writes; `run` and `weights` come together or not at all."""

    spec: dict[str, Any]
    spec_version: int
    name: str = ""
    note: str = ""
    run: dict[str, Any] | None = None
    weights: bytes | None = None


@dataclass(frozen=True)
class Experiment:
    """A saved experiment as read back; the run stays JSON text until someone needs it."""

    id: str
    created: str
    name: str
    note: str
    spec: dict[str, Any]
    spec_version: int
    run_json: bytes | None
    has_weights: bool

    @property
    def run(self) -> dict[str, Any] | None:
        return None if self.run_json is None else orjson.loads(self.run_json)


def valid_id(text: str) -> bool:
    """Whether text could be an id at all (anything else is answered like an unknown id)."""
    return ID_PATTERN.fullmatch(text) is not None


class Store:
    """Saved experiments in one database (backends.py: a SQLite file or PostgreSQL); safe to
    share between threads, and between processes sharing the database."""

    def __init__(self, location: str | Path, limits: Limits | None = None) -> None:
        self.backend = connect(location)
        self.limits = limits or Limits()
        try:
            self._migrate()
        except BaseException:
            self.backend.close()
            raise

    def _transaction(self, write: bool = False) -> AbstractContextManager[Backend]:
        return self.backend.transaction(write)

    def _migrate(self) -> None:
        # A write transaction: replicas starting together upgrade one at a time, and once.
        with self._transaction(write=True) as db:
            version = self._version(db)
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{db} has schema version {version}, newer than this "
                                   f"torchplay ({SCHEMA_VERSION}); upgrade torchplay or use "
                                   "another --db")
            for step in MIGRATIONS[version:]:
                for statement in (step,) if isinstance(step, str) else step:
                    db.execute(statement)
            if version < SCHEMA_VERSION:
                db.execute("INSERT INTO meta VALUES ('schema_version', ?) ON CONFLICT (key) "
                           "DO UPDATE SET value = excluded.value", (str(SCHEMA_VERSION),))

    @staticmethod
    def _version(db: Backend) -> int:
        if not db.table_exists("meta"):
            return 0
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    @property
    def schema_version(self) -> int:
        with self._transaction() as db:
            return self._version(db)

    def save(self, new: NewExperiment, saver: Saver | None = None) -> Saved:
        """Write one experiment, once the saver's limits allow it, and return its new id (and
        a new owner token when the saver sent none), once it is durably on disk."""
        spec_json = orjson.dumps(new.spec)
        run_json = None if new.run is None else orjson.dumps(new.run)
        _check(new, spec_json, run_json)
        size = (len(spec_json) + len(run_json or b"") + len(new.weights or b"")
                + len(new.name.encode()) + len(new.note.encode()))

        def row(created: str, owner: str, client: str) -> tuple[Any, ...]:
            return (created, new.name, new.note, spec_json.decode(), new.spec_version,
                    None if run_json is None else run_json.decode(), new.weights, owner,
                    client, size)

        return self._admit("experiments", COLUMNS, row, size, saver or Saver())

    def _admit(self, table: str, columns: str, row: Callable[[str, str, str], tuple[Any, ...]],
               size: int, saver: Saver) -> Saved:
        """Insert row(created, owner hash, client) under a new id into `table`, in one write
        transaction with the checks of the saver's token and limits (access.py)."""
        now = datetime.now(UTC)
        created = _timestamp(now)
        token = new_token() if saver.token is None else saver.token
        owner = token_hash(token)
        values = row(created, owner, saver.client)
        marks = ", ".join("?" * (len(values) + 1))
        with self._transaction(write=True) as db:
            if saver.token is None:
                db.execute("INSERT INTO owners VALUES (?, ?)", (owner, created))
            elif not valid_token(saver.token) or db.execute(
                    "SELECT 1 FROM owners WHERE token_hash = ?", (owner,)).fetchone() is None:
                raise unknown_token()
            self._check_limits(db, owner, saver.client, size, now)
            while True:  # an id drawn twice: 96 random bits make it unheard of
                new_id = secrets.token_urlsafe(ID_BYTES)
                inserted = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
                                      "ON CONFLICT (id) DO NOTHING", (new_id, *values))
                if inserted.rowcount == 1:
                    break
            db.execute("DELETE FROM save_log WHERE at < ?",
                       (_timestamp(now - timedelta(seconds=RATE_WINDOW_S)),))
            db.execute("INSERT INTO save_log VALUES (?, ?, ?)", (created, owner, saver.client))
        return Saved(new_id, None if saver.token is not None else token)

    @staticmethod
    def _stored(db: Backend, where: str = "", params: tuple[Any, ...] = ()) -> int:
        """Bytes stored in experiments and sweeps (rows matching `where`)."""
        return sum(int(db.execute(f"SELECT COALESCE(SUM(bytes), 0) FROM {table} {where}",
                                  params).fetchone()[0]) for table in STORED)

    def _check_limits(self, db: Backend, owner: str, client: str, size: int,
                      now: datetime) -> None:
        limits = self.limits
        since = _timestamp(now - timedelta(seconds=RATE_WINDOW_S))
        for column, key, limit, who in (
                ("owner", owner, limits.saves_per_minute, "owner token"),
                ("client", client, limits.client_saves_per_minute, "client address")):
            if not limit:
                continue
            count, oldest = db.execute(f"SELECT COUNT(*), MIN(at) FROM save_log WHERE {column} "
                                       "= ? AND at >= ?", (key, since)).fetchone()
            if count >= limit:
                age = (now - datetime.fromisoformat(oldest.replace("Z", "+00:00")))
                raise rate_limited(who, limit, max(1, ceil(RATE_WINDOW_S - age.total_seconds())))
        if limits.storage_cap:
            used = self._stored(db)
            if used + size > limits.storage_cap:
                raise store_full(used, size, limits.storage_cap)
        for column, key, limit, who in (("owner", owner, limits.bytes_per_owner, "owner token"),
                                        ("client", client, limits.bytes_per_client,
                                         "client address")):
            if not limit:
                continue
            used = self._stored(db, f"WHERE {column} = ?", (key,))
            if used + size > limit:
                raise over_quota(who, used, size, limit)

    def get(self, experiment_id: str) -> Experiment | None:
        """The experiment with this id, or None (also for a string that is no id at all)."""
        if not valid_id(experiment_id):
            return None
        with self._transaction() as db:
            row = db.execute(
                "SELECT id, created, name, note, spec, spec_version, run, weights IS NOT NULL "
                "FROM experiments WHERE id = ?", (experiment_id,)).fetchone()
        if row is None:
            return None
        return Experiment(id=row[0], created=row[1], name=row[2], note=row[3],
                          spec=orjson.loads(row[4]), spec_version=row[5],
                          run_json=None if row[6] is None else row[6].encode(),
                          has_weights=bool(row[7]))

    def weights(self, experiment_id: str) -> bytes | None:
        """The saved state_dict bytes, or None (no such experiment, or saved without a run)."""
        if not valid_id(experiment_id):
            return None
        with self._transaction() as db:
            row = db.execute("SELECT weights FROM experiments WHERE id = ?",
                             (experiment_id,)).fetchone()
        return None if row is None or row[0] is None else bytes(row[0])

    def edit(self, experiment_id: str, token: str | None, name: str | None = None,
             note: str | None = None) -> Experiment | None:
        """Rename and/or annotate (None leaves a field as it is), as the owner; None when no
        experiment has this id, AccessError when the token does not own it."""
        if name is not None and len(name) > MAX_NAME:
            raise StoreError(f"name: {len(name):,} characters; the limit is {MAX_NAME:,}")
        if note is not None and len(note) > MAX_NOTE:
            raise StoreError(f"note: {len(note):,} characters; the limit is {MAX_NOTE:,}")
        if not valid_id(experiment_id):
            return None
        with self._transaction(write=True) as db:
            row = db.execute("SELECT owner, name, note FROM experiments WHERE id = ?",
                             (experiment_id,)).fetchone()
            if row is None:
                return None
            if not same_hash(row[0], token):
                raise forbidden("rename or annotate it")
            name = row[1] if name is None else name
            note = row[2] if note is None else note
            grown = len(name.encode()) + len(note.encode()) - len(row[1].encode()) \
                - len(row[2].encode())
            db.execute("UPDATE experiments SET name = ?, note = ?, bytes = bytes + ? "
                       "WHERE id = ?", (name, note, grown, experiment_id))
        return self.get(experiment_id)

    def delete(self, experiment_id: str, token: str | None) -> bool:
        """Delete as the owner: False when no experiment has this id, AccessError when the
        token does not own it. Deleted rows are gone from the database at once."""
        return self._delete_owned("experiments", experiment_id, token)

    def delete_sweep(self, sweep_id: str, token: str | None) -> bool:
        """Delete a saved sweep as its owner, as `delete` an experiment."""
        return self._delete_owned("sweeps", sweep_id, token)

    def _delete_owned(self, table: str, row_id: str, token: str | None) -> bool:
        if not valid_id(row_id):
            return False
        with self._transaction(write=True) as db:
            row = db.execute(f"SELECT owner FROM {table} WHERE id = ?", (row_id,)).fetchone()
            if row is None:
                return False
            if not same_hash(row[0], token):
                raise forbidden("delete it")
            db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,))
        return True

    def delete_as_operator(self, row_id: str) -> bool:
        """Delete an experiment or a saved sweep without a token: for whoever runs the server
        (the `delete-experiment` command), e.g. to honour a request to remove something."""
        with self._transaction(write=True) as db:
            return any(db.execute(f"DELETE FROM {table} WHERE id = ?", (row_id,)).rowcount == 1
                       for table in STORED)

    def usage(self) -> dict[str, int]:
        """How many experiments the store holds, and the bytes of experiments and sweeps (what
        the storage cap counts); sweeps are counted apart, and only when there are any."""
        with self._transaction() as db:
            count = db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]
            sweeps = db.execute("SELECT COUNT(*) FROM sweeps").fetchone()[0]
            used = self._stored(db)
        return {"experiments": int(count), "bytes": used, **({"sweeps": int(sweeps)}
                                                              if sweeps else {})}

    def put_dataset(self, digest: str, name: str, data: bytes) -> bool:
        """Keep an uploaded file under its hash; False when it was already kept (the first
        name stays)."""
        if len(name) > MAX_NAME:
            raise StoreError(f"name: {len(name):,} characters; the limit is {MAX_NAME:,}")
        with self._transaction(write=True) as db:
            cursor = db.execute("INSERT INTO datasets VALUES (?, ?, ?, ?) "
                                "ON CONFLICT (hash) DO NOTHING",
                                (digest, name, data, _timestamp(datetime.now(UTC))))
            return cursor.rowcount == 1

    def dataset(self, digest: str) -> tuple[str, bytes] | None:
        """The name and bytes of the uploaded file with this hash, or None."""
        with self._transaction() as db:
            row = db.execute("SELECT name, bytes FROM datasets WHERE hash = ?",
                             (digest,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def save_sweep(self, name: str, body: dict[str, Any], saver: Saver | None = None) -> Saved:
        """Write one finished sweep (its spec, plan and every trial's result) as an experiment
        is written: the saver's token and limits checked, a new token when it sent none; its
        new id once it is on disk."""
        text = orjson.dumps(body).decode()
        if len(text) > MAX_RUN_BYTES:
            raise StoreError(f"the sweep's results are {len(text):,} bytes, more than "
                             f"{MAX_RUN_BYTES:,}")
        if len(name) > MAX_NAME:
            raise StoreError(f"name: {len(name):,} characters; the limit is {MAX_NAME:,}")
        size = len(text.encode()) + len(name.encode())
        return self._admit("sweeps", SWEEP_COLUMNS,
                           lambda created, owner, client: (created, name, text, owner, client,
                                                           size), size, saver or Saver())

    def sweep(self, sweep_id: str) -> dict[str, Any] | None:
        """{id, created, name, sweep, groups, results} of a saved sweep, or None."""
        if not valid_id(sweep_id):
            return None
        with self._transaction() as db:
            row = db.execute("SELECT id, created, name, body FROM sweeps WHERE id = ?",
                             (sweep_id,)).fetchone()
        if row is None:
            return None
        return {"id": row[0], "created": row[1], "name": row[2], **orjson.loads(row[3])}

    def count(self) -> int:
        return self.usage()["experiments"]

    def close(self) -> None:
        self.backend.close()


def _check(new: NewExperiment, spec_json: bytes, run_json: bytes | None) -> None:
    """Refuse what no client of this store should send, before anything is written."""
    if len(new.name) > MAX_NAME:
        raise StoreError(f"name: {len(new.name):,} characters; the limit is {MAX_NAME:,}")
    if len(new.note) > MAX_NOTE:
        raise StoreError(f"note: {len(new.note):,} characters; the limit is {MAX_NOTE:,}")
    if len(spec_json) > MAX_SPEC_BYTES:
        raise StoreError(f"spec: {len(spec_json):,} bytes; the limit is {MAX_SPEC_BYTES:,}")
    if (run_json is None) != (new.weights is None):
        raise StoreError("a run is saved with its weights, or neither is saved")
    if run_json is not None and len(run_json) > MAX_RUN_BYTES:
        raise StoreError(f"run: {len(run_json):,} bytes; the limit is {MAX_RUN_BYTES:,}")
    if new.weights is not None and len(new.weights) > MAX_WEIGHTS_BYTES:
        raise StoreError(f"weights: {len(new.weights):,} bytes; the limit is "
                         f"{MAX_WEIGHTS_BYTES:,}")


def _timestamp(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def open_store(location: str | Path, limits: Limits | None = None) -> Store:
    """Open (creating or upgrading if needed) the store at `location`: a `postgresql://` URL,
    or else the path of a SQLite file."""
    return Store(location, limits)
