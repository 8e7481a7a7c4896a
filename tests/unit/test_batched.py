"""Runs side by side: each batched variant must make the run it would make alone."""

from __future__ import annotations

import pytest
import torch

from torchplay.engine.group import Training
from torchplay.engine.run import Run
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers.batched import BatchedStepper, check_batchable, predicted_classes
from torchplay.spec.model import ExperimentSpec, SpecError, apply_patch, merge_patch

CPU = torch.device("cpu")


def variants(base: dict, patches: list[dict]) -> list[ExperimentSpec]:
    return [ExperimentSpec.model_validate(merge_patch(base, p)) for p in patches]


def lone_run(spec: ExperimentSpec, steps: int, probe_at: int) -> TrainingSession:
    session = TrainingSession(spec, CPU)
    for i in range(steps):
        session.step(probe=i == probe_at)
    return session


def batch_run(specs: list[ExperimentSpec], steps: int, probe_at: int = -1) -> Training:
    """The specs side by side, as one batch, after `steps` steps; read back."""
    batch = Training(specs, CPU)
    assert batch.batched
    for i in range(steps):
        batch.step(probe=i == probe_at)
    batch.read_all()
    return batch


def stepper(training: Training) -> BatchedStepper:
    (batch,) = training.steppers
    assert isinstance(batch, BatchedStepper)
    return batch


def assert_same_step_losses(together: Run | TrainingSession, alone: TrainingSession) -> None:
    torch.testing.assert_close(together.history.steps.data["loss"],
                               alone.history.steps.data["loss"], rtol=1e-4, atol=1e-5)


def assert_same_column(mine: list[float | None], theirs: list[float | None], column: str
                       ) -> None:
    """Per-layer statistics agree: None (a layer without that figure) exactly, numbers to float
    tolerance. pytest.approx refuses lists that hold None (pytest >= 9.2)."""
    assert [v is None for v in mine] == [v is None for v in theirs], column
    assert [v for v in mine if v is not None] == pytest.approx(
        [v for v in theirs if v is not None], rel=1e-3, abs=1e-6), column


TANH_SGD = {"data": {"points": 200}, "training": {"batch_size": 10}}
RELU_ADAM_DROPOUT = {
    "data": {"kind": "spiral", "classes": 3, "points": 300},
    "network": {"layers": [{"type": "linear", "units": 16}, {"type": "activation", "fn": "relu"},
                           {"type": "dropout", "p": 0.2}, {"type": "linear", "units": 8},
                           {"type": "activation", "fn": "leaky_relu"}]},
    "optimizer": {"kind": "adam", "lr": 0.01}, "training": {"batch_size": 16}}
SINE_MOMENTUM = {
    "data": {"kind": "sine1d", "points": 120, "noise": 0.1}, "loss": {"kind": "huber"},
    "features": {"degree": 3},
    "network": {"layers": [{"type": "linear", "units": 12}, {"type": "activation", "fn": "tanh"}]},
    "optimizer": {"kind": "sgd", "lr": 0.05, "momentum": 0.9, "nesterov": True},
    "schedule": {"kind": "step", "step_size": 2, "gamma": 0.5}, "training": {"batch_size": 8}}


