"""The lessons about signal and gradient through the layers (4-8, 17, 19), trained as the page
trains them over five random (data, training) seed pairs (lessonkit.py), each asserting its
card's claim with numbers the page shows. Each assertion says what would make it fail.
"""

from __future__ import annotations

import copy
import math
import statistics

import pytest
import torch
from lessonkit import (
    CPU,
    final,
    finite,
    first_step,
    present,
    probed_steps,
    run,
    seeded,
    specs,
    steps_to,
    train,
)

from torchplay.engine.session import TrainingSession
from torchplay.lessons.gradcheck import gradient_check


@seeded
def test_04_vanishing_gradients(seed: tuple[int, int]) -> None:
    deep_spec, shallow_spec = specs("vanishing-gradients", seed)
    deep_grads = present(first_step(deep_spec)["grad_norm_weight"])[:-1]  # hidden layers
    shallow_grads = present(first_step(shallow_spec)["grad_norm_weight"])[:-1]
    deep_ratio, shallow_ratio = deep_grads[-1] / deep_grads[0], shallow_grads[-1] / shallow_grads[0]
    start = TrainingSession(deep_spec, CPU).model[0].weight.detach().clone()
    deep = train([deep_spec])[0]
    moved = ((deep.model[0].weight - start).norm() / start.norm()).item()
    loss_start, loss_end = deep.history.evals.data["train_loss"][0], final(deep, "train_loss")
    print(f"lesson 4 seed {seed}: last/first hidden gradient norm deep {deep_ratio:.1e}, "
          f"shallow {shallow_ratio:.1f}; first layer moved {moved:.1e} (relative); "
          f"loss {loss_start:.3f} -> {loss_end:.3f}")
    # Fails if the gradient reached the first layer intact (ratio near 1). The card: deep
    # 1e6-1e10 at the first step, two layers 1 to some tens (measured over forty random
    # seeds: 8.8e6-2e10 and 1.2-73).
    assert deep_ratio > 1e6 and shallow_ratio < 100 and deep_ratio > 1e4 * shallow_ratio
    assert moved < 1e-5
    # Learned nothing but the class frequencies: the loss of always predicting them.
    share = deep.y_train.float().mean().item()
    prior_loss = -(share * math.log(share) + (1 - share) * math.log(1 - share))
    assert abs(loss_end - prior_loss) < 0.02


@seeded
def test_05_exploding_gradients(seed: tuple[int, int]) -> None:
    tanh_spec, relu_spec = specs("exploding-gradients", seed)
    tanh_steps = probed_steps(tanh_spec, 10)  # what the first ten points of the charts show
    step_ratios = [present(row["grad_norm_weight"])[0] / present(row["grad_norm_weight"])[-2]
                   for row in tanh_steps]  # first hidden layer over the last hidden layer
    tanh_var = [statistics.mean(values) for values in zip(
        *(present(row["act_var"])[1::2] for row in tanh_steps), strict=True)]  # after tanh
    relu_var = present(first_step(relu_spec)["act_var"])[1::2]
    print(f"lesson 5 seed {seed}: tanh first/last hidden gradient norm over the first 10 steps "
          f"{min(step_ratios):.0f}-{max(step_ratios):.0f}, mean {statistics.mean(step_ratios):.0f}"
          f"; tanh activation variance {[round(v, 2) for v in tanh_var]}; ReLU variance "
          f"last/first {relu_var[-1] / relu_var[0]:.1e}")
    # tanh saturates (variance of +-1 outputs approaches 1) and its gradients grow toward the
    # input at every step; fails with a small init, where variance shrinks and gradients
    # shrink toward the input. The card: larger at every step, about a hundred times on
    # average (90-350 over thirty seeds; single steps 15-2000).
    assert min(tanh_var[2:]) > 0.8
    assert min(step_ratios) > 3
    assert 40 < statistics.mean(step_ratios) < 1000
    # ReLU: the forward signal grows layer by layer, by 1e4-1e7 over the eight layers (the
    # card; 6e4-1e7 over ten seeds); fails if it stayed level.
    assert relu_var[-1] / relu_var[0] > 1e4


