"""The course's first network reproduces the course's figures, over three seeds.

Digits (scikit-learn, nothing to install) runs in a second; Fashion-MNIST (Debian's
dataset-fashion-mnist, which CI installs) trains the course's 784-256-10 MLP for its 10 epochs
three times: ~25 s a seed on one busy core here, the slowest test of the unit suite, kept
because the lesson promises these numbers."""

from __future__ import annotations

import pytest

from torchplay.engine.session import TrainingSession
from torchplay.lessons.catalogue import get_lesson, lesson_specs


def final_test_accuracy(lesson_id: str, seed: int) -> tuple[float, int]:
    (_, spec), = lesson_specs(get_lesson(lesson_id))
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"seed": seed})})
    session = TrainingSession(spec)
    session.running = True
    while session.wants_work:  # until the spec's epoch limit: a 'finished' event
        session.step()
    assert session.take_events()[-1]["event"] == "finished"
    _, accuracy = session.evaluate(session.x_test, session.y_test)
    return accuracy, session.epoch


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_digits_lesson_reaches_95_percent(seed: int) -> None:
    accuracy, epochs = final_test_accuracy("first-network-digits", seed)
    assert epochs == 20 and accuracy >= 0.95


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fashion_mnist_lesson_reaches_the_courses_accuracy(seed: int) -> None:
    accuracy, epochs = final_test_accuracy("first-network-fashion-mnist", seed)
    assert epochs == 10 and accuracy >= 0.83  # the course: about 0.85
