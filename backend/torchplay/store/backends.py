"""The two databases a store can live in: a SQLite file, or a PostgreSQL server.

The store (experiments.py) writes its SQL once, in the subset both speak: `?` placeholders,
the types TEXT, BIGINT and BLOB, `INSERT ... ON CONFLICT`. A backend runs that SQL on its own
connection: PostgreSQL's gets `%s` placeholders and BYTEA for BLOB. Each backend keeps one
connection behind a lock (saves are rare and short; readers of large runs take turns), and
makes the same durability promise: `transaction()` returns only once the commit is on disk.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
# Any constant: the advisory lock that serialises write transactions across replicas (quota
# checks with their insert, migrations).
WRITE_LOCK = 0x746F7264


class StoreUnavailable(RuntimeError):
    """The database cannot be reached (PostgreSQL down or unreachable); nothing was written."""


class Cursor(Protocol):
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Backend(ABC):
    """One database connection, safe to share between threads, and its dialect."""

    name: str
    lost: tuple[type[BaseException], ...] = ()  # errors that mean the connection is gone

    def __init__(self) -> None:
        self._lock = threading.Lock()

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor: ...

    @abstractmethod
    def _begin(self, write: bool) -> None: ...

    @abstractmethod
    def _commit(self) -> None: ...

    @abstractmethod
    def _rollback(self) -> None: ...

    @abstractmethod
    def table_exists(self, name: str) -> bool:
        """Whether the table exists (call inside a transaction)."""

    @abstractmethod
    def close(self) -> None: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement written in the common dialect (inside a transaction)."""
        return self._execute(self.translate(sql), params)

    def translate(self, sql: str) -> str:
        """The common dialect in this backend's own words (SQLite's are the common ones)."""
        return sql

    @contextmanager
    def transaction(self, write: bool = False) -> Iterator[Backend]:
        """One transaction, committed (durably) when the block ends, rolled back on an error.
        Write transactions are serialised across every process sharing the database, so a
        quota checked in one holds when its insert commits."""
        with self._lock:
            try:
                self._begin(write)
                try:
                    yield self
                except BaseException:
                    self._rollback()
                    raise
                self._commit()
            except self.lost as exc:
                raise StoreUnavailable(f"the database cannot be reached ({exc}); try again "
                                       "shortly") from exc


class SQLiteBackend(Backend):
    """A SQLite file in WAL mode; `synchronous=FULL` makes each commit fsync the log."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        # Autocommit mode: transactions are the explicit BEGIN/COMMIT below.
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")  # a commit fsyncs the log: acked is kept
        self.db.execute("PRAGMA busy_timeout=5000")  # another server on the same file

    def __str__(self) -> str:
        return str(self.path)

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        return self.db.execute(sql, params)

    def _begin(self, write: bool) -> None:
        # IMMEDIATE takes the file's write lock now: one writer at a time, across processes.
        self.db.execute("BEGIN IMMEDIATE" if write else "BEGIN")

    def _commit(self) -> None:
        self.db.execute("COMMIT")

    def _rollback(self) -> None:
        self.db.execute("ROLLBACK")

    def table_exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)).fetchone() is not None

    def close(self) -> None:
        with self._lock:
            self.db.close()


class PostgresBackend(Backend):
    """A PostgreSQL database (psycopg 3), reconnected when the server went away between two
    calls. `synchronous_commit=on`: a commit returns once its WAL is flushed to disk."""

    name = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        try:
            import psycopg  # the optional extra torchplay[postgres]
        except ImportError as exc:
            raise RuntimeError("a PostgreSQL --db needs psycopg: pip install "
                               "'torchplay[postgres]'") from exc
        self.psycopg = psycopg
        self.lost = (psycopg.OperationalError,)
        self.url = url
        self.db = self._connect()

    def __str__(self) -> str:
        return re.sub(r"//[^@/]*@", "//***@", self.url)  # never print a password

    def _connect(self) -> Any:
        db = self.psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        db.execute("SET synchronous_commit = on")
        return db

    def translate(self, sql: str) -> str:
        return re.sub(r"\bBLOB\b", "BYTEA", sql.replace("?", "%s"))

    def _execute(self, sql: str, params: Sequence[Any]) -> Cursor:
        # Binary results: weights come back as their bytes, not as hex text to decode (~4x
        # faster for megabytes).
        return self.db.execute(sql, params, binary=True)

    def _begin(self, write: bool) -> None:
        if self.db.closed or self.db.broken:
            self.db = self._connect()
        self.db.execute("BEGIN")
        if write:
            self.db.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))

    def _commit(self) -> None:
        self.db.execute("COMMIT")

    def _rollback(self) -> None:
        if not (self.db.closed or self.db.broken):
            self.db.execute("ROLLBACK")

    def table_exists(self, name: str) -> bool:
        return self.db.execute("SELECT to_regclass(%s) IS NOT NULL",
                               (name,)).fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self.db.close()


def is_postgres(location: str | Path) -> bool:
    return str(location).startswith(POSTGRES_SCHEMES)


def connect(location: str | Path) -> Backend:
    """The backend for `--db`: a `postgresql://` URL, or else a SQLite file's path."""
    if is_postgres(location):
        return PostgresBackend(str(location))
    return SQLiteBackend(Path(location))
