"""Every lesson's preset, trained by the engine (no server, no browser), shows its observation.

One test per lesson, named after it. Each runs the catalogue's own specs (only the training
seed is changed where a test tries several), side by side with BatchedRuns where
`check_batchable` allows and as lone TrainingSessions otherwise (`lessons.run_variants`), and
asserts the observation with numbers. Each test says what would make it fail: the thresholds
are set so that the phenomenon's absence breaks them. Run with -s to see the measured numbers.
"""

from __future__ import annotations

import base64
import copy
import math
import statistics
from collections.abc import Iterator
from itertools import pairwise

import pytest
import torch
from torch import nn

from torchplay.engine.group import RunView
from torchplay.engine.session import TrainingSession
from torchplay.lessons import batch_groups, ema, lesson_specs, load_lessons, run_variants
from torchplay.lessons.activations import activation_curves
from torchplay.lessons.diagnosis import diagnose_session
from torchplay.lessons.gradcheck import gradient_check
from torchplay.spec.model import ExperimentSpec, merge_patch

CPU = torch.device("cpu")
LESSONS = {lesson.id: lesson for lesson in load_lessons()}


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """Tiny models run fastest on one thread, and a loaded machine hurts less that way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def specs(lesson_id: str, seed: int | None = None) -> list[ExperimentSpec]:
    """The lesson's specs, with the training seed replaced when one is given."""
    found = [spec for _, spec in lesson_specs(LESSONS[lesson_id])]
    if seed is None:
        return found
    return [ExperimentSpec.model_validate(merge_patch(s.model_dump(), {"training": {"seed": seed}}))
            for s in found]


def run(lesson_id: str, seed: int | None = None, steps: int | None = None,
        probe_last: bool = False) -> list[RunView]:
    """The lesson's runs side by side, as the page trains them (the step before each stop is
    probed whatever probe_last says)."""
    return run_variants(specs(lesson_id, seed), steps, CPU)


def final(session: TrainingSession, column: str) -> float:
    """The latest evaluation's value (train_loss, test_loss, train_metric, test_metric, lr)."""
    value = session.history.evals.data[column][-1]
    assert value is not None, f"{column} is not finite"
    return value


def steps_to(session: TrainingSession, threshold: float) -> int | None:
    """First step at whose epoch-end evaluation the train loss is below threshold."""
    evals = session.history.evals.data
    for step, loss in zip(evals["step"], evals["train_loss"], strict=True):
        if loss is not None and loss < threshold:
            return int(step)
    return None


def first_step(spec: ExperimentSpec) -> dict[str, list[float | None]]:
    """Per-layer statistics of one probed training step from fresh weights."""
    session = TrainingSession(spec, CPU)
    session.step(probe=True)
    assert session.last_layers is not None
    return session.last_layers


def mean_probe(spec: ExperimentSpec, steps: int, column: str) -> list[float]:
    """A per-layer column averaged over the first probed training steps (one mini-batch of
    10 is a noisy sample), layers without a value left out."""
    session = TrainingSession(spec, CPU)
    rows = []
    for _ in range(steps):
        session.step(probe=True)
        assert session.last_layers is not None
        rows.append(present(session.last_layers[column]))
    return [statistics.mean(values) for values in zip(*rows, strict=True)]


def present(values: list[float | None]) -> list[float]:
    return [v for v in values if v is not None]


def linear_weights(session: TrainingSession) -> torch.Tensor:
    return torch.cat([m.weight.detach().flatten() for m in session.model
                      if isinstance(m, nn.Linear)])


@pytest.mark.parametrize("seed", [0, 1])
def test_01_hidden_layers(seed: int) -> None:
    linear, mlp = run("hidden-layers", seed)
    acc = final(linear, "test_metric"), final(mlp, "test_metric")
    print(f"lesson 1 seed {seed}: test accuracy linear {acc[0]:.2f}, one hidden layer {acc[1]:.2f}")
    # Fails if a straight line could separate the circle, or the hidden layer could not.
    assert acc[0] < 0.65
    assert acc[1] > 0.90


