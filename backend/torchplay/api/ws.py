"""The /ws endpoint: one Connection per socket, reading controls and writing frames.

Reading and writing are separate tasks. Everything outgoing passes through a Mailbox and a
single writer, so errors, events and frames never interleave on the socket; the writer takes
only the newest frame, so a slow client gets fewer frames rather than a growing queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

import orjson
from fastapi import WebSocket, WebSocketDisconnect
from pydantic import ValidationError

from torchplay.api.experiments import save_live_run
from torchplay.api.messages import (
    MAX_MESSAGE_BYTES,
    CheckGradients,
    Ping,
    Rate,
    Save,
    SaveSweep,
    SetWeight,
    Show,
    Start,
    StartSweep,
    Step,
    Stop,
    Update,
    client_message,
    error,
    surrogate_error,
    validation_error,
)
from torchplay.api.tables import shelve
from torchplay.engine.edit import EditError, set_weight
from torchplay.engine.history import Cursor
from torchplay.engine.session import resolve_device
from torchplay.lessons.gradcheck import CheckRefused, check_now
from torchplay.serve.runner import Mailbox, Runner, RunnerFull, SessionHandle
from torchplay.spec.model import ExperimentSpec, SpecError, apply_patch, patched
from torchplay.store.access import AccessError, Saver
from torchplay.store.experiments import Store
from torchplay.sweeps.remote import RaySweep, RayUnavailable
from torchplay.sweeps.train import SweepTraining

log = logging.getLogger("torchplay")
WATCH_INTERVAL = 0.5  # seconds between the watchdog's looks
# A send waiting this long: the client stopped reading; pause its run. Not less: a client that
# reads slowly still frees its receive buffer only in jumps (TCP reopens a full window once a
# large part of it is free), so its sends wait up to ~3.5 s though it reads.
STALL_PAUSE = 4.5
STALL_FREE = 12.0  # ... this long: free its session and drop the socket
SLOW_LINK = 100_000  # bytes/s a slow client's link still moves: a large message is given longer


class Connection:
    """One client's socket and, once it has sent 'start', its session."""

    def __init__(self, ws: WebSocket, runner: Runner, store: Store | None = None,
                 client: str = "", ray_address: str | None = None) -> None:
        self.ws = ws
        self.ray_address = ray_address  # sweeps train on this Ray cluster (sweeps/remote.py)
        self.client = client  # the client's address, for the store's quotas
        self.runner = runner
        self.store = store
        self.loop = asyncio.get_running_loop()
        self.wake = asyncio.Event()
        self.replies = Mailbox(self.notify)
        self.handle: SessionHandle | None = None
        self.cursors: dict[int, Cursor] = {}  # per variant: how much history it has sent
        self.labels: list[str] = []  # the variants' legend labels, as `start` named them
        self.image_versions: dict[int, int] = {}  # per variant: the image views it has sent
        self.sending_since: float | None = None  # when the send now waiting began
        self.sending_bytes = 0  # and how large its message is
        self.stall_paused = False  # the watchdog paused the run, and no control came since

    def notify(self) -> None:
        """Wake the writer; called from worker threads too."""
        self.loop.call_soon_threadsafe(self.wake.set)

    def reply(self, message: dict[str, Any]) -> None:
        self.replies.put_message(message)

    async def serve(self) -> None:
        """Read, write and watch until the client leaves, the writer fails (then the socket is
        dropped rather than left silent), or the watchdog gives up on a client that stopped
        reading; the session is released in every case."""
        tasks = [asyncio.create_task(self.read_loop()), asyncio.create_task(self.write_loop()),
                 asyncio.create_task(self.watch())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                failure = None if task.cancelled() else task.exception()
                if failure is not None and not isinstance(failure, WebSocketDisconnect | OSError):
                    log.error("a connection failed and was closed", exc_info=failure)
        finally:
            self.release()
            for task in tasks:
                task.cancel()
            # The writer may have been mid-send on a socket that just closed.
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, OSError,
                                     RuntimeError):
                await asyncio.gather(*tasks, return_exceptions=True)

    def release(self) -> None:
        if self.handle is not None:
            if isinstance(self.handle.sweep, RaySweep):
                self.handle.sweep.cancel()  # its tasks would otherwise train on for nobody
            self.runner.close(self.handle)
            self.handle = None

    async def write_loop(self) -> None:
        while True:
            await self.wake.wait()
            self.wake.clear()
            messages, _ = self.replies.take()
            handle, frames = self.handle, []
            if handle is not None:
                events, frames = handle.mailbox.take()
                messages += events
            for message in messages:
                await self.send(message)
            for frame in frames:
                if handle is not self.handle or handle is None:
                    break  # a new run started while this one's frames waited
                if frame.get("type") == "sweep_progress":
                    await self.ws.send_text(orjson.dumps(frame).decode())
                    continue
                variant = frame.get("variant", 0)
                history = handle.session.histories[variant]
                try:  # the history up to this frame's step, not rows recorded since it was built
                    frame["history"], self.cursors[variant] = history.since(
                        self.cursors.get(variant, Cursor()), frame.pop("history_mark"))
                except KeyError:
                    continue  # built before a reset (or a thinning): a newer frame follows
                self._images_once(frame, variant)
                await self.send({"type": "frame", **frame})

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message, timed for the watchdog; one that cannot be encoded is replaced by
        an `internal` error, so the client always hears something."""
        try:
            text = orjson.dumps(message).decode()
        except (TypeError, orjson.JSONEncodeError) as exc:
            log.error("a %s message could not be encoded: %s", message.get("type"), exc)
            text = orjson.dumps(error("internal", f"a {message.get('type')!r} message could "
                                      "not be encoded; the failure is logged")).decode()
        self.sending_since, self.sending_bytes = self.loop.time(), len(text)
        try:
            await self.ws.send_text(text)
        finally:
            self.sending_since = None

    async def watch(self) -> None:
        """Pause the run of a client that has stopped reading (a send waiting STALL_PAUSE s:
        its socket's buffers are full), and return, which ends the connection and frees the
        session, once one has waited STALL_FREE s; a large message is given the time a slow link
        (SLOW_LINK bytes/s) takes to carry it on top. A client that reads again has its run
        resumed, unless it sent a control since: the pause saved compute, it was not the
        user's. A slow reader that drains its socket is not stalled this long: it just gets
        fewer frames."""
        while True:
            await asyncio.sleep(WATCH_INTERVAL)  # a watchdog's period, not a synchronisation
            since = self.sending_since
            stalled = 0.0 if since is None else \
                self.loop.time() - since - self.sending_bytes / SLOW_LINK
            if stalled >= STALL_FREE:
                log.info("a client read nothing for %.0f s: its session is freed", stalled)
                return
            if stalled >= STALL_PAUSE and not self.stall_paused and self.handle is not None \
                    and self.handle.session.running:
                self.stall_paused = True
                self.runner.command(self.handle, "pause")
                self.reply({"type": "event", "event": "stalled", "seconds": STALL_PAUSE})
            elif since is None and self.stall_paused:
                self.stall_paused = False
                if self.handle is not None:
                    self.runner.command(self.handle, "resume")

    def _images_once(self, frame: dict[str, Any], variant: int) -> None:
        """Every frame holds the run's latest image views (engine/imageviews.py); send them
        only when this client has not had that version, else null: unchanged."""
        images = frame.get("images")
        if images is None:
            return
        if self.image_versions.get(variant) == images["version"]:
            frame["images"] = None
        else:
            self.image_versions[variant] = images["version"]

    async def read_loop(self) -> None:
        while True:
            raw = await self.ws.receive()
            if raw["type"] == "websocket.disconnect":
                return
            text = raw.get("text")
            if text is None:
                self.reply(error("binary_not_supported", "messages are JSON text; this server "
                                 "received a binary message and ignored it"))
                continue
            if len(text) > MAX_MESSAGE_BYTES:
                self.reply(error("message_too_large", f"a message of {len(text):,} characters "
                                 f"was ignored; the limit is {MAX_MESSAGE_BYTES:,}"))
                continue
            await self.handle_text(text)

    async def handle_text(self, text: str) -> None:
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
            self.reply(error("bad_json", f"the message is not valid JSON: {exc}"))
            return
        refusal = surrogate_error(data)
        if refusal is not None:
            self.reply(refusal)
            return
        if not isinstance(data, dict):
            self.reply(error("bad_message", "a message is a JSON object with a 'type' field",
                             "type"))
            return
        try:
            message = client_message.validate_python(data)
        except ValidationError as exc:
            code = "invalid_spec" if data.get("type") == "start" else "invalid_message"
            self.reply(validation_error(exc, data, code, root_field="type"))
            return
        await self.dispatch(message)

    async def dispatch(self, message: Any) -> None:
        if message.type in ("start", "start_sweep", "pause", "resume", "step", "reset", "stop"):
            self.stall_paused = False  # the user's control overrides the watchdog's pause
        if isinstance(message, Start):
            await self.start(message)
        elif isinstance(message, StartSweep):
            await self.start_sweep(message)
        elif isinstance(message, Ping):
            self.reply({"type": "pong", "id": message.id})
        elif self.handle is None:
            self.reply(error("no_session", f"'{message.type}' needs a run: send 'start' first",
                             "type"))
        elif isinstance(message, Stop):
            self.release()
            self.reply({"type": "event", "event": "stopped"})
        elif isinstance(message, SaveSweep):
            self.reply(await self.save_sweep(message))
        elif isinstance(message, Show) or (isinstance(message, Update) and
                                           self.handle.sweep is not None):
            self.sweep_control(message)
        elif isinstance(message, Update):
            self.update(message)
        elif isinstance(message, Step):
            self.runner.command(self.handle, "step", message.n, message.unit)
        elif isinstance(message, Rate):
            self.runner.command(self.handle, "rate", message.fps)
        elif isinstance(message, Save):  # awaited: later messages wait until it is stored
            saver = Saver(message.token, self.client)
            self.reply(await save_live_run(self.runner, self.store, self.handle, message.name,
                                           message.note, self.labels, message.only, saver))
        elif isinstance(message, CheckGradients):
            self.reply(await self.check_gradients(self.handle, message))
        elif isinstance(message, SetWeight):
            await self.set_weight(self.handle, message)
        else:
            self.runner.command(self.handle, message.type)

    async def start(self, message: Start) -> None:
        wanted = message.spec.training.device
        variants: list[ExperimentSpec] | None = None
        for k, variant in enumerate(message.variants or []):
            merged = patched(message.spec, variant.patch)
            try:
                variants = (variants or []) + [ExperimentSpec.model_validate(merged)]
            except ValidationError as exc:
                self.reply(validation_error(exc, merged, "invalid_spec",
                                            prefix=f"variants.{k}.patch"))
                return
        for k, spec in enumerate([message.spec, *(variants or [])]):
            table = spec.data.table
            if table is not None and (self.store is None or
                                      await shelve(self.store, table.hash) is None):
                field = "spec.data.table.hash" if k == 0 else \
                    f"variants.{k - 1}.patch.data.table.hash"
                self.reply(error("no_dataset", f"{field}: this server has no data set with "
                                 f"hash {table.hash[:12]}…; upload the file here again", field))
                return
        try:  # a device this server lacks is refused before the run it would replace is dropped
            resolve_device(self.runner.device if wanted == "auto" else wanted)
            self.release()
            handle, ready = await asyncio.to_thread(self._open, message, variants)
        except RunnerFull as exc:
            self.reply(error("busy", str(exc)))
            return
        except SpecError as exc:
            self.reply(error("invalid_spec", f"spec.{exc.field}: {exc.message}",
                             f"spec.{exc.field}"))
            return
        self.labels = [v.label for v in message.variants or []]
        self.reply(ready)  # before the first frame: the writer sends replies first
        self.cursors, self.image_versions = {}, {}
        self.handle = handle
        self.notify()

    async def start_sweep(self, message: StartSweep) -> None:
        """Build every trial (checked against the spec first), answer with the plan, train."""
        sweep = message.sweep
        wanted = sweep.base.training.device
        try:
            resolve_device(self.runner.device if wanted == "auto" else wanted)
            self.release()
            handle = await asyncio.to_thread(
                self.runner.open, sweep.base, message.fps, self.notify, True, None,
                lambda device: self._sweep(sweep, device, message.show))
        except RunnerFull as exc:
            self.reply(error("busy", str(exc)))
            return
        except RayUnavailable as exc:  # the operator's to fix: said to the client, logged
            log.error("a sweep could not start: %s", exc)
            self.reply(error("ray_unavailable", f"this server cannot train sweeps now: {exc}"))
            return
        except SpecError as exc:
            self.reply(error("invalid_sweep", f"sweep.{exc.field}: {exc.message}",
                             f"sweep.{exc.field}"))
            return
        self.reply(handle.sweep.ready(handle.id))
        self.cursors = {}
        self.handle = handle
        self.notify()

    def _sweep(self, sweep: Any, device: Any, shown: int) -> SweepTraining | RaySweep:
        """The sweep's training: in-process, or as Ray tasks with the server's address."""
        if self.ray_address:
            return RaySweep(sweep, self.ray_address, self.runner.compile, shown)
        return SweepTraining(sweep, device, self.runner.compile, shown)

    async def save_sweep(self, message: SaveSweep) -> dict[str, Any]:
        """Store a finished sweep's plan and results; `saved_sweep` with its id."""
        handle = self.handle
        assert handle is not None
        if handle.sweep is None:
            return error("not_supported", "save_sweep saves a sweep: start one with "
                         "start_sweep", "type")
        if self.store is None:
            return error("save_failed", "this server keeps no store")
        sweep = handle.sweep
        body = await asyncio.wrap_future(self.runner.call(
            handle, lambda _training: sweep.saved() if sweep.done else None))
        if body is None:
            return error("not_finished", "a sweep is saved once every trial has finished",
                         "type")
        try:
            saved = await asyncio.to_thread(self.store.save_sweep, message.name, body,
                                            Saver(message.token, self.client))
        except AccessError as exc:  # a quota's or the token's: access.py's codes
            return error(exc.code, str(exc), exc.field)
        except Exception as exc:  # reported to the client and logged; the server goes on
            log.warning("a sweep was not saved: %s: %s", type(exc).__name__, exc)
            return error("save_failed", f"the sweep was not saved: {exc}")
        return {"type": "saved_sweep", "id": saved.id, "url": f"/s/{saved.id}",
                "token": saved.token, "api": f"/api/sweeps/{saved.id}",
                "csv": f"/api/sweeps/{saved.id}/results.csv"}

    def sweep_control(self, message: Show | Update) -> None:
        handle = self.handle
        assert handle is not None
        if isinstance(message, Update) or handle.sweep is None:
            self.reply(error("not_supported", "'show' picks a sweep's trial and a sweep's "
                             "trials cannot change live: start a new sweep or run",
                             "type" if isinstance(message, Update) else "trial"))
            return
        count = len(handle.sweep.trials)
        if message.trial >= count:
            self.reply(error("invalid_message", f"trial: this sweep has {count} trials, "
                             "numbered from 0", "trial"))
            return
        self.cursors.pop(message.trial, None)  # its curves from the start
        self.runner.command(handle, "show", message.trial)

    def _open(self, message: Start, variants: list[ExperimentSpec] | None,
              ) -> tuple[SessionHandle, dict[str, Any]]:
        handle = self.runner.open(message.spec, message.fps, self.notify, message.run,
                                  variants)
        training = handle.session
        ready = {"type": "ready", "session": handle.id, "spec": message.spec.model_dump(),
                 "summary": training.summary(0), "data": training.dataset(0)}
        if variants is not None:
            ready["variants"] = [
                {"label": v.label, "spec": spec.model_dump(), "summary": training.summary(k),
                 # points differ only when a variant changes the data: send them only then
                 "data": training.dataset(k) if spec.data != message.spec.data else None}
                for k, (v, spec) in enumerate(zip(message.variants or [], variants,
                                                  strict=True))]
            ready["batched"] = training.batched
        return handle, ready

    async def check_gradients(self, handle: SessionHandle,
                              message: CheckGradients) -> dict[str, Any]:
        """Autograd against finite differences for one run, between two of its steps."""
        count = len(handle.variant_specs or [handle.spec])
        if message.variant >= count:
            return error("invalid_message", f"variant: this run has {count} variant(s), "
                         f"numbered from 0", "variant")
        variant, points = message.variant, message.points

        def check(training: Any) -> dict[str, Any]:
            return check_now(training, variant, points)

        try:
            report = await asyncio.wrap_future(self.runner.call(handle, check))
        except CheckRefused as exc:
            code = "too_large" if exc.field == "type" else "invalid_message"
            return error(code, str(exc), exc.field)
        return {"type": "gradient_check", "variant": variant, **report}

    async def set_weight(self, handle: SessionHandle, message: SetWeight) -> None:
        """Set one weight of one run (of a group: `variant`) between two steps; the next frame
        of that run shows it (docs/protocol.md)."""
        if handle.sweep is not None:
            self.reply(error("not_supported", "set_weight edits a run or runs side by side; a "
                             "sweep's trials are not edited", "type"))
            return
        count = len(handle.variant_specs or [handle.spec])
        if message.variant >= count:
            self.reply(error("invalid_message", f"variant: this run has {count} variant(s), "
                             "numbered from 0", "variant"))
            return
        try:
            await asyncio.wrap_future(self.runner.call(handle, lambda training: set_weight(
                training, message.layer, message.row, message.col, message.value,
                message.variant)))
        except EditError as exc:
            self.reply(error("invalid_message", f"{exc.field}: {exc.message}", exc.field))

    def update(self, message: Update) -> None:
        """Patch the run's spec, or every variant's alike in a group."""
        handle = self.handle
        assert handle is not None
        specs = handle.variant_specs or [handle.spec]
        try:
            new = [apply_patch(spec, message.patch) for spec in specs]
        except ValidationError as exc:
            # Paths are read against the merged spec, which (unlike a patch) names the
            # optimizer's kind, so the union tag pydantic adds is recognised and left out.
            merged = patched(handle.spec, message.patch)
            self.reply(validation_error(exc, merged, "invalid_update", prefix="patch"))
            return
        except SpecError as exc:
            self.reply(error("needs_restart", exc.message, f"patch.{exc.field}"))
            return
        handle.spec = new[0]
        if handle.variant_specs is not None:
            handle.variant_specs = new
        self.runner.command(handle, "update", new)
