"""Commands on a store, beside the server: `torchplay copy-store SRC DST` (e.g. a SQLite file
into the PostgreSQL database that replicas will share) and `torchplay delete-experiment`.

A copy keeps every id and owner (token hash), so saved links and owner tokens go on working
against the new store. It is one transaction on DST: all rows or none. Rows DST already has
(the same id) are left as they are, so a copy interrupted or repeated is safe to run again.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from torchplay.store.experiments import COPIED_TABLES, Store


def copy_store(source: str, target: str) -> dict[str, tuple[int, int]]:
    """Copy every row of COPIED_TABLES from source to target (both opened, and upgraded to
    the current schema, first); per table, (rows copied, rows target already had)."""
    src, dst = Store(source), Store(target)
    counts: dict[str, tuple[int, int]] = {}
    try:
        with src._transaction() as read, dst._transaction(write=True) as write:
            for table in COPIED_TABLES:
                rows = read.execute(f"SELECT * FROM {table}")
                columns = [column[0] for column in rows.description]
                insert = (f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                          f"({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING")
                copied = kept = 0
                for row in rows:
                    if write.execute(insert, tuple(row)).rowcount == 1:
                        copied += 1
                    else:
                        kept += 1
                counts[table] = (copied, kept)
    finally:
        src.close()
        dst.close()
    return counts


def copy_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="torchplay copy-store", description="Copy every saved experiment (with its owner "
        "and ids) from one store into another, e.g. a SQLite file into PostgreSQL.")
    parser.add_argument("source", help="a SQLite file or a postgresql:// URL")
    parser.add_argument("target", help="a SQLite file or a postgresql:// URL")
    args = parser.parse_args(argv)
    if args.source == args.target:
        parser.error("source and target are the same store")
    for table, (copied, kept) in copy_store(args.source, args.target).items():
        print(f"{table}: {copied} copied, {kept} already there")
    return 0


def delete_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="torchplay delete-experiment", description="Delete saved experiments (or saved "
        "sweeps) by id, without their owner's token (for whoever runs the server).")
    parser.add_argument("--db", required=True, help="a SQLite file or a postgresql:// URL")
    parser.add_argument("ids", nargs="*", metavar="ID")
    # An id may begin with '-' (ids are URL-safe base64): argparse takes such a one for an
    # unknown option, so every argument it does not know is an id too.
    args, unknown = parser.parse_known_args(argv)
    ids = args.ids + unknown
    if not ids:
        parser.error("name at least one experiment ID")
    store = Store(args.db)
    missing = 0
    try:
        for experiment_id in ids:
            if store.delete_as_operator(experiment_id):
                print(f"{experiment_id}: deleted")
            else:
                print(f"{experiment_id}: no such experiment", file=sys.stderr)
                missing += 1
    finally:
        store.close()
    return 1 if missing else 0


COMMANDS: dict[str, Callable[[list[str]], int]] = {
    "copy-store": copy_command, "delete-experiment": delete_command}