@pytest.mark.parametrize("seed", [0, 1])
def test_02_activation_functions(seed: int) -> None:
    xs = torch.linspace(-4, 4, 81, dtype=torch.float64)
    curves = activation_curves(xs.tolist())
    f = {name: torch.tensor(c["f"], dtype=torch.float64) for name, c in curves.items()}
    df = {name: torch.tensor(c["df"], dtype=torch.float64) for name, c in curves.items()}
    identity = (f["tanh"] + 1 - 2 / (1 + torch.exp(-2 * xs))).abs().max().item()
    sig = 1 / (1 + torch.exp(-xs))
    assert identity < 1e-12  # tanh(x) + 1 = 2 sigmoid(2x)
    assert (df["sigmoid"] - sig * (1 - sig)).abs().max() < 1e-12
    assert (df["tanh"] - (1 - f["tanh"] ** 2)).abs().max() < 1e-12
    assert df["sigmoid"].max() <= 0.25 and df["tanh"].max() == pytest.approx(1.0)
    sessions = dict(zip([label for label, _ in lesson_specs(LESSONS["activation-functions"])],
                        run("activation-functions", seed), strict=True))
    losses = {label: final(s, "train_loss") for label, s in sessions.items()}
    print(f"lesson 2 seed {seed}: final train loss", {k: round(v, 3) for k, v in losses.items()})
    # Fails if sigmoid's small, off-centre slope did not slow it against tanh's 4x steeper one.
    assert losses["sigmoid"] > 0.5 and losses["sigmoid"] > 4 * losses["tanh"]
    assert max(losses[k] for k in ("ReLU", "leaky ReLU", "ELU", "GELU", "SiLU (swish)")) < 0.15


@pytest.mark.parametrize("seed", [0, 3])
def test_03_symmetry_breaking(seed: int) -> None:
    constant, random = run("symmetry-breaking", seed)
    assert len(batch_groups(specs("symmetry-breaking"))) == 1  # trained side by side
    spread = []
    for i in (0, 2):  # the two hidden Linear layers
        layer = constant.model[i]
        spread.append((layer.weight - layer.weight[:1]).abs().max().item())
        spread.append((layer.bias - layer.bias[:1]).abs().max().item())
    with torch.no_grad():  # every unit of the last hidden layer computes the same function
        hidden = constant.model[:4](constant.x_test)
    unit_spread = (hidden - hidden[:, :1]).abs().max().item()
    acc = final(constant, "test_metric"), final(random, "test_metric")
    print(f"lesson 3 seed {seed}: max weight/bias spread {max(spread):.1e}, unit output spread "
          f"{unit_spread:.1e}, test accuracy constant {acc[0]:.2f} random {acc[1]:.2f}")
    # Fails if anything made the units differ (an asymmetric update, dropout, random bias).
    assert max(spread) < 1e-6 and unit_spread < 1e-6
    # One unit wide: far below the randomly initialised copy, which separates the classes.
    assert acc[0] < 0.75 and acc[1] > 0.95


@pytest.mark.parametrize("seed", [0, 1])
def test_04_vanishing_gradients(seed: int) -> None:
    deep_spec, shallow_spec = specs("vanishing-gradients", seed)
    deep_grads = present(first_step(deep_spec)["grad_norm_weight"])[:-1]  # hidden layers
    shallow_grads = present(first_step(shallow_spec)["grad_norm_weight"])[:-1]
    deep_ratio, shallow_ratio = deep_grads[-1] / deep_grads[0], shallow_grads[-1] / shallow_grads[0]
    start = TrainingSession(deep_spec, CPU).model[0].weight.detach().clone()
    deep = run_variants([deep_spec], device=CPU)[0]
    moved = ((deep.model[0].weight - start).norm() / start.norm()).item()
    loss_start, loss_end = deep.history.evals.data["train_loss"][0], final(deep, "train_loss")
    print(f"lesson 4 seed {seed}: last/first hidden gradient norm deep {deep_ratio:.1e}, "
          f"shallow {shallow_ratio:.1f}; first layer moved {moved:.1e} (relative); "
          f"loss {loss_start:.3f} -> {loss_end:.3f}")
    # Fails if the gradient reached the first layer intact (ratio near 1); a single mini-batch
    # is noisy, hence the wide margins: measured 1e8-1e10 deep against 10-300 shallow.
    assert deep_ratio > 1e6 and shallow_ratio < 1e3 and deep_ratio > 1e4 * shallow_ratio
    assert moved < 1e-5
    # Learned nothing but the class frequencies: the loss of always predicting them.
    share = deep.y_train.float().mean().item()
    prior_loss = -(share * math.log(share) + (1 - share) * math.log(1 - share))
    assert abs(loss_end - prior_loss) < 0.02


