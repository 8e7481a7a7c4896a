"""The lesson catalogue: one JSON file per lesson in catalogue/, validated into Lesson models.

A lesson is data, not code: a title, a short explanation, what to watch on the page, and the
experiment(s) to run, written as ExperimentSpec JSON. It has exactly one of
- `spec`: one experiment;
- `base` + `variants`: experiments to compare, each `base` with a JSON merge patch applied;
- `base` + `search`: a random search, each trial `base` with sampled values set at dotted paths.
Specs need only their non-default fields. Every spec of every lesson is validated as an
ExperimentSpec when the catalogue loads, so a broken lesson fails at load (and in the tests),
never on the page.
"""

from __future__ import annotations

import copy
import json
import math
from importlib import resources
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from torchplay.spec.model import ExperimentSpec, merge_patch

SLUG = r"^[a-z0-9]+(-[a-z0-9]+)*$"
# A dotted path into a spec: object keys by name, list items by index (network.layers.0.units).
PATH = r"^[a-z_0-9]+(\.[a-z_0-9]+)+$"
Tool = Literal["activation_curves", "ema", "gradient_check", "diagnosis"]


class Strict(BaseModel):
    """Unknown keys are errors: a typo in a lesson file must not pass silently."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Variant(Strict):
    """One of the runs a lesson compares: the base spec with a JSON merge patch applied."""

    label: str = Field(min_length=1, max_length=80, description="Legend label on the page.")
    patch: dict[str, Any] = Field(default_factory=dict, description="JSON merge patch "
                                  "(RFC 7386) applied to the lesson's base spec; lists "
                                  "replace, objects merge.")


class SearchParam(Strict):
    """One hyperparameter of a random search, drawn log-uniformly in [low, high]."""

    path: str = Field(pattern=PATH, description="Where the value goes in the spec, e.g. "
                      "optimizer.lr or network.layers.0.units (list items must exist in the "
                      "base).")
    low: float = Field(gt=0, description="Smallest value.")
    high: float = Field(gt=0, description="Largest value.")
    round_to: Literal["none", "power_of_two"] = Field(
        "none", description="power_of_two: round to the nearest power of two (an integer), so "
        "that trials of one width share a layer stack and can train side by side.")

    @model_validator(mode="after")
    def _ordered(self) -> SearchParam:
        if self.low >= self.high:
            raise ValueError(f"{self.path}: low must be below high")
        return self

    @property
    def name(self) -> str:
        """The last named part of the path, for labels (network.layers.0.units -> units)."""
        return next(p for p in reversed(self.path.split(".")) if not p.isdigit())

    def draw(self, rng: np.random.Generator) -> float | int:
        value = math.exp(rng.uniform(math.log(self.low), math.log(self.high)))
        if self.round_to == "power_of_two":
            return 2 ** round(math.log2(value))
        return value


class Search(Strict):
    """A random search: `trials` specs, each with every parameter drawn independently."""

    trials: int = Field(ge=2, le=256, description="Number of sampled specs.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the sampling, so a lesson "
                      "always shows the same trials.")
    params: list[SearchParam] = Field(min_length=1, max_length=8)


class Lesson(Strict):
    """One entry of the catalogue, as the page receives it."""

    id: str = Field(pattern=SLUG, max_length=60, description="Stable slug, used in links.")
    number: int = Field(ge=1, le=999, description="Position in the course (LESSONS.md).")
    title: str = Field(min_length=1, max_length=80)
    text: str = Field(min_length=1, description="Short explanation, Markdown; formulas in "
                      "plain Unicode.")
    watch: str = Field(min_length=1, description="What to look at on the page, and where.")
    tool: Tool | None = Field(None, description="A backend helper the page shows beside the "
                              "runs: activation_curves (torchplay.lessons.activations), ema "
                              "(torchplay.lessons.smoothing), gradient_check "
                              "(torchplay.lessons.gradcheck), diagnosis "
                              "(torchplay.lessons.diagnosis).")
    spec: dict[str, Any] | None = Field(None, description="The one experiment to run.")
    base: dict[str, Any] | None = Field(None, description="Spec the variants or trials start "
                                        "from.")
    variants: list[Variant] | None = Field(None, min_length=2, max_length=32)
    search: Search | None = None

    @model_validator(mode="after")
    def _one_shape_and_valid_specs(self) -> Lesson:
        shape = (self.spec is not None, self.base is not None, self.variants is not None,
                 self.search is not None)
        if shape not in ((True, False, False, False), (False, True, True, False),
                         (False, True, False, True)):
            raise ValueError("a lesson has exactly one of: spec; base and variants; base and "
                             "search")
        lesson_specs(self)  # raises, naming the variant, if any spec is invalid
        return self


def _set_path(raw: dict[str, Any], path: str, value: object) -> None:
    """Set a value at a dotted path: missing object keys are created (the spec's validation
    then refuses any that are not fields), list items must already exist."""
    *parents, last = path.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
    if isinstance(node, list):
        node[int(last)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise KeyError(path)


def _validated(label: str, raw: dict[str, Any]) -> ExperimentSpec:
    try:
        return ExperimentSpec.model_validate(raw)
    except (ValidationError, ValueError) as error:
        raise ValueError(f"{label!r}: {error}") from error


def search_trials(base: dict[str, Any], search: Search) -> list[tuple[str, dict[str, Any]]]:
    """The sampled trials of a search as (label, raw spec); the same search gives the same
    trials."""
    rng = np.random.default_rng(search.seed)
    trials = []
    for _ in range(search.trials):
        raw = copy.deepcopy(base)
        parts = []
        for param in search.params:
            value = param.draw(rng)
            try:
                _set_path(raw, param.path, value)
            except (AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
                raise ValueError(f"search path {param.path} is not in the base spec") from error
            parts.append(f"{param.name} {value:.3g}" if isinstance(value, float) else
                         f"{param.name} {value}")
        trials.append((", ".join(parts), raw))
    return trials


def lesson_specs(lesson: Lesson) -> list[tuple[str, ExperimentSpec]]:
    """Every experiment of a lesson as (label, validated spec), in the page's order."""
    if lesson.spec is not None:
        return [(lesson.title, _validated(lesson.title, lesson.spec))]
    assert lesson.base is not None
    if lesson.variants is not None:
        return [(v.label, _validated(v.label, merge_patch(lesson.base, v.patch)))
                for v in lesson.variants]
    assert lesson.search is not None
    return [(label, _validated(label, raw))
            for label, raw in search_trials(lesson.base, lesson.search)]