@seeded
def test_06_xavier_he_init(seed: tuple[int, int]) -> None:
    found = specs("xavier-he-init", seed)
    spread = []
    for spec in found:
        var = present(first_step(spec)["act_var"])[1::2]  # after each activation
        spread.append(max(var) / min(var))
    xavier, tanh_n01, he, relu_n01 = train(found)
    print(f"lesson 6 seed {seed}: activation variance max/min across layers: xavier "
          f"{spread[0]:.1f}, tanh N(0,1) {spread[1]:.1f}, he {spread[2]:.1f}, relu N(0,1) "
          f"{spread[3]:.1e}; loss xavier {xavier.history.evals.data['train_loss'][0]:.3f} -> "
          f"{final(xavier, 'train_loss'):.3f}, he -> {final(he, 'train_loss'):.3f}, "
          f"tanh N(0,1) -> {final(tanh_n01, 'train_loss'):.3f}, relu N(0,1) "
          f"diverged {relu_n01.diverged}")
    # Fails if the scaled inits let the variance drift (the card: within about a factor of ten,
    # 2-5 mostly; 1.5-9.6 over thirty seeds), or N(0,1) did not blow up ReLU's.
    assert spread[0] < 10 and spread[2] < 10
    assert spread[3] > 1e6
    for good in (xavier, he):  # training proceeds: the loss falls by a quarter or more
        assert finite(good)
        assert final(good, "train_loss") < 0.75 * good.history.evals.data["train_loss"][0]
    assert relu_n01.diverged
    # Saturated tanh is stuck: its loss stays about 0.6, more than twice Xavier's (0.48-0.68
    # over these seeds: long runs drift apart between CPUs, AVX2 or AVX-512 kernels).
    assert final(tanh_n01, "train_loss") > 0.4
    assert final(xavier, "train_loss") < 0.5 * final(tanh_n01, "train_loss")


def dead_by_layer(session: TrainingSession) -> list[float]:
    """The dead-units chart's values at the run's end: one per ReLU-family layer."""
    values = session.frame()["layers"]["dead_fraction"]
    layers = [i for i, layer in enumerate(session.spec.network.layers)
              if layer.type == "activation"]
    found = [values[i] for i in layers]
    assert all(v is not None for v in found), found  # a live model has a value per layer
    return [v for v in found if v is not None]


@seeded
def test_07_dead_relus(seed: tuple[int, int]) -> None:
    relu_fast, leaky_fast, relu_slow = run("dead-relus", seed)
    for session in (relu_fast, leaky_fast, relu_slow):  # dead units, not a broken model
        assert finite(session)
        assert final(session, "train_loss") < 2.0
    dead = [dead_by_layer(s) for s in (relu_fast, leaky_fast, relu_slow)]
    # The mechanism: a ReLU unit below zero on every training point gets a gradient of exactly
    # 0 (whatever the loss), a leaky unit there does not. Taken at the end of the run, for the
    # units that are below zero then, in both hidden layers.
    grads = []
    for session in (relu_fast, leaky_fast):
        model = copy.deepcopy(session.model)
        inputs, below = session.x_train, []
        for i in (0, 2):  # the hidden Linear layers; i + 1 is the activation after each
            with torch.no_grad():
                before = model[: i + 1](inputs)
            below.append((before <= 0).all(dim=0))
        model(inputs).sum().backward()  # any function of the output would do
        grads.append([model[i].weight.grad[mask].abs().max().item() if mask.any() else None
                      for i, mask in zip((0, 2), below, strict=True)])
    print(f"lesson 7 seed {seed}: dead share per layer at the end: ReLU lr 0.1 {dead[0]}, "
          f"leaky lr 0.1 {dead[1]}, ReLU lr 0.003 {dead[2]}; largest weight gradient of "
          f"all-negative units per layer: ReLU {grads[0]}, leaky {grads[1]}")
    # The card: at lr 0.1 more than half of ReLU's second layer dies (56-92% over twenty-five
    # seeds), leaky's ends at most about a third (0-31%), ReLU at lr 0.003 a fifth to 40%
    # (19-39%). Fails if the large steps killed nothing, or leaky units died as much.
    assert dead[0][1] > 0.5
    assert dead[1][1] < 1 / 3
    assert dead[0][1] > 2 * dead[1][1]
    assert dead[2][1] < 0.5 and dead[2][1] < dead[0][1] - 0.2
    assert grads[0][1] == 0.0  # at least one unit of ReLU's second layer is dead, and inert
    assert all(g is None or g == 0.0 for g in grads[0])
    assert all(g is None or g > 0.0 for g in grads[1])