@pytest.mark.parametrize("seed", [0, 2])
def test_05_exploding_gradients(seed: int) -> None:
    tanh_spec, relu_spec = specs("exploding-gradients", seed)
    tanh_grads = mean_probe(tanh_spec, 10, "grad_norm_weight")[:-1]  # hidden layers
    tanh_var = mean_probe(tanh_spec, 10, "act_var")[1::2]  # outputs of the tanh layers
    relu_var = present(first_step(relu_spec)["act_var"])[1::2]
    print(f"lesson 5 seed {seed}: tanh first/last hidden gradient norm "
          f"{tanh_grads[0] / tanh_grads[-1]:.0f}, tanh activation variance "
          f"{[round(v, 2) for v in tanh_var]}; ReLU variance last/first "
          f"{relu_var[-1] / relu_var[0]:.1e}")
    # tanh saturates (variance of +-1 outputs approaches 1) and its gradients grow toward the
    # input; fails with a small init, where variance shrinks and gradients shrink toward input.
    assert min(tanh_var[2:]) > 0.8
    assert tanh_grads[0] / tanh_grads[-1] > 20
    # ReLU: the forward signal grows layer by layer; fails if it stayed level.
    assert relu_var[-1] / relu_var[0] > 1e4


@pytest.mark.parametrize("seed", [0, 1])
def test_06_xavier_he_init(seed: int) -> None:
    found = specs("xavier-he-init", seed)
    spread = []
    for spec in found:
        var = present(first_step(spec)["act_var"])[1::2]  # after each activation
        spread.append(max(var) / min(var))
    xavier, tanh_n01, he, relu_n01 = run_variants(found, device=CPU)
    print(f"lesson 6 seed {seed}: activation variance max/min across layers: xavier "
          f"{spread[0]:.1f}, tanh N(0,1) {spread[1]:.1f}, he {spread[2]:.1f}, relu N(0,1) "
          f"{spread[3]:.1e}; loss xavier {xavier.history.evals.data['train_loss'][0]:.3f} -> "
          f"{final(xavier, 'train_loss'):.3f}, he -> {final(he, 'train_loss'):.3f}, "
          f"tanh N(0,1) -> {final(tanh_n01, 'train_loss'):.3f}, relu N(0,1) "
          f"diverged {relu_n01.diverged}")
    # Fails if the scaled inits let the variance drift, or N(0,1) did not blow up ReLU's.
    assert spread[0] < 10 and spread[2] < 10
    assert spread[3] > 1e6
    for good in (xavier, he):  # training proceeds
        assert final(good, "train_loss") < 0.8 * good.history.evals.data["train_loss"][0]
    assert relu_n01.diverged
    assert final(xavier, "train_loss") < final(tanh_n01, "train_loss")  # saturated: slower


def dead_fractions(session: TrainingSession) -> list[float]:
    return present(session.frame()["layers"]["dead_fraction"])


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_07_dead_relus(seed: int) -> None:
    relu_fast, leaky_fast, relu_slow = run("dead-relus", seed)
    dead = [statistics.mean(dead_fractions(s)) for s in (relu_fast, leaky_fast, relu_slow)]
    # A dead first-layer ReLU gets no gradient: one more epoch of SGD leaves it exactly as is,
    # while a leaky unit below zero on every point still moves.
    moved = []
    for session in (relu_fast, leaky_fast):
        first = session.model[0]
        with torch.no_grad():
            below = (first(session.x_train) <= 0).all(dim=0)
        before = first.weight.detach().clone()
        for _ in range(session.steps_per_epoch):
            session.step()
        change = (first.weight - before).abs().max(dim=1).values
        moved.append(change[below].max().item() if below.any() else None)
    print(f"lesson 7 seed {seed}: mean dead fraction ReLU lr 3 {dead[0]:.2f}, leaky lr 3 "
          f"{dead[1]:.2f}, ReLU lr 0.1 {dead[2]:.2f}; weight change of all-negative units "
          f"in one epoch: ReLU {moved[0]}, leaky {moved[1]}")
    # Fails if the large steps did not kill units, or leaky ReLU died as much.
    assert dead[0] > 0.5
    assert dead[2] < 0.25
    assert dead[1] < dead[0]
    assert moved[0] == 0.0
    assert moved[1] is None or moved[1] > 1e-5


