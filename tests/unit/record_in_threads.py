"""Run by tests/unit/test_threads.py in a fresh process (no recording cached from another
test): several runs record their traced steps on several threads at the same moment, a
batch of runs among them, optionally while the compile thread compiles. Prints one JSON
line: each run's path, and the log lines that said a run fell back to a slower path."""

from __future__ import annotations

import json
import logging
import sys
import threading

import torch

from torchplay.engine.group import Training
from torchplay.engine.steppers import compiled, traced
from torchplay.spec.model import ExperimentSpec

THREADS = int(sys.argv[1])
COMPILING = sys.argv[2] == "compile"
MAX_STEPS = 20_000  # a bound, never reached when recording works


class Said(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def spec(seed: int, shape: int) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "training": {"seed": seed, "batch_size": 10 + shape},
        "network": {"layers": [{"type": "linear", "units": 3 + shape},
                               {"type": "activation", "fn": "tanh"},
                               {"type": "linear", "units": 2},
                               {"type": "activation", "fn": "tanh"}]}})


def main() -> None:
    torch.set_num_threads(1)
    said = Said()
    logging.getLogger("torchplay").addHandler(said)
    cpu = torch.device("cpu")
    trainings = [Training([spec(k, k)], cpu) for k in range(THREADS - 1)]
    trainings.append(Training([spec(1, THREADS), spec(2, THREADS)], cpu))  # one batch of two
    if COMPILING:  # the compile thread holds the tracer while these record
        x = torch.zeros(64, 3, 4)
        graph = traced.trace_flat(lambda params, y: (params[0] @ y,), [torch.ones(64, 2, 3)], x)
        pending = compiled.submit(graph, [torch.ones(64, 2, 3), x])
    start = threading.Barrier(len(trainings))

    def train(training: Training) -> None:
        start.wait()
        for _ in range(MAX_STEPS):
            training.step()
            # the fastest path says no reason: traced (lone) or batched and replayed
            if all(training.path(k)[1] is None for k in range(len(training.runs))) and \
                    training.runs[0].epoch > 1:
                return

    threads = [threading.Thread(target=train, args=(t,)) for t in trainings]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if COMPILING:
        pending.result()
    paths = [list(t.path(k)) for t in trainings for k in range(len(t.runs))]
    print(json.dumps({"paths": paths, "said": said.lines}))


if __name__ == "__main__":
    main()
