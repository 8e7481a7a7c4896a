"""The `torchplay` command: start the server and print where it listens; or, as
`torchplay copy-store` / `torchplay delete-experiment`, work on a store (store/commands.py)."""

from __future__ import annotations

import argparse
import socket
import sys
import webbrowser
from pathlib import Path

import uvicorn

from torchplay.api.clients import parse_trusted
from torchplay.settings import Settings
from torchplay.store.commands import COMMANDS

SEND_BUFFER_BYTES = 256 * 1024
PING_INTERVAL = 5.0
PING_TIMEOUT = 10.0


def parse_args(argv: list[str] | None = None) -> tuple[Settings, bool]:
    """Settings from flags over TORCHPLAY_* variables, and whether to open a browser."""
    defaults = Settings()
    parser = argparse.ArgumentParser(prog="torchplay", description="A visual neural-network "
                                     "playground backed by PyTorch.")
    parser.add_argument("--host", default=defaults.host, help="interface (default %(default)s)")
    parser.add_argument("--port", type=int, default=defaults.port,
                        help="port, 0 for any free one (default %(default)s)")
    parser.add_argument("--device", default=defaults.device,
                        choices=("auto", "cpu", "cuda", "mps"),
                        help="device for runs that ask for auto (default %(default)s)")
    parser.add_argument("--db", default=defaults.db,
                        help="saved experiments: a SQLite file, or a postgresql:// URL that "
                        "replicas share (default %(default)s)")
    parser.add_argument("--trusted-proxy", default=defaults.trusted_proxy, metavar="ADDRESSES",
                        help="comma-separated addresses/networks of reverse proxies whose "
                        "X-Forwarded-For names the client (default: none)")
    for flag, what in (("--saves-per-minute", "saves a minute per owner token"),
                       ("--client-saves-per-minute", "saves a minute per client address"),
                       ("--bytes-per-owner", "bytes stored per owner token"),
                       ("--bytes-per-client", "bytes stored per client address"),
                       ("--storage-cap", "bytes the whole store may hold")):
        parser.add_argument(flag, type=int, default=getattr(defaults, flag[2:].replace("-", "_")),
                            help=f"{what}, 0 for no limit (default %(default)s)")
    parser.add_argument("--processes", type=int, default=defaults.processes,
                        help="training processes: 1 trains in this one, N >= 2 starts N "
                        "that train (each client relayed to one), 0 one per CPU, at most 8 "
                        "(default %(default)s; $TORCHPLAY_PROCESSES)")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help="training threads of each training process (default "
                        "%(default)s)")
    parser.add_argument("--max-sessions", type=int, default=defaults.max_sessions,
                        help="sessions training at once (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir,
                        help="folder with MNIST/Fashion-MNIST IDX files: DIR/mnist, "
                        "DIR/fashion-mnist (default: TORCHPLAY_DATA_DIR, and Debian's "
                        "/usr/share/datasets/fashion-mnist for Fashion-MNIST)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction,
                        default=defaults.compile, help="compile the step of runs side by side "
                        "in the background (default %(default)s)")
    parser.add_argument("--ray-address", default=defaults.ray_address, metavar="ADDRESS",
                        help="train sweeps' groups of trials as tasks on this Ray cluster "
                        "(ray://host:10001, host:6379, auto; 'local' starts Ray here; needs "
                        "pip install 'torchplay[ray]'; default: in-process, or "
                        "$TORCHPLAY_RAY_ADDRESS)")
    parser.add_argument("--allow-host", action="append", default=None, metavar="HOST",
                        help="a host name the server answers to besides loopback (repeat, or "
                        "comma-separate; '*' for any, only on a trusted network; default "
                        "$TORCHPLAY_ALLOW_HOST)")
    parser.add_argument("--allow-origin", action="append", default=None, metavar="ORIGIN",
                        help="an origin (scheme://host:port) whose pages may use the server "
                        "(repeat, or comma-separate; '*' for any, only on a trusted network; "
                        "default $TORCHPLAY_ALLOW_ORIGIN)")
    parser.add_argument("--open", action="store_true", help="open the page in a browser")
    args = parser.parse_args(argv)
    try:
        parse_trusted(args.trusted_proxy)
    except ValueError as exc:
        parser.error(str(exc))
    options = vars(args)
    opening = options.pop("open")
    for name in ("allow_host", "allow_origin"):  # flags, when given, replace the variable
        options[name] = getattr(defaults, name) if options[name] is None else \
            ",".join(options[name])
    return Settings(**options), opening


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args[:1] and args[0] in COMMANDS:
        raise SystemExit(COMMANDS[args[0]](args[1:]))
    settings, opening = parse_args(args)
    from torchplay.api.app import access, create_app  # here: the store commands need no torch

    # IPPROTO_TCP named: asyncio sets TCP_NODELAY only on sockets that say so, and without it
    # a frame written right after another waits ~40 ms for the client's delayed ACK (Nagle).
    sock = socket.socket(socket.AF_INET6 if ":" in settings.host else socket.AF_INET,
                         socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # A small send buffer (accepted sockets inherit it): a client that stops reading fills it
    # within a second or two of frames, so the server notices (see api/ws.py's watchdog)
    # instead of queueing megabytes; 256 KiB still moves ~250 MB/s at a 1 ms round trip.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER_BYTES)
    sock.bind((settings.host, settings.port))
    sock.listen(2048)  # connections made before the app has started wait, not fail
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    for line in access(settings, host).describe():
        print(line, flush=True)
    # Frames are mostly base64 already; deflate would cost ~1 ms of server CPU per frame.
    # Pings every 5 s, and a socket that answers none for 10 s is closed: a client gone
    # silent (a laptop shut) frees its session within ~15 s even when it has nothing to send.
    # proxy_headers off: X-Forwarded-For is read only from --trusted-proxy (api/clients.py).
    config = uvicorn.Config(create_app(settings), log_level="warning",
                            ws_per_message_deflate=False, ws_ping_interval=PING_INTERVAL,
                            ws_ping_timeout=PING_TIMEOUT, proxy_headers=False)
    Announcing(config, url, opening).run(sockets=[sock])


class Announcing(uvicorn.Server):
    """A server that prints its URL (and opens it) once it serves: after the app's start-up
    (the store opened, its schema upgraded), so whoever waits for the line can use it."""

    def __init__(self, config: uvicorn.Config, url: str, opening: bool) -> None:
        super().__init__(config)
        self.url = url
        self.opening = opening

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            print(f"torchplay is serving {self.url}", flush=True)
            if self.opening:
                webbrowser.open(self.url)
