"""REST routes for saved experiments and exports, and the WebSocket's `save` of a live run.

Thin: pydantic validates, the store keeps, export.py writes the files. Every error is JSON of
the WebSocket's error shape ({"type": "error", "code", "message", "field", "errors"}); request
bodies over MAX_BODY_BYTES are refused with 413 before they are parsed, and an id that does not
exist and a string that is no id at all get the same 404, so answers reveal nothing about ids.
Saves issue owner tokens and count against quotas (store/access.py); renaming, annotating and
deleting need the owner's token (`Authorization: Bearer <token>`).
docs/experiments.md documents the routes; the OpenAPI schema at /openapi.json lists them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException

from torchplay.api.clients import client_address
from torchplay.api.messages import MAX_MESSAGE_BYTES, error, errors_message, text_error
from torchplay.engine.group import Training
from torchplay.engine.views import Snapshot, saved_weights
from torchplay.serve.runner import Runner, SessionHandle
from torchplay.spec.model import SPEC_VERSION, ExperimentSpec
from torchplay.store.access import AccessError, Saver
from torchplay.store.backends import StoreUnavailable
from torchplay.store.experiments import (
    MAX_NAME,
    MAX_NOTE,
    Experiment,
    NewExperiment,
    Saved,
    Store,
    StoreError,
)
from torchplay.store.export import metrics_csv, script_for

MAX_BODY_BYTES = MAX_MESSAGE_BYTES  # the same 1 MB as a WebSocket message
DRAIN_BYTES = 16_000_000  # read (and drop) this much of a refused body so the 413 arrives
SAVE_TIMEOUT = 30.0  # seconds a live run may take to hand over its recording


# --- request limits and error bodies ------------------------------------------------------

class ApiError(Exception):
    """An answer other than success: its HTTP status and error body."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = error(code, message, field)


class LimitedRequest(Request):
    """A request whose body is kept only up to MAX_BODY_BYTES; past that, ApiError 413."""

    async def body(self) -> bytes:
        if not hasattr(self, "_limited_body"):
            declared = self.headers.get("content-length", "")
            size = int(declared) if declared.isdigit() else 0
            chunks: list[bytes] = []
            if size <= DRAIN_BYTES:
                size = 0
                async for chunk in self.stream():
                    size += len(chunk)
                    if size <= MAX_BODY_BYTES:
                        chunks.append(chunk)
                    elif size > DRAIN_BYTES:  # read on (dropping) so the client reads the 413
                        break
            if size > MAX_BODY_BYTES:
                raise ApiError(413, "too_large", f"the request body has {size:,} bytes or more; "
                               f"the limit is {MAX_BODY_BYTES:,}")
            self._limited_body = b"".join(chunks)
        return self._limited_body


