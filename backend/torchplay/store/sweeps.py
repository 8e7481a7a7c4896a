"""Saved sweeps: a table of its own beside the experiments, in the same SQLite file.

A saved sweep is its SweepSpec, its plan (groups) and every trial's result, as JSON, with a
name and a random id like an experiment's. Kept apart from experiments.py (whose schema chain
is being ported to PostgreSQL): the table is created if missing when first used, and moves
into the migration chain with that port.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

import orjson

from torchplay.store.experiments import ID_BYTES, MAX_RUN_BYTES, Store, StoreError, valid_id

TABLE = """CREATE TABLE IF NOT EXISTS sweeps (
    id TEXT PRIMARY KEY,     -- secrets.token_urlsafe(ID_BYTES), as experiments'
    created TEXT NOT NULL,   -- ISO 8601, UTC
    name TEXT NOT NULL,
    body TEXT NOT NULL       -- {"sweep": SweepSpec, "groups": [...], "results": [...]}
)"""


def save_sweep(store: Store, name: str, body: dict[str, Any]) -> str:
    """Write one finished sweep; its new id once it is on disk."""
    text = orjson.dumps(body)
    if len(text) > MAX_RUN_BYTES:
        raise StoreError(f"the sweep's results are {len(text):,} bytes, more than "
                         f"{MAX_RUN_BYTES:,}")
    created = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    sweep_id = secrets.token_urlsafe(ID_BYTES)
    with store._transaction() as db:
        db.execute(TABLE)
        db.execute("INSERT INTO sweeps VALUES (?, ?, ?, ?)",
                   (sweep_id, created, name, text.decode()))
    return sweep_id


def get_sweep(store: Store, sweep_id: str) -> dict[str, Any] | None:
    """{id, created, name, sweep, groups, results}, or None."""
    if not valid_id(sweep_id):
        return None
    with store._transaction() as db:
        db.execute(TABLE)
        row = db.execute("SELECT id, created, name, body FROM sweeps WHERE id = ?",
                         (sweep_id,)).fetchone()
    if row is None:
        return None
    return {"id": row[0], "created": row[1], "name": row[2], **orjson.loads(row[3])}