@pytest.mark.parametrize("seed", [0, 1])
def test_08_dropout(seed: int) -> None:
    plain, dropout = run("dropout", seed)
    # One mini-batch of 10 is a noisy sample: average the probe over 20 more training steps.
    ratios, predicted = [[], []], [[], []]
    for _ in range(20):
        dropout.step(probe=True)
        layers = dropout.last_layers
        assert layers is not None
        for k, i in enumerate((2, 5)):  # the dropout layers; i - 1 is the ReLU feeding each
            mean, var, out = layers["act_mean"][i - 1], layers["act_var"][i - 1], \
                layers["act_var"][i]
            assert mean is not None and var is not None and out is not None
            ratios[k].append(out / var)
            predicted[k].append(((var + mean**2) / (1 - 0.5) - mean**2) / var)
    ratio = [statistics.mean(r) for r in ratios]
    expected = [statistics.mean(r) for r in predicted]
    gaps = [final(s, "test_loss") - final(s, "train_loss") for s in (plain, dropout)]
    acc_gaps = [final(s, "train_metric") - final(s, "test_metric") for s in (plain, dropout)]
    print(f"lesson 8 seed {seed}: train-mode variance after/before dropout "
          f"{[round(r, 2) for r in ratio]} (formula {[round(r, 2) for r in expected]}); "
          f"test-train loss gap without {gaps[0]:.2f}, with {gaps[1]:.2f}; accuracy gap "
          f"{acc_gaps[0]:.2f} vs {acc_gaps[1]:.2f}")
    # Inverted dropout raises the training-time variance as (s2 + m2)/(1 - p) - m2 predicts;
    # fails if dropout were a plain mask without the 1/(1-p) scaling, or not applied.
    for measured, formula in zip(ratio, expected, strict=True):
        assert measured > 1.5
        assert measured == pytest.approx(formula, rel=0.15)
    # Fails if dropout did not curb the overfitting of this small noisy set. (The accuracy gap
    # usually narrows too, but on 100 test points it is too coarse to assert for every seed.)
    assert gaps[1] < 0.5 * gaps[0]


@pytest.mark.parametrize("seed", [0, 1])
def test_09_weight_decay(seed: int) -> None:
    found = specs("weight-decay", seed)
    assert len(batch_groups(found)) == 1  # every lambda trains side by side
    *l2_runs, l1 = run_variants(found, device=CPU)  # L2 lambda 0, .001, .01, .03, .1; L1 .01
    train_loss = [final(s, "train_loss") for s in l2_runs]
    train_acc = [final(s, "train_metric") for s in l2_runs]
    gap = [final(s, "test_loss") - final(s, "train_loss") for s in l2_runs]
    zeros = [(linear_weights(s).abs() < 1e-3).float().mean().item() for s in (l2_runs[0], l1)]
    print(f"lesson 9 seed {seed}: L2 0/.001/.01/.03/.1 train loss "
          f"{[round(v, 3) for v in train_loss]}, train acc {[round(v, 2) for v in train_acc]}, "
          f"test-train gap {[round(v, 2) for v in gap]}; share |w| < 1e-3: none "
          f"{zeros[0]:.2f}, L1 {zeros[1]:.2f}")
    # Fails if the penalty did not act: train loss must rise with lambda (from .01 on, where it
    # outweighs SGD's own run-to-run spread), train accuracy must not rise, and the test-train
    # gap must shrink (below 0.75x by lambda .01 or .03).
    assert train_loss[0] < train_loss[3] and train_loss[2] < train_loss[3] < train_loss[4]
    assert train_acc[3] <= train_acc[0] and train_acc[4] < train_acc[0]
    assert min(gap[2], gap[3]) < 0.75 * gap[0]
    assert train_loss[4] > 0.65  # lambda .1: weights collapse, back to chance (log 2)
    # Fails if L1 did not pull weights to ~0 (no penalty leaves almost none there).
    assert zeros[1] > 0.3 and zeros[0] < 0.05


