"""History: readers get every row once, in order, and memory stays bounded."""

from __future__ import annotations

from torchplay.engine import history
from torchplay.engine.history import Cursor, History


def read_all(h: History, cursor: Cursor, held: list[float]) -> Cursor:
    delta, cursor = h.since(cursor)
    if delta["replace"]:
        held.clear()
    held.extend(delta["steps"]["step"])
    return cursor


def test_reader_gets_each_row_exactly_once() -> None:
    h, held, cursor = History(), [], Cursor()
    for step in range(1, 8):
        h.add_step(step, 0.5)
        if step % 3 == 0:
            cursor = read_all(h, cursor, held)
    read_all(h, cursor, held)
    assert held == list(range(1, 8))


def test_first_read_and_clear_replace_what_the_reader_holds() -> None:
    h = History()
    h.add_step(1, 0.1)
    delta, cursor = h.since(Cursor())
    assert delta["replace"] is True
    h.clear()
    h.add_step(1, 0.2)
    delta, _ = h.since(cursor)
    assert delta["replace"] is True and delta["steps"]["loss"] == [0.2]


def test_long_history_is_thinned_and_marked(monkeypatch) -> None:
    monkeypatch.setattr(history, "MAX_POINTS", 8)
    h, held, cursor = History(), [], Cursor()
    for step in range(1, 41):
        h.add_step(step, float(step))
        cursor = read_all(h, cursor, held)
    delta, _ = h.since(Cursor())
    assert len(held) < 8 and delta["steps"]["stride"] > 1
    assert held == sorted(held) and held[-1] >= 40 - delta["steps"]["stride"]
