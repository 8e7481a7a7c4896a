"""The fair queue: shares by compute time charged, not by turns; no credit banked while idle."""

from __future__ import annotations

from torchplay.serve.fairness import GRACE, FairQueue


def run(queue: FairQueue[str], costs: dict[str, float], seconds: float) -> dict[str, float]:
    """Simulate one worker for `seconds`: pop, charge the item's cost per turn, push back."""
    got = dict.fromkeys(costs, 0.0)
    clock = 0.0
    while clock < seconds:
        item = queue.pop()
        queue.charge(item, costs[item])
        got[item] += costs[item]
        clock += costs[item]
        queue.push(item)
    return got


def test_heavy_steps_get_the_same_time_as_light_ones() -> None:
    queue: FairQueue[str] = FairQueue()
    costs = {"heavy": 0.1, "light": 0.001, "medium": 0.01}
    for name in costs:
        queue.push(name)
    got = run(queue, costs, 30.0)
    assert max(got.values()) / min(got.values()) < 1.02, got
    # by turns the heavy run would have had 100x the light one's time


def test_a_session_back_from_idling_does_not_take_back_its_idle_time() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.push("a")
    run(queue, {"a": 0.01}, 10.0)  # 'a' alone for 10 s
    queue.push("b")  # 'b' arrives late
    first = [queue.pop() for _ in range(2)]
    assert first[0] == "b"  # the newcomer goes first...
    for item in first:
        queue.charge(item, 0.01)
        queue.push(item)
    got = run(queue, {"a": 0.01, "b": 0.01}, 2.0)
    assert abs(got["a"] - got["b"]) <= GRACE + 0.02, got  # ...but gets no 10-second burst


def test_forget_drops_the_account() -> None:
    queue: FairQueue[str] = FairQueue()
    queue.push("a")
    queue.charge(queue.pop(), 5.0)
    assert queue.used("a") == 5.0
    queue.forget("a")
    assert queue.used("a") == 0.0
