"""Training shards: child torchplay processes that train, started and supervised by the main one.

Python's interpreter lock lets one process train on about one core, however many threads it
runs (bench/cores.py: a second training thread does not pay for the default setup; a second
process does). So with `--processes N` (N >= 2) the main process trains nothing: it starts N
children, each the same app with `--processes 1` on an internal loopback port and the same
store, and relays each client's WebSocket to the child with the fewest live connections
(api/relay.py). A child that exits is started again (after a pause that grows while it keeps
failing); only the sessions it held are lost, and their clients are told so.

Children read their settings from the TORCHPLAY_* variables the main process sets from its own,
except: loopback and a free port, one process each, their share of --max-sessions, and the
relay (on loopback) trusted as a proxy, so that quotas count the address the main process saw.
On Linux a child is sent SIGTERM when the main process dies, so none outlives it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import math
import re
import signal
import sys
import urllib.request
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("torchplay")
START_TIMEOUT = 120.0  # seconds a child may take to import torch and open the store
RESTART_PAUSE = 1.0  # seconds before starting a child again, doubled while it keeps failing
MAX_RESTART_PAUSE = 30.0
HEALTH_TIMEOUT = 2.0  # seconds a child may take to answer /api/health
LOOPBACK = "127.0.0.1"


@dataclass
class Shard:
    """One child process, and the relayed connections it holds now."""

    index: int
    port: int | None = None  # None while it is (re)starting: no connection goes to it
    process: asyncio.subprocess.Process | None = None
    live: int = 0  # client connections relayed to it now
    starts: int = 0  # how many times it was started

    @property
    def pid(self) -> int | None:
        return None if self.process is None else self.process.pid


def child_environment(settings: dict[str, Any], environ: dict[str, str], processes: int
                      ) -> dict[str, str]:
    """The TORCHPLAY_* variables of a child, from the main process's settings (see above)."""
    env = {k: v for k, v in environ.items() if not k.startswith("TORCHPLAY_")}
    for name, value in settings.items():
        if value is None:
            continue
        text = str(value).lower() if isinstance(value, bool) else str(value)
        env[f"TORCHPLAY_{name.upper()}"] = text
    env.update(TORCHPLAY_HOST=LOOPBACK, TORCHPLAY_PORT="0", TORCHPLAY_PROCESSES="1",
               TORCHPLAY_TRUSTED_PROXY=LOOPBACK, PYTHONUNBUFFERED="1",
               TORCHPLAY_MAX_SESSIONS=str(math.ceil(settings["max_sessions"] / processes)),
               TORCHPLAY_SERVER_MAX_SESSIONS=str(settings["max_sessions"]))
    return env


def _die_with_parent() -> None:
    """In the child, before it runs: SIGTERM when the parent dies (Linux's PR_SET_PDEATHSIG)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


class Shards:
    """The children: start, supervise, pick one for a new connection, ask their health."""

    def __init__(self, count: int, env: dict[str, str]) -> None:
        self.shards = [Shard(i) for i in range(count)]
        self._env = env
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Start every child; return once each serves (a child that fails to start: raise)."""
        await asyncio.gather(*(self._launch(shard) for shard in self.shards))
        self._tasks = [asyncio.create_task(self._supervise(shard)) for shard in self.shards]

    async def _launch(self, shard: Shard) -> None:
        shard.starts += 1
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "torchplay", env=self._env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            # its own session: a Ctrl-C at the terminal stops the main process, which stops
            # its children, rather than killing them under it (then restarted)
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        shard.process = process
        assert process.stdout is not None
        async with asyncio.timeout(START_TIMEOUT):
            while line := (await process.stdout.readline()).decode(errors="replace"):
                found = re.search(r"serving http://[^:]+:(\d+)/", line)
                if found:
                    shard.port = int(found.group(1))
                    break
                if not line.startswith("accepting "):  # its banner: the main one says it
                    print(f"[training process {shard.index}] {line.rstrip()}", flush=True)
        if shard.port is None:
            code = await process.wait()
            raise RuntimeError(f"training process {shard.index} exited with {code} before "
                               "serving")
        self._tasks.append(asyncio.create_task(self._echo(shard, process)))

    async def _echo(self, shard: Shard, process: asyncio.subprocess.Process) -> None:
        """Pass on what a child prints (its warnings, tracebacks), marked as its own."""
        assert process.stdout is not None
        while line := await process.stdout.readline():
            print(f"[training process {shard.index}] {line.decode(errors='replace').rstrip()}",
                  flush=True)

    async def _supervise(self, shard: Shard) -> None:
        """Start a child again whenever it exits, until the server stops."""
        pause = RESTART_PAUSE
        while True:
            assert shard.process is not None
            code = await shard.process.wait()
            shard.port = None
            if self._stopping:
                return
            log.error("training process %d exited with %s; its sessions are lost; starting "
                      "it again in %.0f s", shard.index, code, pause)
            await asyncio.sleep(pause)  # a child that fails at once is not restarted in a loop
            if self._stopping:
                return
            try:
                await self._launch(shard)
                pause = RESTART_PAUSE
            except Exception as exc:  # it failed to start: try again later, longer
                if self._stopping:
                    return
                log.error("training process %d did not start again: %s", shard.index, exc)
                pause = min(2 * pause, MAX_RESTART_PAUSE)

    def pick(self) -> Shard | None:
        """The serving child with the fewest live connections (None while none serves)."""
        serving = [s for s in self.shards if s.port is not None]
        return min(serving, key=lambda s: s.live, default=None)

    async def health(self) -> list[dict[str, Any] | None]:
        """Each child's /api/health (None for one down or not answering)."""
        return await asyncio.gather(*(asyncio.to_thread(_health, s.port) for s in self.shards))

    async def stop(self) -> None:
        self._stopping = True
        for shard in self.shards:
            if shard.process is not None and shard.process.returncode is None:
                shard.process.terminate()
        for shard in self.shards:
            if shard.process is not None:
                try:
                    await asyncio.wait_for(shard.process.wait(), 10)
                except TimeoutError:
                    shard.process.kill()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def _health(port: int | None) -> dict[str, Any] | None:
    if port is None:
        return None
    try:
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/api/health",
                                    timeout=HEALTH_TIMEOUT) as answer:
            return json.loads(answer.read())
    except OSError:
        return None
