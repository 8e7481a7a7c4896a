"""Lessons and comparing runs, in real Chromium against a real server: every lesson opens from
the gallery and trains; a comparison lesson trains its runs side by side and overlays them;
a pinned run stays as a reference while a changed run trains, with the diff naming the change.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from pagedriver import Playground, open_playground
from playwright.sync_api import Page, expect

ALL_RUNS_STEPPED = "app.state.runs.length > 0 && app.state.runs.every((r) => r.frame && " \
    "r.frame.step >= {step})"
ALL_RUNS_FINISHED = "!app.state.status.running && app.state.runs.every((r) => r.frame && " \
    "r.frame.epoch >= r.run.spec.training.epochs)"


def press_play(play: Playground) -> None:
    """Play, without waiting to see it running: a lesson's short run may finish at once."""
    play.page.locator("#play[aria-label=Play]").click()


def lessons(server: Any) -> list[dict[str, Any]]:
    return httpx.get(server.url + "/api/lessons", timeout=20).json()


def test_every_lesson_opens_from_the_gallery_and_trains(play: Playground, server: Any,
                                                         artifacts: Path) -> None:
    page = play.page
    catalogue = lessons(server)
    for lesson in catalogue:
        page.locator("#lessons-open").click()
        tiles = page.locator("#lessons-dialog .lesson-tile")
        expect(tiles).to_have_count(25)
        tile = page.locator(f'#lessons-dialog .lesson-tile[data-lesson="{lesson["id"]}"]')
        expect(tile).to_contain_text(lesson["title"])
        tile.click()
        play.wait_until(f"app.state.lesson && app.state.lesson.id === '{lesson['id']}' && "
                        "app.state.frame && app.drawn > 0")
        assert page.url.endswith(f"/#lesson={lesson['id']}")  # its stable link
        expect(page.locator("#lesson-title")).to_have_text(lesson["title"])
        expect(page.locator("#lesson .lesson-watch")).to_contain_text(lesson["watch"][:40])
        runs = max(1, len(lesson["variants"]))
        assert play.state("app.state.runs.length") == runs
        # Every run trains for a moment, with nothing refused and nothing thrown.
        press_play(play)
        play.wait_until(ALL_RUNS_STEPPED.format(step=3), timeout=60_000)
        if lesson["number"] in (8, 21):
            play.screenshot(artifacts, f"lesson-{lesson['number']:02d}-{lesson['id']}")
        assert play.state("app.state.status.error") is None, lesson["id"]
        assert not play.state("app.state.status.diverged") or lesson["id"] in (
            "lr-range", "xavier-he-init", "exploding-gradients", "input-normalisation"), \
            lesson["id"]  # the lessons that show divergence on purpose
        assert not play.errors and not play.console_errors, (lesson["id"], play.errors,
                                                             play.console_errors)


def test_a_comparison_lesson_trains_both_runs_and_overlays_them(page: Page, server: Any,
                                                                artifacts: Path) -> None:
    play = open_playground(page, server.url + "/#lesson=distribution-shift")
    expect(page.locator("#run-list .run")).to_have_count(2)
    press_play(play)
    play.wait_until(ALL_RUNS_FINISHED, timeout=60_000)
    # Two runs in the activation-variance chart: each layer once per run, the second dashed.
    layers = play.state("app.state.run.summary.layers.length")
    chart = page.locator("#chart-act-var")
    expect(chart).to_have_attribute("data-runs", "2")
    expect(chart).to_have_attribute("data-series", str(2 * layers))
    legend = chart.locator(".u-legend .u-series th").all_inner_texts()
    labels = play.state("app.state.runs.map((r) => r.label)")
    assert sum(labels[1] in text for text in legend) == layers
    # The diff lists the one field that differs, with both values.
    other = page.locator('#run-list .run[data-run="v1"] .diff li')
    expect(other).to_have_count(1)
    expect(other).to_have_attribute("data-path", "data.test_shift")
    expect(other).to_contain_text(re.compile(r"0\.5 \(on show: 0(\.0)?\)"))
    # The shifted test set shows in the curves: the second run's test loss is the higher.
    losses = play.state("app.state.runs.map((r) => r.frame.test_loss)")
    assert losses[1] > 2 * losses[0], losses
    play.screenshot(artifacts, "lesson-22-side-by-side")
    # Choosing the other run shows it in the output, the counters, and solid in the charts.
    page.get_by_role("radio", name=f"Show {labels[1]}").check()
    play.wait_until("app.state.selected === 1 && app.drawn > 0")
    assert play.state("app.state.run.spec.data.test_shift") == 0.5
    expect(page.locator('#run-list .run[data-run="v0"] .diff li')).to_have_count(1)
    assert not play.errors and not play.console_errors


