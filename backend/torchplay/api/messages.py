"""The WebSocket wire format: every message a client may send, validated here, and the error
message the server answers with. docs/protocol.md documents these with examples; the page's
src/socket.js is the other end."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from torchplay.engine.group import MAX_VARIANTS
from torchplay.spec.model import ExperimentSpec, SpecError
from torchplay.store.experiments import MAX_NAME, MAX_NOTE
from torchplay.sweeps.spec import MAX_TRIALS, SweepSpec

MAX_MESSAGE_BYTES = 1_000_000
MAX_FPS = 60.0
MAX_STEPS_PER_REQUEST = 1_000_000
MAX_PING_ID = 2**53 - 1  # the largest integer a JavaScript number holds exactly
_SURROGATE = re.compile("[\ud800-\udfff]")


class Message(BaseModel):
    """Base of every client message: unknown keys, NaN/inf, and a boolean where a number is
    due (or the reverse) are errors (strict), as the published schema says."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


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
    id: int = Field(0, ge=-MAX_PING_ID, le=MAX_PING_ID, description="Echoed in the pong; "
                    "an integer a JavaScript number holds exactly.")


class Save(Message):
    type: Literal["save"]
    name: str = Field("", max_length=MAX_NAME, description="Title shown with the experiment.")
    note: str = Field("", max_length=MAX_NOTE, description="Free text shown with it.")
    only: StrictInt | None = Field(None, ge=0, lt=MAX_VARIANTS, description="Of runs trained "
                                   "side by side, save this one alone; left out, all of them "
                                   "are saved as one experiment.")
    token: str | None = Field(None, max_length=64, description="The owner token of earlier "
                              "saves; absent or null: the `saved` reply carries a new one.")


class CheckGradients(Message):
    type: Literal["check_gradients"]
    variant: int = Field(0, ge=0, lt=MAX_VARIANTS, description="Which run of a side-by-side "
                         "group to check.")
    points: int = Field(8, ge=1, le=64, description="How many training points the checked "
                        "loss averages over.")


class SetWeight(Message):
    type: Literal["set_weight"]
    layer: StrictInt = Field(ge=0, lt=1000, description="Module index of the Linear layer, as "
                             "the frame's `links` number it.")
    row: StrictInt = Field(ge=0, lt=100_000, description="Output unit (the weight's row).")
    col: StrictInt = Field(ge=0, lt=100_000, description="Input unit (the weight's column).")
    value: float = Field(ge=-100, le=100, description="The new weight.")
    variant: StrictInt = Field(0, ge=0, lt=MAX_VARIANTS, description="Which run of a "
                               "side-by-side group to edit (0 for a single run).")

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, value: object) -> object:
        if isinstance(value, bool):  # JSON true is no weight
            raise ValueError("value must be a number")
        return value


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
    token: str | None = Field(None, max_length=64, description="The owner token of earlier "
                              "saves; absent or null: the `saved_sweep` reply carries a new "
                              "one.")


ClientMessage = Annotated[
    Start | Pause | Resume | Reset | Stop | Step | Update | Rate | Ping | Save | CheckGradients
    | SetWeight | StartSweep | Show | SaveSweep,
    Field(discriminator="type"),
]
client_message = TypeAdapter(ClientMessage)


def error(code: str, message: str, field: str | None = None,
          errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """An error message: code for programs, message for people, field for where it belongs.
    Text echoed from the input is made encodable first (a lone surrogate as its escape)."""
    message, field = printable(message), None if field is None else printable(field)
    errors = [{k: printable(v) for k, v in e.items()} for e in errors] if errors else \
        [{"field": field or "", "message": message}]
    return {"type": "error", "code": code, "message": message, "field": field,
            "errors": errors}


def printable(text: str) -> str:
    """text, with any lone surrogate (which UTF-8 cannot encode) written as its escape."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def lone_surrogate(data: Any) -> tuple[str, str] | None:
    """(dotted path, the escape) of the first string or key in parsed JSON that holds a
    lone surrogate: JSON allows the escape, but it is no text, and no store or encoder
    takes it. Iterative, so any depth json.loads returned is walked."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, str):
            if not value.isascii() and (found := _SURROGATE.search(value)):
                return path, f"\\u{ord(found.group()):04x}"
        elif isinstance(value, dict):
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                if not key.isascii() and (found := _SURROGATE.search(key)):
                    return printable(sub), f"\\u{ord(found.group()):04x}"
                stack.append((sub, item))
        elif isinstance(value, list):
            stack.extend((f"{path}.{i}" if path else str(i), item)
                         for i, item in enumerate(value))
    return None


def surrogate_error(data: Any, code: str = "bad_json") -> dict[str, Any] | None:
    """The error for parsed JSON holding a lone surrogate, or None when it holds none."""
    found = lone_surrogate(data)
    if found is None:
        return None
    path, text = found
    why = f"holds a lone surrogate escape ({text}), which is not text; strings must be " \
        "valid Unicode"
    return error(code, f"{path or 'message'}: {why}", path or None,
                 [{"field": path, "message": why}])


def text_error(body: bytes) -> dict[str, Any] | None:
    """A request body's lone-surrogate error, if it has one (a body that is no JSON at all
    is left to the route's own parser to refuse)."""
    if b"\\u" not in body:
        return None  # a surrogate reaches the parsed data only as an escape
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return surrogate_error(data)


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
