"""How smoothly the page animates while training: requestAnimationFrame timestamps over about
two seconds. The figure is printed (run with -s to see it). At 1280x800 the test asserts what
the README claims, 30 frames/s or more; at 1920x1080, which the README reports without a
claim, only a floor that catches a page whose drawing blocks the browser."""

from __future__ import annotations

from pathlib import Path

import pytest
from pagedriver import Playground
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

# Boxes that must not move or resize while training (no layout jumps).
STABLE = ["#header .controls", "#counter-step", "#eps", "#boundary", "#diagram", "#chart-loss",
          "#chart-act-var", "#chart-grad-norm", "#test-metric", "#training"]
BOXES_JS = """(selectors) => selectors.map((s) => {
  const r = document.querySelector(s).getBoundingClientRect();
  return [s, Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)];
})"""

MEASURE_JS = """(ms) => new Promise((resolve) => {
  const app = window.torchplay;
  const stamps = [];
  const drawn0 = app.drawn;
  const step0 = app.state.frame.step;
  const tick = (t) => {
    stamps.push(t);
    if (t - stamps[0] < ms) requestAnimationFrame(tick);
    else resolve({ stamps, drawn: app.drawn - drawn0, steps: app.state.frame.step - step0 });
  };
  requestAnimationFrame(tick);
})"""


@pytest.mark.parametrize("width, height", [(1280, 800), (1920, 1080)])
def test_frame_cadence_while_training(play: Playground, artifacts: Path, width: int,
                                      height: int) -> None:
    play.page.set_viewport_size({"width": width, "height": height})
    play.play()
    play.wait_until("app.state.frame.step > 300")
    boxes = play.page.evaluate(BOXES_JS, STABLE)
    result = play.page.evaluate(MEASURE_JS, 2000)
    assert play.page.evaluate(BOXES_JS, STABLE) == boxes, "the layout moved while training"
    stamps = result["stamps"]
    seconds = (stamps[-1] - stamps[0]) / 1000
    fps = (len(stamps) - 1) / seconds
    gaps = sorted(b - a for a, b in zip(stamps, stamps[1:], strict=False))
    p95 = gaps[int(len(gaps) * 0.95) - 1]
    paints = result["drawn"] / seconds
    print(f"\n{width}x{height}: {fps:.1f} animation frames/s over {seconds:.2f} s "
          f"(95th-percentile frame gap {p95:.1f} ms); the page redrew {paints:.1f} times/s; "
          f"the server trained {result['steps'] / seconds:.0f} steps/s")
    play.screenshot(artifacts, f"cadence-{width}", full_page=False)
    # README: "the page animates at 30 frames/s or more at 1280x800".
    claimed = 30 if width == 1280 else 10
    assert fps >= claimed, f"only {fps:.1f} frames/s while training at {width}x{height}"
    assert paints > 5, "the page stopped redrawing while training"


def test_frame_cadence_while_a_sweep_of_256_trials_streams(play: Playground,
                                                           artifacts: Path) -> None:
    """Issue 22: the page keeps 30 frames/s or more while a sweep's summaries of 256 trials
    and the shown trial's frames stream in."""
    page = play.page
    page.set_viewport_size({"width": 1280, "height": 800})
    panel = page.locator("#sweep")
    panel.get_by_label("Trials").fill("256")
    panel.get_by_label("Epochs per trial").fill("400")
    panel.get_by_role("button", name="Start sweep").click()
    expect(page.locator("#sweep-plan")).to_contain_text("256 trials in 1 group")
    panel.scroll_into_view_if_needed()
    play.wait_until("document.querySelector('canvas.sweep-curves')?.dataset.points > 256")
    result = page.evaluate(MEASURE_JS, 2000)
    stamps = result["stamps"]
    seconds = (stamps[-1] - stamps[0]) / 1000
    fps = (len(stamps) - 1) / seconds
    print(f"\nsweep of 256 trials streaming: {fps:.1f} animation frames/s over {seconds:.2f} s")
    assert panel.get_attribute("data-done") != "true", "the sweep ended before the measurement"
    play.screenshot(artifacts, "cadence-sweep", full_page=False)
    assert fps >= 30, f"only {fps:.1f} frames/s while a sweep streams"
