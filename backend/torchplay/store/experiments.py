"""Saved experiments: one SQLite file (WAL mode, versioned schema) that outlives the server.

A saved experiment is its spec, a name and a note, and optionally the recorded run: the run as
JSON (curves, final frame, summary, points) and the weights as the bytes of a torch.save'd
state_dict. Uploaded tables (data.kind "table") are kept once each, by content hash, in
`datasets`; a spec refers to one by its hash. This module stores text and bytes and knows no
torch; the engine produces them.

An acknowledged save is on disk: every write commits with `synchronous=FULL`, which fsyncs the
write-ahead log, so killing the process (or the machine) right after loses nothing that was
acknowledged. Ids are random (96 bits, `secrets.token_urlsafe`), so they cannot be enumerated.
One connection serves every thread, behind a lock; callers on an event loop use
`asyncio.to_thread`.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

SCHEMA_VERSION = 3

# Schema version v is reached by running MIGRATIONS[v - 1] on a file at version v - 1 (a new
# file is at version 0). Append only: files written by older servers upgrade step by step.
MIGRATIONS: tuple[str, ...] = (
    # 1: the version table alone (torchplay before saved experiments)
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # 2: saved experiments
    """CREATE TABLE experiments (
        id TEXT PRIMARY KEY,            -- secrets.token_urlsafe(ID_BYTES)
        created TEXT NOT NULL,          -- ISO 8601, UTC
        name TEXT NOT NULL,
        note TEXT NOT NULL,
        spec TEXT NOT NULL,             -- ExperimentSpec as JSON
        spec_version INTEGER NOT NULL,  -- the spec's version when it was saved
        run TEXT,                       -- the recorded run as JSON; NULL: the setup alone
        weights BLOB                    -- torch.save'd state_dict; NULL without a run
    )""",
    # 3: uploaded tables (data.kind "table"), stored once by content
    """CREATE TABLE datasets (
        hash TEXT PRIMARY KEY,          -- SHA-256 of the bytes, lowercase hex
        name TEXT NOT NULL,             -- the uploaded file's name
        bytes BLOB NOT NULL,            -- the file as uploaded (UTF-8 CSV or TSV)
        created TEXT NOT NULL           -- ISO 8601, UTC, of the first upload
    )""",
)

ID_BYTES = 12  # 96 random bits: 16 URL-safe characters
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{16}")
MAX_NAME = 200
MAX_NOTE = 5_000
MAX_SPEC_BYTES = 1_000_000
MAX_RUN_BYTES = 64_000_000  # curves are thinned to 100,000 rows a series, so runs stay below
MAX_WEIGHTS_BYTES = 64_000_000  # 2 million float32 parameters are 8 MB


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
    """The experiments table of one SQLite file; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are the explicit BEGIN/COMMIT of _transaction.
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a commit fsyncs the log: acked is kept
        self._db.execute("PRAGMA busy_timeout=5000")  # another server on the same file
        self._migrate()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        with self._transaction() as db:
            version = self._version(db)
            if version > SCHEMA_VERSION:
                raise RuntimeError(f"{self.path} has schema version {version}, newer than this "
                                   f"torchplay ({SCHEMA_VERSION}); upgrade torchplay or use "
                                   "another --db")
            for step in MIGRATIONS[version:]:
                db.execute(step)
            if version < SCHEMA_VERSION:
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)",
                           (str(SCHEMA_VERSION),))

    @staticmethod
    def _version(db: sqlite3.Connection) -> int:
        has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND "
                              "name = 'meta'").fetchone()
        if not has_meta:
            return 0
        row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    @property
    def schema_version(self) -> int:
        with self._lock:
            return self._version(self._db)

    def save(self, new: NewExperiment) -> str:
        """Write one experiment and return its new id, once it is durably on disk."""
        spec_json = orjson.dumps(new.spec)
        run_json = None if new.run is None else orjson.dumps(new.run)
        _check(new, spec_json, run_json)
        row = (_now(), new.name, new.note, spec_json.decode(), new.spec_version,
               None if run_json is None else run_json.decode(), new.weights)
        try:
            return self._insert(row)
        except sqlite3.IntegrityError:  # an id drawn twice: 96 random bits make it unheard of
            return self._insert(row)

    def _insert(self, row: tuple[Any, ...]) -> str:
        experiment_id = secrets.token_urlsafe(ID_BYTES)
        with self._transaction() as db:
            db.execute("INSERT INTO experiments VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                       (experiment_id, *row))
        return experiment_id

    def get(self, experiment_id: str) -> Experiment | None:
        """The experiment with this id, or None (also for a string that is no id at all)."""
        if not valid_id(experiment_id):
            return None
        with self._lock:
            row = self._db.execute(
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
        with self._lock:
            row = self._db.execute("SELECT weights FROM experiments WHERE id = ?",
                                   (experiment_id,)).fetchone()
        return None if row is None else row[0]

    def put_dataset(self, digest: str, name: str, data: bytes) -> bool:
        """Keep an uploaded file under its hash; False when it was already kept (the first
        name stays)."""
        if len(name) > MAX_NAME:
            raise StoreError(f"name: {len(name):,} characters; the limit is {MAX_NAME:,}")
        with self._transaction() as db:
            cursor = db.execute("INSERT OR IGNORE INTO datasets VALUES (?, ?, ?, ?)",
                                (digest, name, data, _now()))
            return cursor.rowcount == 1

    def dataset(self, digest: str) -> tuple[str, bytes] | None:
        """The name and bytes of the uploaded file with this hash, or None."""
        with self._lock:
            row = self._db.execute("SELECT name, bytes FROM datasets WHERE hash = ?",
                                   (digest,)).fetchone()
        return None if row is None else (row[0], bytes(row[1]))

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM experiments").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


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


def open_store(path: Path) -> Store:
    """Open (creating or upgrading if needed) the store in the SQLite file at `path`."""
    return Store(path)
