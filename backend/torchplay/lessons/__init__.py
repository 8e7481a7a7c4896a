"""Lessons: the experiments torchplay exists to make visible, as data (see docs/lessons.md).

`load_lessons()` reads and validates the catalogue (catalogue/NN-id.json), `lesson_specs()`
turns a lesson into its labelled ExperimentSpecs, and `run_variants()` trains them, side by
side where they can share a batch.
"""

from torchplay.lessons.catalogue import (
    Lesson,
    Search,
    SearchParam,
    Variant,
    get_lesson,
    lesson_specs,
    load_lessons,
    search_trials,
)
from torchplay.lessons.runs import batch_groups, page_groups, run_variants
from torchplay.lessons.smoothing import ema

__all__ = ["Lesson", "Search", "SearchParam", "Variant", "batch_groups", "ema", "get_lesson",
           "lesson_specs", "load_lessons", "page_groups", "run_variants", "search_trials"]
