"""The sweep panel: set a sweep up with the keyboard and mouse (any field of the spec, each
kind of parameter), run it, read the scatter and the table, show a trial, narrow around the
best, save and share it, open its link in a fresh page, open a trial as a run."""

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
    # a third parameter, from the keyboard: momentum, uniform in [0, 0.9]
    panel.get_by_role("button", name="Add parameter").focus()
    page.keyboard.press("Enter")
    added = panel.locator(".sweep-param").last.locator("select.sweep-path")
    expect(added).to_be_focused()
    page.keyboard.type("momentum")  # a select's type-ahead picks "momentum (optimizer...)"
    expect(panel.get_by_label("momentum: kind")).to_have_value("uniform")
    expect(panel.get_by_label("momentum: kind")).to_be_focused()
    momentum_to = panel.get_by_label("momentum to")
    momentum_to.focus()
    momentum_to.press("Control+a")
    page.keyboard.type("0.9")
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

    panel.get_by_role("button", name="Save and share sweep").click()
    link = page.locator("#sweep-link a").first
    expect(link).to_have_attribute("href", re.compile(r"^/s/[A-Za-z0-9_-]{16}$"))
    href = link.get_attribute("href") or ""
    expect(page.locator("#sweep-url")).to_have_value(server.url + href)
    saved = page.request.get(server.url + "/api/sweeps/" + href[3:]).json()
    assert len(saved["results"]) == 32
    assert all(0 <= r["values"]["optimizer.momentum"] <= 0.9 for r in saved["results"])

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
    # the lesson's search is the sweep: one run in the playground, the search loaded below
    expect(page.locator("#lesson .lesson-eyebrow")).to_have_text("Lesson 21 · a sweep of 16 "
                                                                   "trials")
    assert play.state("app.state.runs.length") == 1
    panel = page.locator("#sweep")
    expect(panel.get_by_label("width from")).to_have_value("2")
    expect(panel.get_by_label("Trials")).to_have_value("16")
    expect(panel.get_by_label("width: kind")).to_have_value("pow2")
    panel.get_by_label("Trials").fill("12")
    panel.get_by_role("button", name="Use lesson 21's search").click()  # back to the lesson's
    expect(panel.get_by_label("Trials")).to_have_value("16")
    page.get_by_role("button", name="Go to the search (Sweep panel)").click()
    expect(panel.get_by_role("button", name="Start sweep")).to_be_focused()
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


def test_a_saved_sweep_opens_at_its_link_with_its_results(play: Playground, server: Any,
                                                          browser: Any, artifacts: Path) -> None:
    """A grid over learning rate (log) and a choice of activation, set up with the keyboard,
    saved, and opened at its short link in a fresh page: the scatter, parallel coordinates,
    curves and table are drawn from the saved sweep at once, and a trial forks into a run."""
    page = play.page
    panel = page.locator("#sweep")
    panel.get_by_label("Strategy").select_option("grid")
    expect(panel.get_by_label("Trials")).to_be_disabled()
    panel.get_by_label("Epochs per trial").fill("2")
    panel.get_by_role("button", name="Remove L2").click()  # focus moves to the first select
    expect(panel.locator(".sweep-param")).to_have_count(1)
    page.keyboard.press("Tab")  # to the learning rate's kind
    expect(panel.get_by_label("learning rate: kind")).to_be_focused()
    panel.get_by_role("button", name="Add parameter").click()
    last = panel.locator(".sweep-param").last
    last.locator("select.sweep-path").select_option("network.layers.1.fn")
    expect(panel.get_by_label("activation 1: kind")).to_have_value("choice")
    values = panel.get_by_role("group", name="activation 1 values")
    boxes = values.get_by_role("checkbox")
    count = boxes.count()
    assert count >= 4  # every activation the spec allows
    for k in range(count):  # keep tanh and relu only, from the keyboard
        box = boxes.nth(k)
        keep = (box.locator("xpath=..").inner_text()).strip() in ("tanh", "relu")
        if box.is_checked() != keep:
            box.focus()
            page.keyboard.press("Space")
    panel.get_by_role("button", name="Start sweep").click()
    expect(page.locator("#sweep-plan")).to_contain_text("8 trials in 2 groups")
    expect(page.locator("#sweep-plan")).to_contain_text("differs from group 0 in network.layers")
    expect(panel).to_have_attribute("data-done", "true", timeout=60_000)
    panel.get_by_role("button", name="Save and share sweep").click()
    link = page.locator("#sweep-link a").first
    expect(link).to_have_attribute("href", re.compile(r"^/s/[A-Za-z0-9_-]{16}$"))
    url = page.locator("#sweep-url").input_value()

    fresh = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    errors: list[str] = []
    fresh.on("pageerror", lambda exc: errors.append(str(exc)))
    fresh.goto(url)
    shown = fresh.locator("#sweep")
    expect(shown).to_have_attribute("data-done", "true")
    expect(fresh.locator("#sweep-plan")).to_contain_text("8 trials in 2 groups")
    for path in ("optimizer.lr", "network.layers.1.fn"):
        expect(shown.locator(f'canvas[data-path="{path}"]')).to_have_attribute("data-points", "8")
    expect(shown.locator("canvas.sweep-parallel")).to_have_attribute("data-lines", "8")
    curve_points = int(shown.locator("canvas.sweep-curves").get_attribute("data-points") or 0)
    assert curve_points == 8 * 3  # epochs 0, 1 and 2 of every trial, as saved
    rows = shown.locator(".sweep-table tbody tr")
    expect(rows).to_have_count(8)
    expect(rows.first.locator("td").nth(2)).to_have_text(re.compile(r"^(tanh|relu)$"))
    expect(fresh.locator("#sweep-url")).to_have_value(url)
    expect(fresh.locator("#sweep-delete")).to_have_count(0)  # another browser: not its owner
    expect(fresh.get_by_label("Strategy")).to_have_value("grid")
    fresh.screenshot(path=str(artifacts / "sweep-saved-page.png"), full_page=True)

    # the page's Share gives the same link
    fresh.get_by_role("button", name="Share", exact=True).click()
    expect(fresh.locator("#share-url")).to_have_value(url)
    expect(fresh.locator("#share-dialog .download[data-file='csv']")).to_have_attribute(
        "href", re.compile(r"^/api/sweeps/.+/results\.csv$"))
    fresh.keyboard.press("Escape")
    saved = fresh.request.get(url.replace("/s/", "/api/sweeps/")).json()
    trial = saved["results"][5]
    shown.locator('.sweep-table tbody tr[data-trial="5"]').click()
    expect(fresh.locator("#sweep-trial")).to_contain_text("trial 5 (saved)")
    shown.get_by_role("button", name="Open this trial as a run").click()
    fresh.wait_for_function(f"window.torchplay.state.spec.training.seed === {trial['seed']}")
    assert fresh.evaluate("window.torchplay.state.spec.network.layers[1].fn") == \
        trial["values"]["network.layers.1.fn"]
    assert fresh.evaluate("location.pathname") == "/"
    fresh.context.close()
    assert not errors, errors

    missing = browser.new_page()
    missing.goto(server.url + "/s/AAAAAAAAAAAAAAAA")
    expect(missing.locator("h1").last).to_have_text("No such sweep")
    missing.close()

    # the browser that saved it holds the owner token: it deletes the sweep
    page.once("dialog", lambda dialog: dialog.accept())
    panel.get_by_role("button", name="Delete").click()
    expect(page.locator("#sweep-link")).to_contain_text("Deleted")
    assert page.request.get(url.replace("/s/", "/api/sweeps/")).status == 404
