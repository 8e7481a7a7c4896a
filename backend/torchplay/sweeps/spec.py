"""SweepSpec: a hyperparameter search described as data, and the fields it may vary.

A sweep is a base ExperimentSpec, a few parameters (each a numeric or choice field of the spec
named by its dotted path, e.g. `optimizer.lr` or `network.layers.0.units`, with a
distribution), a strategy, a number of trials, an epoch budget per trial and a seed. The
structure is checked by pydantic; `check_sweep` then checks it against the spec itself (the
path exists, the field can vary, the range lies inside the field's own bounds) and raises a
SpecError naming the sweep's field, e.g. `parameters.0.high`.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import annotated_types
from pydantic import BaseModel, Field, model_validator

from torchplay.spec.model import ExperimentSpec, SpecError, Strict

MAX_TRIALS = 512
MAX_SWEEP_PARAMETERS = 8
MAX_SWEEP_EPOCHS = 1000
OPTIMIZER_KINDS = ("sgd", "rmsprop", "adam", "adamw", "adagrad")
# Fields a sweep sets itself, or that would not make trials comparable.
FIXED = {
    "version": "the spec format version is not a hyperparameter",
    "training.seed": "each trial's training seed derives from the sweep's seed",
    "training.epochs": "the sweep's `epochs` sets every trial's epoch limit",
    "training.device": "every trial trains on the server's device",
}


class LogUniform(Strict):
    """Values whose logarithms are uniform in [log low, log high]: for a field spanning
    decades (learning rate, L2)."""

    kind: Literal["log_uniform"] = "log_uniform"
    path: str = Field(min_length=1, max_length=200, description="Dotted path into the spec.")
    low: float = Field(gt=0, description="Smallest value (> 0).")
    high: float = Field(gt=0, description="Largest value.")
    steps: int = Field(4, ge=2, le=64, description="grid: points spaced evenly in log space.")


class Uniform(Strict):
    """Values uniform in [low, high] (integers round to the nearest)."""

    kind: Literal["uniform"] = "uniform"
    path: str = Field(min_length=1, max_length=200, description="Dotted path into the spec.")
    low: float = Field(description="Smallest value.")
    high: float = Field(description="Largest value.")
    steps: int = Field(4, ge=2, le=64, description="grid: points spaced evenly.")


class PowersOfTwo(Strict):
    """Powers of two from low to high, each exponent equally likely (widths, batch sizes)."""

    kind: Literal["pow2"] = "pow2"
    path: str = Field(min_length=1, max_length=200, description="Dotted path into the spec.")
    low: float = Field(gt=0, description="Smallest power of two.")
    high: float = Field(gt=0, description="Largest power of two.")


class Choice(Strict):
    """One of the listed values, each equally likely (optimizer kind, activation, ...)."""

    kind: Literal["choice"] = "choice"
    path: str = Field(min_length=1, max_length=200, description="Dotted path into the spec.")
    values: list[bool | int | float | str] = Field(min_length=1, max_length=64,
                                                   description="The values to choose from.")


Parameter = Annotated[LogUniform | Uniform | PowersOfTwo | Choice, Field(discriminator="kind")]


class NarrowSpec(Strict):
    """How a next round narrows: each parameter's range spans the best k trials' values,
    widened on each side by `margin` times that span (in log space for log and pow2)."""

    k: int = Field(8, ge=1, le=MAX_TRIALS, description="How many of the best trials.")
    margin: float = Field(0.25, ge=0, le=10, description="Widening on each side, as a share "
                          "of the best trials' span.")


class SweepSpec(Strict):
    """A hyperparameter search."""

    base: ExperimentSpec = Field(default_factory=ExperimentSpec)
    parameters: list[Parameter] = Field(min_length=1, max_length=MAX_SWEEP_PARAMETERS)
    strategy: Literal["random", "grid"] = Field("random", description="random: `trials` "
                                                "draws; grid: every combination.")
    trials: int = Field(64, ge=1, description=f"random: trials drawn (at most {MAX_TRIALS}).")
    epochs: int = Field(20, ge=1, le=MAX_SWEEP_EPOCHS, description="Epochs per trial.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of every trial's values and "
                      "training seed.")
    round: int = Field(0, ge=0, le=10_000, description="Narrowing round (0 for a first "
                       "search); part of the seed rule.")
    metric: Literal["test_loss", "test_metric"] = Field("test_loss", description="What ranks "
                                                        "trials: test loss (lowest best) or "
                                                        "test accuracy / R^2 (highest best).")
    narrow: NarrowSpec = Field(default_factory=NarrowSpec)

    @model_validator(mode="after")
    def _distinct_paths(self) -> SweepSpec:
        paths = [p.path for p in self.parameters]
        if len(set(paths)) != len(paths):
            raise ValueError("each parameter's path may appear once")
        return self


@dataclass(frozen=True)
class Target:
    """A spec field a parameter varies: its type and its own bounds."""

    path: str
    type: Literal["int", "float", "choice"]
    choices: tuple[Any, ...] = ()
    low: float = -math.inf
    low_open: bool = False
    high: float = math.inf
    high_open: bool = False

    def admits(self, value: float) -> bool:
        above = value > self.low if self.low_open else value >= self.low
        below = value < self.high if self.high_open else value <= self.high
        return above and below

    def bounds_text(self) -> str:
        low = f"{'>' if self.low_open else '>='} {self.low:g}"
        high = f"{'<' if self.high_open else '<='} {self.high:g}"
        return f"{self.path} must be {low} and {high}"


def resolve(spec: ExperimentSpec, path: str, field: str) -> Target:
    """The field at `path` in `spec`; SpecError(field) when there is none or it cannot vary."""
    if path in FIXED:
        raise SpecError(field, f"{path} cannot vary: {FIXED[path]}")
    node: Any = spec
    parts = path.split(".")
    for i, part in enumerate(parts):
        where = ".".join(parts[:i + 1])
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SpecError(field, f"{path}: {'.'.join(parts[:i])} has no item {part} "
                                f"(it has {len(node)})")
            node = node[int(part)]
            continue
        if not isinstance(node, BaseModel) or part not in type(node).model_fields:
            raise SpecError(field, f"{path}: the spec has no field {where}")
        info = type(node).model_fields[part]
        if i < len(parts) - 1:
            node = getattr(node, part)
            continue
        if where == "optimizer.kind":
            return Target(path, "choice", OPTIMIZER_KINDS)
        return _target(path, field, info.annotation, info.metadata)
    raise SpecError(field, f"{path} names a list item, not a field")  # pragma: no cover


def _target(path: str, field: str, annotation: Any, metadata: list[Any]) -> Target:
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]  # `int | None`: the number
    if annotation is bool:
        return Target(path, "choice", (False, True))
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        if len(choices) < 2:
            raise SpecError(field, f"{path} cannot vary: it has one value ({choices[0]!r})")
        return Target(path, "choice", choices)
    if annotation not in (int, float):
        raise SpecError(field, f"{path} cannot vary: it is neither a number nor a choice")
    bounds: dict[str, Any] = {}
    for item in metadata:
        if isinstance(item, annotated_types.Ge):
            bounds.update(low=float(item.ge))
        elif isinstance(item, annotated_types.Gt):
            bounds.update(low=float(item.gt), low_open=True)
        elif isinstance(item, annotated_types.Le):
            bounds.update(high=float(item.le))
        elif isinstance(item, annotated_types.Lt):
            bounds.update(high=float(item.lt), high_open=True)
    return Target(path, "int" if annotation is int else "float", **bounds)


def check_sweep(sweep: SweepSpec) -> list[Target]:
    """Each parameter's target, checked against the spec's own bounds; SpecError naming the
    sweep's field (e.g. `parameters.1.high`) otherwise."""
    targets = []
    for i, param in enumerate(sweep.parameters):
        at = f"parameters.{i}"
        target = resolve(sweep.base, param.path, f"{at}.path")
        if isinstance(param, Choice):
            for j, value in enumerate(param.values):
                _check_value(target, value, f"{at}.values.{j}")
        else:
            if target.type == "choice":
                raise SpecError(f"{at}.kind", f"{param.path} is a choice of "
                                f"{list(target.choices)}: use kind 'choice' with values")
            if param.low > param.high:
                raise SpecError(f"{at}.low", f"low ({param.low:g}) is above high "
                                f"({param.high:g})")
            for end in ("low", "high"):
                value = getattr(param, end)
                if not target.admits(value):
                    raise SpecError(f"{at}.{end}", f"{end} {value:g} is outside the spec's "
                                    f"bounds: {target.bounds_text()}")
            if isinstance(param, PowersOfTwo):
                for end in ("low", "high"):
                    exponent = math.log2(getattr(param, end))
                    if exponent != round(exponent):
                        raise SpecError(f"{at}.{end}", f"{getattr(param, end):g} is not a "
                                        "power of two")
                if target.type == "int" and param.low < 1:
                    raise SpecError(f"{at}.low", f"{param.path} is an integer: powers of two "
                                    "from 1")
            if target.type == "int" and math.ceil(param.low) > math.floor(param.high):
                raise SpecError(f"{at}.high", f"{param.path} is an integer and no integer "
                                "lies between low and high")
        targets.append(target)
    if sweep.strategy == "random" and sweep.trials > MAX_TRIALS:
        raise SpecError("trials", f"at most {MAX_TRIALS} trials (asked for {sweep.trials})")
    if sweep.strategy == "grid":
        count = math.prod(grid_size(p) for p in sweep.parameters)
        if count > MAX_TRIALS:
            raise SpecError("parameters", f"the grid has {count} combinations, more than "
                            f"{MAX_TRIALS} trials")
    return targets


