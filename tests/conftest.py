"""Fixtures shared by every test layer: a real `torchplay` server process on a free port, and
a throwaway PostgreSQL cluster (pgcluster.py), started the first time a test asks for it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from pgcluster import Cluster

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Server:
    """A running torchplay server and where to reach it."""

    process: subprocess.Popen[str]
    url: str  # http://127.0.0.1:PORT
    banner: list[str] = field(default_factory=list)  # what it printed before its URL

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


def start_server(db: Path | str, *args: str) -> Server:
    """Start `python -m torchplay` on a free port; return once it prints where it listens.
    One training process unless `args` name --processes: the in-process server most tests
    are about (tests/integration/test_shards.py tests several). TORCHPLAY_TEST_PROCESSES=N
    runs them against N training processes behind the relay instead (0: the default)."""
    if "--processes" not in args:
        args = (*args, "--processes", os.environ.get("TORCHPLAY_TEST_PROCESSES", "1"))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "backend"),
                                                      env.get("PYTHONPATH")]))
    process = subprocess.Popen(
        [sys.executable, "-m", "torchplay", "--port", "0", "--db", str(db), *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    assert process.stdout is not None
    banner = []
    for line in process.stdout:  # blocks until the server prints its URL (or exits)
        found = re.search(r"serving (http://\S+?)/?$", line.strip())
        if found:
            return Server(process, found.group(1), banner)
        banner.append(line)
    process.wait()
    raise RuntimeError(f"torchplay exited with {process.returncode} before serving")


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One real server for the whole test session (tests open their own sockets). Every test
    saves from 127.0.0.1: no limit per client address here, or the session's saves (the fuzz
    test's among them) would pass the default 60 a minute and a later test's save be refused
    (test_ownership checks the limits on servers of its own)."""
    running = start_server(tmp_path_factory.mktemp("db") / "torchplay.sqlite3",
                           "--client-saves-per-minute", "0")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """One PostgreSQL cluster for the whole session; each test makes its own database."""
    cluster = Cluster()
    yield cluster
    cluster.remove()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Where a store lives, once for each backend: a new SQLite file, or a new PostgreSQL
    database in the session's cluster."""
    if request.param == "sqlite":
        return str(tmp_path / "torchplay.sqlite3")
    return request.getfixturevalue("postgres").database()
