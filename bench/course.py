"""The course's first network on the real Fashion-MNIST: load to first frame, shown epoch time
with probes and frames at the page's rate against a plain PyTorch loop, and bytes per frame.

Run:  PYTHONPATH=backend python bench/course.py [--epochs 2]
(needs Debian's dataset-fashion-mnist; about 10 s + 4 x epochs x the epoch time, ~1 min here)

The model is the lesson's: 784-256-10 ReLU, weights N(0, 0.01^2), SGD lr 0.1, batch 256,
cross-entropy, 60,000 training images. One torch thread, as the server trains. Figures:
  load      a cold process cache: the IDX files read and scaled, the session built, the first
            frame built and encoded (what a person waits for between 'start' and a picture).
  plain     a hand-written loop: shuffled batches by index, zero_grad, forward, loss, backward,
            step, loss.item(), and the test set's accuracy at each epoch's end (the course's
            loop); the baseline.
  served    what the runner does at 30 fps: every 1/30 s the step is probed and frame() +
            orjson follow; other steps are plain session.step() (traced from epoch 2); at
            each epoch's end the whole test set is evaluated and the training figures are the
            epoch's mini-batches' (engine/largedata.py), as the course's loop reports them.
Epoch times are the CPU time of the training thread (time.thread_time; torch runs on one
thread), and frames fall due every 1/30 s of that time: what a core of its own would see, so
that other jobs on a shared machine count neither in the times nor in how many frames an
epoch carries (by the wall clock, a machine 4x oversubscribed would draw 4x the frames).
Epochs alternate between the two loops; medians and ratios are printed.
Bytes per frame: median and largest encoded frame, and how many of them carried image views
(sent at most once a second).
"""

from __future__ import annotations

import argparse
import statistics
import time

import orjson
import torch
from torch.nn import functional as F

from torchplay.data.cache import SHARED
from torchplay.data.library import table
from torchplay.engine.session import TrainingSession
from torchplay.lessons.catalogue import get_lesson, lesson_specs
from torchplay.spec.model import ExperimentSpec

FPS = 30.0


def plain_epoch(model: torch.nn.Sequential, opt: torch.optim.Optimizer, x: torch.Tensor,
                y: torch.Tensor, x_test: torch.Tensor, y_test: torch.Tensor,
                g: torch.Generator) -> float:
    start = time.thread_time()
    order = torch.randperm(len(y), generator=g)
    model.train()
    for i in range(0, len(y), 256):
        batch = order[i:i + 256]
        loss = F.cross_entropy(model(x[batch]), y[batch])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()
    model.eval()
    with torch.no_grad():
        (model(x_test).argmax(1) == y_test).float().mean().item()
    return time.thread_time() - start


def served_epoch(session: TrainingSession, sizes: list[int], views: list[int]) -> float:
    start = time.thread_time()
    last_frame = start - 1.0
    epoch = session.epoch
    session.running = True  # as the runner runs it: views and figures at their own pace
    sent = 0
    while session.epoch == epoch:
        now = time.thread_time()
        due = now - last_frame >= 1.0 / FPS
        session.step(probe=due)
        if due:
            frame = session.frame()
            images = frame.get("images")
            if images is not None and images["version"] != sent:  # ws.py sends each once
                sent = images["version"]
                views.append(len(orjson.dumps(images)))
            else:
                frame["images"] = None
            sizes.append(len(orjson.dumps(frame)))
            last_frame = now
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs of each loop")
    args = parser.parse_args()
    torch.set_num_threads(1)
    (_, spec), = lesson_specs(get_lesson("first-network-fashion-mnist"))

    # torch imports its compiler stack when the first optimizer is made (~1-3 s, once per
    # process): a server has paid that before anyone picks Fashion-MNIST, so pay it here too.
    TrainingSession(ExperimentSpec(), torch.device("cpu"))
    SHARED.forget()
    cpu = time.thread_time()
    start = time.perf_counter()
    loaded = table("fashion_mnist")
    read = time.perf_counter()
    session = TrainingSession(spec, torch.device("cpu"))
    built = time.perf_counter()
    first = orjson.dumps(session.frame())
    shown = time.perf_counter()
    cpu = time.thread_time() - cpu
    print(f"load to first frame: {shown - start:.2f} s (IDX files read and scaled "
          f"{read - start:.2f} s, session with its step-0 evaluation {built - read:.2f} s, first "
          f"frame {shown - built:.3f} s, {len(first):,} bytes; {cpu:.2f} CPU s); goal < 2 s")
    assert session.x_train.data_ptr() == torch.from_numpy(loaded.x).data_ptr()

    g = torch.Generator().manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    with torch.no_grad():
        for m in model:
            if isinstance(m, torch.nn.Linear):
                m.weight.normal_(0, 0.01, generator=g)
                m.bias.zero_()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, y, x_test, y_test = session.x_train, session.y_train, session.x_test, session.y_test
    times: dict[str, list[float]] = {"plain": [], "served": []}
    sizes: list[int] = []
    views: list[int] = []
    # Epoch 1 steps eagerly; epoch 2 records the traced step (for the full batch and the
    # epoch's shorter last one, ~0.05 s each, once per run): timed epochs are steady ones.
    for _ in range(2):
        served_epoch(session, [], [])
    for _ in range(args.epochs):
        times["plain"].append(plain_epoch(model, optimizer, x, y, x_test, y_test, g))
        times["served"].append(served_epoch(session, sizes, views))
    med = {k: statistics.median(v) for k, v in times.items()}
    for name, value in med.items():
        print(f"{name:7s} {value:6.2f} CPU s/epoch  (runs: "
              f"{', '.join(f'{t:.2f}' for t in times[name])})")
    print(f"served / plain  = {med['served'] / med['plain']:.2f}x  (goal <= 1.10x)")
    _, accuracy = session.evaluate(session.x_test, session.y_test)
    print(f"frames: {len(sizes)} at {FPS:g} fps, median {statistics.median(sizes):,.0f} bytes, "
          f"largest {max(sizes):,} bytes; {len(views)} carried image views (median "
          f"{statistics.median(views) if views else 0:,.0f} bytes); served run's test "
          f"accuracy after {session.epoch} epochs: {accuracy:.3f}")


if __name__ == "__main__":
    main()
