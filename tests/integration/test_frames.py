"""What the server sends: `ready` and `frame` hold every field docs/protocol.md lists, with the
documented shapes, and the REST routes answer."""

from __future__ import annotations

import base64
import math

import httpx
import pytest
from wsclient import connect_to, health

pytestmark = pytest.mark.anyio

FRAME_KEYS = {"type", "step", "epoch", "lr", "running", "diverged", "halted", "path",
              "path_reason", "layers_step", "steps_per_second",
              "epochs_per_second", "metric", "train_loss", "test_loss", "train_metric",
              "test_metric", "best", "layers", "output", "neurons", "links", "history",
              "evaluated_on", "images"}
STEP_PROBES = ("act_mean", "act_var", "grad_norm_weight", "grad_norm_bias", "weight_norm",
               "update_ratio")
WEIGHTED = ("grad_norm_weight", "grad_norm_bias", "weight_norm", "update_ratio")
# A layer wider than the 32 drawn neurons, and one with more than 4,096 weights (no links).
LAYERS = [{"type": "linear", "units": 70}, {"type": "activation", "fn": "relu"},
          {"type": "dropout", "p": 0.1}, {"type": "linear", "units": 64},
          {"type": "activation", "fn": "tanh"}]
NAMES = ["linear 70", "relu", "dropout 0.1", "linear 64", "tanh"]
CASES = {  # data kind: (rest of the spec, output kind)
    "circle": ({"features": {"inputs": ["x1", "x2", "x1_sq"]}}, "probability"),
    "spiral": ({"data": {"classes": 4}}, "classes"),
    "plane": ({"loss": {"kind": "mse"}}, "value"),
    "sine1d": ({"loss": {"kind": "mse"}, "features": {"degree": 3}}, "curve"),
}