@pytest.mark.parametrize("seed", [0, 1])
def test_10_model_selection(seed: int) -> None:
    degrees = [s.features.degree for s in specs("model-selection")]
    sessions = run("model-selection", seed)
    train = [final(s, "train_loss") for s in sessions]
    test = [final(s, "test_loss") for s in sessions]
    best = test.index(min(test))
    print(f"lesson 10 seed {seed}: degrees {degrees}\n  train {[round(v, 3) for v in train]}"
          f"\n  test  {[round(v, 3) for v in test]}; best degree {degrees[best]}")
    # Train loss non-increasing with degree (more features can only fit better), to 0.005.
    assert all(b <= a + 0.005 for a, b in pairwise(train))
    # U-shaped test loss: the minimum inside, both ends at least 1.5x higher. Fails if high
    # degrees did not overfit (right end near the minimum) or degree 1 were enough.
    assert 0 < best < len(degrees) - 1
    assert test[0] > 1.5 * test[best] and test[-1] > 1.5 * test[best]


@pytest.mark.parametrize("seed", [0, 1])
def test_11_batch_size(seed: int) -> None:
    sessions = run("batch-size", seed)
    noise = []
    for session in sessions:
        losses = session.history.steps.data["loss"]
        noise.append(statistics.pstdev([b - a for a, b in pairwise(losses)]))
    print(f"lesson 11 seed {seed}: steps {[s.step_count for s in sessions]}, std of step-to-step "
          f"loss change: batch 1 {noise[0]:.4f}, 32 {noise[1]:.4f}, full {noise[2]:.5f}")
    # Fails if the curve's noise did not fall with the batch size.
    assert noise[0] > 3 * noise[1] > 3 * 3 * noise[2]


@pytest.mark.parametrize("seed", [0, 1])
def test_12_smoothing(seed: int) -> None:
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


@pytest.mark.parametrize("seed", [0, 3])
def test_13_optimizers(seed: int) -> None:
    found = specs("optimizers", seed)
    sgd, momentum, rmsprop, adam = run_variants(found, device=CPU)
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
    # Fails if plain SGD kept up with any of the others (a well-conditioned problem).
    assert reached[0] is not None and reached[0] > 1.5 * slowest_other


def test_14_lr_decay() -> None:
    found = specs("lr-decay")
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
    for session, formula in zip(run_variants(found, device=CPU), formulas, strict=True):
        evals = session.history.evals.data
        assert len(evals["lr"]) == 41  # epochs 0..40
        for epoch, lr in zip(evals["epoch"], evals["lr"], strict=True):
            assert lr is not None
            worst = max(worst, abs(lr - formula(int(epoch))) / formula(int(epoch)))
    print(f"lesson 14: largest relative error of the plotted lr against its formula {worst:.1e}")
    # Fails if any schedule's plotted rate departed from its formula at any epoch.
    assert worst < 1e-9


def test_15_lr_range() -> None:
    found = specs("lr-range")
    sessions = run_variants(found, device=CPU)
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
    print(f"lesson 15: divergence threshold 2/lambda_max = {threshold:.3f}; (lr, diverged, share "
          f"of loss removed): {[(lr, d, round(drop, 3)) for lr, d, drop in rows]}")
    # Diverges exactly above the threshold computed independently from the data.
    for lr, diverged, _ in rows:
        assert diverged == (lr > threshold)
    # Crawls far below it: lr 1e-4 removes under 5% of the loss, a good rate over 90%.
    assert rows[0][2] < 0.05
    assert max(drop for _, diverged, drop in rows if not diverged) > 0.9


@pytest.mark.parametrize("seed", [0, 2])
def test_16_input_normalisation(seed: int) -> None:
    found = specs("input-normalisation", seed)
    assert len(batch_groups(found)) == 1
    raw, raw_fast, standard = run_variants(found, device=CPU)
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
    assert flips > 0.9  # fails if the steps crept down the steep direction without overshoot


@pytest.mark.parametrize("seed", [0, 1])
def test_17_batch_normalisation(seed: int) -> None:
    plain, batchnorm, he = run("batch-normalisation", seed)
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
          f"train vs eval output relative difference {differ:.2f}")
    # Fails if BatchNorm did not rescue the default-init deep net.
    assert reached[0] is None and final(plain, "train_loss") > 0.65
    assert reached[1] is not None and reached[1] <= 100
    assert reached[2] is not None
    # Train and eval differ as their definitions say, and only as they say.
    assert differ > 0.05
    assert torch.allclose(eval_out[:1], alone, atol=1e-6)
    assert torch.allclose(eval_bn, by_running * norm.weight + norm.bias, atol=1e-5)
    assert torch.allclose(train_bn, by_batch * norm.weight + norm.bias, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1])
