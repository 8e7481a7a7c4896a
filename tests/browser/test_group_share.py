"""Comparisons as first-class shares, with real pointer and touch input: a setup link holding
runs side by side; those runs saved as one experiment with one short link that opens
read-only with every run, Run again and Fork (whose link holds the runs again); and "save only
the run on show"."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

HEIGHTS = {390: 844, 768: 1024, 1280: 800, 1920: 1080}
RUNS = "#v=1&runs.0.label=slow&runs.1.label=fast&runs.1.patch.optimizer.lr=0.3"


@pytest.fixture
def at_width(browser: Browser, server: Any) -> Iterator[Any]:
    contexts = []

    def open_at(width: int, path: str = "/", ready: bool = True) -> Playground:
        context = browser.new_context(viewport={"width": width, "height": HEIGHTS[width]},
                                      has_touch=width < 800)
        contexts.append(context)
        page = context.new_page()
        if ready:
            return open_playground(page, server.url + path)
        page.goto(server.url + path)
        return Playground(page)

    yield open_at
    for context in contexts:
        context.close()


def save_in_dialog(play: Playground, name: str, only: bool = False) -> str:
    page = play.page
    page.locator("#share-open").click()
    if only:
        page.locator("#share-only").check()
    page.locator("#share-name").fill(name)
    page.locator("#share-save").click()
    page.wait_for_function("() => document.querySelector('#share-url').value.includes('/e/')")
    link = page.locator("#share-url").input_value()
    page.locator("#share-dialog button", has_text="Close").click()
    return link


def test_runs_side_by_side_share_as_one_link(at_width, server: Any, artifacts: Path) -> None:
    play = at_width(1280, "/" + RUNS)
    play.wait_until("app.state.runs.length === 2 && app.state.runs[1].frame")
    assert play.state("app.state.runs.map((r) => r.label)") == ["slow", "fast"]
    assert play.state("app.state.runs[1].run.spec.optimizer.lr") == 0.3
    play.page.locator("#step-n").fill("30")
    play.page.locator("#step-n-go").click()
    play.wait_until("app.state.runs.every((r) => r.frame && r.frame.step === 30)")
    # Legends name every run by its label, the one on show too.
    legend = play.page.locator("#chart-loss .u-legend")
    for series in ("smoothed · slow", "test · slow", "smoothed · fast", "test · fast"):
        expect(legend).to_contain_text(series)
    expect(legend).not_to_contain_text("this run")
    play.page.locator("#share-open").click()
    expect(play.page.locator(".share-about")).to_contain_text("2 runs side by side")
    play.page.locator("#share-dialog button", has_text="Cancel").click()
    link = save_in_dialog(play, "slow and fast")
    found = httpx.get(link.replace("/e/", "/api/experiments/"), timeout=20).json()
    assert [v["label"] for v in found["run"]["variants"]] == ["fast"]

    # The short link opens read-only with both runs, on a phone too.
    saved = at_width(390, link.removeprefix(server.url), ready=False)
    saved.wait_until("app.state.recorded && app.state.runs.length === 2")
    expect(saved.page.locator("#run-list li[data-run^='v']")).to_have_count(2)
    expect(saved.page.locator("#data .read-only-note")).to_contain_text("Fork")
    saved.page.locator("#run-list input[value='1']").tap()
    saved.wait_until("app.state.selected === 1 && app.state.run.spec.optimizer.lr === 0.3")
    saved.screenshot(artifacts, "group-390-saved")
    # Fork: an editable copy whose link holds both runs.
    saved.page.locator("button", has_text="Fork").first.tap()
    saved.wait_until("!app.state.recorded")
    assert "runs.1.patch.optimizer.lr=0.3" in unquote(saved.page.url)
    saved.page.locator("#play").tap()
    saved.wait_until("app.state.runs.length === 2 && app.state.runs[1].frame && "
                     "app.state.runs[1].frame.step > 0 && !app.state.run.recorded")


def test_run_again_trains_the_saved_group(at_width, server: Any) -> None:
    play = at_width(1920, "/" + RUNS)
    play.wait_until("app.state.runs.length === 2 && app.state.runs[1].frame")
    link = save_in_dialog(play, "")
    again = at_width(768, link.removeprefix(server.url), ready=False)
    again.wait_until("app.state.recorded && app.state.runs.length === 2")
    again.page.locator("button", has_text="Run again").first.click()
    again.wait_until("app.state.runs.length === 2 && !app.state.run.recorded && "
                     "app.state.runs[1].frame && app.state.runs[1].frame.step > 20")
    assert again.state("app.state.runs[1].run.spec.optimizer.lr") == 0.3


def test_save_only_the_run_on_show(at_width) -> None:
    play = at_width(768, "/" + RUNS)
    play.wait_until("app.state.runs.length === 2 && app.state.runs[1].frame")
    play.page.locator("#run-list input[value='1']").check()
    play.wait_until("app.state.selected === 1")
    link = save_in_dialog(play, "just fast", only=True)
    found = httpx.get(link.replace("/e/", "/api/experiments/"), timeout=20).json()
    assert found["spec"]["optimizer"]["lr"] == 0.3
    assert "variants" not in found["run"]
