"""The WebSocket wire format: every message a client may send, validated here, and the error
message the server answers with. docs/protocol.md documents these with examples; the page's
src/protocol.js is the other end."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from torchplay.engine.group import MAX_VARIANTS
from torchplay.spec.model import ExperimentSpec, SpecError
from torchplay.store.experiments import MAX_NAME, MAX_NOTE
from torchplay.sweeps.spec import MAX_TRIALS, SweepSpec

MAX_MESSAGE_BYTES = 1_000_000
MAX_FPS = 60.0
MAX_STEPS_PER_REQUEST = 1_000_000


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


FPS = Field(30.0, ge=1, le=MAX_FPS, description="Frames per second the client wants.")


class Variant(Message):
    label: str = Field(max_length=80, description="What the variant changes, for legends.")
    patch: dict[str, Any] = Field(description="JSON merge patch of `spec` for this variant.")


class Start(Message):
    type: Literal["start"]
    spec: ExperimentSpec
    fps: float = FPS
    run: bool = Field(True, description="Start training at once; false waits paused at step 0.")
    variants: list[Variant] | None = Field(
        None, min_length=1, max_length=MAX_VARIANTS, description="Train these variants of "
        "`spec` side by side as one run (one frame per variant) instead of `spec` alone.")


class Pause(Message):
    type: Literal["pause"]


class Resume(Message):
    type: Literal["resume"]


class Reset(Message):
    type: Literal["reset"]


class Stop(Message):
    type: Literal["stop"]


class Step(Message):
    type: Literal["step"]
    n: int = Field(1, ge=1, le=MAX_STEPS_PER_REQUEST, description="How many.")
    unit: Literal["step", "epoch"] = Field("step", description="Steps, or epoch boundaries.")


class Update(Message):
    type: Literal["update"]
    patch: dict[str, Any] = Field(description="JSON merge patch of the spec's live fields.")


class Rate(Message):
    type: Literal["rate"]
    fps: float = FPS


class Ping(Message):
    type: Literal["ping"]
    id: int = Field(0, description="Echoed in the pong.")


class Save(Message):
    type: Literal["save"]
    name: str = Field("", max_length=MAX_NAME, description="Title shown with the experiment.")
    note: str = Field("", max_length=MAX_NOTE, description="Free text shown with it.")


class CheckGradients(Message):
    type: Literal["check_gradients"]
    variant: int = Field(0, ge=0, lt=MAX_VARIANTS, description="Which run of a side-by-side "
                         "group to check.")
    points: int = Field(8, ge=1, le=64, description="How many training points the checked "
                        "loss averages over.")


class StartSweep(Message):
    type: Literal["start_sweep"]
    sweep: SweepSpec
    fps: float = Field(4.0, ge=1, le=MAX_FPS, description="Progress summaries per second.")
    show: int = Field(0, ge=0, lt=MAX_TRIALS, description="The trial whose full frames "
                      "stream.")


class Show(Message):
    type: Literal["show"]
    trial: int = Field(ge=0, lt=MAX_TRIALS, description="The sweep's trial to stream full "
                       "frames of.")


class SaveSweep(Message):
    type: Literal["save_sweep"]
    name: str = Field("", max_length=MAX_NAME, description="Title shown with the sweep.")


ClientMessage = Annotated[
    Start | Pause | Resume | Reset | Stop | Step | Update | Rate | Ping | Save | CheckGradients
    | StartSweep | Show | SaveSweep,
    Field(discriminator="type"),
]
client_message = TypeAdapter(ClientMessage)


def error(code: str, message: str, field: str | None = None,
          errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """An error message: code for programs, message for people, field for where it belongs."""
    return {"type": "error", "code": code, "message": message, "field": field,
            "errors": errors or ([{"field": field or "", "message": message}])}


def field_path(loc: tuple[int | str, ...], data: Any) -> str:
    """Dotted path of a pydantic error location in the data as sent.

    Pydantic puts a discriminated union's tag into the location ('layers.0.linear.units');
    the user wrote no such key, so it is left out ('layers.0.units'), also where the tag was
    filled in for the user ('optimizer.sgd.lr' of {"optimizer": {"lr": -1}}: 'optimizer.lr').
    """
    parts: list[str] = []
    for i, part in enumerate(loc):
        following = loc[i + 1] if i + 1 < len(loc) else None
        if isinstance(data, dict) and isinstance(part, str) and part not in data and (
                part in (data.get("type"), data.get("kind")) or following in data):
            continue
        parts.append(str(part))
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
        else:
            data = None
    return ".".join(parts)


def validation_error(exc: ValidationError, data: Any, code: str, prefix: str = "",
                     root_field: str = "") -> dict[str, Any]:
    """One error message listing every problem pydantic found, each with its field
    (root_field names errors of the message as a whole, such as an unknown 'type')."""
    return errors_message(exc.errors(), data, code, prefix, root_field)


def errors_message(items: Sequence[Mapping[str, Any]], data: Any, code: str, prefix: str = "",
                   root_field: str = "") -> dict[str, Any]:
    """validation_error for pydantic's error dicts however they came (FastAPI's too)."""
    found = []
    for item in items:
        path = field_path(tuple(item["loc"]), data)
        cause = (item.get("ctx") or {}).get("error")
        message = item["msg"].removeprefix("Value error, ")
        if isinstance(cause, SpecError):
            path = ".".join(p for p in (path, cause.field) if p)
            message = cause.message
        path = ".".join(p for p in (prefix, path or root_field) if p)
        found.append({"field": path, "message": message})
    first = found[0]
    return error(code, f"{first['field'] or 'message'}: {first['message']}", first["field"],
                 found)
