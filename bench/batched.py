"""Many models at once: model-steps per second of K variants trained as one batch
(torchplay.engine.group.Training, batched) against the same K variants trained as
separate sessions, measured in the same run on one torch thread.

    PYTHONPATH=backend python bench/batched.py [--k 64] [--seconds 2] [--rounds 8]

The variants are TF Playground's default setup (circle, 250 training points, batch 10,
[4, 2] tanh, SGD) with K different seeds and learning rates. Read the ratio, not the absolute
figures: times drift 20-30% between runs on a 2-vCPU machine, which is why the paths take turns
in rounds and the rounds' own ratios are printed (their spread). Separate sessions replay
their traced step (engine/steppers/traced.py) as a lone run does; "separate, eager" gives the
same runs with it off, the baseline before that step existed. The batch is measured twice:
replaying its traced step ("batched, plain"), and with its step compiled by inductor
(compiled.py, as the server trains a group once the compile is ready: "compiled", whose
compile time is printed).
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Callable

import torch

from torchplay.engine.group import Training
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers.batched import BatchedStepper
from torchplay.spec.model import ExperimentSpec

CPU = torch.device("cpu")


def variant_specs(k: int) -> list[ExperimentSpec]:
    return [ExperimentSpec.model_validate({
        "optimizer": {"kind": "sgd", "lr": 0.003 * 10 ** (2 * i / max(k - 1, 1))},
        "training": {"seed": i}}) for i in range(k)]


def run_for(step: Callable[[], None], seconds: float) -> tuple[int, float]:
    """(steps, elapsed) of `step` called over about `seconds` of wall time."""
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        step()
        count += 1
    return count, elapsed


def compare(k: int, seconds: float, rounds: int) -> None:
    specs = variant_specs(k)
    sessions = [TrainingSession(spec, CPU) for spec in specs]
    eager = [TrainingSession(spec, CPU, traced=False) for spec in specs]

    def separate(sessions: list[TrainingSession] = sessions) -> None:
        for session in sessions:  # one step of every variant, one after another
            session.step()

    plain, fast = Training(specs, CPU), Training(specs, CPU, compile=True)
    (batch,) = fast.steppers
    assert isinstance(batch, BatchedStepper)
    paths = {"separate": separate, "plain": plain.step, "compiled": fast.step,
             "eager": lambda: separate(eager)}
    for _ in range(sessions[0].steps_per_epoch + 1):  # past the first epoch: all record their
        for step in paths.values():                    # step, then replay it
            step()
    start = time.perf_counter()
    if not batch.wait_compiled():
        raise SystemExit("the batched step did not compile (see the log): no C++ compiler?")
    compile_seconds = time.perf_counter() - start
    # Rounds interleave the paths, so that the machine's drift (20-30% on 2 vCPUs) falls on
    # all of them alike; each round also gives a ratio of its own, whose spread is printed.
    totals = {name: [0, 0.0] for name in paths}
    ratios: list[float] = []
    for _ in range(rounds):
        rate = {}
        for name, step in paths.items():
            count, elapsed = run_for(step, seconds / rounds)
            totals[name][0] += count
            totals[name][1] += elapsed
            rate[name] = count / elapsed
        ratios.append(rate["compiled"] / rate["separate"])
    lone, batched, together, eager_rate = (totals[n][0] / totals[n][1] * k for n in paths)
    print(f"{k:>5} {lone:>10,.0f} {batched:>16,.0f} {batched / lone:>6.1f} {together:>9,.0f}"
          f" {together / lone:>6.1f} {min(ratios):>6.1f}-{max(ratios):<5.1f}"
          f" {compile_seconds:>7.1f} {eager_rate:>9,.0f} {together / eager_rate:>6.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[8, 64, 256])
    parser.add_argument("--seconds", type=float, default=2.0, help="per path and K")
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0 or min(args.k) < 2:
        parser.error("--rounds and --seconds must be positive, every --k at least 2 (a lone "
                     "run is never batched)")
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}, 1 thread, in a worker thread as the server trains")
    print("model-steps/s of K variants: separate sessions, one batch replaying its traced step\n"
          "(plain), the batch's step compiled; ratios to separate; the rounds' own ratios\n"
          "(compiled); seconds the compile took beyond the first epoch; separate eager sessions")
    print(f"{'K':>5} {'separate':>10} {'batched, plain':>16} {'ratio':>6} {'compiled':>9}"
          f" {'ratio':>6} {'rounds':>12} {'compile':>7} {'eager':>9} {'ratio':>6}")
    for k in args.k:
        # a worker thread, as the server trains: the main thread's malloc arena trims and
        # re-faults large blocks (bench/engine.py measured it)
        worker = threading.Thread(target=compare, args=(k, args.seconds, args.rounds))
        worker.start()
        worker.join()


if __name__ == "__main__":
    main()
