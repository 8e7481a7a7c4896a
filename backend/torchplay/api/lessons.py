"""REST routes of the lessons: the catalogue, the activation gallery, the bias/variance readout.

The catalogue goes out with every spec complete (defaults filled in), so the page loads a
lesson as it loads any spec, and with the runs a lesson compares as `variants` in the shape
the WebSocket's `start` takes ({label, patch}), each patch being the difference from `spec`.
A random search (lesson 21) is sent as a sweep (docs/sweeps.md): its base as `spec`, no
variants, and the SweepSpec the page's sweep panel trains, every trial at once.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, ConfigDict, Field

from torchplay.api.experiments import ErrorOut, ExperimentRoute
from torchplay.engine.group import MAX_VARIANTS
from torchplay.lessons import Lesson, lesson_specs, load_lessons
from torchplay.lessons.activations import ACTIVATION_NAMES, activation_curves, default_xs
from torchplay.lessons.diagnosis import diagnose
from torchplay.spec.model import ExperimentSpec, diff_patch
from torchplay.sweeps.lesson import lesson_sweep

router = APIRouter(prefix="/api", tags=["lessons"], route_class=ExperimentRoute)


class LessonVariant(BaseModel):
    label: str = Field(description="Legend label.")
    patch: dict[str, Any] = Field(description="JSON merge patch from the lesson's `spec` to "
                                  "this run's spec; {} for the first.")
    spec: dict[str, Any] = Field(description="This run's complete ExperimentSpec.")


class LessonOut(BaseModel):
    id: str = Field(description="Stable slug: the page opens /#lesson=<id>.")
    number: int
    title: str
    text: str = Field(description="Short explanation, Markdown-light: paragraphs, *emphasis*.")
    watch: str = Field(description="What to look at on the page.")
    tool: str | None = Field(description="activation_curves, ema, gradient_check, diagnosis "
                             "or null: the helper the page shows with the lesson.")
    spec: dict[str, Any] = Field(description="The complete spec to load (the first run's, "
                                 "for a comparison).")
    variants: list[LessonVariant] = Field(description="Runs to train side by side (empty for "
                                          "a single experiment, and for a search).")
    sweep: dict[str, Any] | None = Field(None, description="A lesson's random search as a "
                                         "SweepSpec (docs/sweeps.md), for the sweep panel; "
                                         "null for a lesson without one.")


class ActivationCurves(BaseModel):
    xs: list[float]
    curves: dict[str, dict[str, list[float]]] = Field(description="{name: {f, df}}, one per "
                                                      "activation the spec offers.")


class DiagnosisIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)

    train_error: float = Field(ge=0, le=1, description="Training error, a fraction.")
    test_error: float = Field(ge=0, le=1, description="Test (or validation) error, a fraction.")
    base_error: float = Field(0.0, ge=0, le=1, description="Bayes (human-level) error, if "
                              "known.")


class DiagnosisOut(BaseModel):
    verdict: str
    explanation: str
    avoidable_bias: float
    variance: float


def _lesson_out(lesson: Lesson) -> LessonOut:
    if lesson.search is not None:  # a search is a sweep: its trials train all at once there
        sweep = lesson_sweep(lesson)
        return LessonOut(id=lesson.id, number=lesson.number, title=lesson.title,
                         text=lesson.text, watch=lesson.watch, tool=lesson.tool,
                         spec=ExperimentSpec.model_validate(lesson.base).model_dump(mode="json"),
                         variants=[], sweep=sweep.model_dump(mode="json"))
    runs = [(label, spec.model_dump(mode="json")) for label, spec in lesson_specs(lesson)]
    first = runs[0][1]
    variants = [] if len(runs) == 1 else [
        LessonVariant(label=label, patch=diff_patch(first, spec), spec=spec)
        for label, spec in runs[:MAX_VARIANTS]]
    return LessonOut(id=lesson.id, number=lesson.number, title=lesson.title, text=lesson.text,
                     watch=lesson.watch, tool=lesson.tool, spec=first, variants=variants)


@cache
def _catalogue() -> tuple[LessonOut, ...]:
    """Built once: the catalogue is package data and cannot change while a server runs."""
    return tuple(_lesson_out(lesson) for lesson in load_lessons())


@router.get("/lessons")
def lessons() -> list[LessonOut]:
    """Every lesson, in course order, with its complete spec(s)."""
    return list(_catalogue())


@router.get("/lessons/{lesson_id}", responses={404: {"description": "No lesson has this id."}})
def lesson(lesson_id: str) -> LessonOut:
    """One lesson by its id."""
    for found in _catalogue():
        if found.id == lesson_id:
            return found
    raise HTTPException(404, f"no lesson has the id {lesson_id!r}")


@router.get("/activations")
def activations(slope: float = Query(0.01, ge=0, le=1, description="Leaky ReLU's negative "
                                     "slope (and PReLU's initial one).")) -> ActivationCurves:
    """f and f' on [-4, 4] for every activation (lesson 2), from the modules the engine
    builds."""
    curves = activation_curves(slope=slope)
    assert set(curves) == set(ACTIVATION_NAMES)
    return ActivationCurves(xs=default_xs(), curves=curves)


@router.post("/diagnosis", responses={422: {"model": ErrorOut, "description": "The body is "
             "not JSON, holds NaN, a lone surrogate or a value out of bounds."}})
def diagnosis(body: DiagnosisIn) -> DiagnosisOut:
    """Train vs test error in plain words: high bias, high variance, both, or neither
    (lesson 20)."""
    return DiagnosisOut(**diagnose(body.train_error, body.test_error, body.base_error))
