"""The large-data frame contract and the image views, through a real server and socket:
`ready` carries a bounded sample, frames between epochs evaluate a fixed sample and say so,
image views travel once per version and within their stated size, and a set that is not
installed is refused with how to get it."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest
from wsclient import connect_to

from torchplay.engine.imageviews import MAX_VIEW_BYTES
from torchplay.engine.largedata import FRAME_SAMPLE, READY_VALUES

pytestmark = pytest.mark.anyio

SMALL_NET = {"layers": [{"type": "linear", "units": 32}, {"type": "activation", "fn": "relu"}]}


def fashion(**training: Any) -> dict[str, Any]:
    return {"data": {"kind": "fashion_mnist", "points": 60_000}, "network": SMALL_NET,
            "optimizer": {"kind": "sgd", "lr": 0.1},
            "training": {"batch_size": 256, **training}}


def check_images(images: dict[str, Any], classes: int, side: int, units: int) -> None:
    assert len(json.dumps(images)) <= MAX_VIEW_BYTES
    confusion = images["confusion"]
    assert len(confusion) == classes and all(len(row) == classes for row in confusion)
    assert sum(map(sum, confusion)) == images["evaluated_on"]
    per_class = images["per_class"]
    for k, row in enumerate(confusion):  # per-class accuracy is the matrix's own diagonal
        assert per_class[k] == pytest.approx(row[k] / sum(row)) if sum(row) else \
            per_class[k] is None
    tiles = images["tiles"]
    assert (tiles["units"], tiles["shown"], tiles["height"], tiles["width"]) == \
        (units, units, side, side)
    assert len(base64.b64decode(tiles["values"])) == units * side * side
    grid = images["grid"]
    shown = len(grid["index"])
    assert len(base64.b64decode(grid["pixels"])) == shown * side * side
    wrong = [p != y for p, y in zip(grid["predicted"], grid["label"], strict=True)]
    # Mistakes first: every wrong prediction shown comes before every right one.
    assert wrong == sorted(wrong, reverse=True)
    assert sum(wrong) == min(grid["mistakes"], shown)


async def test_fashion_mnist_frames_follow_the_large_data_contract(server: Any) -> None:
    async with connect_to(server) as client:
        ready = await client.start(fashion(), fps=20)
        data = ready["data"]
        assert data["sampled"] and data["train_count"] == 60_000 and \
            data["test_count"] == 10_000
        assert data["image_shape"] == [28, 28] and len(data["columns"]) == 784
        assert data["class_names"][9] == "Ankle boot"
        assert 784 * len(data["train_x"]) <= READY_VALUES and len(data["train_x"]) >= 1
        assert ready["summary"]["features"] == data["columns"]
        versions, sizes = [], []
        frame = await client.frame(lambda f: f["images"] is not None, "frame with images")
        while len(versions) < 2:
            sizes.append(len(json.dumps(frame)))
            assert frame["evaluated_on"] == {"train": FRAME_SAMPLE, "test": FRAME_SAMPLE,
                                             "sample": True}
            assert frame["output"] is None and frame["neurons"] == []
            if frame["images"] is not None:
                check_images(frame["images"], 10, 28, 32)
                versions.append(frame["images"]["version"])
            frame = await client.frame()
        assert versions[1] > versions[0]  # each version sent once, then null until it changes
        await client.pause()
        # Epoch ends evaluate the whole sets: the history rows are the curves' points.
        frame = await client.step(1, "epoch")
        assert client.evals["epoch"] == list(range(frame["epoch"] + 1))
        assert max(sizes) < MAX_VIEW_BYTES + 20_000


async def test_digits_frames_evaluate_the_whole_sets(server: Any) -> None:
    spec = {"data": {"kind": "digits", "points": 1797}, "network": SMALL_NET,
            "training": {"batch_size": 32}}
    async with connect_to(server) as client:
        ready = await client.start(spec, run=False)
        assert ready["data"]["train_count"] == 898 and ready["data"]["image_shape"] == [8, 8]
        await client.frame()
        frame = await client.step(20)
        assert frame["evaluated_on"] == {"train": 898, "test": 899, "sample": False}
        check_images(frame["images"], 10, 8, 32)
        assert frame["images"]["evaluated_on"] == 899


async def test_a_table_trains_on_its_columns_shown_on_its_principal_plane(server: Any) -> None:
    """A tabular set with more than 2 inputs is drawn as an uploaded table is: the model's
    output on the plane of the first two principal components, the points projected."""
    spec = {"data": {"kind": "diabetes"}, "loss": {"kind": "mse"}, "network": SMALL_NET}
    async with connect_to(server) as client:
        ready = await client.start(spec, run=False)
        assert ready["summary"]["features"][:3] == ["age", "sex", "bmi"]
        assert ready["summary"]["layers"][0]["weight_shape"] == [32, 10]
        plane = ready["data"]["plane"]
        assert plane["labels"] == ["PC1", "PC2"] and plane["inputs"] == 10
        assert 0 < plane["explained"] < 1
        assert all(len(point) == 2 for point in ready["data"]["train_x"])
        await client.frame()
        frame = await client.step(5)
        assert frame["metric"] == "r2" and frame["images"] is None
        assert frame["output"]["kind"] == "value" and frame["neurons"]


@pytest.fixture(scope="module")
def bare(server_factory: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any]:
    """A server whose --data-dir holds nothing (Debian's Fashion-MNIST is still found)."""
    empty = tmp_path_factory.mktemp("empty-data")
    return server_factory("--data-dir", str(empty)), empty


async def test_a_missing_set_says_how_to_get_it(bare: tuple[Any, Any]) -> None:
    other, empty = bare
    async with connect_to(other) as client:
        await client.send({"type": "start", "spec": {"data": {"kind": "mnist"}}})
        error = await client.error()
        assert error["code"] == "invalid_spec" and error["field"] == "spec.data.kind"
        assert "MNIST is not on this server" in error["message"]
        assert f"{empty}/mnist" in error["message"] and "--data-dir DIR" in error["message"]


async def test_the_picker_learns_which_sets_are_here(bare: tuple[Any, Any]) -> None:
    other, empty = bare
    async with httpx.AsyncClient(base_url=other.url, timeout=20) as http:
        sets = {entry["kind"]: entry for entry in (await http.get("/api/datasets")).json()}
    assert sets["circle"]["x"] and "library" not in sets["circle"]
    assert sets["digits"]["library"] and sets["digits"]["available"]
    assert (sets["digits"]["size"], sets["digits"]["inputs"], sets["digits"]["image"]) == \
        (1797, 64, True)
    assert sets["fashion_mnist"]["available"]  # Debian's package, which CI installs
    mnist = sets["mnist"]
    assert not mnist["available"] and "--data-dir DIR" in mnist["how_to_get"]
    assert str(empty / "mnist") in mnist["how_to_get"]


async def test_a_saved_digits_run_keeps_its_views_and_exports_its_loader(server: Any) -> None:
    spec = {"data": {"kind": "digits", "points": 1797}, "network": SMALL_NET}
    async with connect_to(server) as client:
        await client.start(spec, run=False)
        await client.frame()
        await client.step(30)
        await client.send({"type": "save", "name": "digits"})
        saved = await client.until(lambda m: m["type"] in ("saved", "error"), "saved")
        assert saved["type"] == "saved", saved
    async with httpx.AsyncClient(base_url=server.url, timeout=20) as http:
        stored = (await http.get(f"/api/experiments/{saved['id']}")).json()
        run = stored["run"]
        assert run["data"]["image_shape"] == [8, 8] and run["data"]["sampled"]
        assert run["frame"]["images"]["step"] == 30 == run["step"]
        script = (await http.get(f"/api/experiments/{saved['id']}/script.py")).text
    assert "load_digits()" in script and "scikit-learn" in script