class ExperimentRoute(APIRoute):
    """Routes of this module: bodies capped at MAX_BODY_BYTES (413), and validation errors in
    the WebSocket's error shape, naming the offending field (422)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def limited(request: Request) -> Response:
            request = LimitedRequest(request.scope, request.receive)
            try:
                if request.method in ("POST", "PATCH") and not request.headers.get(
                        "content-type", "").startswith("application/json"):
                    raise ApiError(415, "bad_content_type", "send the body as JSON, with "
                                   "Content-Type: application/json")
                refusal = text_error(await request.body())
                if refusal is not None:
                    return JSONResponse(refusal, status_code=422)
                return await handle(request)
            except ApiError as exc:
                return JSONResponse(exc.body, status_code=exc.status)
            except AccessError as exc:
                later = {} if exc.retry_after is None else {"Retry-After": str(exc.retry_after)}
                return JSONResponse(error(exc.code, str(exc), exc.field), status_code=exc.status,
                                    headers=later)
            except StoreUnavailable as exc:
                return JSONResponse(error("store_unavailable", str(exc)), status_code=503)
            except RequestValidationError as exc:
                return JSONResponse(validation_body(exc), status_code=422)
            except HTTPException as exc:
                if exc.status_code != 400:
                    raise
                # FastAPI's answer to a body it could not parse (nested too deep, say): the
                # same 422 as any body that is not JSON.
                return JSONResponse(error("bad_json", "the request body could not be read as "
                                          "JSON"), status_code=422)

        return limited


def validation_body(exc: RequestValidationError) -> dict[str, Any]:
    items = list(exc.errors())
    if any(item.get("type") == "json_invalid" for item in items):
        return error("bad_json", "the request body is not valid JSON")
    # FastAPI's locations start with where the value was ("body"): paths here are in the body.
    within = [{**item, "loc": tuple(item["loc"])[1:]} for item in items
              if tuple(item["loc"])[:1] == ("body",)]
    if len(within) < len(items):
        return errors_message(items, None, "invalid_request")
    return errors_message(within, exc.body, "invalid_request", root_field="body")


class FieldError(BaseModel):
    field: str = Field(description="Dotted path of the offending field ('' for the whole).")
    message: str


class ErrorOut(BaseModel):
    """Every error of this API (and of the WebSocket) has this shape."""

    type: Literal["error"] = "error"
    code: str = Field(description="For programs: too_large, bad_content_type, bad_json, "
                      "invalid_request, not_found, no_run, forbidden, unknown_token, "
                      "rate_limited, quota_exceeded, storage_full, store_unavailable.")
    message: str = Field(description="For people.")
    field: str | None = Field(description="Dotted path of the first offending field, if any.")
    errors: list[FieldError] = Field(description="Every problem found.")


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    meaning = {403: "The owner token is missing, wrong, or unknown here (`forbidden`, "
                    "`unknown_token`); nothing changed.",
               404: "No experiment has this id (or it has no recorded run).",
               413: f"The request body is over {MAX_BODY_BYTES:,} bytes (`too_large`), or the "
                    "save would pass the bytes allowed per owner token or per client address "
                    "(`quota_exceeded`); nothing was stored.",
               429: "Too many saves this minute from this owner token or client address "
                    "(`rate_limited`; the Retry-After header says when to try again).",
               503: "The database cannot be reached (`store_unavailable`).",
               507: "The server's store is at its cap (`storage_full`); nothing was stored.",
               415: "The body is not sent as application/json; nothing was stored.",
               422: "The body is not JSON or fails validation; nothing was stored."}
    return {s: {"model": ErrorOut, "description": meaning[s]} for s in statuses}


# --- models -------------------------------------------------------------------------------

class SaveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: ExperimentSpec = Field(description="The setup; specs of older versions are migrated.")
    name: str = Field("", max_length=MAX_NAME, description="Title, shown as text.")
    note: str = Field("", max_length=MAX_NOTE, description="Free text, shown as text.")


class SavedOut(BaseModel):
    id: str = Field(description="16 URL-safe characters, 96 random bits.")
    url: str = Field(description="The page of the experiment: /e/{id}.")
    token: str | None = Field(description="A new owner token (32 URL-safe characters), when "
                              "the request sent none: shown this once; it renames, annotates "
                              "and deletes this and every later save made with it. Null when "
                              "the request sent its token.")


class EditRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(None, max_length=MAX_NAME, description="New title; absent or "
                             "null keeps it.")
    note: str | None = Field(None, max_length=MAX_NOTE, description="New note; absent or "
                             "null keeps it.")


class EditedOut(BaseModel):
    id: str
    name: str
    note: str


class RunOut(BaseModel):
    """The recorded run: enough to draw the page as it was, without training."""

    step: int
    epoch: int
    spec_changed_at_step: int | None = Field(description="First step trained after a live "
                                             "`update` or weight edit; null when the spec "
                                             "alone replays the run.")
    weight_edits: int = Field(0, description="Weights set by hand (`set_weight`) during the "
                              "run; absent in runs saved before edits were counted.")
    summary: dict[str, Any] = Field(description="The model, as in the `ready` message.")
    data: dict[str, Any] = Field(description="The points, as in the `ready` message.")
    frame: dict[str, Any] = Field(description="The last frame (boundary, layers, neurons, "
                                  "links), as a `frame` message without `type` and `history`.")
    history: dict[str, Any] = Field(description="The complete curves: {steps: {stride, step, "
                                    "loss}, evals: {stride, epoch, step, lr, train_loss, "
                                    "test_loss, train_metric, test_metric}}.")
    label: str | None = Field(None, description="A group's first run: its legend label; "
                              "absent for a single run.")
    variants: list[VariantRunOut] | None = Field(None, description="A group saved as one "
                                                 "experiment: its other runs, in order; "
                                                 "absent for a single run.")


class VariantRunOut(BaseModel):
    """Another run of a group saved as one experiment (runs trained side by side)."""

    label: str = Field(description="Its legend label.")
    spec: ExperimentSpec = Field(description="Its own complete spec.")
    run: dict[str, Any] = Field(description="Its recording, shaped as `run` above; `data` is "
                                "left out where its points are the first run's.")


class LinksOut(BaseModel):
    page: str
    spec: str
    script: str
    metrics: str | None = Field(description="Null without a recorded run.")
    weights: str | None = Field(description="Null without a recorded run.")
    data: str | None = Field(None, description="The uploaded table (data.csv, for the script); "
                             "null unless data.kind is table.")


class ExperimentOut(BaseModel):
    id: str
    created: str = Field(description="When it was saved, ISO 8601 UTC.")
    name: str = Field(description="As saved: show it as text, never as HTML.")
    note: str = Field(description="As saved: show it as text, never as HTML.")
    spec_version: int = Field(description="Spec version it was saved with; `spec` is migrated "
                              "to the current one.")
    spec: ExperimentSpec
    run: RunOut | None = Field(description="Null when only the setup was saved.")
    links: LinksOut


class SpecOut(BaseModel):
    spec: ExperimentSpec = Field(description="Current version, every default filled in.")


# --- routes -------------------------------------------------------------------------------

def get_store(request: Request) -> Store:
    return request.app.state.store


def get_client(request: Request) -> str:
    """The client's address (X-Forwarded-For only from a `--trusted-proxy`)."""
    peer = request.client.host if request.client else ""
    return client_address(peer, request.headers.getlist("x-forwarded-for"),
                          request.app.state.trusted_proxies)