@pytest.mark.parametrize("base, patches", [
    (TANH_SGD, [{}, {"optimizer": {"lr": 0.3}}, {"training": {"seed": 7}},
                {"network": {"layers": [{"type": "linear", "units": 4, "init": {
                    "kind": "normal", "std": 2.0}}, {"type": "activation", "fn": "tanh"},
                    {"type": "linear", "units": 2}, {"type": "activation", "fn": "tanh"}]}},
                {"regularization": {"l2": 0.01, "l1": 0.001}},
                {"data": {"noise": 0.3, "seed": 3}}]),
    (RELU_ADAM_DROPOUT, [{}, {"optimizer": {"lr": 0.003, "beta1": 0.5, "weight_decay": 0.01}},
                         {"optimizer": {"kind": "adam"}, "training": {"seed": 2}}]),
    ({**RELU_ADAM_DROPOUT, "optimizer": {"kind": "adamw", "lr": 0.01, "weight_decay": 0.1}},
     [{}, {"optimizer": {"weight_decay": 0.0}}]),
    ({**TANH_SGD, "loss": {"kind": "bce"}}, [{}, {"optimizer": {"lr": 0.3}}]),  # one output
    (SINE_MOMENTUM, [{}, {"optimizer": {"momentum": 0.5, "nesterov": False, "dampening": 0.1}},
                     {"optimizer": {"momentum": 0.0, "nesterov": False}}]),
])
def test_each_variant_equals_its_lone_run(base: dict, patches: list[dict]) -> None:
    specs = variants(base, patches)
    steps = 3 * TrainingSession(specs[0], CPU).steps_per_epoch + 5  # crosses epoch ends
    probe_at = steps - 1
    batch = batch_run(specs, steps, probe_at)
    has_dropout = any(layer.type == "dropout" for layer in specs[0].network.layers)
    assert bool(stepper(batch)._replays) != has_dropout, "recorded steps: models without dropout"
    for k, spec in enumerate(specs):
        alone = lone_run(spec, steps, probe_at)
        together = batch.runs[k]
        assert_same_step_losses(together, alone)
        assert together.history.evals.data["step"] == alone.history.evals.data["step"]
        for column in ("epoch", "lr", "train_loss", "test_loss", "train_metric", "test_metric"):
            assert together.history.evals.data[column] == pytest.approx(
                alone.history.evals.data[column], rel=1e-4, abs=1e-5), column
        for column, values in alone.last_layers.items():
            assert_same_column(together.last_layers[column], values, column)
        for mine, theirs in zip(together.model.parameters(), alone.model.parameters(),
                                strict=True):
            torch.testing.assert_close(mine, theirs, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("patch, field", [
    ({"training": {"batch_size": 20}}, "training.batch_size"),
    ({"optimizer": {"kind": "rmsprop"}}, "optimizer.kind"),
    ({"network": {"layers": []}}, "network.layers"),
])
def test_variants_that_cannot_share_a_batch_are_refused(patch: dict, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        check_batchable(variants(TANH_SGD, [{}, patch]))
    assert caught.value.field == field


def test_layers_without_a_batched_form_are_refused() -> None:
    spec = {"network": {"layers": [{"type": "linear", "units": 4}, {"type": "batchnorm"}]}}
    with pytest.raises(SpecError) as caught:
        check_batchable(variants(spec, [{}, {}]))
    assert caught.value.field == "network.layers.1"


def test_side_by_side_variants_each_stop_at_their_own_epoch_limit() -> None:
    """A lesson may compare a short run with a long one (bias/variance): the short one stops
    at its limit while the long one goes on, and the group finishes with the last."""
    specs = variants(TANH_SGD, [{"training": {"epochs": 3}}, {"training": {"epochs": 5}}])
    group = Training(specs, CPU)
    assert group.batched  # the short one stops in the batch: it takes no more updates
    group.resume()
    while group.wants_work:
        group.step()
    assert [run.epoch for run in group.runs] == [3, 5]
    assert [e["event"] for e in group.take_events()] == ["finished"]
    group.request(1, "epoch")  # after the finish: every variant goes on, as a lone run does
    while group.wants_work:
        group.step()
    assert [run.epoch for run in group.runs] == [4, 6]
    for k, spec in enumerate(specs):  # the short one, stopped and resumed, is its lone run
        alone = TrainingSession(spec, CPU)
        alone.resume()
        while alone.wants_work:
            alone.step()
        alone.request(1, "epoch")
        while alone.wants_work:
            alone.step()
        assert_same_step_losses(group.current(k), alone)


def test_a_variant_that_diverges_stops_where_its_lone_run_does() -> None:
    """One learning rate far too high: that variant's loss overflows and it stops at the step
    its lone run stops at, with the same message; the other variant trains on."""
    base = {"data": {"kind": "plane", "points": 200}, "loss": {"kind": "mse"},
            "network": {"layers": [{"type": "linear", "units": 8},
                                   {"type": "activation", "fn": "identity"}]},
            "optimizer": {"kind": "sgd", "lr": 0.01}}
    specs = variants(base, [{}, {"optimizer": {"lr": 3.0}}])
    steps = 3 * TrainingSession(specs[0], CPU).steps_per_epoch + 4
    batch = batch_run(specs, steps)
    calm, wild = batch.runs
    alone = lone_run(specs[1], steps, probe_at=-1)
    assert alone.diverged and wild.diverged and not calm.diverged
    assert wild.take_events() == alone.take_events()
    assert wild.step_count == alone.step_count
    assert (wild.epoch, wild.history.evals.data) == (alone.epoch, alone.history.evals.data)
    assert calm.step_count == steps and len(calm.history.steps.data["loss"]) == steps


@pytest.mark.parametrize("classes", [1, 2, 3, 5])
def test_predicted_classes_are_argmax_with_ties_to_the_first(classes: int) -> None:
    """Accuracy counts a point as class argmax(logits); equal logits (constant init makes them
    so) go to the first class, as torch.argmax does."""
    out = torch.randn(4, classes, 50, generator=torch.Generator().manual_seed(classes))
    out[:, :, :10] = 0.5  # ties
    out[:, -1, 10:20] = out[:, 0, 10:20]  # a tie between the first and the last class
    expected = (out[:, 0] > 0).long() if classes == 1 else out.argmax(1)
    assert torch.equal(predicted_classes(out), expected)


def test_histories_are_whole_when_read_without_a_probe() -> None:
    """Losses are flushed lazily; a frame (sync) or the group's finish shows every step."""
    specs = variants(TANH_SGD, [{}, {"optimizer": {"lr": 0.1}}])
    steps = 2 * TrainingSession(specs[0], CPU).steps_per_epoch + 3  # mid-epoch, unflushed
    batch = batch_run(specs, steps)
    for k, spec in enumerate(specs):
        alone = lone_run(spec, steps, probe_at=-1)
        assert batch.runs[k].step_count == steps
        assert batch.runs[k].history.steps.data["step"] == list(range(1, steps + 1))
        assert_same_step_losses(batch.runs[k], alone)


def test_a_batched_group_finishes_with_the_step_it_reached() -> None:
    specs = variants(TANH_SGD, [{"training": {"epochs": 2}}, {"training": {"epochs": 2,
                                                                           "seed": 4}}])
    group = Training(specs, CPU)
    assert group.batched
    group.resume()
    while group.wants_work:
        group.step()
    steps = 2 * group.runs[0].steps_per_epoch
    assert group.take_events() == [{"event": "finished", "step": steps, "epoch": 2}]


@pytest.mark.parametrize("change", [{"optimizer": {"kind": "adam", "lr": 0.01}},
                                    {"training": {"batch_size": 7}},
                                    {"optimizer": {"momentum": 0.9}}])
def test_a_live_change_mid_epoch_reaches_every_variant_as_it_would_alone(change: dict) -> None:
    specs = variants(TANH_SGD, [{}, {"training": {"seed": 5}}])
    changed = [apply_patch(s, change) for s in specs]
    before, after = 13, 30  # the change lands mid-epoch (20 steps an epoch)
    group = Training(specs, CPU)
    assert group.batched
    for _ in range(before):
        group.step()
    group.update(changed)
    assert group.batched
    for _ in range(after):
        group.step()
    for k in range(len(specs)):
        alone = TrainingSession(specs[k], CPU)
        for _ in range(before):
            alone.step()
        alone.update(changed[k])
        for _ in range(after):
            alone.step()
        together = group.current(k)
        assert together.step_count == alone.step_count
        assert_same_step_losses(together, alone)


def test_a_batch_the_recorder_cannot_follow_trains_eagerly(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    def refuse(*_: object, **__: object) -> object:
        raise RuntimeError("cannot trace this")

    monkeypatch.setattr("torchplay.engine.steppers.traced.make_fx", refuse)
    specs = variants(TANH_SGD, [{}, {"optimizer": {"lr": 0.3}}])
    steps = 2 * TrainingSession(specs[0], CPU).steps_per_epoch + 3
    batch = batch_run(specs, steps)
    assert not stepper(batch).traceable and not stepper(batch)._replays
    assert batch.frames()[0]["path"] == "batched"
    assert "cannot trace this" in batch.frames()[0]["path_reason"]
    for k, spec in enumerate(specs):
        assert_same_step_losses(batch.runs[k], lone_run(spec, steps, probe_at=-1))
