"""A lesson's random search (lessons/catalogue.py `Search`) as a sweep.

Lesson 21 describes its search in the catalogue's own terms (`params` with `round_to`); the
sweep it becomes trains every trial at once and draws the scatter the lesson asks for. A
log-uniform parameter stays log-uniform; one rounded to powers of two becomes a pow2
parameter over the powers of two nearest its ends (each power equally likely, where the
catalogue's own sampler rounds a log-uniform draw: the same values, the end powers half as
often there).
"""

from __future__ import annotations

import math
from typing import Any

from torchplay.lessons.catalogue import Lesson
from torchplay.spec.model import ExperimentSpec
from torchplay.sweeps.spec import SweepSpec

DEFAULT_EPOCHS = 20


def lesson_sweep(lesson: Lesson) -> SweepSpec:
    """The sweep of a lesson with a `search`; ValueError for a lesson without one."""
    if lesson.search is None or lesson.base is None:
        raise ValueError(f"lesson {lesson.id} has no search")
    base = ExperimentSpec.model_validate(lesson.base)
    epochs = base.training.epochs or DEFAULT_EPOCHS
    parameters: list[dict[str, Any]] = []
    for param in lesson.search.params:
        if param.round_to == "power_of_two":
            parameters.append({"kind": "pow2", "path": param.path,
                               "low": 2.0 ** round(math.log2(param.low)),
                               "high": 2.0 ** round(math.log2(param.high))})
        else:
            parameters.append({"kind": "log_uniform", "path": param.path,
                               "low": param.low, "high": param.high})
    raw = base.model_dump(mode="json")
    raw["training"]["epochs"] = None  # the sweep's `epochs` sets each trial's
    return SweepSpec.model_validate({"base": raw, "parameters": parameters,
                                     "trials": lesson.search.trials,
                                     "seed": lesson.search.seed, "epochs": epochs})