def test_a_pinned_run_stays_while_a_changed_run_trains(play: Playground,
                                                       artifacts: Path) -> None:
    page = play.page
    expect(page.locator("#pin")).to_be_enabled()
    play.play()
    play.wait_until("app.state.frame.step >= 300")
    play.pause()
    pinned_steps = play.state("app.state.history.steps.step.length")
    page.locator("#pin").click()
    expect(page.locator("#run-list .run")).to_have_count(2)  # this run, and the reference
    play.fill("optimizer.lr", "0.3")  # a live change: the run goes on with it
    play.page.locator("#reset").click()  # start afresh to compare from step 0
    play.wait_until("app.state.frame && app.state.frame.step === 0")
    play.play()
    play.wait_until("app.state.frame.step >= 300")
    play.pause()
    # The reference kept its curves; the charts draw both runs.
    assert play.state("app.state.pins[0].history.steps.step.length") == pinned_steps
    for chart in ("#chart-act-var", "#chart-grad-norm"):
        expect(page.locator(chart)).to_have_attribute("data-runs", "2")
    diff = page.locator('#run-list .run[data-run="pin1"] .diff li')
    expect(diff).to_have_count(1)
    expect(diff).to_have_attribute("data-path", "optimizer.lr")
    expect(diff).to_contain_text("0.03 (on show: 0.3)")
    play.screenshot(artifacts, "pinned-reference-1280")
    page.get_by_role("button", name=re.compile("^Unpin")).click()
    expect(page.locator("#run-list .run")).to_have_count(0)
    expect(page.locator("#chart-act-var")).to_have_attribute("data-runs", "1")


def test_the_dropout_lesson_shows_the_averaged_variance_ratio(page: Page, server: Any,
                                                              artifacts: Path) -> None:
    """Lesson 8's card quotes each dropout layer's variance over its input's averaged over the
    steps; the activation-variance chart's header shows it, computed from the trace the chart
    draws (checked here against the same trace, averaged in Python)."""
    play = open_playground(page, server.url + "/#lesson=dropout")
    press_play(play)
    play.wait_until(ALL_RUNS_FINISHED, timeout=60_000)  # 600 steps: then nothing changes
    readout = page.locator("#dropout-ratio")
    expect(readout).to_be_visible()
    text = readout.inner_text()
    shown = [float(v) for v in re.findall(r"×(\d+\.\d+)", text)]
    labels = play.state("app.state.runs.map((r) => r.label)")
    assert len(shown) == 2, text  # two dropout layers in one run: the p = 0 run has none
    assert "(dropout p = 0.5)" in (readout.get_attribute("title") or "")
    trace = play.state("app.state.runs[1].trace.columns.act_var")
    expected = []
    for layer in (2, 5):  # the dropout layers; each one's input is the layer before
        pairs = [(v, u) for v, u in zip(trace[layer], trace[layer - 1], strict=True)
                 if v and u and v > 0 and u > 0]
        expected.append(sum(v / u for v, u in pairs) / len(pairs))
    assert shown == [round(v, 2) for v in expected], (shown, expected, labels)
    # What the card says a learner reads there: about twice (the mean of 2σ² + μ² over σ²).
    assert all(1.6 < v < 2.8 for v in shown), shown
    play.screenshot(artifacts, "lesson-08-dropout-ratio")
    assert not play.errors and not play.console_errors
