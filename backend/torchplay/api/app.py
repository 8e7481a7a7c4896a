"""Build the FastAPI app: the page, the REST routes and the WebSocket, around one Runner."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, get_args

from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

from torchplay import __version__
from torchplay.api.clients import client_address, parse_trusted
from torchplay.api.errors import add_error_handlers
from torchplay.api.experiments import router as experiments_router
from torchplay.api.guard import Access, Guard, split_list
from torchplay.api.lessons import router as lessons_router
from torchplay.api.messages import MAX_FPS, MAX_MESSAGE_BYTES, MAX_STEPS_PER_REQUEST
from torchplay.api.relay import relay
from torchplay.api.rules import router as rules_router
from torchplay.api.sweeps import router as sweeps_router
from torchplay.api.tables import LIMITS as TABLE_LIMITS
from torchplay.api.tables import router as tables_router
from torchplay.api.ws import Connection
from torchplay.data import library
from torchplay.data.cache import SHARED
from torchplay.data.toy import previews
from torchplay.serve.memory import settle
from torchplay.serve.runner import Runner
from torchplay.serve.shards import Shards, child_environment
from torchplay.settings import Settings
from torchplay.spec.model import (
    LIVE_SECTIONS,
    MAX_FRAME_WORK,
    MAX_STEP_WORK,
    OWN_DATA_KINDS,
    REGRESSION_1D_KINDS,
    SPEC_VERSION,
    DataKind,
    DataSpec,
    ExperimentSpec,
)
from torchplay.store.experiments import MAX_NAME, MAX_NOTE, open_store
from torchplay.sweeps.remote import disconnect


def frontend_dir() -> Path:
    """The page's files: packaged beside the code when installed, else the repo's frontend/."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here / "frontend", here.parent.parent / "frontend"):
        if (candidate / "index.html").is_file():
            return candidate
    raise RuntimeError("torchplay's frontend files are missing from this installation")


def get_runner(request: Request) -> Runner:
    return request.app.state.runner


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


RunnerDep = Annotated[Runner, Depends(get_runner)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def access(settings: Settings, bind: str | None = None) -> Access:
    """The Host and Origin values the settings accept (bind: the address actually bound)."""
    return Access(bind=settings.host if bind is None else bind,
                  hosts=split_list(settings.allow_host), origins=split_list(settings.allow_origin))


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    static = frontend_dir()
    if settings.data_dir is not None:
        SHARED.data_dir = settings.data_dir  # where mnist and fashion_mnist look first
    dataset_previews = previews() + library.previews()  # fixed for a server's life

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # the store first: it creates or upgrades the schema the training processes share
        app.state.store = open_store(settings.db, settings.limits())
        processes = settings.training_processes()
        app.state.runner = app.state.shards = None
        try:
            if processes > 1:  # this process relays; its children train (serve/shards.py)
                app.state.shards = Shards(processes, child_environment(
                    settings.model_dump(mode="json"), dict(os.environ), processes))
                await app.state.shards.start()
                print(f"training in {processes} processes", flush=True)
            else:
                app.state.runner = Runner(
                    workers=settings.workers, max_sessions=settings.max_sessions,
                    torch_threads=settings.torch_threads, device=settings.device,
                    compile=settings.compile, shown_limit=settings.server_max_sessions)
            settle(train=app.state.runner is not None)
            yield
        finally:
            if app.state.shards is not None:
                await app.state.shards.stop()
            if app.state.runner is not None:
                app.state.runner.shutdown()
            app.state.store.close()
            disconnect()  # a Ray this server started (--ray-address local) leaves no processes

    app = FastAPI(title="torchplay", version=__version__, lifespan=lifespan)
    app.state.settings = settings
    app.add_middleware(Guard, access=access(settings))
    add_error_handlers(app)
    app.state.trusted_proxies = parse_trusted(settings.trusted_proxy)

    @app.get("/api/health")
    async def health(request: Request, settings: SettingsDep) -> dict[str, Any]:
        """Liveness, and how busy the server is: summed over its training processes, with
        each one's own counts under `processes` when there are several (null: one down)."""
        base = {"status": "ok", "version": __version__, "spec_version": SPEC_VERSION,
                "device_setting": settings.device}
        runner: Runner | None = request.app.state.runner
        if runner is not None:
            return {**base, "sessions": runner.session_count,
                    "training": runner.training_count, "max_sessions": runner.max_sessions,
                    "device": runner.default_device}
        each = await request.app.state.shards.health()
        up = [h for h in each if h is not None]
        return {**base, **{key: sum(h[key] for h in up)
                           for key in ("sessions", "training", "max_sessions")},
                "device": up[0]["device"] if up else None,
                "processes": [None if h is None else {"pid": shard.pid, **{k: h[k] for k in (
                    "sessions", "training", "max_sessions")}}
                    for shard, h in zip(request.app.state.shards.shards, each, strict=True)]}

    @app.get("/api/schema")
    def schema() -> dict[str, Any]:
        """JSON Schema of ExperimentSpec: fields, bounds, defaults and descriptions; plus, under
        `x-torchplay`, what the page must not repeat: the fields an `update` may change during
        a run, each dataset's task, and the protocol's own limits."""
        return {**ExperimentSpec.model_json_schema(), "x-torchplay": {
            "live_fields": list(LIVE_SECTIONS),
            # drawn points and tables: the task is their own (data.drawn.task, data.table.task)
            "tasks": {kind: None if kind in OWN_DATA_KINDS else DataSpec(kind=kind).task
                      for kind in get_args(DataKind)},
            "one_d": list(REGRESSION_1D_KINDS),
            "limits": {"max_fps": MAX_FPS, "max_steps_per_request": MAX_STEPS_PER_REQUEST,
                       "max_message_bytes": MAX_MESSAGE_BYTES,
                       "max_name": MAX_NAME, "max_note": MAX_NOTE,
                       "table": TABLE_LIMITS,
                       "max_step_work": MAX_STEP_WORK, "max_frame_work": MAX_FRAME_WORK}}}

    @app.get("/api/datasets")
    def datasets() -> list[dict[str, Any]]:
        """A 200-point sample of every generated dataset at its defaults, for thumbnails, and
        what each library set is (and whether this server has it)."""
        return dataset_previews

    @app.websocket("/ws")
    async def play(ws: WebSocket) -> None:
        client = client_address(ws.client.host if ws.client else "",
                                ws.headers.getlist("x-forwarded-for"), app.state.trusted_proxies)
        if app.state.shards is not None:
            await relay(ws, app.state.shards, client)
        else:
            await ws.accept()
            await Connection(ws, ws.app.state.runner, ws.app.state.store, client,
                             settings.ray_address).serve()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(static / "index.html", headers={"Cache-Control": "no-cache"})

    @app.get("/e/{experiment_id}", include_in_schema=False)
    def shared(experiment_id: str) -> FileResponse:
        """A saved experiment: the page reads the id from its URL and fetches it."""
        return index()

    @app.get("/s/{sweep_id}", include_in_schema=False)
    def shared_sweep(sweep_id: str) -> FileResponse:
        """A saved sweep: the page reads the id from its URL and shows its results."""
        return index()

    app.include_router(experiments_router)
    app.include_router(lessons_router)
    app.include_router(tables_router)
    app.include_router(rules_router)
    app.include_router(sweeps_router)

    app.mount("/static", StaticFiles(directory=static), name="static")
    return app
