"""A server of two training processes (`--processes 2`, serve/shards.py): sessions spread over
both, frames, controls and saves work through the relay (api/relay.py), a process that dies
loses only its own sessions (their clients are told) while the server stays up and starts it
again, and a client that stops reading is still paused and freed."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest
from test_frozen import paused_then_freed, until_health
from test_frozen import test_a_slow_reader_keeps_training_and_gets_fewer_frames as slow_reader
from test_runner import (
    test_the_session_cap_refuses_one_more_and_the_others_train_on as session_limit,
)
from websockets.exceptions import ConnectionClosed
from wsclient import TIMEOUT, Client, connect_to, health

pytestmark = pytest.mark.anyio
RUN = {"data": {"kind": "circle", "points": 200}, "training": {"batch_size": 10}}
START_TIMEOUT = 90.0  # a training process imports torch again when it is restarted


@pytest.fixture(scope="module")
def sharded(server_factory):
    return server_factory("--processes", "2")


async def test_sessions_land_on_both_processes_and_everything_works_through_the_relay(
        sharded) -> None:
    async with connect_to(sharded) as first, connect_to(sharded) as second:
        for client in (first, second):
            await client.start(RUN)
            await client.frame(lambda f: f["step"] >= 5, "a frame at step 5")
        shown = health(sharded)
        assert shown["sessions"] == 2 and len(shown["processes"]) == 2
        assert [p["sessions"] for p in shown["processes"]] == [1, 1], shown
        # controls through the relay: pause, step, ping
        paused = await first.pause()
        stepped = await first.step(3)
        assert stepped["step"] == paused["step"] + 3 and not stepped["running"]
        assert (await second.ping())["type"] == "pong"
        # a save through the relay lands in the store the main process serves
        await first.send({"type": "save", "name": "through the relay", "note": ""})
        saved = await first.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert saved["type"] == "saved", saved
        found = httpx.get(f"{sharded.url}/api/experiments/{saved['id']}", timeout=TIMEOUT)
        assert found.json()["run"]["step"] == stepped["step"]
        # the client's errors come back as in one process
        await second.send({"type": "rate", "fps": True})
        refused = await second.error()
        assert refused["field"] == "fps"
    await until_health(sharded, "both sessions freed", lambda h: h["sessions"] == 0, TIMEOUT)


async def read_until_closed(client: Client) -> list[dict]:
    """Every message until the server closes the socket."""
    seen: list[dict] = []
    try:
        while True:
            seen.append(await client.recv())
    except ConnectionClosed:  # the close ends the reading; what came before it is the answer
        return seen


async def test_a_process_that_dies_loses_only_its_own_sessions(sharded) -> None:
    await until_health(sharded, "both processes serving", lambda h: all(
        p is not None for p in h["processes"]), START_TIMEOUT)
    async with connect_to(sharded) as first, connect_to(sharded) as second:
        await first.start(RUN)
        await first.frame(lambda f: f["step"] >= 5, "a frame at step 5")
        victim = next(p["pid"] for p in health(sharded)["processes"] if p["sessions"] == 1)
        await second.start(RUN)
        await second.frame(lambda f: f["step"] >= 5, "a frame at step 5")
        shown = health(sharded)
        assert [p["sessions"] for p in shown["processes"]] == [1, 1], shown
        os.kill(victim, signal.SIGKILL)  # the process that trains `first`'s session
        lost = await asyncio.wait_for(read_until_closed(first), TIMEOUT)
        errors = [m for m in lost if m["type"] == "error"]
        assert errors and errors[-1]["code"] == "training_lost", lost[-3:]
        assert "start again" in errors[-1]["message"]
        # the other session trains on, untouched
        before = (await second.frame())["step"]
        after = await second.frame(lambda f: f["step"] > before + 20, "more steps")
        assert after["running"]
    # the server stays up, starts the process again, and serves new sessions on both
    restarted = await until_health(sharded, "the process started again", lambda h: all(
        p is not None and p["pid"] != victim for p in h["processes"]), START_TIMEOUT)
    print(f"the killed training process served again after {restarted:.1f} s")
    async with connect_to(sharded) as again:
        await again.start(RUN)
        await again.frame(lambda f: f["step"] >= 5, "a frame on the restarted server")


async def test_a_frozen_client_is_paused_then_freed_through_the_relay(sharded) -> None:
    await until_health(sharded, "both processes serving, no sessions", lambda h: all(
        p is not None for p in h["processes"]) and h["sessions"] == 0, START_TIMEOUT)
    await paused_then_freed(sharded)  # test_frozen's test, through the relay


async def test_a_slow_reader_keeps_training_through_the_relay(sharded) -> None:
    await until_health(sharded, "both processes serving, no sessions", lambda h: all(
        p is not None for p in h["processes"]) and h["sessions"] == 0, START_TIMEOUT)
    await slow_reader(sharded)  # test_frozen's test, through the relay


async def test_the_servers_session_limit_holds_across_processes(server_factory) -> None:
    """test_runner's session-limit test on two processes with one session each: the third
    client's socket goes to a full process, so getting in once the other frees a session
    means the relay moved it there."""
    await session_limit(server_factory("--processes", "2", "--max-sessions", "2"))