@seeded
def test_08_dropout(seed: tuple[int, int]) -> None:
    # Probed every 5th step through the whole run, as the page probes a step whenever a frame
    # is due; the page's chart header averages the ratio over those points.
    ratios: list[list[float]] = [[], []]
    predicted: list[list[float]] = [[], []]

    def watch(variant: int, session: TrainingSession) -> None:
        layers = session.last_layers
        if variant != 1 or layers is None:
            return
        for k, i in enumerate((2, 5)):  # the dropout layers; i - 1 is the ReLU feeding each
            mean, var, out = layers["act_mean"][i - 1], layers["act_var"][i - 1], \
                layers["act_var"][i]
            assert mean is not None and var is not None and out is not None
            if var > 0:
                ratios[k].append(out / var)
                predicted[k].append(((var + mean**2) / (1 - 0.5) - mean**2) / var)

    plain, dropout = train(specs("dropout", seed), probe_every=5, on_probe=watch)
    ratio = [statistics.mean(r) for r in ratios]
    expected = [statistics.mean(r) for r in predicted]
    spread = [(min(r), max(r)) for r in ratios]
    gaps = [final(s, "test_loss") - final(s, "train_loss") for s in (plain, dropout)]
    acc = [final(s, "test_metric") for s in (plain, dropout)]
    print(f"lesson 8 seed {seed}: train-mode variance after/before dropout, mean of "
          f"{len(ratios[0])} probed steps {[round(r, 2) for r in ratio]} (formula "
          f"{[round(r, 2) for r in expected]}), single steps "
          f"{[(round(a, 2), round(b, 2)) for a, b in spread]}; test-train loss gap without "
          f"{gaps[0]:.2f}, with {gaps[1]:.2f}; test accuracy {acc[0]:.2f} vs {acc[1]:.2f}")
    # Inverted dropout raises the training-time variance as (s2 + m2)/(1 - p) - m2 predicts,
    # at least twice its input's in expectation; fails if dropout were a plain mask without the
    # 1/(1-p) scaling (ratio under 1), or not applied (1). The card: 2 to 2.5 on average (2.02-
    # 2.45 over twenty-five seeds), single steps from under 1 to over 3.
    for measured, formula in zip(ratio, expected, strict=True):
        assert 1.7 < measured < 2.8
        assert measured == pytest.approx(formula, rel=0.15)
    # Fails if dropout did not curb the overfitting of this small noisy set: the card says the
    # gap narrows to a tenth to three fifths of it (0.12-0.6 over twenty-five seeds), and that
    # the test accuracy is the lower for it (by 0.18 or more).
    assert gaps[1] < 0.75 * gaps[0]
    assert acc[1] < acc[0] - 0.1


@seeded
def test_17_batch_normalisation(seed: tuple[int, int]) -> None:
    plain, batchnorm, he = run("batch-normalisation", seed, probe_last=True)
    assert batchnorm.last_layers is not None
    norm_var = [v for v, layer in zip(batchnorm.last_layers["act_var"], batchnorm.model,
                                      strict=False) if isinstance(layer, torch.nn.BatchNorm1d)]
    reached = [steps_to(s, 0.3) for s in (plain, batchnorm, he)]
    model = copy.deepcopy(batchnorm.model)  # train mode would move the run's running stats
    batch = batchnorm.x_test[:16]
    with torch.no_grad():
        model.train()
        train_out = model(batch)
        model.eval()
        eval_out = model(batch)
        alone = model(batch[:1])  # eval mode: a point's output ignores the rest of its batch
        norm = model[1]
        h = model[0](batch)  # by hand: running statistics in eval, batch statistics in train
        by_running = (h - norm.running_mean) / torch.sqrt(norm.running_var + norm.eps)
        by_batch = (h - h.mean(0)) / torch.sqrt(h.var(0, unbiased=False) + norm.eps)
        eval_bn = norm(h)
        model.train()
        train_bn = norm(h)
    differ = ((train_out - eval_out).norm() / eval_out.norm()).item()
    print(f"lesson 17 seed {seed}: steps to train loss < 0.3: plain {reached[0]}, BatchNorm "
          f"{reached[1]}, He {reached[2]}; plain final loss {final(plain, 'train_loss'):.3f}; "
          f"train vs eval output relative difference {differ:.2f}; activation variance after "
          f"each BatchNorm at the last step {[round(v, 2) for v in norm_var if v is not None]}")
    # The card: about 1 after every BatchNorm layer during training (measured 1.0-1.09).
    assert len(norm_var) == 8 and all(v is not None and 0.8 < v < 1.25 for v in norm_var)
    # Fails if BatchNorm did not rescue the default-init deep net.
    assert reached[0] is None and final(plain, "train_loss") > 0.65
    assert reached[1] is not None and reached[1] <= 100
    assert reached[2] is not None
    # Train and eval differ as their definitions say, and only as they say.
    assert differ > 0.05
    assert torch.allclose(eval_out[:1], alone, atol=1e-6)
    assert torch.allclose(eval_bn, by_running * norm.weight + norm.bias, atol=1e-5)
    assert torch.allclose(train_bn, by_batch * norm.weight + norm.bias, atol=1e-5)


@seeded
def test_19_gradient_checking(seed: tuple[int, int]) -> None:
    spec = specs("gradient-checking", seed)[0]
    session = TrainingSession(spec, CPU)
    before = gradient_check(session)
    session.request(spec.training.epochs or 1, "epoch")
    while session.wants_work:
        session.step()
    after = gradient_check(session)
    worst = max(row["rel_diff"] for row in before + after)
    flagged = [f"{r['module']}.{r['name']}" for r in after if r["below_resolution"]]
    print(f"lesson 19 seed {seed}: largest relative difference {worst:.1e} over {len(after)} "
          f"tensors, at init and after {session.epoch} epochs; below resolution: {flagged}")
    # Fails if any layer's backward disagreed with finite differences.
    assert worst < 1e-7
    assert flagged == ["linear 8.bias"]  # the bias before BatchNorm: its gradient is exactly 0
