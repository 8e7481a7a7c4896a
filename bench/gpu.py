"""The GPU path in minutes: exactness, then lone and batched steps against the CPU.

Run:  PYTHONPATH=backend python bench/gpu.py [--seconds 2]

Where CUDA is present it checks, on the GPU:
  - rerun identical: the same spec and seed trained twice give bitwise the same losses;
  - traced equals eager: a lone run's replayed step gives bitwise the eager step's losses;
  - batched equals lone: each of 8 variants side by side stays within the contract's
    tolerance of its lone run;
and times, on the GPU and on the CPU in the same run (one torch thread on the CPU, as the
server uses): a lone run of TF Playground's default (steps/s), the same run shown (a probed
step and a frame 30 times a second), and K = 64 and 256 variants side by side (model-steps/s).
Without CUDA it says so and exits 0: this is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from torchplay.engine.group import Training
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec

FPS = 30.0


def specs(k: int, overrides: dict | None = None) -> list[ExperimentSpec]:
    return [ExperimentSpec.model_validate({**(overrides or {}), "training": {"seed": s}})
            for s in range(k)]


def losses(training: Training, steps: int) -> list[float]:
    training.request(steps)
    while training.wants_work:
        training.step()
    return list(training.current(0).history.steps.data["loss"])


def check_exactness(device: torch.device) -> None:
    spec = specs(1)[0]
    first, again = (losses(TrainingSession(spec, device), 200) for _ in range(2))
    print(f"rerun identical on {device}: {first == again}")
    eager = losses(TrainingSession(spec, device, traced=False), 200)
    print(f"traced equals eager on {device}: {first == eager}")
    group = Training(specs(8), device)
    losses(group, 200)
    worst = 0.0
    for k, spec_k in enumerate(specs(8)):
        alone = torch.tensor(losses(TrainingSession(spec_k, device), 200))
        mine = torch.tensor(group.current(k).history.steps.data["loss"])
        worst = max(worst, ((mine - alone).abs() / alone.abs().clamp_min(1e-6)).max().item())
    print(f"batched vs lone on {device}: worst relative difference {worst:.2e} "
          f"(contract: 1e-4)")


def rate(step: Callable[[], None], seconds: float, sync: Callable[[], None]) -> float:
    step()
    sync()
    start, n = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    sync()
    return n / (time.perf_counter() - start)


def shown(session: TrainingSession, seconds: float, sync: Callable[[], None]) -> float:
    start, last, n = time.perf_counter(), -1.0, 0
    while (now := time.perf_counter()) - start < seconds:
        due = now - last >= 1 / FPS
        session.step(probe=due)
        if due:
            session.frame()
            last = now
        n += 1
    sync()
    return n / (time.perf_counter() - start)


def timings(device: torch.device, seconds: float) -> dict[str, float]:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    lone = TrainingSession(specs(1)[0], device)
    losses(lone, 60)  # past the first epoch: the replay
    figures = {"lone steps/s": rate(lone.step, seconds, sync),
               "lone shown steps/s": shown(lone, seconds, sync)}
    for k in (64, 256):
        group = Training(specs(k), device)
        losses(group, 60)
        figures[f"K={k} model-steps/s"] = k * rate(group.step, seconds, sync)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("no CUDA device here: nothing to measure (run this where a GPU is)")
        return
    torch.set_num_threads(1)
    gpu = torch.device("cuda")
    print(torch.cuda.get_device_name(0), "torch", torch.__version__)
    check_exactness(gpu)
    on_gpu, on_cpu = timings(gpu, args.seconds), timings(torch.device("cpu"), args.seconds)
    print(f"{'figure':<24}{'cuda':>12}{'cpu':>12}{'cuda/cpu':>10}")
    for name, value in on_gpu.items():
        print(f"{name:<24}{value:>12.0f}{on_cpu[name]:>12.0f}{value / on_cpu[name]:>10.2f}")


if __name__ == "__main__":
    main()
