"""The one training path (issue 15) against the code before it, in one process.

Run:  PYTHONPATH=backend python bench/before_after.py [--before 09de7c0]
      [--rounds 7] [--seconds 1.5]

`--before` names a commit; its backend/torchplay is copied out of git into a temporary
folder as the package `torchplay_before` (imports rewritten), so both versions train in this
process on one torch thread, in interleaved rounds (drift on this machine is 20-30%, and it
hits both alike). Two figures, each the median of the rounds with their spread:
  shown   TF Playground's default setup as the server shows it: every 1/30 s of wall time a
          probed step and a frame, other steps bare (epochs a second).
  K=64    64 variants of that setup side by side (no compile), in model-steps a second, over
          64 separate lone runs (traced replay) of the same code: the batched ratio.
"""

from __future__ import annotations

import argparse
import importlib
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import torch

ROOT = Path(__file__).resolve().parent.parent
FPS = 30.0
K = 64


def load_before(commit: str, folder: Path) -> ModuleType:
    """The package as it was at `commit`, importable as torchplay_before."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "backend/torchplay"],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    package = folder / "backend" / "torchplay"
    target = folder / "torchplay_before"
    package.rename(target)
    for path in target.rglob("*.py"):
        text = path.read_text()
        text = re.sub(r"\btorchplay(\.|\b(?= import))", r"torchplay_before\1", text)
        path.write_text(text)
    sys.path.insert(0, str(folder))
    return importlib.import_module("torchplay_before")


def shown_rate(session: Any, seconds: float) -> float:
    """Epochs a second while showing 30 frames a second (a probed step, then a frame)."""
    start = time.perf_counter()
    epoch0, last_frame = session.epoch, -1.0
    while (now := time.perf_counter()) - start < seconds:
        due = now - last_frame >= 1 / FPS
        session.step(probe=due)
        if due:
            session.frame()
            last_frame = now
    return (session.epoch - epoch0) / (time.perf_counter() - start)


def model_steps(step: Callable[[], None], models: int, seconds: float) -> float:
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        step()
        steps += 1
    return steps * models / (time.perf_counter() - start)


def versions(before: ModuleType) -> dict[str, dict[str, Any]]:
    """Each version's lone session class, batch factory and spec class."""
    new_session = importlib.import_module("torchplay.engine.session")
    new_group = importlib.import_module("torchplay.engine.group")
    new_spec = importlib.import_module("torchplay.spec.model")
    old_session = importlib.import_module(f"{before.__name__}.engine.session")
    old_batched = importlib.import_module(f"{before.__name__}.engine.steppers.batched")
    old_spec = importlib.import_module(f"{before.__name__}.spec.model")
    cpu = torch.device("cpu")
    return {
        "before": {"session": old_session.TrainingSession, "spec": old_spec.ExperimentSpec,
                   "batch": lambda specs: old_batched.BatchedRuns(specs, cpu)},
        "after": {"session": new_session.TrainingSession, "spec": new_spec.ExperimentSpec,
                  "batch": lambda specs: new_group.Training(specs, cpu)},
    }


def warm(version: dict[str, Any]) -> dict[str, Any]:
    """Sessions and batches past their first epoch (recorded), ready to be timed."""
    spec_class, session_class = version["spec"], version["session"]
    specs = [spec_class.model_validate({"training": {"seed": k}}) for k in range(K)]
    shown = session_class(specs[0], torch.device("cpu"))
    separate = [session_class(spec, torch.device("cpu")) for spec in specs]
    batch = version["batch"](specs)
    for _ in range(60):  # two epochs of 25 steps and more: every step recorded
        shown.step()
        batch.step()
        for session in separate:
            session.step()
    return {"shown": shown, "separate": separate, "batch": batch}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="09de7c0", help="commit of the code before")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=1.5)
    args = parser.parse_args()
    if args.rounds < 1 or args.seconds <= 0:
        parser.error("--rounds must be >= 1 and --seconds > 0")
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as folder:
        kinds = versions(load_before(args.before, Path(folder)))
        live = {name: warm(version) for name, version in kinds.items()}
        figures: dict[str, dict[str, list[float]]] = {n: {"shown": [], "ratio": []}
                                                      for n in kinds}
        for _ in range(args.rounds):
            for name, parts in live.items():
                figures[name]["shown"].append(shown_rate(parts["shown"], args.seconds))

                def separate(sessions: list[Any] = parts["separate"]) -> None:
                    for session in sessions:
                        session.step()

                alone = model_steps(separate, K, args.seconds)
                together = model_steps(parts["batch"].step, K, args.seconds)
                figures[name]["ratio"].append(together / alone)
    print(f"{'figure':<34}{'before':>18}{'after':>18}{'after/before':>14}")
    for key, label in (("shown", "shown epochs/s, default setup"),
                       ("ratio", f"K={K} batched / {K} separate")):
        medians = {n: statistics.median(figures[n][key]) for n in kinds}
        cells = [f"{medians[n]:8.1f} ({min(figures[n][key]):.0f}-{max(figures[n][key]):.0f})"
                 if key == "shown" else
                 f"{medians[n]:8.1f} ({min(figures[n][key]):.1f}-{max(figures[n][key]):.1f})"
                 for n in kinds]
        change = medians["after"] / medians["before"]
        print(f"{label:<34}{cells[0]:>18}{cells[1]:>18}{change:>14.2f}")
    print(f"medians of {args.rounds} interleaved rounds of {args.seconds} s (min-max in brackets)")


if __name__ == "__main__":
    main()