def decoded(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


def check_ready(ready: dict, kind: str) -> None:
    summary, data = ready["summary"], ready["data"]
    assert ready["spec"]["data"]["kind"] == kind and ready["spec"]["version"] == 1
    assert [layer["name"] for layer in summary["layers"]][:-1] == NAMES
    assert [layer["index"] for layer in summary["layers"]] == list(range(len(NAMES) + 1))
    shapes = [layer["weight_shape"] for layer in summary["layers"]]
    assert shapes[0] == [70, len(summary["features"])] and shapes[3] == [64, 70]
    assert shapes[-1] == [summary["output_dim"], 64]
    # Parameters counted here from the shapes: weights plus one bias per output unit.
    assert summary["parameters"] == sum(o * i + o for o, i in filter(None, shapes))
    assert len(data["train_x"]) + len(data["test_x"]) == ready["spec"]["data"]["points"]
    assert summary["steps_per_epoch"] == math.ceil(len(data["train_y"]) / 10)
    assert {len(p) for p in data["train_x"] + data["test_x"]} == {1 if kind == "sine1d" else 2}
    assert len(data["extent"]) == 4


def check_layers(frame: dict, summary: dict, probed: bool) -> None:
    layers = frame["layers"]
    n = len(summary["layers"])
    assert set(layers) == {"name", "dead_fraction", *STEP_PROBES}
    assert all(len(column) == n for column in layers.values())
    assert layers["name"] == [layer["name"] for layer in summary["layers"]]
    has_weight = [layer["weight_shape"] is not None for layer in summary["layers"]]
    if not probed:  # before the first step there is nothing to report
        assert all(v is None for column in STEP_PROBES for v in layers[column])
        return
    assert all(isinstance(v, float) for v in layers["act_mean"])
    assert all(v >= 0 for v in layers["act_var"])
    for column in WEIGHTED:  # Linear layers only
        assert [v is not None for v in layers[column]] == has_weight, column
    assert all(v > 0 for v in layers["weight_norm"] if v is not None)
    dead = layers["dead_fraction"]  # only the ReLU
    assert dead[1] is not None and 0 <= dead[1] <= 1
    assert [i for i, v in enumerate(dead) if v is not None] == [1]


def check_output(output: dict, kind: str, grid: int, classes: int) -> None:
    assert output["kind"] == kind
    if kind == "curve":
        assert len(output["x"]) == len(output["y"]) == grid
        assert output["x"] == sorted(output["x"])
        return
    assert output["size"] == grid and len(output["extent"]) == 4
    values = decoded(output["values"])
    assert len(values) == grid * grid
    if kind == "classes":
        assert output["classes"] == classes and max(values) < classes
        assert len(decoded(output["confidence"])) == grid * grid
        assert min(decoded(output["confidence"])) >= 255 // classes  # the winner's share
    if kind == "value":
        assert output["low"] < output["high"]


def check_neurons(neurons: list[dict], summary: dict, side: int, one_d: bool) -> None:
    height, width = (1, 2 * side) if one_d else (side, side)
    hidden = [layer for layer in summary["layers"][:-1] if layer["weight_shape"]]
    assert [(n["kind"], n["layer"]) for n in neurons] == [("input", -1)] + [
        ("hidden", layer["index"]) for layer in hidden]
    assert [n["units"] for n in neurons] == [len(summary["features"])] + [
        layer["weight_shape"][0] for layer in hidden]
    for column in neurons:
        assert column["shown"] == min(column["units"], 32)
        assert (column["height"], column["width"]) == (height, width)
        maps = decoded(column["maps"])
        assert len(maps) == column["shown"] * height * width
        assert column["scale"] > 0
        assert min(maps) == 0 or max(maps) == 255  # the largest |v| maps to an end


def check_links(links: list[dict], summary: dict) -> None:
    small = [layer for layer in summary["layers"] if layer["weight_shape"]
             and math.prod(layer["weight_shape"]) <= 4096]
    assert [link["layer"] for link in links] == [layer["index"] for layer in small]
    for link, layer in zip(links, small, strict=True):
        assert link["shape"] == layer["weight_shape"]
        assert len(link["values"]) == math.prod(link["shape"])


def check_history(frame: dict, first: bool) -> None:
    history = frame["history"]
    assert history["replace"] is first
    for series in (history["steps"], history["evals"]):
        assert series["stride"] == 1
        assert len({len(v) for k, v in series.items() if k != "stride"}) == 1
    assert set(history["evals"]) == {"stride", "epoch", "step", "lr", "train_loss", "test_loss",
                                      "train_metric", "test_metric"}
    if first:
        evals = history["evals"]
        assert evals["step"] == [0] and evals["epoch"] == [0]
        assert evals["test_loss"] == [frame["test_loss"]]


@pytest.mark.parametrize("kind", CASES)
async def test_ready_and_frames_hold_every_documented_field(server, kind: str) -> None:
    extra, output_kind = CASES[kind]
    spec = {**extra, "data": {"kind": kind, "points": 200, **extra.get("data", {})},
            "network": {"layers": LAYERS}, "probes": {"grid": 40, "neuron_grid": 12}}
    async with connect_to(server) as client:
        ready = await client.start(spec, run=False)
        check_ready(ready, kind)
        summary = ready["summary"]
        first = await client.frame()
        later = await client.step(7)
        for frame, probed in ((first, False), (later, True)):
            assert set(frame) == FRAME_KEYS
            assert frame["metric"] == ("accuracy" if summary["task"] == "classification"
                                       else "r2")
            assert all(isinstance(frame[k], float) for k in ("train_loss", "test_loss", "lr"))
            check_layers(frame, summary, probed)
            check_output(frame["output"], output_kind, 40, summary["classes"])
            check_neurons(frame["neurons"], summary, 12, kind == "sine1d")
            check_links(frame["links"], summary)
            check_history(frame, first=frame is first)
        assert later["step"] == 7 and client.steps["step"] == list(range(1, 8))
        # `best` is the lowest epoch-end test loss so far: none until an epoch ends.
        assert first["best"] is None and later["best"] is None
        after = await client.step(2, unit="epoch")
        evals = client.evals
        lowest = min(range(len(evals["test_loss"])), key=lambda i: evals["test_loss"][i])
        assert after["best"] == {"test_loss": pytest.approx(evals["test_loss"][lowest]),
                                 "epoch": evals["epoch"][lowest], "step": evals["step"][lowest]}


async def test_schema_and_health_routes(server) -> None:
    schema = httpx.get(server.url + "/api/schema", timeout=10).json()
    linear = schema["$defs"]["LinearLayer"]["properties"]["units"]
    assert linear["maximum"] == 1024 and linear["minimum"] == 1
    assert schema["$defs"]["NetworkSpec"]["properties"]["layers"]["maxItems"] == 32
    sgd = schema["$defs"]["SGDSpec"]["properties"]["lr"]
    assert sgd["exclusiveMinimum"] == 0 and sgd["maximum"] == 100
    assert all(p.get("description") for p in schema["$defs"]["TrainingSpec"]["properties"]
               .values())
    status = health(server)
    assert status["status"] == "ok" and status["spec_version"] == 1
    assert status["max_sessions"] >= 1
