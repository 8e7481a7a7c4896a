"""Where sessions train: worker threads that share the machine fairly between sessions.

Training never runs on the server's event loop. Each live session has a SessionHandle: commands
go in through a queue, frames and events come out through a Mailbox whose single frame slot
holds only the newest frame, so a slow reader never slows training or grows a queue. Workers
take the runnable session charged the least compute time (serve/fairness.py) and give it a
time slice, so ten sessions each get a tenth of the workers' time however costly their steps.
One Runner trains in one process; a server of several training processes runs one in each
child (serve/shards.py), and more machines are replicas behind a proxy (deploy/).
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

from torchplay.engine.group import Training
from torchplay.engine.run import resolve_device
from torchplay.serve.fairness import FairQueue
from torchplay.spec.model import ExperimentSpec

T = TypeVar("T")

# Frames a training thread builds per second, shared by the sessions that train on it: a frame
# costs ~2 ms of the machine's CPU in all (building it here, sending it, the relay, the
# client), so 50 sessions at their full rate would spend a fifth of it drawing. One or two
# sessions still get their 30 a second; 25 on one thread get ~2 each (bench/class.py).
FRAMES_PER_WORKER = 60.0


class RunnerFull(RuntimeError):
    """No room for another session."""


class Mailbox:
    """What a run has to say to its client: events in order, and the newest frame only (one
    slot per variant when variants train side by side)."""

    def __init__(self, notify: Callable[[], None]) -> None:
        self._lock = threading.Lock()
        self._messages: list[dict[str, Any]] = []
        self._frames: dict[int, dict[str, Any]] = {}
        self._notify = notify

    def put_message(self, message: dict[str, Any]) -> None:
        with self._lock:
            self._messages.append(message)
        self._notify()

    def put_frame(self, frame: dict[str, Any], variant: int = 0) -> None:
        """Replace any unsent frame: the client sees the newest state, never a backlog."""
        with self._lock:
            self._frames[variant] = frame
        self._notify()

    def take(self) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        with self._lock:
            messages, frames = self._messages, list(self._frames.values())
            self._messages, self._frames = [], {}
        return messages, frames

    @property
    def frame_waiting(self) -> bool:
        return bool(self._frames)


@dataclass
class SessionHandle:
    """A live session as the runner and the web layer see it."""

    id: int
    session: Training  # one run, or variants side by side
    spec: ExperimentSpec  # the latest spec accepted for this session (variant 0's in a group)
    mailbox: Mailbox
    fps: float
    commands: deque[tuple[Any, ...]] = field(default_factory=deque)
    last_frame: float = 0.0
    force_frame: bool = True
    closed: bool = False
    queued: bool = False
    variant_specs: list[ExperimentSpec] | None = None  # the variants trained side by side
    # a sweep: only its trial `shown` gets full frames; `sweep.progress` summarises all
    sweep: Any = None

    @property
    def is_group(self) -> bool:
        return self.variant_specs is not None or self.sweep is not None


class Runner:
    """Owns the worker threads and the live sessions."""

    def __init__(self, workers: int = 1, max_sessions: int = 16, slice_seconds: float = 0.01,
                 torch_threads: int | None = 1, device: str = "auto",
                 compile: bool = False, shown_limit: int | None = None) -> None:
        """shown_limit: the session limit a refusal names (the whole server's, when this runner
        holds a share of it in one of several training processes)."""
        if torch_threads:
            torch.set_num_threads(torch_threads)  # tiny models gain nothing from more
        # The first optimizer torch builds imports its compiler stack (seconds): pay that here,
        # at start, rather than on the first user's first run.
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        self.max_sessions = max_sessions
        self.frame_budget = FRAMES_PER_WORKER * workers
        self.shown_limit = shown_limit or max_sessions
        self.slice_seconds = slice_seconds
        self.device = device
        # where a run whose spec says `auto` trains: the device resolved, not the setting
        self.default_device = str(resolve_device(device))
        self.compile = compile  # runs side by side: see compiled.py
        self._ids = itertools.count(1)
        self._handles: dict[int, SessionHandle] = {}
        self._runnable: FairQueue[SessionHandle] = FairQueue()  # least compute time first
        self._busy = 0  # sessions queued or in a worker's hands: those that want frames now
        self._cond = threading.Condition()
        self._stopping = False
        self._workers = [threading.Thread(target=self._work, name=f"torchplay-worker-{i}",
                                          daemon=True) for i in range(workers)]
        for worker in self._workers:
            worker.start()
        self._aside = ThreadPoolExecutor(1, thread_name_prefix="torchplay-aside")

    @property
    def session_count(self) -> int:
        return len(self._handles)

    @property
    def training_count(self) -> int:
        """Sessions whose run is training now (not paused, finished or diverged)."""
        with self._cond:
            return sum(1 for h in self._handles.values() if h is not None and h.session.running)

    def open(self, spec: ExperimentSpec, fps: float, notify: Callable[[], None],
             run: bool = True, variants: list[ExperimentSpec] | None = None,
             build: Callable[[torch.device], Any] | None = None) -> SessionHandle:
        """Build a session, or a group of variants trained side by side (slow: call it off
        the event loop), and schedule it. A group counts as one session. `build(device)`
        makes a sweep (sweeps/train.py SweepTraining) instead, whose Training trains."""
        with self._cond:
            if len(self._handles) >= self.max_sessions:
                raise RunnerFull(f"the server is training its limit of {self.shown_limit} "
                                 "sessions; try again when one ends")
            handle_id = next(self._ids)
            self._handles[handle_id] = None  # type: ignore[assignment]  # holds the place
        try:
            wanted = spec.training.device
            device = resolve_device(self.device if wanted == "auto" else wanted)
            sweep = build(device) if build is not None else None
            session = sweep.training if sweep is not None else Training(
                variants or [spec], device, self.compile)
        except BaseException:
            with self._cond:
                del self._handles[handle_id]
            raise
        session.running = run
        handle = SessionHandle(handle_id, session, spec, Mailbox(notify), fps,
                               variant_specs=variants, sweep=sweep)
        with self._cond:
            self._handles[handle_id] = handle
            self._schedule(handle)
        return handle

    def command(self, handle: SessionHandle, *command: Any) -> None:
        """Queue a control for the worker: pause, resume, reset, step, update, rate."""
        with self._cond:
            handle.commands.append(command)
            self._schedule(handle)

    def call(self, handle: SessionHandle, fn: Callable[[Training], Any]) -> Future[Any]:
        """Run fn(session) on the worker that owns the session, between two steps (so it sees
        the session still); the Future holds its result or its exception."""
        future: Future[Any] = Future()
        self.command(handle, "call", fn, future)
        return future

    def aside(self, handle: SessionHandle, fn: Callable[[], T]) -> Future[T]:
        """Run fn() on the side thread, off the workers (a save's serialising and writing, from
        a snapshot `call` took), charging its CPU time to the session as a worker's would be:
        a run saved often pays for it in its own share. One thread, so saves queue rather than
        crowd the workers out of the interpreter lock."""

        def charged() -> T:
            started = time.thread_time()
            try:
                return fn()
            finally:
                with self._cond:
                    if not handle.closed:
                        self._runnable.charge(handle, time.thread_time() - started)

        return self._aside.submit(charged)

    def close(self, handle: SessionHandle) -> None:
        """Forget a session now; a worker midway through its slice drops it after."""
        with self._cond:
            handle.closed = True
            self._handles.pop(handle.id, None)
            self._runnable.forget(handle)

    def shutdown(self) -> None:
        with self._cond:
            self._stopping = True
            self._handles.clear()
            self._cond.notify_all()
        for worker in self._workers:
            worker.join(timeout=5)
        self._aside.shutdown(wait=False, cancel_futures=True)

    # --- workers --------------------------------------------------------------------------

    def _schedule(self, handle: SessionHandle) -> None:
        """Queue a handle that has something to do (caller holds the lock)."""
        if not handle.queued and not handle.closed:
            handle.queued = True
            self._busy += 1
            self._runnable.push(handle)
            self._cond.notify()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._runnable and not self._stopping:
                    self._cond.wait()
                if self._stopping:
                    return
                handle = self._runnable.pop()
                commands = list(handle.commands)
                handle.commands.clear()
            started = time.thread_time()  # CPU time: not the GIL's or other jobs' share
            try:
                self._run_slice(handle, commands)
            except Exception as error:  # a bug in one session must not stop the worker
                handle.session.running = False
                message = f"training failed: {error!r}"  # in the wire's error shape
                handle.mailbox.put_message({"type": "error", "code": "internal",
                                            "message": message, "field": None,
                                            "errors": [{"field": "", "message": message}]})
            with self._cond:
                self._runnable.charge(handle, time.thread_time() - started)
                handle.queued = False
                self._busy -= 1
                busy = handle.commands or handle.session.wants_work or handle.force_frame
                if busy and not handle.closed:
                    self._schedule(handle)

    def _run_slice(self, handle: SessionHandle, commands: list[tuple[Any, ...]]) -> None:
        session = handle.session
        for command in commands:
            self._apply(handle, command)
        deadline = time.perf_counter() + self.slice_seconds
        # the client's rate, or its share of the frame budget when many sessions train
        interval = max(1.0 / handle.fps, self._busy / self.frame_budget)
        while session.wants_work and not handle.closed:
            now = time.perf_counter()
            due = now - handle.last_frame >= interval and not handle.mailbox.frame_waiting
            # a command waiting (a pause, say) may make this the last step before the frame
            # that shows it: probe it, so that frame's statistics describe its step
            session.step(probe=due or bool(handle.commands))
            if due:
                self._emit(handle)
                # Pace from when the frame fell due, not when it was done, so the client gets
                # the rate it asked for; after a wait (other sessions' turns, a stall, idling)
                # start afresh from now: no burst, and one frame a turn when turns are short.
                on_time = now - handle.last_frame < 1.5 * interval
                handle.last_frame = handle.last_frame + interval if on_time else now
            if now >= deadline or handle.commands:
                break
        if not session.wants_work:
            handle.force_frame = True  # show where a run paused, finished or diverged
        events = session.take_events()
        # Events first: the writer may take the mailbox between two puts, and a client must
        # not see the frame that shows a stop before the event that says why.
        for event in events:
            handle.mailbox.put_message({"type": "event", **event})
        if handle.force_frame or events:
            self._emit(handle)

    def _apply(self, handle: SessionHandle, command: tuple[Any, ...]) -> None:
        session = handle.session
        match command:
            case ("pause",):
                session.pause()
            case ("resume",):
                session.resume()
            case ("step", n, unit):
                session.running = False
                session.request(n, unit)
            case ("reset",):
                session.reset()
            case ("update", specs):
                session.update(specs)
            case ("rate", fps):
                handle.fps = fps
            case ("show", k):
                handle.sweep.shown = k
            case ("call", fn, future):
                if future.set_running_or_notify_cancel():  # False: the caller stopped waiting
                    try:
                        future.set_result(fn(session))
                    except Exception as exc:  # the caller's to report; the run goes on
                        future.set_exception(exc)
        if session.diverged and command[0] in ("resume", "step"):
            handle.mailbox.put_message({"type": "error", "code": "diverged", "field": None,
                                        "message": "this run diverged; reset it (or lower "
                                        "the learning rate and reset) to train again"})
        handle.force_frame = True

    def _emit(self, handle: SessionHandle) -> None:
        session = handle.session
        if handle.sweep is not None:  # a summary of every trial, the full frame of one
            shown = handle.sweep.shown
            handle.mailbox.put_frame(handle.sweep.progress(), -1)
            frame = handle.sweep.frame(shown)
            if frame is not None:  # None: its trials train elsewhere (a Ray cluster)
                frame["history_mark"] = session.histories[shown].mark()
                handle.mailbox.put_frame(frame, shown)
            handle.force_frame = False
            return
        for variant, (frame, history) in enumerate(zip(session.frames(), session.histories,
                                                       strict=True)):
            frame["history_mark"] = history.mark()  # what this frame's step has seen
            handle.mailbox.put_frame(frame, variant)
        handle.force_frame = False
