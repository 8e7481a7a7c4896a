"""The `torchplay` command: start the server and print where it listens."""

from __future__ import annotations

import argparse
import socket
import webbrowser
from pathlib import Path

import uvicorn

from torchplay.api.app import access, create_app
from torchplay.settings import Settings

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
    parser.add_argument("--db", type=Path, default=defaults.db,
                        help="SQLite file for saved experiments (default %(default)s)")
    parser.add_argument("--workers", type=int, default=defaults.workers,
                        help="training threads (default %(default)s)")
    parser.add_argument("--max-sessions", type=int, default=defaults.max_sessions,
                        help="sessions training at once (default %(default)s)")
    parser.add_argument("--data-dir", type=Path, default=defaults.data_dir,
                        help="folder with MNIST/Fashion-MNIST IDX files: DIR/mnist, "
                        "DIR/fashion-mnist (default: TORCHPLAY_DATA_DIR, and Debian's "
                        "/usr/share/datasets/fashion-mnist for Fashion-MNIST)")
    parser.add_argument("--compile", action=argparse.BooleanOptionalAction,
                        default=defaults.compile, help="compile the step of runs side by side "
                        "in the background (default %(default)s)")
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
    options = vars(args)
    opening = options.pop("open")
    for name in ("allow_host", "allow_origin"):  # flags, when given, replace the variable
        options[name] = getattr(defaults, name) if options[name] is None else \
            ",".join(options[name])
    return Settings(**options), opening


def main(argv: list[str] | None = None) -> None:
    settings, opening = parse_args(argv)
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
    sock.listen(2048)  # connections made as soon as the URL is printed wait, not fail
    host, port = sock.getsockname()[:2]
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    url = f"http://{shown}:{port}/"
    for line in access(settings, host).describe():
        print(line, flush=True)
    print(f"torchplay is serving {url}", flush=True)
    if opening:
        webbrowser.open(url)
    # Frames are mostly base64 already; deflate would cost ~1 ms of server CPU per frame.
    # Pings every 5 s, and a socket that answers none for 10 s is closed: a client gone
    # silent (a laptop shut) frees its session within ~15 s even when it has nothing to send.
    config = uvicorn.Config(create_app(settings), log_level="warning",
                            ws_per_message_deflate=False, ws_ping_interval=PING_INTERVAL,
                            ws_ping_timeout=PING_TIMEOUT)
    uvicorn.Server(config).run(sockets=[sock])
