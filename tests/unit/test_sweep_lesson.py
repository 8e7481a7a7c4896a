"""Lesson 21's random search runs as a sweep: trials split into one batched group per width
(the plan says so), and every trial ends with a final test loss for the lesson's scatter."""

from __future__ import annotations

import math

from torchplay.lessons.catalogue import load_lessons
from torchplay.sweeps.lesson import lesson_sweep
from torchplay.sweeps.train import SweepTraining


def test_lesson_21_searches_learning_rate_and_width_as_one_sweep() -> None:
    lesson = next(item for item in load_lessons() if item.number == 21)
    sweep = lesson_sweep(lesson)
    assert [p.kind for p in sweep.parameters] == ["log_uniform", "pow2"]
    assert sweep.trials == lesson.search.trials and sweep.epochs == 20
    training = SweepTraining(sweep.model_copy(update={"epochs": 2}))
    widths = {t.values["network.layers.0.units"] for t in training.trials}
    assert widths <= {2, 4, 8, 16, 32, 64} and len(widths) > 1
    assert len(training.groups) == len(widths)
    for group in training.groups[1:]:
        assert "network.layers" in group.why
    for group in training.groups:
        assert len({training.trials[i].values["network.layers.0.units"]
                    for i in group.trials}) == 1
    results = training.run()
    assert all(r.epochs == 2 and r.test_loss is not None and math.isfinite(r.test_loss)
               for r in results)
