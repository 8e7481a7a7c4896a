"""Exported scripts of your own data: drawn points written into the script, an uploaded table
read from data.csv beside it; either way the script's points and network inputs are
torchplay's bit for bit, and plain Python trains to torchplay's losses and weights."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from test_export import ALLOWED_IMPORTS, engine_run, imported_modules, load_script
from test_projection import COLUMNS, separable_table

from torchplay.data.sources import TABLES, load_points
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec
from torchplay.store.export import script_for

CPU = torch.device("cpu")
RAW, _ = separable_table(n=300, seed=3)
TABLE_HASH = TABLES.add(RAW).hash
rng = np.random.default_rng(4)
DRAWN_X = rng.uniform(-6, 6, (60, 2)).round(3)

SPECS = {
    "drawn classes": {
        "data": {"kind": "drawn", "classes": 3, "noise": 0.3, "seed": 2, "test_shift": 0.25,
                 "drawn": {"x1": DRAWN_X[:, 0].tolist(), "x2": DRAWN_X[:, 1].tolist(),
                           "value": [i % 3 for i in range(60)]}},
        "features": {"inputs": ["x1", "x2", "x1_x2"]},
        "network": {"layers": [{"type": "linear", "units": 5}, {"type": "activation",
                                                                "fn": "relu"}]},
        "training": {"epochs": 6, "batch_size": 8}},
    "drawn values": {
        "data": {"kind": "drawn", "noise": 0.5, "drawn": {
            "task": "regression", "x1": DRAWN_X[:, 0].tolist(), "x2": DRAWN_X[:, 1].tolist(),
            "value": np.tanh(DRAWN_X[:, 0] / 3).round(2).tolist()}},
        "loss": {"kind": "mse"}, "training": {"epochs": 5}},
    "table, 8 inputs": {
        "data": {"kind": "table", "seed": 9, "train_fraction": 0.6, "table": {
            "hash": TABLE_HASH, "target": "label", "inputs": COLUMNS[::-1], "classes": 2}},
        "network": {"layers": [{"type": "linear", "units": 6}, {"type": "activation",
                                                                "fn": "tanh"}]},
        "optimizer": {"kind": "adam", "lr": 0.01}, "training": {"epochs": 4, "batch_size": 16}},
    "table, regression": {
        "data": {"kind": "table", "table": {"hash": TABLE_HASH, "target": "c0",
                                            "inputs": COLUMNS[1:], "task": "regression"}},
        "features": {"standardize": False}, "loss": {"kind": "huber"},
        "training": {"epochs": 3}},
}


def exported(spec: ExperimentSpec, tmp_path: Path) -> Path:
    path = tmp_path / "experiment.py"
    path.write_text(script_for(spec))
    if spec.data.table is not None:
        (tmp_path / "data.csv").write_bytes(RAW)  # what the export writes beside the script
    return path


@pytest.mark.parametrize("name", SPECS)
def test_the_scripts_points_and_inputs_are_torchplays(name: str, tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate(SPECS[name])
    script = load_script(exported(spec, tmp_path))
    theirs, ours = script.generate(script.DATA), load_points(spec.data)
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert np.array_equal(getattr(theirs, field), getattr(ours, field)), field
        assert getattr(theirs, field).dtype == getattr(ours, field).dtype
    session = TrainingSession(spec, CPU)
    x_train, y_train, x_test, y_test = script.prepare()
    assert torch.equal(x_train, session.x_train) and torch.equal(x_test, session.x_test)
    assert torch.equal(y_train, session.y_train) and torch.equal(y_test, session.y_test)


@pytest.mark.parametrize("name", ["drawn classes", "table, 8 inputs"])
def test_the_script_run_by_plain_python_reaches_torchplays_run(name: str,
                                                               tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate(SPECS[name])
    path = exported(spec, tmp_path)
    assert imported_modules(path.read_text()) <= ALLOWED_IMPORTS | {"hashlib", "os"}
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(path), "--weights", "weights.pt"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = dict(re.findall(r"(\w+)=(\S+)", done.stdout.splitlines()[-1]))
    assert spec.training.epochs is not None
    session = engine_run(spec, spec.training.epochs)
    evals = session.history.evals.data
    assert int(final["step"]) == session.step_count
    assert float(final["train_loss"]) == pytest.approx(evals["train_loss"][-1], rel=1e-5)
    assert float(final["test_loss"]) == pytest.approx(evals["test_loss"][-1], rel=1e-5)
    weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    for key, value in session.model.state_dict().items():
        assert torch.allclose(weights[key], value, rtol=1e-5, atol=1e-6), key


def test_the_script_refuses_another_table(tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate(SPECS["table, 8 inputs"])
    path = exported(spec, tmp_path)
    (tmp_path / "data.csv").write_bytes(RAW + b"0,0,0,0,0,0,0,0,no\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "is not the table this experiment trained on" in done.stderr
