"""REST routes for uploaded tables (data.kind "table"): upload, describe, download.

The body of an upload is the file itself (CSV with a header row, or TSV). It is read only up
to MAX_TABLE_BYTES: a larger body is refused (413) before anything is parsed. A file that is
no usable table gets 422 with code `bad_table` and the line and column of the first problem;
nothing is stored. A good file is stored once, under the SHA-256 of its bytes, and described
(columns, which hold numbers, distinct labels) so that the page can offer the columns. Errors
have the WebSocket's shape; docs/experiments.md documents the routes.
"""

from __future__ import annotations

import asyncio
import re
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from torchplay.api.messages import error
from torchplay.data.sources import TABLES
from torchplay.data.table import MAX_COLUMNS, MAX_ROWS, MAX_TABLE_BYTES, Table, TableError
from torchplay.store.experiments import MAX_NAME, Store, StoreError

HASH = re.compile(r"[0-9a-f]{64}")
LIMITS = {"max_bytes": MAX_TABLE_BYTES, "max_rows": MAX_ROWS, "max_columns": MAX_COLUMNS}


def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]
router = APIRouter(prefix="/api", tags=["tables"])


def no_dataset(digest: str) -> JSONResponse:
    return JSONResponse(error("no_dataset", f"this server has no data set with hash "
                              f"{digest[:12]}…; upload the file here again, or open a saved "
                              "experiment, which carries its data", "hash"), status_code=404)


def bad_table(exc: TableError) -> JSONResponse:
    body = error("bad_table", str(exc), "file")
    body.update(line=exc.line, column=exc.column)
    return JSONResponse(body, status_code=422)


def described(table: Table, name: str) -> dict[str, Any]:
    return {"name": name, **table.summary()}


async def shelve(store: Store, digest: str) -> Table | None:
    """The parsed table with this hash, read from the store onto the process's shelf if it
    is not there yet; None when the store does not have it."""
    table = TABLES.get(digest)
    if table is not None:
        return table
    found = await asyncio.to_thread(store.dataset, digest)
    if found is None:
        return None
    return await asyncio.to_thread(TABLES.add, found[1])


async def _read_limited(request: Request) -> bytes | None:
    """The body, or None as soon as it passes MAX_TABLE_BYTES (the rest is not read)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_TABLE_BYTES:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_TABLE_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/tables", status_code=201)
async def upload_table(request: Request, store: StoreDep, name: str = "table.csv") -> Response:
    """Upload a CSV (header row) or TSV file as the body; answers its hash and columns."""
    if len(name) > MAX_NAME:
        return JSONResponse(error("invalid_request", f"name: {len(name):,} characters; the "
                                  f"limit is {MAX_NAME:,}", "name"), status_code=422)
    raw = await _read_limited(request)
    if raw is None:
        return JSONResponse(error("too_large", f"the file is over {MAX_TABLE_BYTES:,} bytes, "
                                  "the limit; nothing was stored", "file"), status_code=413)
    try:
        table = await asyncio.to_thread(TABLES.add, raw)
    except TableError as exc:
        return bad_table(exc)
    try:
        await asyncio.to_thread(store.put_dataset, table.hash, name, raw)
    except StoreError as exc:
        return JSONResponse(error("invalid_request", str(exc), "name"), status_code=422)
    return JSONResponse(described(table, name), status_code=201)


@router.get("/tables/limits")
def table_limits() -> dict[str, int]:
    """The limits an upload must keep to."""
    return LIMITS


@router.get("/tables/{digest}")
async def describe_table(digest: str, store: StoreDep) -> Response:
    """The stored table's name, row count and columns (404 `no_dataset` if unknown)."""
    if not HASH.fullmatch(digest):
        return no_dataset(digest)
    found = await asyncio.to_thread(store.dataset, digest)
    if found is None:
        return no_dataset(digest)
    table = await asyncio.to_thread(TABLES.add, found[1])  # parsed once per process
    return JSONResponse(described(table, found[0]))


@router.get("/tables/{digest}/file")
async def table_file(digest: str, store: StoreDep) -> Response:
    """The stored file, byte for byte, as uploaded."""
    found = await asyncio.to_thread(store.dataset, digest) if HASH.fullmatch(digest) else None
    if found is None:
        return no_dataset(digest)
    name = re.sub(r"[^A-Za-z0-9._-]", "_", found[0]) or "table.csv"
    return Response(found[1], media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
