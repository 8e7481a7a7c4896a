"""The plane through data with more than two inputs: projection.py against numpy's own
linear algebra, and a table separable along two known directions of an 8-D space, trained
end to end: on the principal plane the classes lie apart and the model's output separates them.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest

from torchplay.data import projection
from torchplay.data.sources import TABLES, TableShelf, load_points
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec

COLUMNS = [f"c{i}" for i in range(8)]


def test_principal_plane_matches_the_covariance_eigenvectors() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((400, 8)) * np.array([5, 3, 1, 1, 0.5, 0.5, 0.2, 0.1])
    plane = projection.principal_plane(x, COLUMNS)
    values, vectors = np.linalg.eigh(np.cov(x.T, bias=True))
    top = vectors[:, ::-1][:, :2].T
    assert np.allclose(np.abs(plane.axes @ top.T), np.eye(2), atol=1e-8)
    assert plane.explained == pytest.approx(values[::-1][:2].sum() / values.sum())
    assert plane.labels == ("PC1", "PC2")
    assert np.allclose(plane.axes @ plane.axes.T, np.eye(2))


def test_project_and_lift_are_inverse_on_the_plane() -> None:
    rng = np.random.default_rng(2)
    x = rng.standard_normal((50, 5))
    plane = projection.principal_plane(x, COLUMNS[:5])
    uv = rng.standard_normal((20, 2))
    assert np.allclose(projection.project(plane, projection.lift(plane, uv)), uv)
    # off the plane, lifting the projection keeps the other directions at the mean
    lifted = projection.lift(plane, projection.project(plane, x))
    assert np.allclose(projection.project(plane, lifted), projection.project(plane, x))


def test_column_plane_shows_two_columns() -> None:
    x = np.array([[0.0, 1, 2], [2, 3, 4], [4, 5, 9]])
    plane = projection.column_plane(x, ["a", "b", "c"], 2, 0)
    assert plane.labels == ("c", "a")
    assert np.allclose(projection.project(plane, x), np.stack([x[:, 2], x[:, 0]], 1)
                       - [x[:, 2].mean(), x[:, 0].mean()])
    var = x.var(axis=0)
    assert plane.explained == pytest.approx((var[2] + var[0]) / var.sum())
    with pytest.raises(ValueError):
        projection.column_plane(x, ["a", "b", "c"], 1, 1)


def separable_table(n: int = 600, seed: int = 0) -> tuple[bytes, np.ndarray]:
    """8 columns of noise, and a class that is the sign of a projection onto a direction
    inside the plane spanned by two known (wide) directions; the rest is narrow noise."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    d1, d2 = basis[:, 0], basis[:, 1]
    a, b = rng.uniform(-3, 3, n), rng.uniform(-3, 3, n)
    label = (a + 0.5 * b > 0).astype(int)
    a += np.where(label == 1, 0.6, -0.6)  # a margin between the classes
    noise = rng.standard_normal((n, 8)) * 0.1
    x = np.outer(a, d1) + np.outer(b, d2) + noise
    out = io.StringIO()
    out.write(",".join(COLUMNS) + ",label\n")
    for row, y in zip(x, label, strict=True):
        out.write(",".join(f"{v:.6f}" for v in row) + f",{'yes' if y else 'no'}\n")
    return out.getvalue().encode(), np.stack([d1, d2])


def test_eight_inputs_train_and_the_plane_shows_the_classes_apart() -> None:
    raw, _ = separable_table()
    shelf = TableShelf()
    table = shelf.add(raw)
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "table", "train_fraction": 0.7, "table": {
            "hash": table.hash, "target": "label", "inputs": COLUMNS, "classes": 2}},
        "features": {"standardize": False},
        "network": {"layers": [{"type": "linear", "units": 8}, {"type": "activation",
                                                                "fn": "tanh"}]},
        "optimizer": {"kind": "adam", "lr": 0.01}, "training": {"batch_size": 32},
        "probes": {"grid": 40}})
    points = load_points(spec.data, shelf)
    assert points.columns == COLUMNS and points.class_names == ["no", "yes"]

    TABLES.add(raw)  # a session reads the process's shelf, as a server's runs do
    session = TrainingSession(spec)
    data = session.dataset()
    assert data["plane"]["labels"] == ["PC1", "PC2"] and data["plane"]["inputs"] == 8
    assert data["plane"]["explained"] > 0.95  # two wide directions, six narrow ones

    # On the plane a straight line (least squares) parts the classes.
    uv, y = np.array(data["train_x"]), np.array(data["train_y"])
    w = np.linalg.lstsq(np.c_[uv, np.ones(len(uv))], 2.0 * y - 1, rcond=None)[0]
    assert ((np.c_[uv, np.ones(len(uv))] @ w > 0) == (y == 1)).mean() > 0.98

    for _ in range(600):
        session.step()
    frame = session.frame()
    assert frame["test_metric"] > 0.97
    # The model's output on the plane separates the projected points: look up each point's
    # cell in the output grid and compare the predicted class with its label.
    view = frame["output"]
    assert view["kind"] == "probability"
    n = view["size"]
    grid = np.frombuffer(base64.b64decode(view["values"]), np.uint8)
    grid = grid.reshape(n, n) / 255.0
    x_min, x_max, y_min, y_max = view["extent"]
    tx, ty = np.array(data["test_x"]), np.array(data["test_y"])
    col = np.clip(((tx[:, 0] - x_min) / (x_max - x_min) * n).astype(int), 0, n - 1)
    row = np.clip(((y_max - tx[:, 1]) / (y_max - y_min) * n).astype(int), 0, n - 1)
    assert ((grid[row, col] > 0.5) == (ty == 1)).mean() > 0.95
    assert len(frame["neurons"]) > 0
