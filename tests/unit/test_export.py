"""Exports: the standalone script makes torchplay's run with plain torch; the metrics CSV; and
the determinism that both rely on (same spec, same run)."""

from __future__ import annotations

import ast
import csv
import importlib.util
import io
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from torchplay.data.toy import generate
from torchplay.engine.build import build_model
from torchplay.engine.history import Cursor
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec
from torchplay.store.export import metrics_csv, script_for

CPU = torch.device("cpu")
# Imports a standalone script may make: the standard library's and numpy's and torch's.
ALLOWED_IMPORTS = {"__future__", "argparse", "csv", "io", "math", "collections", "dataclasses",
                   "types", "typing", "numpy", "torch"}

SPECS = {
    "circle, tanh, SGD": {
        "data": {"kind": "circle", "noise": 0.1},
        "network": {"layers": [{"type": "linear", "units": 8}, {"type": "activation", "fn": "tanh"},
                               {"type": "linear", "units": 4},
                               {"type": "activation", "fn": "tanh"}]},
        "optimizer": {"kind": "sgd", "lr": 0.1, "momentum": 0.5}, "training": {"epochs": 15}},
    "spiral, 3 classes, relu, Adam, dropout, batchnorm": {
        "data": {"kind": "spiral", "classes": 3, "noise": 0.2, "seed": 3},
        "network": {"layers": [{"type": "linear", "units": 32}, {"type": "batchnorm"},
                               {"type": "activation", "fn": "relu"},
                               {"type": "dropout", "p": 0.2},
                               {"type": "linear", "units": 16,
                                "init": {"kind": "kaiming_normal"}},
                               {"type": "activation", "fn": "relu"}]},
        "optimizer": {"kind": "adam", "lr": 0.01},
        "training": {"epochs": 12, "batch_size": 32, "seed": 7}},
    "sine1d, polynomial features, MSE, cosine schedule, L2": {
        "data": {"kind": "sine1d", "noise": 0.3, "points": 300},
        "features": {"degree": 5},
        "network": {"layers": [{"type": "linear", "units": 16},
                               {"type": "activation", "fn": "tanh"}]},
        "loss": {"kind": "mse"}, "optimizer": {"kind": "sgd", "lr": 0.05},
        "schedule": {"kind": "cosine", "t_max": 20, "eta_min": 0.001},
        "regularization": {"l2": 0.001}, "training": {"epochs": 20, "batch_size": 16}},
    "batchnorm with a lone last point (21 training points, batch 10)": {
        "data": {"kind": "gauss", "points": 42},
        "network": {"layers": [{"type": "linear", "units": 6}, {"type": "batchnorm"},
                               {"type": "activation", "fn": "tanh"}]},
        "training": {"epochs": 5, "batch_size": 10}},
}



def engine_run(spec: ExperimentSpec, epochs: int) -> TrainingSession:
    """torchplay's own run: a TrainingSession on the CPU trained for `epochs` epochs."""
    session = TrainingSession(spec, CPU)
    session.request(epochs, "epoch")
    while session.wants_work:
        session.step()
    return session


def load_script(path: Path) -> ModuleType:
    """Import an exported script as a module (its main() does not run)."""
    found = importlib.util.spec_from_file_location(f"exported_{path.stem}", path)
    assert found is not None and found.loader is not None
    module = importlib.util.module_from_spec(found)
    sys.modules[found.name] = module  # dataclasses look their module up
    found.loader.exec_module(module)
    return module


def imported_modules(source: str) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0])
    return names


# --- determinism -----------------------------------------------------------------------------