def get_token(authorization: Annotated[str | None, Header(
        description="`Bearer <owner token>`")] = None) -> str | None:
    """The owner token sent as `Authorization: Bearer <token>`, if any."""
    if authorization is None:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(403, "forbidden", "send the owner token as Authorization: Bearer "
                       "<token>", "token")
    return token.strip()


StoreDep = Annotated[Store, Depends(get_store)]
ClientDep = Annotated[str, Depends(get_client)]
TokenDep = Annotated[str | None, Depends(get_token)]
router = APIRouter(prefix="/api", tags=["experiments"], route_class=ExperimentRoute)


async def _find(store: Store, experiment_id: str) -> Experiment:
    found = await asyncio.to_thread(store.get, experiment_id)
    if found is None:
        raise ApiError(404, "not_found", "no experiment has this id", "id")
    return found


def no_run() -> ApiError:
    return ApiError(404, "no_run", "this experiment was saved without a run, so it has no "
                    "curves or weights; run it, then save")


def _download(content: str | bytes, media_type: str, filename: str) -> Response:
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.post("/experiments", status_code=201, response_model=SavedOut,
             responses=_errors(403, 413, 415, 422, 429, 503, 507))
async def save_experiment(body: SaveRequest, store: StoreDep, client: ClientDep,
                          token: TokenDep) -> SavedOut:
    """Save a setup (spec, name, note) without a run; the WebSocket's `save` adds the run.
    Send your owner token (`Authorization: Bearer`) to own it with your other saves; without
    one, the answer carries a new token."""
    new = NewExperiment(spec=body.spec.model_dump(mode="json"), spec_version=SPEC_VERSION,
                        name=body.name, note=body.note)
    try:
        saved = await asyncio.to_thread(store.save, new, Saver(token, client))
    except StoreError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from exc
    return SavedOut(id=saved.id, url=f"/e/{saved.id}", token=saved.token)


@router.patch("/experiments/{experiment_id}", response_model=EditedOut,
              responses=_errors(403, 404, 413, 415, 422, 503))
async def edit_experiment(experiment_id: str, body: EditRequest, store: StoreDep,
                          token: TokenDep) -> EditedOut:
    """Rename and/or annotate, as the owner (`Authorization: Bearer <owner token>`)."""
    edited = await asyncio.to_thread(store.edit, experiment_id, token, body.name, body.note)
    if edited is None:
        raise ApiError(404, "not_found", "no experiment has this id", "id")
    return EditedOut(id=edited.id, name=edited.name, note=edited.note)


@router.delete("/experiments/{experiment_id}", status_code=204,
               responses=_errors(403, 404, 503))
async def delete_experiment(experiment_id: str, store: StoreDep, token: TokenDep) -> Response:
    """Delete, as the owner (`Authorization: Bearer <owner token>`): the experiment, its run
    and its weights are gone from the database at once, and its link answers 404."""
    if not await asyncio.to_thread(store.delete, experiment_id, token):
        raise ApiError(404, "not_found", "no experiment has this id", "id")
    return Response(status_code=204)


@router.get("/experiments/{experiment_id}", response_model=ExperimentOut,
            responses=_errors(404))
