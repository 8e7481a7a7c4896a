"""The lessons about the optimizer, the batch, the schedule and the inputs (11-16), trained as
the page trains them over five random (data, training) seed pairs (lessonkit.py), each
asserting its card's claim with numbers the page shows. Each assertion says what would make it
fail.
"""

from __future__ import annotations

import math
import statistics
from itertools import pairwise

import pytest
import torch
from lessonkit import CPU, run, seeded, specs, steps_to, train

from torchplay.engine.session import TrainingSession
from torchplay.lessons import batch_groups, ema


@seeded
def test_11_batch_size(seed: tuple[int, int]) -> None:
    sessions = run("batch-size", seed)
    noise = []
    for session in sessions:
        losses = session.history.steps.data["loss"]
        noise.append(statistics.pstdev([b - a for a, b in pairwise(losses)]))
    print(f"lesson 11 seed {seed}: steps {[s.step_count for s in sessions]}, std of step-to-step "
          f"loss change: batch 1 {noise[0]:.4f}, 32 {noise[1]:.4f}, full {noise[2]:.5f}")
    # Fails if the curve's noise did not fall with the batch size.
    assert noise[0] > 3 * noise[1] > 3 * 3 * noise[2]


@seeded
def test_12_smoothing(seed: tuple[int, int]) -> None:
    session = run("smoothing", seed)[0]
    losses = [v for v in session.history.steps.data["loss"] if v is not None]
    beta = 0.9
    plain, debiased = ema(losses, beta, debias=False), ema(losses, beta)
    # Against the closed form: sum of beta^(t-i) (1-beta) x_i, divided by 1 - beta^t.
    t = 20
    weighted = sum(beta ** (t - i) * (1 - beta) * x for i, x in enumerate(losses[:t], start=1))
    assert plain[t - 1] == pytest.approx(weighted, rel=1e-12)
    assert debiased[t - 1] == pytest.approx(weighted / (1 - beta**t), rel=1e-12)
    raw_start = statistics.mean(losses[:10])
    plain_start, debiased_start = statistics.mean(plain[:10]), statistics.mean(debiased[:10])
    print(f"lesson 12 seed {seed}: mean of the first 10 steps: raw {raw_start:.3f}, plain EMA "
          f"{plain_start:.3f}, debiased {debiased_start:.3f}")
    assert debiased[0] == pytest.approx(losses[0]) and plain[0] == pytest.approx(0.1 * losses[0])
    # Fails without the bias correction: the plain average starts near zero.
    assert plain_start < 0.5 * raw_start
    assert debiased_start == pytest.approx(raw_start, rel=0.15)


@seeded
def test_13_optimizers(seed: tuple[int, int]) -> None:
    found = specs("optimizers", seed)
    sgd, momentum, rmsprop, adam = train(found)
    x = torch.cat([sgd.x_train.double(), torch.ones(len(sgd.x_train), 1, dtype=torch.float64)], 1)
    eig = torch.linalg.eigvalsh(2 * x.T @ x / len(x))  # Hessian of the mean squared error
    reached = [steps_to(s, 1e-5) for s in (sgd, momentum, rmsprop, adam)]
    limit = (2 / eig.max()).item()  # full-batch gradient descent diverges above this
    print(f"lesson 13 seed {seed}: condition number {(eig.max() / eig.min()).item():.0f}, "
          f"2/lambda_max {limit:.2f}; steps to loss < 1e-5: SGD {reached[0]}, "
          f"momentum {reached[1]}, RMSprop {reached[2]}, Adam {reached[3]}")
    # SGD runs close to its stability limit, so its slowness is not a timid learning rate.
    assert 0.85 * limit < found[0].optimizer.lr < limit
    assert all(r is not None for r in reached)
    slowest_other = max(r for r in reached[1:] if r is not None)
    # Fails if plain SGD kept up with any of the others (a well-conditioned problem). The
    # card: 1.6-2.3 times as many steps as the slowest of the others.
    assert reached[0] is not None and reached[0] > 1.3 * slowest_other


