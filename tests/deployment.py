"""The department topology for the tests, with the real parts and no Docker: a new database
in the tests' PostgreSQL cluster (pgcluster.py), N torchplay replicas sharing it, and nginx in
front, rendered and flagged by deploy/topology.py exactly as the plain-process topology runs
it. Used by tests/integration/test_replicas.py and tests/browser/test_replica_loss.py.
"""

from __future__ import annotations

import importlib.util
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parent.parent
WAIT = 20.0  # seconds a single wait may take


def load_topology() -> Any:
    spec = importlib.util.spec_from_file_location("topology", ROOT / "deploy" / "topology.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


topology = load_topology()


def health(replica: Any) -> dict[str, Any]:
    answer = httpx.get(replica.url + "/api/health", timeout=WAIT)
    answer.raise_for_status()
    return answer.json()


@dataclass
class Proxy:
    url: str

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws"


@dataclass
class Deployment:
    replicas: list[Any]  # tests/conftest.py's Server, each reached directly
    proxy: Proxy  # nginx

    def sessions(self) -> list[int]:
        """Each replica's live sessions (a dead replica counts -1)."""
        return [health(r)["sessions"] if r.process.poll() is None else -1
                for r in self.replicas]


def wait_until_ready(replica: Any) -> None:
    """Until a replica started by deploy/topology.py answers (bounded; replicas starting
    together on a busy 2-core machine take a while), or fail if `process` exits."""
    deadline = time.monotonic() + 3 * WAIT
    while True:
        try:
            health(replica)
            return
        except httpx.TransportError:
            assert time.monotonic() < deadline, f"{replica.url} did not answer"
            assert replica.process.poll() is None, "a replica exited"


def wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    """Until nginx accepts connections (bounded); fail with its log if it exits."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        assert process.poll() is None, f"nginx exited: {log.read_text()}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)  # poll interval of a bounded wait, not a synchronisation
    raise AssertionError(f"nginx did not listen within {WAIT} s: {log.read_text()}")


@contextmanager
def deploy(request: pytest.FixtureRequest, replicas: int, *flags: str) -> Iterator[Deployment]:
    """Start the topology (replicas get `flags` too); stop it all at the end."""
    if shutil.which("nginx") is None:
        raise RuntimeError("nginx is not installed (apt-get install nginx; .ci/run does)")
    root = request.config.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    assert root is not None, "tests/conftest.py is not loaded"
    url = request.getfixturevalue("postgres").database()
    ports = [topology.free_port() for _ in range(replicas)]
    with ThreadPoolExecutor(replicas) as pool:  # start together, as a deployment's do
        started = list(pool.map(lambda port: root.start_server(
            url, *topology.replica_args(port, url), *flags), ports))
    prefix = Path(tempfile.mkdtemp(prefix="torchplay-nginx-"))
    listen = topology.free_port()
    log = prefix / "stderr"
    with log.open("wb") as sink:
        nginx = subprocess.Popen(
            topology.prepare_nginx(prefix, f"127.0.0.1:{listen}",
                                   [r.url.removeprefix("http://") for r in started]),
            stdout=sink, stderr=sink)
    try:
        wait_for_port(listen, nginx, log)
        yield Deployment(started, Proxy(f"http://127.0.0.1:{listen}"))
    finally:
        nginx.terminate()
        nginx.wait(timeout=WAIT)
        for replica in started:
            root.stop_server(replica)
        shutil.rmtree(prefix, ignore_errors=True)
