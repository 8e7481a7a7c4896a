"""A save's snapshot (engine/views.py): taken between two steps, it keeps the run as it was
then, however far the run trains before the snapshot is finished on another thread."""

from __future__ import annotations

import io

import torch

from torchplay.engine.group import Training
from torchplay.spec.model import ExperimentSpec

SPEC = ExperimentSpec.model_validate({"data": {"kind": "xor", "points": 200},
                                      "training": {"batch_size": 10}})


def test_a_snapshot_finished_later_records_the_run_as_it_was_when_taken() -> None:
    training = Training([SPEC], torch.device("cpu"))
    training.running = True
    for _ in range(30):
        training.step()
    snapshot = training.snapshot(0)
    run = training.runs[0]
    then = {k: v.clone() for k, v in run.model.state_dict().items()}
    steps_then = list(run.history.steps.data["step"])
    for _ in range(50):  # the run trains on before the save is written
        training.step()
    recording, weights = snapshot.finish()
    saved = torch.load(io.BytesIO(weights))
    assert saved.keys() == then.keys()
    assert all(torch.equal(saved[k], then[k]) for k in then)
    assert not all(torch.equal(saved[k], v) for k, v in run.model.state_dict().items())
    assert recording["run"]["step"] == 30 and recording["run"]["frame"]["step"] == 30
    assert recording["run"]["history"]["steps"]["step"] == steps_then
    assert len(recording["run"]["data"]["train_x"]) == 100  # its points, made off the worker


def test_recording_is_its_snapshot_finished_at_once() -> None:
    training = Training([SPEC], torch.device("cpu"))
    training.running = True
    for _ in range(12):
        training.step()
    recording, weights = training.recording(0)
    again, weights_again = training.snapshot(0).finish()
    assert again["run"]["history"] == recording["run"]["history"]
    assert again["run"]["data"] == recording["run"]["data"]
    assert again["spec"] == recording["spec"]
    first, second = torch.load(io.BytesIO(weights)), torch.load(io.BytesIO(weights_again))
    assert all(torch.equal(first[k], second[k]) for k in first)