async def get_experiment(experiment_id: str, store: StoreDep) -> Response:
    """A saved experiment: its spec, name, note, and the recorded run (null if none)."""
    found = await _find(store, experiment_id)
    base = f"/api/experiments/{found.id}"
    with_run = found.run_json is not None
    meta = {"id": found.id, "created": found.created, "name": found.name, "note": found.note,
            "spec_version": found.spec_version,
            "spec": ExperimentSpec.model_validate(found.spec).model_dump(mode="json"),
            "links": {"page": f"/e/{found.id}", "spec": f"{base}/spec.json",
                      "script": f"{base}/script.py",
                      "metrics": f"{base}/metrics.csv" if with_run else None,
                      "weights": f"{base}/weights.pt" if with_run else None,
                      "data": f"{base}/data.csv" if found.spec.get("data", {}).get("table")
                      else None}}
    # The run is stored as JSON already (megabytes for long runs): splice it in, not re-encode.
    encoded = orjson.dumps(meta)[:-1] + b',"run":' + (found.run_json or b"null") + b"}"
    return Response(encoded, media_type="application/json")


@router.get("/experiments/{experiment_id}/spec.json", response_model=ExperimentSpec,
            responses=_errors(404))
async def experiment_spec(experiment_id: str, store: StoreDep) -> Response:
    """The spec as a JSON file (current version, every default filled in)."""
    found = await _find(store, experiment_id)
    spec = ExperimentSpec.model_validate(found.spec).model_dump(mode="json")
    return _download(orjson.dumps(spec, option=orjson.OPT_INDENT_2), "application/json",
                     f"torchplay-{found.id}.json")


@router.get("/experiments/{experiment_id}/metrics.csv", responses={
    **_errors(404), 200: {"content": {"text/csv": {}}, "description": "The curves as CSV."}})
async def experiment_metrics(experiment_id: str, store: StoreDep) -> Response:
    """The recorded curves as CSV (layout in docs/experiments.md): one row per step, with the
    mini-batch loss, and the evaluation columns filled at step 0 and every epoch's end."""
    found = await _find(store, experiment_id)
    if found.run_json is None:
        raise no_run()
    text = await asyncio.to_thread(_metrics_of, found)  # megabytes for a long run: off the loop
    return _download(text, "text/csv; charset=utf-8", f"torchplay-{found.id}.csv")


def _metrics_of(found: Experiment) -> str:
    run = found.run
    assert run is not None
    return metrics_csv(run["history"], run["frame"]["metric"])


@router.get("/experiments/{experiment_id}/weights.pt", responses={
    **_errors(404), 200: {"content": {"application/octet-stream": {}},
                          "description": "torch.save'd state_dict (a list of them for a group)."}})
async def experiment_weights(experiment_id: str, store: StoreDep) -> Response:
    """The final weights: a state_dict (torch.save) that the exported script's model loads;
    for runs side by side saved as one, a list of every run's state_dict, in order."""
    weights = await asyncio.to_thread(store.weights, experiment_id)
    if weights is None:
        await _find(store, experiment_id)  # 404 either way; which one tells the reader why
        raise no_run()
    return _download(weights, "application/octet-stream", f"torchplay-{experiment_id}.pt")


PYTHON = {200: {"content": {"text/x-python": {}}, "description": "A standalone script."}}


@router.get("/experiments/{experiment_id}/script.py", responses={**_errors(404), **PYTHON})
async def experiment_script(experiment_id: str, store: StoreDep) -> Response:
    """A standalone Python script (numpy and torch only) that rebuilds and trains the
    experiment; on the CPU it makes torchplay's run step for step."""
    found = await _find(store, experiment_id)
    script = script_for(ExperimentSpec.model_validate(found.spec))
    return _download(script, "text/x-python; charset=utf-8", f"torchplay-{found.id}.py")


@router.get("/experiments/{experiment_id}/data.csv", responses={
    **_errors(404), 200: {"content": {"text/csv": {}}, "description": "The uploaded table."}})
async def experiment_data(experiment_id: str, store: StoreDep) -> Response:
    """The uploaded table an experiment of data.kind "table" trains on, byte for byte: the
    exported script reads it as data.csv beside itself."""
    found = await _find(store, experiment_id)
    table = ExperimentSpec.model_validate(found.spec).data.table
    stored = None if table is None else await asyncio.to_thread(store.dataset, table.hash)
    if stored is None:
        raise ApiError(404, "no_dataset", "this experiment trains on no uploaded table (or "
                       "this server lacks it)", "id")
    return _download(stored[1], "text/csv; charset=utf-8", "data.csv")


