"""Exports of runs on library sets name the set and load it as torchplay does: the script's
inputs are torchplay's, tensor for tensor, and its run reaches torchplay's losses."""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch
from test_library import write_set

from torchplay.data.cache import SHARED
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec
from torchplay.store.export import script_for

SMALL_NET = {"layers": [{"type": "linear", "units": 8}, {"type": "activation", "fn": "relu"}]}


def load_script(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def same_inputs(spec: ExperimentSpec, script: ModuleType) -> None:
    session = TrainingSession(spec, torch.device("cpu"))
    x_train, y_train, x_test, y_test = script.prepare()
    assert torch.equal(x_train, session.x_train) and torch.equal(x_test, session.x_test)
    assert torch.equal(y_train, session.y_train) and torch.equal(y_test, session.y_test)


@pytest.mark.parametrize("kind", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_a_scikit_learn_sets_script_loads_torchplays_points(kind: str, tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate({
        "data": {"kind": kind, "points": 300, "seed": 4, "train_fraction": 0.7},
        "loss": {"kind": "mse" if kind == "diabetes" else "cross_entropy"},
        "network": SMALL_NET})
    script = script_for(spec)
    assert "scikit-learn" in script.split('"""')[1]  # the docstring says what it needs
    path = tmp_path / f"{kind}.py"
    path.write_text(script)
    same_inputs(spec, load_script(path))


def test_an_idx_sets_script_finds_the_files_where_torchplay_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(tmp_path / "mnist", 50, 20, gz=True)
    monkeypatch.setattr(SHARED, "data_dir", tmp_path)
    monkeypatch.setenv("TORCHPLAY_DATA_DIR", str(tmp_path))
    spec = ExperimentSpec.model_validate({"data": {"kind": "mnist", "points": 40},
                                          "network": SMALL_NET})
    path = tmp_path / "mnist.py"
    path.write_text(script_for(spec))
    assert "MNIST IDX files" in path.read_text().split('"""')[1]
    same_inputs(spec, load_script(path))
    monkeypatch.setenv("TORCHPLAY_DATA_DIR", str(tmp_path / "elsewhere"))
    with pytest.raises(SystemExit, match="set TORCHPLAY_DATA_DIR=DIR"):
        load_script(path).prepare()


def test_the_digits_lessons_script_reaches_torchplays_loss(tmp_path: Path) -> None:
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "digits", "points": 1797, "train_fraction": 0.8},
        "network": SMALL_NET, "optimizer": {"kind": "sgd", "lr": 0.1},
        "training": {"batch_size": 32, "epochs": 3}})
    path = tmp_path / "digits.py"
    path.write_text(script_for(spec))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no torchplay
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = dict(re.findall(r"(\w+)=(\S+)", done.stdout.splitlines()[-1]))
    session = TrainingSession(spec, torch.device("cpu"), traced=False)
    session.request(3, "epoch")
    while session.wants_work:
        session.step()
    evals = session.history.evals.data
    assert float(final["train_loss"]) == pytest.approx(evals["train_loss"][-1], rel=1e-5)
    assert float(final["test_accuracy"]) == pytest.approx(evals["test_metric"][-1], abs=1e-6)


def test_a_large_sets_script_reports_the_epochs_mini_batches_as_torchplay_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_set(tmp_path / "mnist", 3000, 200, gz=False)  # 3,000 x 784 numbers: a large set
    monkeypatch.setattr(SHARED, "data_dir", tmp_path)
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "mnist", "points": 3200}, "network": SMALL_NET,
        "optimizer": {"kind": "sgd", "lr": 0.1}, "training": {"batch_size": 64, "epochs": 2}})
    path = tmp_path / "large.py"
    path.write_text(script_for(spec))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # no torchplay
    env["TORCHPLAY_DATA_DIR"] = str(tmp_path)
    done = subprocess.run([sys.executable, str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = dict(re.findall(r"(\w+)=(\S+)", done.stdout.splitlines()[-1]))
    session = TrainingSession(spec, torch.device("cpu"), traced=False)
    assert session.run.tallies
    session.request(2, "epoch")
    while session.wants_work:
        session.step()
    evals = session.history.evals.data
    assert float(final["train_loss"]) == pytest.approx(evals["train_loss"][-1], rel=1e-5)
    assert float(final["train_accuracy"]) == pytest.approx(evals["train_metric"][-1], abs=1e-6)
    assert float(final["test_accuracy"]) == pytest.approx(evals["test_metric"][-1], abs=1e-6)