def _check_value(target: Target, value: Any, field: str) -> None:
    if target.type == "choice":
        if value not in target.choices or type(value) is not type(target.choices[0]):
            raise SpecError(field, f"{value!r} is not a value of {target.path}: one of "
                            f"{list(target.choices)}")
        return
    if isinstance(value, bool | str) or (target.type == "int" and value != int(value)):
        raise SpecError(field, f"{value!r} is not a value of {target.path} ({target.type})")
    if not target.admits(float(value)):
        raise SpecError(field, f"{value:g} is outside the spec's bounds: "
                        f"{target.bounds_text()}")


def grid_size(param: Any) -> int:
    """How many values a parameter takes on a grid."""
    if isinstance(param, Choice):
        return len(param.values)
    if isinstance(param, PowersOfTwo):
        return round(math.log2(param.high)) - round(math.log2(param.low)) + 1
    return param.steps


def is_log(param: Any) -> bool:
    """Whether the parameter's range is read in log space (axes, narrowing)."""
    return isinstance(param, LogUniform | PowersOfTwo)


def axes(sweep: SweepSpec) -> dict[str, Any]:
    """How a client draws a sweep's results (in `sweep_ready` and a saved sweep alike): which
    parameters' axes are log scales, and what `test_metric` measures."""
    return {"log": {p.path: is_log(p) for p in sweep.parameters},
            "metric": "r2" if sweep.base.data.task == "regression" else "accuracy"}


def sweepable(spec: ExperimentSpec) -> list[tuple[Target, Any]]:
    """Every field of `spec` a sweep may vary (resolve() accepts it), with its value in the
    spec, in the spec's own order: what the page's sweep form offers."""
    found: list[tuple[Target, Any]] = []

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{prefix}{i}.")
            return
        if not isinstance(node, BaseModel):
            return
        for name in type(node).model_fields:
            value, path = getattr(node, name), f"{prefix}{name}"
            if isinstance(value, BaseModel | list):
                walk(value, f"{path}.")
                continue
            try:
                found.append((resolve(spec, path, "path"), value))
            except SpecError:
                continue  # fixed, one-valued, or neither a number nor a choice

    walk(spec, "")
    return found
