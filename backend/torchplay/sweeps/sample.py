"""Trials from a sweep: each trial's values and training seed, and the next round's ranges.

The rule (documented in docs/sweeps.md): trial i of a sweep with seed s in round r draws from
numpy's `default_rng([s, r, i])`: one uniform u in [0, 1) per parameter, in the parameters'
order, then its training seed as `integers(0, 2**31)`. A parameter maps u to a value:
log_uniform exp(log low + u (log high - log low)), uniform low + u (high - low) (integer
fields round to the nearest), pow2 2^(a + floor(u (b - a + 1))) for exponents a..b, choice
values[floor(u n)]. A grid takes every combination instead (the last parameter varying
fastest; log_uniform points evenly spaced in log space) and its seeds follow the same rule.
So a trial depends on its index alone: a sweep of 256 trials begins with the sweep of 16.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from torchplay.spec.model import ExperimentSpec, SpecError
from torchplay.sweeps.spec import (
    Choice,
    LogUniform,
    PowersOfTwo,
    SweepSpec,
    Target,
    check_sweep,
    grid_size,
    is_log,
    resolve,
)


@dataclass(frozen=True)
class Trial:
    """One point of the search: its values by path, its training seed, its whole spec."""

    index: int
    values: dict[str, Any]
    seed: int
    spec: ExperimentSpec


def trials(sweep: SweepSpec) -> list[Trial]:
    """Every trial of the sweep, in index order; SpecError naming the field when the sweep
    does not fit the spec, or a trial's spec is not valid (e.g. `trials.3`)."""
    targets = check_sweep(sweep)
    if sweep.strategy == "grid":
        axes = [grid_values(p, t) for p, t in zip(sweep.parameters, targets, strict=True)]
        points = [list(p) for p in itertools.product(*axes)]
    else:
        points = [None] * sweep.trials
    out = []
    for i, point in enumerate(points):
        rng = np.random.default_rng([sweep.seed, sweep.round, i])
        draws = rng.random(len(sweep.parameters))
        seed = int(rng.integers(0, 2**31))
        values = point if point is not None else [
            draw(p, t, float(u)) for p, t, u in zip(sweep.parameters, targets, draws,
                                                    strict=True)]
        by_path = {p.path: v for p, v in zip(sweep.parameters, values, strict=True)}
        out.append(Trial(i, by_path, seed, trial_spec(sweep, by_path, seed, f"trials.{i}")))
    return out


def draw(param: Any, target: Target, u: float) -> Any:
    """The value u in [0, 1) maps to."""
    if isinstance(param, Choice):
        return param.values[min(int(u * len(param.values)), len(param.values) - 1)]
    if isinstance(param, PowersOfTwo):
        a, b = round(math.log2(param.low)), round(math.log2(param.high))
        return _typed(target, 2.0 ** (a + min(int(u * (b - a + 1)), b - a)))
    if isinstance(param, LogUniform):
        lo, hi = math.log(param.low), math.log(param.high)
        return _typed(target, math.exp(lo + u * (hi - lo)))
    return _typed(target, param.low + u * (param.high - param.low))


def grid_values(param: Any, target: Target) -> list[Any]:
    """The values a parameter takes on a grid."""
    if isinstance(param, Choice):
        return list(param.values)
    if isinstance(param, PowersOfTwo):
        a = round(math.log2(param.low))
        return [_typed(target, 2.0 ** (a + j)) for j in range(grid_size(param))]
    space = np.geomspace if isinstance(param, LogUniform) else np.linspace
    return [_typed(target, float(v)) for v in space(param.low, param.high, param.steps)]


def _typed(target: Target, value: float) -> Any:
    """Integers rounded and clamped into the field's bounds; floats kept within them (exp of
    a log may land one ulp outside)."""
    if target.type == "int":
        whole = round(value)
        low = math.floor(target.low) + 1 if target.low_open else math.ceil(target.low)
        high = math.ceil(target.high) - 1 if target.high_open else math.floor(target.high)
        return max(low, min(high, whole))
    return min(max(value, target.low), target.high)