def load_lessons() -> list[Lesson]:
    """The whole catalogue, ordered by number; raises ValueError naming the file at fault."""
    folder = resources.files("torchplay.lessons") / "catalogue"
    lessons = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if not entry.name.endswith(".json"):
            continue
        try:
            lesson = Lesson.model_validate(json.loads(entry.read_text(encoding="utf-8")))
        except (ValidationError, ValueError) as error:
            raise ValueError(f"lesson file {entry.name}: {error}") from error
        if entry.name != f"{lesson.number:02d}-{lesson.id}.json":
            raise ValueError(f"lesson file {entry.name} should be named "
                             f"{lesson.number:02d}-{lesson.id}.json")
        lessons.append(lesson)
    lessons.sort(key=lambda lesson: lesson.number)
    numbers = [lesson.number for lesson in lessons]
    if numbers != list(range(1, len(lessons) + 1)):
        raise ValueError(f"lesson numbers must run 1..{len(lessons)} without gaps: {numbers}")
    if len({lesson.id for lesson in lessons}) != len(lessons):
        raise ValueError("two lessons share an id")
    return lessons


def get_lesson(lesson_id: str) -> Lesson:
    """The lesson with this id; KeyError when there is none."""
    for lesson in load_lessons():
        if lesson.id == lesson_id:
            return lesson
    raise KeyError(lesson_id)
