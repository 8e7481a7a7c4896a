"""A sweep trained in-process against the same sweep as Ray tasks on a local Ray.

    PYTHONPATH=backend python bench/sweep_ray.py [--trials 64] [--epochs 20] [--cpus 2]

The sweep: TensorFlow Playground's default setup (circle, batch 10, [4, 2] tanh), learning
rate log-uniform in [0.001, 3] and the activation a choice of tanh and relu, so its trials
split into two batched groups: in-process they train in one Training, one thread; on Ray each
group is a task (one CPU each) running the same code (torchplay.sweeps.remote). Printed: the
in-process time, Ray's start (ray.init, once per server), the sweep's time on Ray (tasks
submitted to results back: worker start, torch import and the training), and whether every
trial's result is bitwise the same. Read the ratio: absolute times drift 20-30% here, and
on a 2-core machine Ray can win at most 2x (two groups on two cores) minus its overhead; a
cluster is for sweeps whose groups outnumber one machine's cores.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from pathlib import Path

import ray
import torch

from torchplay.sweeps.remote import RaySweep
from torchplay.sweeps.spec import SweepSpec
from torchplay.sweeps.train import SweepTraining

BACKEND = str(Path(__file__).resolve().parents[1] / "backend")


def sweep_spec(trials: int, epochs: int) -> SweepSpec:
    return SweepSpec.model_validate({
        "parameters": [
            {"kind": "log_uniform", "path": "optimizer.lr", "low": 1e-3, "high": 3.0},
            {"kind": "choice", "path": "network.layers.1.fn", "values": ["tanh", "relu"]}],
        "trials": trials, "epochs": epochs, "seed": 0})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)  # as the server trains, and as a one-CPU Ray task does
    sweep = sweep_spec(args.trials, args.epochs)

    SweepTraining(sweep).run()  # warm: the first run in a process pays one-off costs
    began = time.perf_counter()
    local = SweepTraining(sweep)
    expected = local.run()
    in_process = time.perf_counter() - began

    began = time.perf_counter()
    ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": BACKEND}})
    start = time.perf_counter() - began
    timings = []
    for _ in range(2):  # the first pays for starting the workers (and importing torch there)
        began = time.perf_counter()
        remote = RaySweep(sweep, "local", compile=False)
        while remote.training.wants_work:
            remote.training.step()
        timings.append(time.perf_counter() - began)
    same = [asdict(r) for r in remote.results()] == [asdict(r) for r in expected]
    ray.shutdown()
    print(f"{args.trials} trials x {args.epochs} epochs in {len(local.groups)} groups "
          f"({', '.join(str(len(g.trials)) for g in local.groups)} trials)")
    print(f"in-process, one thread, warm:  {in_process:6.2f} s")
    print(f"Ray start (ray.init, once):    {start:6.2f} s")
    print(f"Ray, {args.cpus} CPUs, first sweep:   {timings[0]:6.2f} s  "
          f"({in_process / timings[0]:.2f}x in-process)")
    print(f"Ray, {args.cpus} CPUs, next sweep:    {timings[1]:6.2f} s  "
          f"({in_process / timings[1]:.2f}x in-process)")
    print(f"results bitwise equal to in-process: {same}")


if __name__ == "__main__":
    main()