def test_the_same_spec_twice_gives_identical_losses() -> None:
    spec = ExperimentSpec.model_validate(SPECS["spiral, 3 classes, relu, Adam, dropout, "
                                               "batchnorm"])
    first, second = TrainingSession(spec, CPU), TrainingSession(spec, CPU)
    for session in (first, second):
        session.request(4, "epoch")
    # Interleaved, as sessions on one worker are: each draws from its own generators only.
    while first.wants_work or second.wants_work:
        for session in (first, second):
            if session.wants_work:
                session.step(probe=session is first)  # measuring never changes the run
        if first.step_count % 10 == 0:
            first.frame()
    assert first.history.steps.data["loss"] == second.history.steps.data["loss"]
    assert first.history.evals.data == second.history.evals.data
    assert len(first.history.steps.data["loss"]) == 4 * first.steps_per_epoch


# --- the standalone script -------------------------------------------------------------------

@pytest.mark.parametrize("name", SPECS)
def test_the_script_run_by_plain_python_reaches_torchplays_loss(name: str,
                                                                 tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate(SPECS[name])
    epochs = spec.training.epochs
    assert epochs is not None
    script = script_for(spec)
    assert imported_modules(script) <= ALLOWED_IMPORTS  # no torchplay, nothing else to install
    path = tmp_path / "experiment.py"
    path.write_text(script)
    # No torchplay on the path: PYTHONPATH dropped, run from an empty directory.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, str(path), "--csv", "curves.csv",
                           "--weights", "weights.pt"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = dict(re.findall(r"(\w+)=(\S+)", done.stdout.splitlines()[-1]))

    session = engine_run(spec, epochs)
    evals = session.history.evals.data
    assert int(final["epoch"]) == session.epoch == epochs
    assert int(final["step"]) == session.step_count
    engine_loss = evals["train_loss"][-1]
    assert engine_loss is not None
    assert float(final["train_loss"]) == pytest.approx(engine_loss, rel=1e-5)
    assert float(final["test_loss"]) == pytest.approx(evals["test_loss"][-1], rel=1e-5)

    # The whole curve agrees too, row by row, in torchplay's own CSV layout.
    metric = "r2" if spec.data.task == "regression" else "accuracy"
    ours = list(csv.reader(io.StringIO(metrics_csv(session.history.since(Cursor())[0], metric))))
    theirs = list(csv.reader((tmp_path / "curves.csv").open()))
    assert theirs[0] == ours[0] and len(theirs) == len(ours)
    for mine, exported in zip(ours[1:], theirs[1:], strict=True):
        assert [c == "" for c in mine] == [c == "" for c in exported]
        assert np.allclose([float(c) for c in exported if c], [float(c) for c in mine if c],
                           rtol=1e-5, atol=1e-7)

    weights = torch.load(tmp_path / "weights.pt", weights_only=True)
    engine_weights = session.model.state_dict()
    assert weights.keys() == engine_weights.keys()
    for key, value in engine_weights.items():
        assert torch.allclose(weights[key], value, rtol=1e-5, atol=1e-6), key


@pytest.mark.parametrize("kind", ["circle", "xor", "gauss", "spiral", "moons", "checkerboard",
                                  "plane", "multi_gauss", "poly1d", "sine1d"])
def test_the_scripts_points_are_torchplays_for_every_dataset(kind: str, tmp_path: Path) -> None:
    loss = "cross_entropy" if kind in ("circle", "xor", "gauss", "spiral", "moons",
                                       "checkerboard") else "mse"
    spec = ExperimentSpec.model_validate({
        "data": {"kind": kind, "noise": 0.4, "seed": 5, "points": 200, "test_shift": 0.5},
        "features": {"inputs": ["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"],
                     "degree": 4},
        "loss": {"kind": loss}})
    path = tmp_path / f"{kind}.py"
    path.write_text(script_for(spec))
    script = load_script(path)
    theirs, ours = script.generate(script.DATA), generate(spec.data)
    for field in ("train_x", "train_y", "test_x", "test_y"):
        assert np.array_equal(getattr(theirs, field), getattr(ours, field)), field
        assert getattr(theirs, field).dtype == getattr(ours, field).dtype
    session = TrainingSession(spec, CPU)
    x_train, y_train, x_test, y_test = script.prepare()
    assert torch.equal(x_train, session.x_train) and torch.equal(x_test, session.x_test)
    assert torch.equal(y_train, session.y_train) and torch.equal(y_test, session.y_test)


def test_the_scripts_model_starts_from_torchplays_weights(tmp_path: Path) -> None:
    """Every initializer, every activation, with and without bias, in one network."""
    inits: list[dict[str, Any]] = [
        {"kind": "default"}, {"kind": "zeros"}, {"kind": "constant", "value": 0.3},
        {"kind": "normal", "mean": 0.1, "std": 0.5}, {"kind": "uniform", "a": -0.2, "b": 0.4},
        {"kind": "xavier_uniform", "gain": 1.5}, {"kind": "xavier_normal"},
        {"kind": "kaiming_uniform", "mode": "fan_out", "nonlinearity": "leaky_relu"},
        {"kind": "kaiming_normal", "nonlinearity": "tanh"}, {"kind": "orthogonal", "gain": 0.8}]
    biases = [{"kind": "default"}, {"kind": "zeros"}, {"kind": "constant", "value": -0.1}]
    functions = ["relu", "leaky_relu", "prelu", "elu", "gelu", "silu", "sigmoid", "tanh",
                 "softplus", "identity"]
    layers: list[dict[str, Any]] = []
    for i, init in enumerate(inits):
        layers.append({"type": "linear", "units": 3 + i % 4, "init": init,
                       "bias_init": biases[i % 3], "bias": i != 4})
        layers.append({"type": "activation", "fn": functions[i], "slope": 0.2})
    layers[3:3] = [{"type": "layernorm"}, {"type": "batchnorm", "momentum": 0.3},
                   {"type": "dropout", "p": 0.1}]
    spec = ExperimentSpec.model_validate({
        "network": {"layers": layers, "output_init": {"kind": "normal", "std": 0.2}},
        "loss": {"kind": "bce"}})
    path = tmp_path / "model.py"
    path.write_text(script_for(spec))
    script = load_script(path)
    theirs = script.build_model(torch.Generator().manual_seed(11), torch.Generator())
    ours = build_model(spec, torch.Generator().manual_seed(11), torch.Generator())
    assert [type(m).__name__ for m in theirs] == [type(m).__name__ for m in ours]
    assert theirs.state_dict().keys() == ours.state_dict().keys()
    for key, value in ours.state_dict().items():
        assert torch.equal(theirs.state_dict()[key], value), key


def test_the_script_carries_the_spec_and_nothing_else_of_the_user() -> None:
    spec = ExperimentSpec.model_validate({"data": {"kind": "moons", "noise": 0.25}})
    script = script_for(spec)
    compile(script, "experiment.py", "exec")
    assert '"kind": "moons"' in script and "noise=0.25" in script
    assert "torchplay import" not in script and "import torchplay" not in script
    assert "default=100" in script  # a spec without an epoch limit trains 100 epochs


# --- the metrics CSV -------------------------------------------------------------------------

def test_the_metrics_csv_has_a_row_per_step_and_evaluations_where_recorded() -> None:
    history = {
        "steps": {"stride": 1, "step": [1, 2], "loss": [0.9, 0.7]},
        "evals": {"stride": 1, "epoch": [0, 1], "step": [0, 2], "lr": [0.1, 0.05],
                  "train_loss": [1.0, 0.6], "test_loss": [1.1, None],
                  "train_metric": [0.5, 0.75], "test_metric": [0.4, 0.7]}}
    assert metrics_csv(history, "accuracy") == (
        "step,epoch,lr,batch_loss,train_loss,test_loss,train_accuracy,test_accuracy\n"
        "0,0,0.1,,1.0,1.1,0.5,0.4\n"
        "1,,,0.9,,,,\n"
        "2,1,0.05,0.7,0.6,,0.75,0.7\n")
