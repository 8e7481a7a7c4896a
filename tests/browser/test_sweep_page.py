"""The sweep panel: set a sweep up with the keyboard and mouse, run it, read the scatter and
the table, show a trial, narrow around the best, save it, open a trial as a run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_sweep_runs_shows_a_trial_narrows_and_saves(play: Playground, server: Any,
                                                       artifacts: Path) -> None:
    page = play.page
    panel = page.locator("#sweep")
    panel.scroll_into_view_if_needed()
    trials = panel.get_by_label("Trials")
    trials.click()
    trials.press("Control+a")
    page.keyboard.type("32")
    epochs = panel.get_by_label("Epochs per trial")
    epochs.fill("")
    epochs.type("5")
    panel.get_by_label("learning rate from").fill("0.003")
    panel.get_by_label("learning rate to").press("Control+a")
    page.keyboard.type("1")
    panel.get_by_role("button", name="Start sweep").click()
    expect(page.locator("#sweep-plan")).to_contain_text("32 trials in 1 group")
    expect(page.locator("#sweep-plan")).to_contain_text("batched")
    expect(panel).to_have_attribute("data-done", "true", timeout=60_000)
    expect(page.locator("#sweep-status")).to_contain_text("done: 32 trials")

    lr = panel.locator('canvas[data-path="optimizer.lr"]')
    expect(lr).to_have_attribute("data-points", "32")
    expect(panel.locator("figcaption").first).to_contain_text("log scale")
    curve_points = int(panel.locator("canvas.sweep-curves").get_attribute("data-points") or 0)
    assert 32 <= curve_points <= 32 * 6  # at least each trial's end, at most every epoch
    expect(panel.locator("canvas.sweep-parallel")).to_have_attribute("data-lines", "32")
    rows = panel.locator(".sweep-table tbody tr")
    expect(rows).to_have_count(32)

    # sort by test loss: the first row holds the lowest loss
    panel.get_by_role("button", name="test loss").click()
    losses = [float(t) for t in panel.locator(".sweep-table tbody tr td:nth-child(5)")
              .all_inner_texts() if t != "–"]
    assert losses == sorted(losses) and len(losses) == 32
    best = rows.first
    index = int(best.get_attribute("data-trial") or -1)
    best.click()
    expect(page.locator("#sweep-trial")).to_contain_text(f"trial {index}: step 125")
    expect(best).to_have_class("shown")
    expect(page.locator("#sweep-boundary")).to_have_attribute("data-trial", str(index))
    page.screenshot(path=str(artifacts / "sweep-done.png"), full_page=True)

    low_before = float(panel.get_by_label("learning rate from").input_value())
    high_before = float(panel.get_by_label("learning rate to").input_value())
    panel.get_by_role("button", name="Narrow around the best").click()
    expect(page.locator("#sweep-status")).to_contain_text("round 1")
    low = float(panel.get_by_label("learning rate from").input_value())
    high = float(panel.get_by_label("learning rate to").input_value())
    assert (low, high) != (low_before, high_before) and low < high

    panel.get_by_role("button", name="Save sweep").click()
    link = page.locator("#sweep-link a").first
    expect(link).to_have_attribute("href", re.compile(r"^/api/sweeps/[A-Za-z0-9_-]{16}$"))
    saved = page.request.get(server.url + (link.get_attribute("href") or "")).json()
    assert len(saved["results"]) == 32

    panel.get_by_role("button", name="Open this trial as a run").click()
    chosen = saved["results"][index]
    play.wait_until(f"app.state.spec.training.seed === {chosen['seed']}")
    exact = chosen["values"]["optimizer.lr"]
    assert play.state("app.state.spec.optimizer.lr") == exact  # every digit: the trial's run
    # the field shows it for people: four significant digits, marked rounded
    lr = play.field("optimizer.lr")
    expect(lr.locator("input")).to_have_value(str(float(f"{exact:.4g}")))
    if str(float(f"{exact:.4g}")) != str(exact):
        expect(lr).to_have_class(re.compile(r"\brounded\b"))
    page.screenshot(path=str(artifacts / "sweep-forked.png"), full_page=True)


def test_lesson_21_searches_as_a_sweep_and_draws_its_scatter(page: Any, server: Any,
                                                             artifacts: Path) -> None:
    """The lesson's card asks for the scatter of final test loss against learning rate and
    against width: its search, run as a sweep, draws both (log scales)."""
    play = open_playground(page, server.url + "/#lesson=hyperparameter-search")
    panel = page.locator("#sweep")
    use = panel.get_by_role("button", name="Use lesson 21's search")
    use.click()
    expect(panel.get_by_label("width from")).to_have_value("2")
    expect(panel.get_by_label("Trials")).to_have_value("16")
    epochs = panel.get_by_label("Epochs per trial")
    epochs.fill("3")
    panel.get_by_role("button", name="Start sweep").click()
    expect(page.locator("#sweep-plan")).to_contain_text("16 trials in")
    expect(page.locator("#sweep-plan")).to_contain_text("differs from group 0 in network.layers")
    expect(panel).to_have_attribute("data-done", "true", timeout=60_000)
    for path in ("optimizer.lr", "network.layers.0.units"):
        expect(panel.locator(f'canvas[data-path="{path}"]')).to_have_attribute(
            "data-points", "16")
    captions = panel.locator("figure:has(canvas.sweep-scatter) figcaption").all_inner_texts()
    assert all("log scale" in c for c in captions) and len(captions) == 2
    panel.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "sweep-lesson21.png"), full_page=True)
    assert not play.errors, play.errors
