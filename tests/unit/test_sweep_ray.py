"""Sweeps on Ray: a local Ray (2 CPUs, started once for this module) trains a sweep's groups
of trials as Ray tasks running the in-process code, and every trial's result, curve and
summary equals in-process training bit for bit (CPU, compiled step off)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pytest
import ray

from torchplay.sweeps.remote import RaySweep, RayUnavailable, connect, train_group
from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

BACKEND = str(Path(__file__).resolve().parents[2] / "backend")
SWEEP = {"base": {"data": {"kind": "circle", "points": 100}, "training": {"batch_size": 10},
                  "probes": {"grid": 10, "neuron_grid": 4}},
         "parameters": [
             {"kind": "log_uniform", "path": "optimizer.lr", "low": 0.003, "high": 3.0},
             {"kind": "choice", "path": "network.layers.1.fn", "values": ["tanh", "relu"]}],
         "trials": 12, "epochs": 3, "seed": 5}


@pytest.fixture(scope="module")
def local_ray() -> Iterator[Any]:
    """One local Ray for the module (its workers import this checkout's torchplay)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": BACKEND}})
    yield ray
    ray.shutdown()


def test_a_sweeps_groups_train_as_ray_tasks_with_the_in_process_results(local_ray: Any) -> None:
    sweep = SweepSpec.model_validate(SWEEP)
    remote = RaySweep(sweep, "auto", compile=False, every=0.05)  # connected: the address unused
    assert remote.where == "ray" and len(remote.groups) == 2  # one batched group an activation
    assert remote.ready(1)["where"] == "ray" and remote.frame(0) is None
    summaries = []
    while remote.training.wants_work:  # as the Runner drives it
        remote.training.step()
        summaries.append(remote.summary())
    assert remote.done and remote.training.take_events() == []
    assert any(row[0] < 3 for rows in summaries for row in rows)  # progress came before the end

    local = SweepTraining(sweep)
    expected = local.run()
    assert [asdict(r) for r in remote.results()] == [asdict(r) for r in expected]  # bitwise
    assert remote.curves() == local.curves()
    assert remote.summary() == local.summary()
    assert remote.saved() == local.saved()
    message = remote.progress()
    assert message["done"] and message["next"] == local.progress()["next"]


def test_the_task_body_is_the_in_process_training_of_its_group_alone() -> None:
    """train_group (what each task runs) gives, for some trials of a sweep, what training
    those trials alone in-process gives: no Ray involved."""
    sweep = SweepSpec.model_validate({**SWEEP, "trials": 4})
    items = list(train_group(sweep.model_dump(mode="json"), [1, 3], every=0.01))
    last = items[-1]
    alone = SweepTraining(sweep, only=[1, 3])
    assert [asdict(r) for r in alone.run()] == last["results"]
    assert [r["index"] for r in last["results"]] == [1, 3]
    assert last["rows"] == alone.summary() and last["curves"] == alone.curves()


def test_a_cancelled_sweep_stops_and_says_why_once(local_ray: Any) -> None:
    """As when its client leaves: a sweep far from its end (1000 epochs) is cancelled, its
    tasks end without results, and the session stops with one `sweep_failed` event."""
    sweep = SweepSpec.model_validate({**SWEEP, "trials": 2, "epochs": 1000})
    remote = RaySweep(sweep, "auto")
    remote.cancel()
    while remote.training.wants_work:
        remote.training.step()
    assert not remote.done and remote.results() == []
    events = remote.training.take_events()
    assert [e["event"] for e in events] == ["sweep_failed"]
    assert "failed on Ray" in events[0]["message"]
    assert remote.training.take_events() == []


def test_an_address_without_a_cluster_is_refused_with_a_reason(monkeypatch: Any) -> None:
    monkeypatch.setattr(ray, "is_initialized", lambda: False)

    def refuse(**kwargs: Any) -> None:
        raise ConnectionError(f"no cluster at {kwargs.get('address')}")

    monkeypatch.setattr(ray, "init", refuse)
    with pytest.raises(RayUnavailable, match="ray://nowhere:10001 cannot be reached"):
        connect("ray://nowhere:10001")


def test_the_address_comes_from_the_flag_or_the_variable(monkeypatch: Any) -> None:
    from torchplay.cli import parse_args

    monkeypatch.delenv("TORCHPLAY_RAY_ADDRESS", raising=False)
    assert parse_args([])[0].ray_address is None  # in-process
    assert parse_args(["--ray-address", "ray://head:10001"])[0].ray_address == "ray://head:10001"
    monkeypatch.setenv("TORCHPLAY_RAY_ADDRESS", "auto")
    assert parse_args([])[0].ray_address == "auto"