@router.get("/experiments/{anything:path}", include_in_schema=False)
async def no_such_experiment(anything: str) -> Response:
    """Any other path under /api/experiments/ (a slash in an 'id'): the same 404 as an
    unknown id, so that no answer tells one guess from another."""
    raise ApiError(404, "not_found", "no experiment has this id", "id")


@router.post("/export/script", responses={**_errors(413, 415, 422), **PYTHON})
async def export_script(spec: ExperimentSpec) -> Response:
    """The standalone script of an unsaved spec (the request body is the spec itself)."""
    return _download(script_for(spec), "text/x-python; charset=utf-8", "torchplay.py")


@router.post("/spec/migrate", response_model=SpecOut, responses=_errors(413, 415, 422))
async def migrate_spec(spec: ExperimentSpec) -> SpecOut:
    """A spec of any version this server reads (an old link), brought to the current version
    and validated, with every default filled in: what the page restores its controls from."""
    return SpecOut(spec=spec)


# --- the WebSocket's save -----------------------------------------------------------------

def group_snapshots(group: Training, only: int | None) -> list[Snapshot]:
    """What a save takes on the training thread: a snapshot of each run (or of `only`)."""
    ks = [only] if only is not None else range(len(group.runs))
    return [group.snapshot(k) for k in ks]


def group_recording(snapshots: list[Snapshot], labels: list[str], grouped: bool
                    ) -> tuple[dict[str, Any], bytes]:
    """Snapshots finished as one recording (off the training thread). A lone run, or one run
    of a group (`grouped` False), is a single run's recording; runs side by side are the first
    run's (with its label) and the others under `variants` (their points only where they
    differ); the weights are every run's, a list of state_dicts in that order."""
    recordings = [snap.finish() for snap in snapshots]
    if not grouped:
        return recordings[0]
    (first, _), others = recordings[0], recordings[1:]
    run = {**first["run"], "label": labels[0], "variants": [
        {"label": label, "spec": rec["spec"],
         "run": {k: v for k, v in rec["run"].items()
                 if k != "data" or v != first["run"]["data"]}}
        for label, (rec, _) in zip(labels[1:], others, strict=True)]}
    return {"spec": first["spec"], "run": run}, saved_weights([snap.weights
                                                               for snap in snapshots])


async def save_live_run(runner: Runner, store: Store | None, handle: SessionHandle, name: str,
                        note: str, labels: list[str] | None = None,
                        only: int | None = None, saver: Saver | None = None
                        ) -> dict[str, Any]:
    """Record a live run (or runs side by side: all, or `only` one of them) and store it, and
    return the reply: `saved` once the row is committed (with a new owner token when `saver`
    sent none), or an error: a quota's or the token's (access.py's codes), else `save_failed`;
    then nothing is stored. Its worker only takes a snapshot between two steps; the recording
    is serialised and written aside (Runner.aside: off the workers, charged to the session). A
    group's recording is bounded as one run's is: the store refuses a recording over its
    limit."""
    if store is None:
        return error("save_failed", "this server keeps no store")
    count = len(handle.variant_specs or [handle.spec])
    if only is not None and (only >= count or not handle.is_group):
        return error("invalid_message", f"only: this run has {count} run(s) side by side, "
                     "numbered from 0 (leave `only` out for a single run)", "only")
    grouped = handle.is_group and only is None

    def write(snapshots: list[Snapshot]) -> tuple[Saved, dict[str, Any]]:
        recording, weights = group_recording(
            snapshots, labels or [f"run {k + 1}" for k in range(count)], grouped)
        new = NewExperiment(spec=recording["spec"], spec_version=SPEC_VERSION, name=name,
                            note=note, run=recording["run"], weights=weights)
        return store.save(new, saver), recording["run"]

    try:
        snapshots = await asyncio.wait_for(asyncio.wrap_future(runner.call(
            handle, lambda training: group_snapshots(training, only))), SAVE_TIMEOUT)
        saved, run = await asyncio.wrap_future(runner.aside(handle, lambda: write(snapshots)))
    except AccessError as exc:
        return error(exc.code, str(exc), exc.field)
    except TimeoutError:
        return error("save_failed", f"the run did not hand over its state within "
                     f"{SAVE_TIMEOUT:.0f} s; nothing was saved")
    except Exception as exc:  # any failure is reported to the client; the run goes on
        return error("save_failed", f"the run was not saved: {exc}")
    return {"type": "saved", "id": saved.id, "url": f"/e/{saved.id}", "token": saved.token,
            "step": run["step"], "epoch": run["epoch"]}
