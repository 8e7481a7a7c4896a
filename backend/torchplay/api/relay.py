"""/ws in a server of several training processes: a plain relay to one of them.

The main process checked the handshake (Host and Origin: api/guard.py) and knows the client's
address; it opens a WebSocket to the training process with the fewest live connections
(serve/shards.py), naming that address in X-Forwarded-For (the child trusts the relay as a
proxy), and pumps messages both ways unread. Each direction awaits its send before it reads
on, and the relay's side of the link to the child holds little (a small receive buffer and
queue), so a client that stops reading soon stops the child's sends too: the child's watchdog
(api/ws.py) pauses and frees its session as it would a client of its own. The main process's
own pings close a socket gone silent.

When the child closes the socket, the client gets the same close; when it vanishes without
closing (its process died), the client is told in an error `training_lost` that its run is
gone, and its socket is closed; the other processes' sessions go on.

Each child holds a share of the server's session limit. A child that answers a `start` (or
`start_sweep`) with `busy` holds no session for that client (a start releases the old one
first), so when another child has room the relay moves the client there and sends it the
start again: the server refuses a session only when every process is full.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from torchplay.api.messages import error
from torchplay.serve.shards import LOOPBACK, Shard, Shards

log = logging.getLogger("torchplay")
RECEIVE_BUFFER = 64 * 1024  # bytes the relay's link to a child buffers in the kernel
QUEUE = 2  # messages the relay holds from a child before it stops reading it
LOST = ("the training process that held this session stopped, and its run is lost; start "
        "again (a new session goes to a process that is serving)")
UNAVAILABLE = "no training process is serving just now; try again in a few seconds"


BUSY = '{"type":"error","code":"busy"'  # how a child's refusal begins (orjson, keys in order)


class Link:
    """One client's link through a child: the start it sent last, and a child with room to
    move to when this one answers it `busy`."""

    def __init__(self, shards: Shards, shard: Shard) -> None:
        self.shards = shards
        self.shard = shard
        self.start: str | None = None  # the client's latest start, unanswered
        self.move_to: Shard | None = None

    def sent(self, text: str) -> None:
        if '"start' in text:  # cheap test first: most messages are controls or pings
            with contextlib.suppress(ValueError):
                message = orjson.loads(text)
                if isinstance(message, dict) and message.get("type") in ("start",
                                                                         "start_sweep"):
                    self.start = text

    async def room_elsewhere(self) -> Shard | None:
        """Another serving child with a session to spare, by their health."""
        healths = await self.shards.health()
        free = [(h["max_sessions"] - h["sessions"], s)
                for s, h in zip(self.shards.shards, healths, strict=True)
                if h is not None and s is not self.shard]
        room, shard = max(free, key=lambda pair: pair[0], default=(0, None))
        return shard if room > 0 else None


async def relay(ws: WebSocket, shards: Shards, client: str) -> None:
    """Serve one client's socket through a training process (see the module's docstring)."""
    await ws.accept()
    shard, replay = shards.pick(), None
    while True:
        if shard is None:
            await _refuse(ws, "unavailable", UNAVAILABLE, 1013)
            return
        link = Link(shards, shard)
        shard.live += 1
        try:
            try:
                upstream = await _open(shard, client)
            except (OSError, InvalidHandshake, TimeoutError) as exc:  # died, or restarting
                log.error("training process %d refused a connection: %s", shard.index, exc)
                await _refuse(ws, "unavailable", UNAVAILABLE, 1013)
                return
            async with upstream:
                if replay is not None:
                    link.sent(replay)
                    await upstream.send(replay)
                await _pump(ws, upstream, link)
        finally:
            shard.live -= 1
        if link.move_to is None:
            return
        shard, replay = link.move_to, link.start


async def _open(shard: Shard, client: str) -> ClientConnection:
    port = shard.port
    if port is None:
        raise OSError(f"training process {shard.index} is restarting")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # frames go out at once
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (LOOPBACK, port))
        return await connect(f"ws://{LOOPBACK}:{port}/ws", sock=sock, max_size=None,
                             max_queue=QUEUE, compression=None, ping_interval=None,
                             additional_headers={"X-Forwarded-For": client})
    except BaseException:
        sock.close()
        raise


async def _pump(ws: WebSocket, upstream: ClientConnection, link: Link) -> None:
    """Both directions until either side ends, or the client moves to another child (then
    the caller goes on); else end the other side as it ended."""
    up = asyncio.create_task(_client_to_child(ws, upstream, link))
    down = asyncio.create_task(_child_to_client(ws, upstream, link))
    try:
        done, _ = await asyncio.wait((up, down), return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (up, down):
            task.cancel()
        await asyncio.gather(up, down, return_exceptions=True)
    if link.move_to is not None:
        return
    child_ended = (down in done and down.exception() is None) or (
        up in done and isinstance(up.exception(), ConnectionClosed))
    if child_ended:
        await _after_child_closed(ws, upstream)


async def _client_to_child(ws: WebSocket, upstream: ClientConnection, link: Link) -> None:
    """Returns when the client leaves; raises ConnectionClosed when the child does."""
    while True:
        message = await ws.receive()
        if message["type"] == "websocket.disconnect":
            return
        data = message.get("text")
        if data is not None:
            link.sent(data)
        await upstream.send(data if data is not None else message.get("bytes") or b"")


async def _child_to_client(ws: WebSocket, upstream: ClientConnection, link: Link) -> None:
    """Returns when the child closes (or vanishes), or when the client is to move to another
    child with room; raises when the client's socket fails."""
    with contextlib.suppress(ConnectionClosed):
        async for message in upstream:
            if isinstance(message, str):
                if message.startswith(BUSY) and link.start is not None:
                    link.move_to = await link.room_elsewhere()
                    if link.move_to is not None:
                        return  # this child holds nothing of the client's: move it
                    link.start = None
                elif message.startswith(('{"type":"ready"', '{"type":"sweep_ready"')):
                    link.start = None  # answered: a later busy is not this start's
                await ws.send_text(message)
            else:
                await ws.send_bytes(message)


async def _after_child_closed(ws: WebSocket, upstream: ClientConnection) -> None:
    """The child ended the socket: pass its close on, or, when it vanished, say so."""
    received = upstream.protocol.close_rcvd
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        if received is None:  # no close frame: the process died
            await ws.send_text(orjson.dumps(error("training_lost", LOST)).decode())
            await ws.close(1011, "training process lost")
        else:
            await ws.close(received.code, received.reason)


async def _refuse(ws: WebSocket, code: str, message: str, close_code: int) -> None:
    with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
        await ws.send_text(orjson.dumps(error(code, message)).decode())
        await ws.close(close_code, message[:100])
