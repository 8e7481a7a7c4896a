"""A throwaway PostgreSQL cluster for the tests: Debian's PostgreSQL 15, in a temp directory.

initdb refuses to run as root, so as root the cluster is made and run as the `postgres` user
(runuser), in a directory that user owns. It listens on a free loopback port and on a unix
socket in its own directory, trusts local connections (nothing else can reach it), and keeps
PostgreSQL's durable defaults (fsync, synchronous_commit): the durability tests rely on them.
`crash()` stops it as a power cut would (immediate mode: no checkpoint, recovery from WAL).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

BIN = Path(os.environ.get("TORCHPLAY_PG_BIN", "/usr/lib/postgresql/15/bin"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """One PostgreSQL server of the tests' own; `database()` gives each test a fresh one."""

    def __init__(self) -> None:
        if not (BIN / "initdb").is_file():
            raise RuntimeError(f"PostgreSQL is not installed at {BIN} (apt-get install "
                               "postgresql; .ci/run does)")
        self.root = Path(tempfile.mkdtemp(prefix="torchplay-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self._made = 0
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_owner([str(BIN / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-instructions"])
        self.start()

    def _as_owner(self, command: list[str]) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        done = subprocess.run(prefix + command, capture_output=True, text=True, timeout=360)
        if done.returncode != 0:
            log = self.root / "log"
            tail = log.read_text()[-3000:] if log.is_file() else ""
            raise RuntimeError(f"{command[0]} failed: {done.stdout}{done.stderr}\n{tail}")

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c max_connections=200 -c shared_buffers=32MB")
        # Generous: after a crash, recovery replays the WAL, slowly on a loaded 2-core machine.
        self._as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), "-l",
                        str(self.root / "log"), "-o", options, "-t", "300", "-w", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._as_owner([str(BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"])

    def checkpoint(self) -> None:
        """Write every change to the data files now: what follows lives only in the WAL until
        the next checkpoint (and a crash's recovery has only that to replay)."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute("CHECKPOINT")

    def crash(self) -> None:
        """Stop at once, without a checkpoint: what is not in the flushed WAL is lost."""
        self.stop("immediate")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def database(self) -> str:
        """Create an empty database; its URL."""
        import psycopg

        self._made += 1
        name = f"t{self._made}"
        with psycopg.connect(self.url(), autocommit=True) as db:
            db.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def remove(self) -> None:
        try:
            self.stop("immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)