def test_18_softmax(seed: int) -> None:
    session = run("softmax", seed)[0]
    view = session.frame()["output"]
    labels = torch.tensor(list(base64.b64decode(view["values"])))
    shares = torch.bincount(labels, minlength=3).float() / len(labels)
    accuracy = final(session, "test_metric")
    print(f"lesson 18 seed {seed}: test accuracy {accuracy:.2f} (chance 0.33); grid share per "
          f"class {[round(v, 2) for v in shares.tolist()]}")
    # Fails if the net could not separate the arms, or the map did not show each class.
    assert view["kind"] == "classes" and view["classes"] == 3
    assert accuracy > 0.8
    assert int((shares > 0.1).sum()) >= 3


@pytest.mark.parametrize("seed", [0, 1])
def test_19_gradient_checking(seed: int) -> None:
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


@pytest.mark.parametrize("seed", [0, 1])
def test_20_bias_variance(seed: int) -> None:
    small, big = run("bias-variance", seed)
    verdicts = [diagnose_session(s) for s in (small, big)]
    print(f"lesson 20 seed {seed}: " + "; ".join(
        f"{v['verdict']} (bias {v['avoidable_bias']:.2f}, variance {v['variance']:.2f})"
        for v in verdicts))
    # Fails if a straight line fitted the moons, or the big net generalised from 30 points.
    assert verdicts[0]["verdict"] == "high bias"
    assert verdicts[1]["verdict"] == "high variance"


@pytest.mark.parametrize("seed", [0, 1])
def test_21_hyperparameter_search(seed: int) -> None:
    found = specs("hyperparameter-search", seed)
    groups = batch_groups(found)
    sessions = run_variants(found, device=CPU)
    rows = sorted((s.spec.optimizer.lr, s.spec.network.layers[0].units, final(s, "test_loss"))
                  for s in sessions)
    best = min(rows, key=lambda row: row[2])
    slow = [loss for lr, _, loss in rows if lr < 1e-3]
    print(f"lesson 21 seed {seed}: {len(found)} trials in {len(groups)} batches "
          f"{[len(g) for g in groups]}; best lr {best[0]:.3g} width {best[1]} test loss "
          f"{best[2]:.3f}; trials with lr < 1e-3: {[round(v, 3) for v in slow]}")
    # Trained at once: trials of one width share a batch.
    assert len(groups) < len(found) and max(len(g) for g in groups) >= 3
    # Results vary with lr: fails if the learning rate did not matter.
    assert best[0] > 3e-3
    assert slow and min(slow) > 3 * best[2]


@pytest.mark.parametrize("seed", [0, 1])
def test_22_distribution_shift(seed: int) -> None:
    same, shifted = run("distribution-shift", seed)
    train, test_same, test_shifted = (final(same, "train_loss"), final(same, "test_loss"),
                                      final(shifted, "test_loss"))
    print(f"lesson 22 seed {seed}: train loss {train:.4f}, test loss {test_same:.4f} unshifted, "
          f"{test_shifted:.3f} shifted")
    # Fails if the shifted test set were as easy as one drawn like the training data.
    assert train < 0.02 and final(shifted, "train_loss") < 0.02
    assert test_shifted > 20 * train and test_shifted > 10 * test_same


@pytest.mark.parametrize("seed", [0, 1])
def test_23_early_stopping(seed: int) -> None:
    session = run("early-stopping", seed)[0]
    stops = [e for e in session.events if e["event"] == "early_stopped"]
    evals = session.history.evals.data
    test_loss = evals["test_loss"]
    assert len(stops) == 1, session.events
    stop = stops[0]
    best = stop["best_epoch"]
    print(f"lesson 23 seed {seed}: stopped at epoch {stop['epoch']}, best epoch {best}; test loss "
          f"{test_loss[best]:.3f} at best, {test_loss[-1]:.3f} at stop; train loss "
          f"{evals['train_loss'][best]:.3f} -> {evals['train_loss'][-1]:.3f}")
    # Fails if the run went to its epoch limit (test loss never turned up).
    assert best < stop["epoch"] < (session.spec.training.epochs or 0)
    assert stop["epoch"] - best == session.spec.regularization.early_stopping.patience
    assert evals["epoch"][best] == best and test_loss[best] == min(test_loss)
    assert stop["best_test_loss"] == test_loss[best]
    assert evals["train_loss"][-1] < evals["train_loss"][best]  # training loss still falling