@seeded
def test_14_lr_decay(seed: tuple[int, int]) -> None:
    found = specs("lr-decay", seed)
    assert len(batch_groups(found)) == 1
    base = found[0].optimizer.lr
    formulas = [
        lambda e: base,
        lambda e: base * 0.5 ** (e // 10),
        lambda e: base * 0.9**e,
        lambda e: base / (1 + 0.2 * e),
        lambda e: 0.003 + (base - 0.003) * (1 + math.cos(math.pi * min(e, 40) / 40)) / 2,
    ]
    worst = 0.0
    for session, formula in zip(train(found), formulas, strict=True):
        evals = session.history.evals.data
        assert len(evals["lr"]) == 41  # epochs 0..40
        for epoch, lr in zip(evals["epoch"], evals["lr"], strict=True):
            assert lr is not None
            worst = max(worst, abs(lr - formula(int(epoch))) / formula(int(epoch)))
    print(f"lesson 14 seed {seed}: largest relative error of the plotted lr against its "
          f"formula {worst:.1e}")
    # Fails if any schedule's plotted rate departed from its formula at any epoch.
    assert worst < 1e-9


@seeded
def test_15_lr_range(seed: tuple[int, int]) -> None:
    found = specs("lr-range", seed)
    sessions = train(found)
    x = sessions[0].x_train.double()
    x = torch.cat([x, torch.ones(len(x), 1, dtype=torch.float64)], 1)
    threshold = (2 / torch.linalg.eigvalsh(2 * x.T @ x / len(x)).max()).item()
    rows = []
    for spec, session in zip(found, sessions, strict=True):
        losses = [v for v in session.history.evals.data["train_loss"] if v is not None]
        drop = 1 - min(losses) / losses[0]
        events = [e["event"] for e in session.events]
        rows.append((spec.optimizer.lr, session.diverged, drop))
        assert session.diverged == ("diverged" in events)
    print(f"lesson 15 seed {seed}: divergence threshold 2/lambda_max = {threshold:.3f}; (lr, "
          f"diverged, share of loss removed): {[(lr, d, round(drop, 3)) for lr, d, drop in rows]}")
    # Diverges exactly above the threshold computed independently from the data.
    for lr, diverged, _ in rows:
        assert diverged == (lr > threshold)
    # Crawls far below it: lr 1e-4 removes a few percent of the loss (the card: 3-5%; 3.3-4.6%
    # over twenty-five seeds), a good rate down to the data's noise (80-99%; 83-99%).
    assert rows[0][2] < 0.06
    assert max(drop for _, diverged, drop in rows if not diverged) > 0.75
    assert max(drop for _, diverged, drop in rows if not diverged) > 10 * rows[0][2]


@seeded
def test_16_input_normalisation(seed: tuple[int, int]) -> None:
    found = specs("input-normalisation", seed)
    assert len(batch_groups(found)) == 1
    raw, raw_fast, standard = train(found)
    # Zig-zag: the raw run's error along the steepest direction of the loss (the Hessian's top
    # eigenvector, computed from the data) changes sign at every step the engine takes.
    lone = TrainingSession(found[0], CPU)
    x = torch.cat([lone.x_train.double(), torch.ones(len(lone.x_train), 1, dtype=torch.float64)],
                  1)
    top = torch.linalg.eigh(x.T @ x)[1][:, -1]
    best = torch.linalg.lstsq(x, lone.y_train.double()[:, None]).solution[:, 0]
    along = []
    for _ in range(20):
        w = torch.cat([lone.model[0].weight[0], lone.model[0].bias]).detach().double()
        along.append(float(top @ (w - best)))
        lone.step()
    flips = sum(a * b < 0 for a, b in pairwise(along)) / (len(along) - 1)
    reached = steps_to(raw, 1e-5), steps_to(standard, 1e-5)
    print(f"lesson 16 seed {seed}: steps to loss < 1e-5 raw {reached[0]}, standardised "
          f"{reached[1]}; raw lr 0.5 diverged {raw_fast.diverged}; error along the steepest "
          f"direction changes sign on {flips:.0%} of the first 20 raw steps")
    # Fails if the features' scales did not matter (raw as quick as standardised).
    assert reached[1] is not None
    assert (reached[0] or math.inf) > 10 * reached[1]
    assert raw_fast.diverged
    # fails if the steps crept down the steep direction without overshoot (a creeping descent
    # flips on none; the raw run flips on 89-100% over these seeds)
    assert flips > 0.8
