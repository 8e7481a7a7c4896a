"""The compiled batched step (compiled.py): equal to each lone run, and never in the way."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch
from test_batched import (
    CPU,
    SINE_MOMENTUM,
    TANH_SGD,
    assert_same_step_losses,
    lone_run,
    stepper,
    variants,
)
from torch.fx.experimental.proxy_tensor import make_fx

from torchplay.cli import parse_args
from torchplay.engine.group import Training
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers import compiled, traced

TANH_PATCHES = [{}, {"optimizer": {"lr": 0.3}}, {"training": {"seed": 7}},
                {"regularization": {"l2": 0.01, "l1": 0.001}}, {"data": {"noise": 0.3}}]
SINE_PATCHES = [{}, {"optimizer": {"momentum": 0.5, "nesterov": False, "dampening": 0.1}}]


def compiled_batch(specs: list, steps_before: int) -> Training:
    """A batch past its first epoch whose step has compiled (the test waits, the server not)."""
    batch = Training(specs, CPU, compile=True)
    for _ in range(steps_before):
        batch.step()
    assert stepper(batch).wait_compiled(timeout=600), "the batched step did not compile"
    return batch


@pytest.mark.parametrize("base, patches", [(TANH_SGD, TANH_PATCHES),
                                           (SINE_MOMENTUM, SINE_PATCHES)])
def test_a_batch_that_switches_to_its_compiled_step_equals_each_lone_run(
        base: dict, patches: list[dict]) -> None:
    specs = variants(base, patches)
    per_epoch = TrainingSession(specs[0], CPU).steps_per_epoch
    steps = 4 * per_epoch + 3
    # two epochs: the replays of every batch size are recorded (a short last batch has its
    # own) by the time of the switch, which falls mid-epoch
    switch = 2 * per_epoch + 2
    batch = compiled_batch(specs, switch)
    for i in range(switch, steps):
        batch.step(probe=i == steps - 1)
    fast = stepper(batch)
    assert fast.compiled == set(fast._replays), "every step past the switch was compiled"
    assert all(frame["path"] == "compiled" for frame in batch.frames())
    for k, spec in enumerate(specs):
        alone, together = lone_run(spec, steps, steps - 1), batch.runs[k]
        assert_same_step_losses(together, alone)
        torch.testing.assert_close(together.history.evals.data["test_loss"],
                                   alone.history.evals.data["test_loss"], rtol=1e-4, atol=1e-5)
        for mine, its in zip(together.model.parameters(), alone.model.parameters(), strict=True):
            torch.testing.assert_close(mine, its, rtol=1e-4, atol=1e-5)


def test_a_compiled_step_given_other_strides_goes_back_to_the_replay() -> None:
    specs = variants(TANH_SGD, TANH_PATCHES)
    training = compiled_batch(specs, TrainingSession(specs[0], CPU).steps_per_epoch + 1)
    batch = stepper(training)
    (key,) = batch.compiled
    x, target = batch._batches[batch._next_batch]
    args = (batch.ones, x.contiguous(), target, batch.l1, batch.l2)  # not the epoch's view
    plain = traced.record_step(batch._objective, batch.params, batch._leaves + [batch.ones],
                               *args)
    expected = plain(*batch._leaves, *args)
    got = batch._replays[key](*batch._leaves, *args)
    for a, b in zip(got, expected, strict=True):
        assert torch.equal(a, b), "the replay's own results"
    assert key not in batch.compiled
    training.step()  # and it trains on


def test_without_a_working_compiler_the_batch_keeps_its_replay(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        tmp_path: Path) -> None:
    monkeypatch.setattr(compiled, "_warned", False)
    # a shape of its own (7 variants, batch 7): no other test's compile is reused
    specs = variants({**TANH_SGD, "training": {"batch_size": 7}},
                     [{"training": {"seed": s}} for s in range(7)])
    per_epoch = TrainingSession(specs[0], CPU).steps_per_epoch
    batch, plain = Training(specs, CPU, compile=True), Training(specs, CPU)
    assert stepper(batch).compile, "g++ was on PATH when the batch was made"
    # then it is gone: inductor runs its compiler through PATH at each call (its own config
    # would not do: a setting made here holds on this thread only, not the compiler's)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))  # nothing built before
    for _ in range(per_epoch + 1):
        batch.step()
        plain.step()
    with caplog.at_level(logging.WARNING, logger="torchplay.engine.steppers.compiled"):
        assert not stepper(batch).wait_compiled(timeout=600)
    assert stepper(batch).compiled == set()
    assert "batched steps stay uncompiled" in caplog.text
    for _ in range(per_epoch):
        batch.step()
        plain.step()
    batch.read_all()
    plain.read_all()
    for mine, its in zip(batch.runs, plain.runs, strict=True):
        assert mine.history.steps.data["loss"] == its.history.steps.data["loss"]


def test_small_products_become_fused_sums_and_large_ones_stay_matrix_products() -> None:
    def products(w: torch.Tensor, b: torch.Tensor, h: torch.Tensor, big: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return torch.baddbmm(b, w, h), torch.bmm(w.transpose(1, 2), w), torch.bmm(big, big)

    args = (torch.randn(64, 4, 2), torch.randn(64, 4, 1), torch.randn(64, 2, 10),
            torch.randn(2, 256, 256))  # the last: 256^3 terms, too many to fuse
    graph = make_fx(products)(*args)
    expected = graph(*args)
    assert not compiled.worth_compiling(graph.graph), "a bmm call would stay"
    compiled.small_products_as_reductions(graph.graph)
    graph.recompile()
    kinds = [n.target for n in graph.graph.nodes if n.op == "call_function"]
    aten = torch.ops.aten
    assert kinds.count(aten.bmm.default) == 1 and aten.baddbmm.default not in kinds
    for got, want in zip(graph(*args), expected, strict=True):
        torch.testing.assert_close(got, want)


def test_a_batch_of_wide_layers_keeps_its_replay() -> None:
    """256 x 256 weights at batch 128: a product too large to fuse, which compiled as a bmm
    call would be slower than the replay; the batch never asks for a compile."""
    wide = {"network": {"layers": [{"type": "linear", "units": 256},
                                   {"type": "activation", "fn": "relu"}] * 2},
            "training": {"batch_size": 128}}
    specs = variants(wide, [{}, {"training": {"seed": 1}}])
    training = Training(specs, CPU, compile=True)
    for _ in range(TrainingSession(specs[0], CPU).steps_per_epoch + 1):
        training.step()
    batch = stepper(training)
    assert batch._replays and not batch._compiling
    assert not batch.wait_compiled(timeout=0)


def test_the_server_compiles_by_default_and_a_flag_turns_it_off() -> None:
    assert parse_args([])[0].compile
    assert not parse_args(["--no-compile"])[0].compile


def test_graphs_with_tensors_of_their_own_do_not_share_a_compile() -> None:
    x = torch.zeros(3, 2)

    def adding(values: list[float]) -> torch.fx.GraphModule:
        return make_fx(lambda t: (t + torch.tensor(values),))(x)

    graphs = {(1.0, 2.0): adding([1.0, 2.0]), (3.0, 4.0): adding([3.0, 4.0])}
    assert len({g.code for g in graphs.values()}) == 1, "the same code, other constants"
    for values, graph in graphs.items():
        fast = compiled.submit(graph, [x]).result(timeout=600)
        assert fast is not None
        assert torch.equal(fast(x)[0], x + torch.tensor(values))
