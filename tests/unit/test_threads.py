"""Recording and compiling are safe with any number of worker threads at once (issue 14):
torch.fx keeps its tracer in module globals and patches nn.Module.__call__ process-wide while
it traces, so two recordings at once, or an eager step beside a compile, used to corrupt each
other. Each trial runs in a fresh process (tests/unit/record_in_threads.py), so that no
recording cached by an earlier test hides the race."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("record_in_threads.py")


def trials(count: int, threads: int, mode: str) -> list[dict]:
    """`count` trials, two processes at a time (this machine has two cores)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "backend")}
    results = []
    for first in range(0, count, 2):
        running = [subprocess.Popen([sys.executable, str(SCRIPT), str(threads), mode],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env) for _ in range(min(2, count - first))]
        for process in running:
            out, err = process.communicate(timeout=600)
            assert process.returncode == 0, err[-3000:]
            results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def assert_every_run_on_its_fastest_path(result: dict) -> None:
    assert result["said"] == [], "a run fell back to a slower path"
    paths = [tuple(path) for path in result["paths"]]
    assert paths[:-2] == [("traced", None)] * (len(paths) - 2), paths
    assert paths[-2:] == [("batched", None)] * 2, paths  # the batch of two, replayed


def test_several_runs_recording_on_several_threads_at_once_never_fall_back() -> None:
    for result in trials(20, threads=4, mode="plain"):
        assert_every_run_on_its_fastest_path(result)


@pytest.mark.parametrize("trial", range(2))
def test_runs_recording_and_stepping_while_the_compile_thread_compiles(trial: int) -> None:
    (result,) = trials(1, threads=4, mode="compile")
    assert_every_run_on_its_fastest_path(result)
