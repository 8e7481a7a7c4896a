"""The lesson catalogue as data: loading, validation, searches, grouping into batches, EMA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from torchplay.engine.group import Training
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers.batched import check_batchable
from torchplay.lessons import (
    Lesson,
    batch_groups,
    ema,
    get_lesson,
    lesson_specs,
    load_lessons,
    run_variants,
)
from torchplay.lessons import catalogue as catalogue_module
from torchplay.spec.model import ExperimentSpec, SpecError

CPU = torch.device("cpu")


def test_the_catalogue_holds_25_lessons_in_order() -> None:
    lessons = load_lessons()
    assert [lesson.number for lesson in lessons] == list(range(1, 26))
    assert len({lesson.id for lesson in lessons}) == 25
    assert get_lesson("vanishing-gradients").number == 4
    with pytest.raises(KeyError):
        get_lesson("no-such-lesson")


def test_every_spec_of_every_lesson_validates_and_ends() -> None:
    total = 0
    for lesson in load_lessons():
        found = lesson_specs(lesson)
        assert found and all(isinstance(spec, ExperimentSpec) for _, spec in found)
        labels = [label for label, _ in found]
        assert len(set(labels)) == len(labels), lesson.id
        # A preset ends by itself (finished or early_stopped), so the page can compare runs.
        assert all(spec.training.epochs is not None for _, spec in found), lesson.id
        total += len(found)
    assert total > 23


def base_lesson(**changes: object) -> dict[str, object]:
    raw: dict[str, object] = {"id": "a-lesson", "number": 1, "title": "T", "text": "x",
                              "watch": "y", "base": {"data": {"points": 100}},
                              "variants": [{"label": "one", "patch": {}},
                                           {"label": "two", "patch": {}}]}
    raw.update(changes)
    return raw


def test_an_invalid_variant_is_refused_by_name() -> None:
    bad = base_lesson(variants=[{"label": "fine", "patch": {}},
                                {"label": "broken lr", "patch": {"optimizer": {"lr": -1}}}])
    with pytest.raises(ValidationError, match="broken lr"):
        Lesson.model_validate(bad)
    with pytest.raises(ValidationError, match="regression loss"):
        Lesson.model_validate(base_lesson(spec={"loss": {"kind": "mse"}}, base=None,
                                          variants=None))


@pytest.mark.parametrize("changes", [
    {"spec": {}},  # spec and base together
    {"variants": None},  # base alone
    {"variants": [{"label": "only one", "patch": {}}]},  # nothing to compare
    {"id": "Not A Slug"},
    {"colour": "red"},  # unknown key
    {"tool": "magic"},
])
def test_malformed_lessons_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        Lesson.model_validate(base_lesson(**changes))


SEARCH = {"trials": 12, "seed": 3, "params": [
    {"path": "optimizer.lr", "low": 1e-4, "high": 1.0},
    {"path": "network.layers.0.units", "low": 2, "high": 64, "round_to": "power_of_two"}]}
SEARCH_BASE = {"network": {"layers": [{"type": "linear", "units": 8},
                                      {"type": "activation", "fn": "relu"}]}}


def test_a_search_draws_the_same_trials_within_its_ranges() -> None:
    lesson = Lesson.model_validate(base_lesson(base=SEARCH_BASE, variants=None, search=SEARCH))
    first, again = lesson_specs(lesson), lesson_specs(lesson)
    assert [label for label, _ in first] == [label for label, _ in again]
    lrs = [spec.optimizer.lr for _, spec in first]
    widths = [spec.network.layers[0].units for _, spec in first]
    assert all(1e-4 <= lr <= 1.0 for lr in lrs) and len(set(lrs)) == 12
    assert all(w in (2, 4, 8, 16, 32, 64) for w in widths)
    assert first[0][0].startswith("lr ") and ", units " in first[0][0]
    # Log-uniform: about as many draws below 1e-2 as above (the geometric middle).
    assert 3 <= sum(lr < 1e-2 for lr in lrs) <= 9


def test_a_search_path_must_exist_in_the_base() -> None:
    bad = {**SEARCH, "params": [{"path": "network.layers.5.units", "low": 2, "high": 8}]}
    with pytest.raises(ValidationError, match="not in the base spec"):
        Lesson.model_validate(base_lesson(base=SEARCH_BASE, variants=None, search=bad))


def write_catalogue(folder: Path, lessons: dict[str, dict[str, object]]) -> None:
    (folder / "catalogue").mkdir()
    for name, raw in lessons.items():
        (folder / "catalogue" / name).write_text(json.dumps(raw), encoding="utf-8")


def test_the_loader_checks_file_names_and_numbering(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalogue_module.resources, "files", lambda _package: tmp_path)
    write_catalogue(tmp_path, {"01-a-lesson.json": base_lesson(),
                               "03-c.json": base_lesson(id="c", number=3)})
    with pytest.raises(ValueError, match="without gaps"):
        load_lessons()
    (tmp_path / "catalogue" / "03-c.json").unlink()
    (tmp_path / "catalogue" / "02-wrong-name.json").write_text(
        json.dumps(base_lesson(id="b", number=2)), encoding="utf-8")
    with pytest.raises(ValueError, match="should be named 02-b.json"):
        load_lessons()


def test_batch_groups_are_batchable_and_greedy() -> None:
    for lesson in load_lessons():
        specs = [spec for _, spec in lesson_specs(lesson)]
        groups = batch_groups(specs)
        assert sorted(i for g in groups for i in g) == list(range(len(specs)))
        for n, group in enumerate(groups):
            if len(group) > 1:
                check_batchable([specs[i] for i in group])  # raises if not
            for earlier in groups[:n]:  # each group's first spec could join no earlier group
                with pytest.raises(SpecError):
                    check_batchable([specs[i] for i in earlier] + [specs[group[0]]])


def test_batch_groups_batch_as_the_page_does() -> None:
    """The lesson tests train through batch_groups so that they see what the page shows: it
    must batch a lesson's variants exactly as the page's Training does."""
    for lesson in load_lessons():
        specs = [spec for _, spec in lesson_specs(lesson)][:16]  # the page's most
        if len(specs) < 2:
            continue
        groups = batch_groups(specs)
        assert sorted(i for g in groups for i in g) == list(range(len(specs)))
        assert len(Training(specs, CPU).steppers) == len(groups), lesson.id


@pytest.mark.parametrize("lesson_id, batched", [("dropout", False), ("weight-decay", True)])
def test_run_variants_probes_every_kth_step(lesson_id: str, batched: bool) -> None:
    specs = [spec for _, spec in lesson_specs(get_lesson(lesson_id))][:2]
    assert (len(batch_groups(specs)) == 1) == batched
    seen: list[tuple[int, int]] = []

    def watch(index: int, session: TrainingSession) -> None:
        assert session.last_layers is not None
        seen.append((index, session.step_count))

    run_variants(specs, steps=12, device=CPU, probe_every=5, on_probe=watch)
    assert sorted(seen) == [(0, 5), (0, 10), (1, 5), (1, 10)]


def test_run_variants_gives_each_variant_its_lone_run() -> None:
    specs = [spec for _, spec in lesson_specs(get_lesson("weight-decay"))][:3]
    assert len(batch_groups(specs)) == 1
    together = run_variants(specs, steps=25, device=CPU)
    for spec, batched in zip(specs, together, strict=True):
        lone = TrainingSession(spec, CPU)
        for _ in range(25):
            lone.step()
        assert batched.step_count == lone.step_count == 25
        assert batched.history.steps.data["loss"] == pytest.approx(
            lone.history.steps.data["loss"], rel=1e-4)
        assert torch.allclose(batched.model[0].weight, lone.model[0].weight, atol=1e-5)
    assert together[0].last_layers is not None  # the last step was probed


def test_early_stopping_specs_train_side_by_side_and_stop() -> None:
    spec = lesson_specs(get_lesson("early-stopping"))[0][1]
    assert batch_groups([spec, spec]) == [[0, 1]]
    session = run_variants([spec, spec], device=CPU)[0]
    assert session.events[-1]["event"] == "early_stopped"
    assert session.epoch < (spec.training.epochs or 0)


def test_ema_matches_its_definition() -> None:
    values = [4.0, 2.0, 3.0, 5.0, 1.0]
    plain, debiased = ema(values, 0.5, debias=False), ema(values, 0.5)
    expected, v = [], 0.0
    for x in values:
        v = 0.5 * v + 0.5 * x
        expected.append(v)
    assert plain == pytest.approx(expected)
    assert debiased == pytest.approx([e / (1 - 0.5 ** t) for t, e in enumerate(expected, 1)])
    assert ema([7.0] * 50, 0.98) == pytest.approx([7.0] * 50)  # a constant stays constant
    assert ema(values, 0.0) == values
    assert ema([], 0.9) == []
    with pytest.raises(ValueError):
        ema(values, 1.0)

