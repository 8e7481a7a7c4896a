"""The lessons over a real server: the catalogue as the page loads it, the activation gallery,
the bias/variance readout, and the gradient check of a live run over the WebSocket."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from wsclient import TIMEOUT, connect_to, mlp

from torchplay.spec.model import ExperimentSpec, patched

pytestmark = pytest.mark.anyio


def get(server: Any, path: str) -> httpx.Response:
    return httpx.get(server.url + path, timeout=TIMEOUT)


async def test_every_lesson_comes_with_complete_specs_the_server_starts(server) -> None:
    lessons = get(server, "/api/lessons").json()
    assert [lesson["number"] for lesson in lessons] == list(range(1, 26))
    for lesson in lessons:
        assert lesson["title"] and lesson["text"] and lesson["watch"]
        assert get(server, f"/api/lessons/{lesson['id']}").json() == lesson
        spec = ExperimentSpec.model_validate(lesson["spec"])
        assert spec.model_dump(mode="json") == lesson["spec"]  # complete: nothing left to fill
        for variant in lesson["variants"]:  # each patch turns the lesson's spec into its own
            own = ExperimentSpec.model_validate(patched(spec, variant["patch"]))
            assert own.model_dump(mode="json") == variant["spec"]
    comparisons = [lesson for lesson in lessons if lesson["variants"]]
    assert len(comparisons) >= 10
    # a search is a sweep: its base as the spec, no runs side by side, the sweep to train
    searches = [lesson for lesson in lessons if lesson["sweep"] is not None]
    assert [lesson["number"] for lesson in searches] == [21]
    search = searches[0]
    assert search["variants"] == [] and search["sweep"]["trials"] == 16
    assert search["sweep"] == get(server, "/api/lesson-sweeps/hyperparameter-search").json()[
        "sweep"]
    assert search["spec"]["network"] == search["sweep"]["base"]["network"]
    dropout = next(lesson for lesson in lessons if lesson["id"] == "dropout")
    assert [v["label"] for v in dropout["variants"]] == ["no dropout (p = 0)", "dropout p = 0.5"]
    # What the page sends: the lesson's spec and its variants, each started for real.
    async with connect_to(server) as client:
        for lesson in lessons:
            variants = [{"label": v["label"], "patch": v["patch"]} for v in lesson["variants"]]
            await client.send({"type": "start", "spec": lesson["spec"], "run": False,
                               **({"variants": variants} if variants else {})})
            ready = await client.until(lambda m: m["type"] in ("ready", "error"), "ready")
            assert ready["type"] == "ready", (lesson["id"], ready)
            assert len(ready.get("variants", [])) == len(variants)


async def test_an_unknown_lesson_is_a_404_naming_it(server) -> None:
    response = get(server, "/api/lessons/no-such-lesson")
    assert response.status_code == 404
    error = response.json()
    assert error["code"] == "not_found" and "no-such-lesson" in error["message"]


async def test_the_activation_gallery_has_f_and_its_derivative(server) -> None:
    gallery = get(server, "/api/activations?slope=0.2").json()
    xs = gallery["xs"]
    schema = get(server, "/api/schema").json()
    offered = schema["$defs"]["ActivationLayer"]["properties"]["fn"]["enum"]
    assert sorted(gallery["curves"]) == sorted(offered)
    at = {x: i for i, x in enumerate(xs)}
    leaky = gallery["curves"]["leaky_relu"]
    assert leaky["f"][at[-2.0]] == pytest.approx(-0.4) and leaky["df"][at[-2.0]] == 0.2
    assert gallery["curves"]["relu"]["df"][at[3.0]] == 1.0
    sigmoid = gallery["curves"]["sigmoid"]
    assert max(sigmoid["df"]) == pytest.approx(0.25)  # the most a sigmoid passes back
    assert get(server, "/api/activations?slope=-1").status_code == 422


async def test_the_diagnosis_reads_train_and_test_error(server) -> None:
    def diagnose(**errors: float) -> httpx.Response:
        return httpx.post(server.url + "/api/diagnosis", json=errors, timeout=TIMEOUT)

    assert diagnose(train_error=0.01, test_error=0.2).json()["verdict"] == "high variance"
    assert diagnose(train_error=0.3, test_error=0.31).json()["verdict"] == "high bias"
    refused = diagnose(train_error=1.5, test_error=0.2)
    assert refused.status_code == 422
    assert refused.json()["code"] == "invalid_request"
    assert refused.json()["field"] == "train_error"


SMALL = {"data": {"kind": "circle", "points": 100},
         "network": {"layers": [*mlp(4, fn="tanh"), {"type": "dropout", "p": 0.5},
                                {"type": "batchnorm"}]},
         "loss": {"kind": "bce"}}


async def test_gradient_check_of_a_live_run_agrees_with_finite_differences(server) -> None:
    async with connect_to(server) as client:
        await client.start(SMALL)
        await client.frame(lambda f: f["step"] >= 20)
        await client.send({"type": "check_gradients", "points": 16})
        report = await client.until(lambda m: m["type"] == "gradient_check", "gradient check")
        assert report["variant"] == 0 and report["step"] >= 20
        names = [(row["layer"], row["name"]) for row in report["layers"]]
        assert names == [(0, "weight"), (0, "bias"), (3, "weight"), (3, "bias"),
                         (4, "weight"), (4, "bias")]
        assert report["max_rel_diff"] < 1e-7
        assert max(row["rel_diff"] for row in report["layers"]) == report["max_rel_diff"]
        # The run went on training.
        step = report["step"]
        await client.frame(lambda f: f["step"] > step + 10)


async def test_gradient_check_picks_a_variant_and_refuses_what_it_cannot_check(server) -> None:
    async with connect(server.ws_url, max_size=None) as ws:
        async def ask(message: dict[str, Any]) -> dict[str, Any]:
            await ws.send(json.dumps(message))
            while True:
                answer = json.loads(await ws.recv())
                if answer["type"] in ("gradient_check", "error", "ready"):
                    return answer

        assert (await ask({"type": "check_gradients"}))["code"] == "no_session"
        spec = {"data": {"kind": "xor", "points": 100}, "network": {"layers": mlp(3)}}
        started = await ask({"type": "start", "spec": spec, "run": False, "variants": [
            {"label": "lr 0.03", "patch": {}},
            {"label": "two units", "patch": {"network": {"layers": mlp(2)}}}]})
        assert started["type"] == "ready"
        second = await ask({"type": "check_gradients", "variant": 1})
        assert second["variant"] == 1
        assert [row["numel"] for row in second["layers"]] == [4, 2, 4, 2]  # 2 inputs, 2 units
        missing = await ask({"type": "check_gradients", "variant": 2})
        assert missing["code"] == "invalid_message" and missing["field"] == "variant"
        bad = await ask({"type": "check_gradients", "points": 0})
        assert bad["field"] == "points"
        wide = {"data": {"kind": "circle"}, "network": {"layers": mlp(200, 200)}}
        assert (await ask({"type": "start", "spec": wide, "run": False}))["type"] == "ready"
        too_big = await ask({"type": "check_gradients"})
        assert too_big["code"] == "too_large" and "41,202 parameters" in too_big["message"]
