"""REST for saved sweeps: the results as JSON and as CSV (docs/experiments.md, Sweeps).

A sweep is saved over the WebSocket (`save_sweep`, once finished), like a live run."""

from __future__ import annotations

import asyncio
import csv
import io
import math
from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Response

from torchplay.api.experiments import (
    ApiError,
    ExperimentRoute,
    StoreDep,
    TokenDep,
    _download,
    _errors,
)
from torchplay.lessons.catalogue import load_lessons
from torchplay.spec.model import ExperimentSpec
from torchplay.sweeps.lesson import lesson_sweep
from torchplay.sweeps.spec import SweepSpec, axes, sweepable

router = APIRouter(prefix="/api", tags=["sweeps"], route_class=ExperimentRoute)
CSV_FIXED = ("index", "seed", "epochs", "steps", "train_loss", "test_loss", "test_metric",
             "diverged")


@router.get("/lesson-sweeps/{lesson_id}", responses=_errors(404))
async def lesson_search(lesson_id: str) -> dict[str, Any]:
    """{"sweep": a lesson's random search as a SweepSpec (docs/sweeps.md), or null for a
    lesson without one}, for the sweep panel."""
    lesson = next((item for item in load_lessons() if item.id == lesson_id), None)
    if lesson is None:
        raise ApiError(404, "not_found", "no lesson has this id", "id")
    if lesson.search is None:
        return {"sweep": None}
    return {"sweep": lesson_sweep(lesson).model_dump(mode="json")}


@router.post("/sweep-fields", responses=_errors(413, 415, 422))
async def sweep_fields(spec: ExperimentSpec) -> dict[str, Any]:
    """{"fields": [...]}: every field of this spec (the request body) a sweep may vary, each
    {path, type: int | float | choice, choices, low, high, low_open, high_open, value} (an
    unbounded end is null), for the page's sweep form: the server's rule, not the page's."""
    return {"fields": [
        {**{k: v for k, v in asdict(target).items() if k not in ("low", "high")},
         "low": target.low if math.isfinite(target.low) else None,
         "high": target.high if math.isfinite(target.high) else None, "value": value}
        for target, value in sweepable(spec)]}


async def _find(store: Any, sweep_id: str) -> dict[str, Any]:
    found = await asyncio.to_thread(store.sweep, sweep_id)
    if found is None:
        raise ApiError(404, "not_found", "no sweep has this id", "id")
    return found


@router.get("/sweeps/{sweep_id}", responses=_errors(404))
async def saved_sweep(sweep_id: str, store: StoreDep) -> dict[str, Any]:
    """A saved sweep: {id, created, name, sweep, groups, results, curves, log, metric, links}:
    `log` says which parameters' axes are log scales and `metric` what test_metric is, as in
    `sweep_ready`."""
    found = await _find(store, sweep_id)
    sweep = SweepSpec.model_validate(found["sweep"])  # a saved one: valid when saved
    return {**found, **axes(sweep),
            "links": {"page": f"/s/{sweep_id}", "csv": f"/api/sweeps/{sweep_id}/results.csv"}}


@router.delete("/sweeps/{sweep_id}", status_code=204, responses=_errors(403, 404, 503))
async def delete_sweep(sweep_id: str, store: StoreDep, token: TokenDep) -> Response:
    """Delete, as the owner (`Authorization: Bearer <owner token>`, the token its save
    returned or sent): gone from the database at once, its link answers 404."""
    if not await asyncio.to_thread(store.delete_sweep, sweep_id, token):
        raise ApiError(404, "not_found", "no sweep has this id", "id")
    return Response(status_code=204)


@router.get("/sweeps/{sweep_id}/results.csv", responses=_errors(404))
async def sweep_csv(sweep_id: str, store: StoreDep) -> Response:
    """One row per trial: index, seed, each parameter by its path, then the outcome."""
    found = await _find(store, sweep_id)
    return _download(results_csv(found), "text/csv", f"sweep-{sweep_id}.csv")


def results_csv(saved: dict[str, Any]) -> str:
    paths = [p["path"] for p in saved["sweep"]["parameters"]]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*CSV_FIXED[:2], *paths, *CSV_FIXED[2:]])
    for r in saved["results"]:
        writer.writerow([r["index"], r["seed"], *(r["values"][p] for p in paths),
                         *("" if r[c] is None else r[c] for c in CSV_FIXED[2:])])
    return out.getvalue()
