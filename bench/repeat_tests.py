"""Run one test file many times, each time in a fresh process with its tests in a new random
order, and print how many runs passed: for races that show only in some orders or timings
(issue 14: the compiled-step tests, which once failed 4 runs of 7).

Run:  python bench/repeat_tests.py tests/unit/test_compiled.py [--times 20]
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_ids(path: str) -> list[str]:
    listed = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", path],
                            cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return [line for line in listed.splitlines() if "::" in line]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--times", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0, help="of the orders")
    args = parser.parse_args()
    if args.times < 1:
        parser.error("--times must be >= 1")
    ids = test_ids(args.path)
    orders = random.Random(args.seed)
    passed = 0
    for run in range(1, args.times + 1):
        order = ids[:]
        orders.shuffle(order)
        start = time.perf_counter()
        # pytest runs the ids in the order given
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               *order], cwd=ROOT, capture_output=True, text=True)
        ok = done.returncode == 0
        passed += ok
        summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
        print(f"run {run:>2}: {'pass' if ok else 'FAIL'} in {time.perf_counter() - start:5.1f} s"
              f"  {summary}", flush=True)
    print(f"{passed} of {args.times} runs passed ({len(ids)} tests each, shuffled)")
    sys.exit(0 if passed == args.times else 1)


if __name__ == "__main__":
    main()
