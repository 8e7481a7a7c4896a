"""A sweep of 256 trials trained at once against the same trials trained one after another.

    PYTHONPATH=backend python bench/sweep.py [--trials 256] [--lone 16] [--epochs 20] [--compile]

The sweep: TensorFlow Playground's default setup (circle, 250 training points, batch 10,
[4, 2] tanh, SGD), learning rate log-uniform in [0.001, 3] and L2 log-uniform in [1e-6, 0.1],
20 epochs each, seed 0: one SweepTraining (torchplay.sweeps.train), every trial in one batch.
The baseline: the same trials as lone runs (a Training of one replaying its traced step, as a
lone session trains), one after another. Timing all 256 lone runs would take minutes on this
shared machine, so the baseline is sampled: `--lone` trials spread evenly over the sweep are
timed and the time scaled to all of them (said in the output). Both times include building
the runs (data, models, first evaluation) and training to the last epoch. The lone runs'
final test losses are compared with the sweep's (the batch follows each lone run within
float tolerance: docs/protocol.md, reproducibility). Runs in a worker thread on one torch
thread, as the server trains. Read the ratio: absolute times drift 20-30% here.
"""

from __future__ import annotations

import argparse
import threading
import time

import torch

from torchplay.engine.group import Training
from torchplay.sweeps import sample
from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

CPU = torch.device("cpu")


def sweep_spec(trials: int, epochs: int) -> SweepSpec:
    return SweepSpec.model_validate({
        "parameters": [
            {"kind": "log_uniform", "path": "optimizer.lr", "low": 1e-3, "high": 3.0},
            {"kind": "log_uniform", "path": "regularization.l2", "low": 1e-6, "high": 0.1}],
        "trials": trials, "epochs": epochs, "seed": 0})


def lone(spec: object) -> float | None:
    """Train one trial alone to its limit; its final test loss."""
    training = Training([spec], CPU)
    training.resume()
    while training.wants_work:
        training.step()
    training.read_all()
    return training.runs[0].history.evals.data["test_loss"][-1]


def compare(trials: int, sampled: int, epochs: int, compile: bool) -> None:
    sweep = sweep_spec(trials, epochs)
    lone(sample.trials(sweep_spec(1, 1))[0].spec)  # imports, first recordings: paid untimed
    start = time.perf_counter()
    training = SweepTraining(sweep, CPU, compile=compile)
    built = time.perf_counter() - start
    results = training.run()
    together = time.perf_counter() - start
    picks = sorted({round(i * (trials - 1) / max(sampled - 1, 1)) for i in range(sampled)})
    start = time.perf_counter()
    losses = [lone(training.trials[i].spec) for i in picks]
    alone = (time.perf_counter() - start) * trials / len(picks)
    steps = sum(r.steps for r in results)
    diffs = [abs(a - results[i].test_loss) / max(abs(a), 1e-12) for a, i in
             zip(losses, picks, strict=True) if a is not None and results[i].test_loss]
    print(f"groups: {[(g.path, len(g.trials)) for g in training.groups]}")
    print(f"sweep of {trials} trials x {epochs} epochs: {together:.1f} s ({built:.1f} s "
          f"building), {steps / together:,.0f} model-steps/s; diverged: "
          f"{sum(r.diverged for r in results)}")
    print(f"lone, traced replay: {len(picks)} trials timed, scaled to {trials}: {alone:.1f} s, "
          f"{steps / alone:,.0f} model-steps/s")
    print(f"ratio: {alone / together:.1f}x")
    print(f"sampled final test losses, sweep vs lone, relative difference: median "
          f"{sorted(diffs)[len(diffs) // 2]:.1e}, largest {max(diffs):.1e} (at lr "
          f"{training.trials[picks[diffs.index(max(diffs))]].values['optimizer.lr']:.3g})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=256)
    parser.add_argument("--lone", type=int, default=16, help="lone trials timed and scaled")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--compile", action="store_true", help="the batch's step compiled "
                        "by inductor once ready, as the server trains a group")
    args = parser.parse_args()
    if min(args.trials, args.lone, args.epochs) < 1 or args.lone > args.trials:
        parser.error("--trials, --lone and --epochs must be positive, --lone <= --trials")
    torch.set_num_threads(1)
    worker = threading.Thread(target=compare, args=(args.trials, args.lone, args.epochs,
                                                   args.compile))
    worker.start()
    worker.join()


if __name__ == "__main__":
    main()