def trial_spec(sweep: SweepSpec, values: dict[str, Any], seed: int,
               field: str) -> ExperimentSpec:
    """The base spec with the trial's values, its seed and the sweep's epoch limit. A new
    optimizer kind starts from that kind's defaults (as a patch naming another kind does)."""
    raw = sweep.base.model_dump()
    kind = values.get("optimizer.kind")
    if kind is not None and kind != raw["optimizer"]["kind"]:
        raw["optimizer"] = {"kind": kind}
    for path, value in values.items():
        if path == "optimizer.kind":
            continue
        *parents, last = path.split(".")
        node: Any = raw
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[last] = value
    raw["training"]["seed"] = seed
    raw["training"]["epochs"] = sweep.epochs
    try:
        return ExperimentSpec.model_validate(raw)
    except ValueError as error:
        raise SpecError(field, f"trial {field.split('.')[-1]} with {values} is not a valid "
                        f"spec: {error}") from error


def narrowed(sweep: SweepSpec, values: list[dict[str, Any]],
             scores: list[float | None]) -> SweepSpec:
    """The next round: each parameter's range spans the best k trials' values (by score,
    lowest best; None for a diverged trial, never best), widened on each side by the sweep's
    margin times that span, in log space for log_uniform and pow2, kept inside the field's
    bounds; a choice keeps the values the best k took. A span of zero widens by the margin
    times the previous range instead. Same seed, next round."""
    ranked = sorted((s, i) for i, s in enumerate(scores) if s is not None and math.isfinite(s))
    if not ranked:
        raise SpecError("results", "no trial finished with a finite score: nothing to narrow "
                        "around")
    best = [values[i] for _, i in ranked[:sweep.narrow.k]]
    margin = sweep.narrow.margin
    parameters = []
    for i, param in enumerate(sweep.parameters):
        taken = [b[param.path] for b in best]
        if isinstance(param, Choice):
            parameters.append(param.model_copy(update={
                "values": [v for v in param.values if v in taken]}))
            continue
        target = resolve(sweep.base, param.path, f"parameters.{i}.path")
        log = is_log(param)
        f, inv = (math.log, math.exp) if log else (float, float)
        lo, hi = f(min(taken)), f(max(taken))
        span = (hi - lo) or (f(param.high) - f(param.low))
        low, high = inv(lo - margin * span), inv(hi + margin * span)
        if isinstance(param, PowersOfTwo):
            low, high = _powers_inside(target, low, high)
        else:
            if target.type == "int":
                low, high = math.floor(low), math.ceil(high)
            low, high = _inside(target, low), _inside(target, high)
        parameters.append(param.model_copy(update={"low": low, "high": high}))
    return sweep.model_copy(update={"parameters": parameters, "round": sweep.round + 1})


def _powers_inside(target: Target, low: float, high: float) -> tuple[float, float]:
    """[low, high] rounded outward to powers of two, kept to the powers the field admits
    (from 1 for an integer field)."""
    bottom = 0 if target.type == "int" else math.ceil(math.log2(max(target.low, 2.0**-1000)))
    while not target.admits(2.0**bottom):
        bottom += 1
    top = math.floor(math.log2(min(target.high, 2.0**1000)))
    while not target.admits(2.0**top):
        top -= 1
    a = min(max(math.floor(math.log2(low) + 1e-9), bottom), top)
    b = min(max(math.ceil(math.log2(high) - 1e-9), bottom), top)
    return 2.0**a, 2.0**b


def _inside(target: Target, value: float) -> float:
    """value moved inside the field's bounds (an open bound by a relative hair)."""
    if not target.admits(value):
        if value <= target.low:
            value = target.low if not target.low_open else target.low + max(
                abs(target.low) * 1e-9, 1e-12)
        else:
            value = target.high if not target.high_open else target.high - max(
                abs(target.high) * 1e-9, 1e-12)
    return value


