"""Clients that stop reading: a real client starts a run and then reads nothing more (its
socket's buffers fill, as when a laptop's lid shuts); the server pauses that run within ~5 s
and frees the session within ~15 s; one that reads again before that has its run resumed. A
slow client that does read keeps its run training and is never told it stalled."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import time

import pytest
from websockets.asyncio.client import connect
from wsclient import TIMEOUT, Client, health

pytestmark = pytest.mark.anyio
RUN = {"data": {"kind": "circle", "points": 200}, "probes": {"grid": 200}}


def masked_text_frame(text: str) -> bytes:
    """One client-to-server WebSocket text frame (RFC 6455 section 5.2: clients mask)."""
    payload, mask = text.encode(), os.urandom(4)
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big")
    return bytes([0x81]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def frozen_client(server) -> socket.socket:
    """A socket that completes the handshake, starts a run, and never reads again. Its
    receive buffer is small, so the server's sends soon wait, as with a client gone away."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(TIMEOUT)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall((f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
                  f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(1)  # byte by byte: read not one byte past the handshake
    assert answer.startswith(b"HTTP/1.1 101"), answer
    sock.sendall(masked_text_frame(json.dumps({"type": "start", "spec": RUN, "fps": 60})))
    return sock


async def until_health(server, what: str, predicate, timeout: float) -> float:
    """Seconds until /api/health satisfies predicate (polled, bounded by timeout)."""
    start = time.monotonic()
    while not predicate(await asyncio.to_thread(health, server)):
        assert time.monotonic() - start < timeout, f"{what} not within {timeout} s"
        await asyncio.sleep(0.1)  # poll interval of a bounded loop, not a synchronisation
    return time.monotonic() - start


@pytest.fixture(scope="module")
def own(server_factory):
    """A server of this module's own: the counts read from /api/health are its tests'."""
    return server_factory()


async def test_a_client_that_stops_reading_is_paused_then_freed(own) -> None:
    await paused_then_freed(own)


async def paused_then_freed(server) -> None:
    """A frozen client's run is paused within ~5 s and its session freed within ~15 s."""
    sock = frozen_client(server)
    try:
        await until_health(server, "the run training", lambda h: h["training"] == 1, TIMEOUT)
        frozen_at = time.monotonic()
        paused = await until_health(server, "the run paused",
                                    lambda h: h["training"] == 0, 10)
        await until_health(server, "the session freed",
                           lambda h: h["sessions"] == 0, 20)
        total = time.monotonic() - frozen_at
        print(f"paused after {paused:.1f} s, freed after {total:.1f} s")
        assert paused <= 7 and total <= 17
    finally:
        sock.close()


async def test_a_slow_reader_keeps_training_and_gets_fewer_frames(own) -> None:
    server = own
    await until_health(server, "no session left", lambda h: h["sessions"] == 0, TIMEOUT)
    async with connect(server.ws_url, max_size=None, compression=None, max_queue=1,
                       open_timeout=TIMEOUT) as ws:
        client = Client(ws)
        await client.start(RUN, fps=60)
        frames, stalls, start = 0, 0, time.monotonic()
        while time.monotonic() - start < 9:  # twice the pause threshold, reading slowly
            message = await client.recv()
            frames += message["type"] == "frame"
            stalls += message.get("event") == "stalled"
            await asyncio.sleep(0.4)  # a slow client: reads ~2 messages a second
        assert stalls == 0
        assert health(server)["training"] == 1 and health(server)["sessions"] == 1
        assert frames < 9 / 0.4 + 1
        frame = await client.frame()
        assert frame["running"]


async def test_a_client_that_reads_again_has_its_run_resumed(own) -> None:
    server = own
    await until_health(server, "no session left", lambda h: h["sessions"] == 0, TIMEOUT)
    sock = frozen_client(server)
    try:
        await until_health(server, "the run training", lambda h: h["training"] == 1, TIMEOUT)
        await until_health(server, "the run paused", lambda h: h["training"] == 0, 10)
        received = bytearray()

        def drain() -> None:  # the client wakes and reads everything sent meanwhile
            sock.settimeout(0.5)
            with contextlib.suppress(TimeoutError):
                while len(received) < 20_000_000 and (chunk := sock.recv(1 << 16)):
                    received.extend(chunk)

        reading = asyncio.create_task(asyncio.to_thread(drain))
        await until_health(server, "the run resumed", lambda h: h["training"] == 1, 10)
        await reading
        assert b'"event":"stalled"' in received
    finally:
        sock.close()
