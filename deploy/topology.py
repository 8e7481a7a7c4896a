"""torchplay for a department, as plain processes: N replicas behind nginx, one PostgreSQL.

The same topology as compose.yaml (same nginx.conf.template, same replica flags), for hosts
without Docker. PostgreSQL is yours to run (any 12+; `createdb torchplay`); this script starts
the replicas on loopback ports and nginx in front of them, restarts a replica that dies, and
stops everything on Ctrl-C:

    python deploy/topology.py --db postgresql://torchplay@localhost/torchplay \
        --replicas 3 --listen 0.0.0.0:8080

Needs only the standard library, `torchplay` (pip install 'torchplay[postgres]') and nginx on
PATH. The integration test (tests/integration/test_replicas.py) builds its topology from the
functions here.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parent / "nginx.conf.template"
PROXY_ADDRESS = "127.0.0.1"  # where the replicas see nginx come from: their trusted proxy


def replica_args(port: int, db: str, proxy: str = PROXY_ADDRESS,
                 host: str = "127.0.0.1") -> list[str]:
    """The flags of one replica; compose.yaml's replicas use the same ones (a test checks).
    One training process each: replicas are how this setup scales (README)."""
    return ["--host", host, "--port", str(port), "--db", db, "--processes", "1",
            "--trusted-proxy", proxy]


def upstreams(addresses: list[str]) -> str:
    """TORCHPLAY_UPSTREAMS for these replicas ("host:port" each)."""
    return " ".join(f"server {address} max_fails=1 fail_timeout=5s;" for address in addresses)


def render_nginx(listen: str, addresses: list[str]) -> str:
    """nginx.conf.template with its two placeholders filled in, as envsubst does in compose."""
    text = TEMPLATE.read_text()
    return (text.replace("${TORCHPLAY_LISTEN}", listen)
            .replace("${TORCHPLAY_UPSTREAMS}", upstreams(addresses)))


def prepare_nginx(prefix: Path, listen: str, addresses: list[str]) -> list[str]:
    """Write the config under `prefix`; the command that runs nginx on it (in the foreground)."""
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    # Started as root, nginx's workers run as an unprivileged user that must reach the temp
    # folders (bodies and responses too large for memory go there).
    prefix.chmod(0o755)
    (prefix / "nginx.conf").write_text(render_nginx(listen, addresses))
    return ["nginx", "-p", f"{prefix}/", "-c", "nginx.conf"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="the postgresql:// URL replicas share")
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--listen", default="127.0.0.1:8080", help="nginx's address")
    parser.add_argument("--first-port", type=int, default=8101,
                        help="replicas listen on loopback from this port up")
    parser.add_argument("--torchplay", default="torchplay",
                        help="the torchplay command (e.g. 'python -m torchplay')")
    args, extra = parser.parse_known_args(argv)  # extra flags go to every replica
    ports = [args.first_port + i for i in range(args.replicas)]

    def start(port: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen([*shlex.split(args.torchplay), *replica_args(port, args.db),
                                 *extra])

    replicas = {port: start(port) for port in ports}
    prefix = Path(tempfile.mkdtemp(prefix="torchplay-nginx-"))
    nginx = subprocess.Popen(prepare_nginx(prefix, args.listen,
                                           [f"127.0.0.1:{port}" for port in ports]))
    print(f"nginx on {args.listen} in front of {len(ports)} replicas", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        while not stopping and nginx.poll() is None:
            for port, process in replicas.items():
                if process.poll() is not None:
                    print(f"replica on port {port} exited ({process.returncode}); restarting",
                          file=sys.stderr, flush=True)
                    replicas[port] = start(port)
            time.sleep(1)  # a supervisor's poll interval
    finally:
        for process in [nginx, *replicas.values()]:
            process.terminate()
        for process in [nginx, *replicas.values()]:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(prefix, ignore_errors=True)
    return 0 if stopping else 1


if __name__ == "__main__":
    raise SystemExit(main())
