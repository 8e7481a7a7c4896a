"""Exponentially weighted moving average of a curve, with and without bias correction (lesson 12).

The page smooths loss curves itself; this is the reference it must agree with, and what the
lesson test checks: v_0 = 0, v_t = beta * v_{t-1} + (1 - beta) * x_t, and the debiased value
v_t / (1 - beta^t). Because v_0 = 0 the plain average starts near zero ((1 - beta) * x_1); the
correction divides that start-up bias away, so the debiased curve starts at x_1.
"""

from __future__ import annotations

from collections.abc import Sequence


def ema(values: Sequence[float], beta: float = 0.9, debias: bool = True) -> list[float]:
    """The EMA of `values` at every step (1-based t), debiased unless debias is False."""
    if not 0 <= beta < 1:
        raise ValueError("beta must be in [0, 1)")
    smoothed, average, decay = [], 0.0, 1.0
    for value in values:
        average = beta * average + (1 - beta) * value
        decay *= beta  # beta^t, kept as a running product rather than a power each step
        smoothed.append(average / (1 - decay) if debias else average)
    return smoothed
