"""The lesson tools panel (frontend/src/panels/tools.js), in a real Chromium against a real
server, checked as a learner would check it:

- lesson 2: the activation gallery shows one chart per activation the schema offers, each
  with both curves drawn; a new leaky-ReLU slope redraws that chart and leaves ReLU's alone.
- lesson 19: "Check gradients" answers with a table whose relative differences are all below
  1e-7 (the bias before BatchNorm marked below resolution) and a summary saying they agree.
- lesson 20: one diagnosis row per run; after training, the linear model is "high bias" and
  the big net on 30 points "high variance"; a base error of 10% clears the first.
- lesson 12: the smoothing presets move the loss chart's slider.
- a lesson without a tool shows no tool panel.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.browser

# Pixels of each chart's canvas close to the curves' colours (colors.js BLUE and ORANGE):
# both curves drawn, not just the axes. Antialiased edges blend toward white and are not
# counted.
INK = """(cards) => Object.fromEntries(cards.map((card) => {
  const canvas = card.querySelector('canvas');
  const px = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const near = (i, [r, g, b]) => Math.abs(px[i] - r) + Math.abs(px[i + 1] - g) +
    Math.abs(px[i + 2] - b) < 60 && px[i + 3] > 200;
  let blue = 0, orange = 0;
  for (let i = 0; i < px.length; i += 4) {
    if (near(i, [8, 119, 189])) blue++;
    else if (near(i, [245, 147, 34])) orange++;
  }
  return [card.dataset.fn, [blue, orange]];
}))"""

CANVAS = "(card) => card.querySelector('canvas').toDataURL()"


def open_lesson(page: Page, server: Any, lesson_id: str) -> Playground:
    """The page opened at a lesson's link, the lesson loaded and its first run drawn."""
    driver = open_playground(page, f"{server.url}/#lesson={lesson_id}")
    driver.wait_until(f"app.state.lesson && app.state.lesson.id === '{lesson_id}' && "
                      "app.state.runs && app.state.runs.length > 0")
    return driver


def train_to_the_end(driver: Playground, condition: str) -> None:
    """Press Play and wait until the lesson's run has finished by itself (its epoch limit)
    and the last frame is drawn. Not driver.play(): a small run can finish before a frame
    ever says it is running."""
    driver.page.locator("#play[aria-label=Play]").click()
    driver.wait_until(f"({condition}) && !app.state.status.running && !app.scheduled",
                      timeout=120_000)


def shoot(driver: Playground, artifacts: Path, name: str) -> None:
    """The whole page, and the tool alone (easier to look at), for a person to check."""
    driver.screenshot(artifacts, name)
    driver.page.locator("#lesson-tool").screenshot(path=str(artifacts / f"{name}-tool.png"))


def assert_clean(driver: Playground) -> None:
    """No uncaught error, and no panel that threw while drawing (app.js logs and goes on)."""
    assert not driver.errors, driver.errors
    assert not getattr(driver, "console_errors", []), driver.console_errors


def number(text: str) -> float:
    """The one number in a cell ("3.1e-9", "11.8%")."""
    found = re.search(r"-?\d+(\.\d+)?(e[-+]?\d+)?", text)
    assert found, f"no number in {text!r}"
    return float(found.group(0))


def test_the_activation_gallery_draws_every_activation(page: Page, server: Any,
                                                      artifacts: Path) -> None:
    driver = open_lesson(page, server, "activation-functions")
    tool = page.locator("#tool-activation_curves")
    expect(tool).to_be_visible()
    expect(tool).to_contain_text("f solid, f′ dashed")
    schema = httpx.get(server.url + "/api/schema", timeout=10).json()
    offered = schema["$defs"]["ActivationLayer"]["properties"]["fn"]["enum"]
    assert len(offered) == 10
    cards = tool.locator("figure[data-fn]")
    expect(cards).to_have_count(len(offered))
    for card in cards.all():  # every chart holds the 161 points of [-4, 4]
        expect(card).to_have_attribute("data-points", "161")
    assert sorted(cards.evaluate_all("(cs) => cs.map((c) => c.dataset.fn)")) == sorted(offered)
    captions = cards.locator("figcaption").all_inner_texts()
    assert "ReLU" in captions and "Tanh" in captions and all(captions)
    ink = cards.evaluate_all(INK)
    for name, (blue, orange) in ink.items():
        assert blue > 60 and orange > 30, f"{name}: f drew {blue} px, f′ {orange} px"
    shoot(driver, artifacts, "tools-activation-gallery")

    # A new slope redraws the leaky ReLU (its f for x < 0), and not ReLU.
    leaky, relu = tool.locator("[data-fn=leaky_relu]"), tool.locator("[data-fn=relu]")
    before = {"leaky": leaky.evaluate(CANVAS), "relu": relu.evaluate(CANVAS)}
    slope = tool.get_by_label("LeakyReLU/PReLU slope α")
    slope.fill("0.3")
    slope.press("Enter")
    page.wait_for_function("([card, old]) => card.querySelector('canvas').toDataURL() !== old",
                           arg=[leaky.element_handle(), before["leaky"]])
    assert relu.evaluate(CANVAS) == before["relu"]
    assert_clean(driver)


def test_the_gradient_check_agrees_with_finite_differences(page: Page, server: Any,
                                                           artifacts: Path) -> None:
    driver = open_lesson(page, server, "gradient-checking")
    tool = page.locator("#tool-gradient_check")
    button = tool.locator("#gradcheck-run")
    expect(button).to_have_text("Check gradients")
    expect(tool.locator("table")).to_be_hidden()  # nothing checked yet
    # Train (the lesson's 5 epochs), so the weights checked are not only the initial ones.
    train_to_the_end(driver, "app.state.frame && app.state.frame.epoch >= 5")
    step = driver.step()
    assert step > 0

    # The click's handler marks the button busy before it awaits the server's answer.
    busy = button.evaluate("(b) => { b.click(); return [b.disabled, b.textContent]; }")
    assert busy == [True, "Checking…"]
    summary = tool.locator("#gradcheck-summary")
    expect(summary).to_contain_text("autograd agrees with finite differences")
    expect(button).to_be_enabled()
    expect(button).to_have_text("Check gradients")
    text = summary.inner_text()
    assert f"Step {step:,}" in text, text
    assert number(text.split("largest relative difference is")[1]) < 1e-7, text

    # Linear 8, BatchNorm, Linear 8 and the output Linear: a weight and a bias each.
    rows = tool.locator("table tbody tr")
    expect(rows).to_have_count(8)
    cells = [row.locator("td").all_inner_texts() for row in rows.all()]
    assert [c[1] for c in cells] == ["weight", "bias"] * 4
    assert cells[0][0] == "0: linear 8" and cells[0][2] == "16"
    below = [c for c in cells if c[4] == "below resolution"]
    # The bias right before BatchNorm has gradient 0: flagged, not compared.
    assert [c[:2] for c in below] == [["0: linear 8", "bias"]]
    for layer, tensor, _size, norm, rel in cells:
        if rel != "below resolution":
            assert number(rel) < 1e-7, f"{layer} {tensor}: {rel}"
            assert number(norm) > 0
    expect(tool.locator("[role=alert]")).to_be_empty()
    shoot(driver, artifacts, "tools-gradient-check")
    assert_clean(driver)


def test_a_model_too_large_to_check_is_refused_in_words(page: Page, server: Any) -> None:
    driver = open_lesson(page, server, "gradient-checking")
    # Widen the second Linear (module 4) to 512 units: over the 5,000 parameters a check takes.
    driver.blocks().nth(4).click()
    driver.fill("network.layers.4.units", "512")
    driver.wait_until("app.state.run.summary.layers[4].name === 'linear 512'")
    tool = page.locator("#tool-gradient_check")
    tool.locator("#gradcheck-run").click()
    expect(tool.get_by_role("alert")).to_contain_text("parameters")
    expect(tool.locator("#gradcheck-run")).to_be_enabled()
    expect(tool.locator("table")).to_be_hidden()
    assert_clean(driver)


def test_the_diagnosis_tells_bias_from_variance(page: Page, server: Any,
                                                artifacts: Path) -> None:
    driver = open_lesson(page, server, "bias-variance")
    tool = page.locator("#tool-diagnosis")
    rows = tool.locator("tbody tr")
    labels = driver.state("app.state.runs.map((r) => r.label)")
    assert len(labels) == 2
    expect(rows).to_have_count(2)
    for row, label in zip(rows.all(), labels, strict=True):
        expect(row.locator("th")).to_have_text(label)  # nothing diagnosed yet
    expect(tool).to_contain_text("Train a few epochs to see the diagnosis")

    # The lesson's runs end by themselves (the linear model's 40 epochs end the pair).
    train_to_the_end(driver, "app.state.runs.every((r) => r.frame) && "
                     "app.state.runs[0].frame.epoch >= 40")
    bias, variance = rows.nth(0), rows.nth(1)
    # Each row says which epoch its verdict is about: wait for the runs' last ones.
    for row, epoch in zip(rows.all(), driver.state("app.state.runs.map((r) => r.frame.epoch)"),
                          strict=True):
        expect(row).to_have_attribute("data-epoch", str(epoch))
        expect(row.locator("th")).to_contain_text(f"at epoch {epoch}")
    expect(bias.locator(".verdict")).to_have_text("high bias")
    expect(variance.locator(".verdict")).to_have_text("high variance")
    expect(tool.locator("#diagnosis-note")).to_be_hidden()
    # What the verdicts rest on, as shown: the line misses > 5% of its training points; the
    # big net none of its 20, but > 5% of the test points.
    train0 = number(bias.locator(".train-error").inner_text())
    train1 = number(variance.locator(".train-error").inner_text())
    test1 = number(variance.locator(".test-error").inner_text())
    assert train0 > 5 and train1 < 1 and test1 - train1 > 5, (train0, train1, test1)
    expect(bias.locator(".explanation")).to_contain_text("does not fit even the training data")
    shoot(driver, artifacts, "tools-diagnosis")

    # With a base error of 10% the line's training error is nearly all unavoidable.
    base = tool.get_by_label("Base (Bayes or human) error, %")
    base.fill("10")
    expect(bias.locator(".verdict")).to_have_text("good fit")
    expect(variance.locator(".verdict")).to_have_text("high variance")
    assert_clean(driver)


def test_the_smoothing_presets_move_the_loss_slider(page: Page, server: Any,
                                                    artifacts: Path) -> None:
    driver = open_lesson(page, server, "smoothing")
    tool = page.locator("#tool-ema")
    expect(tool).to_contain_text("debiased exponential moving average")
    default = tool.get_by_role("button", name="β = 0.9", exact=True)
    expect(default).to_have_attribute("aria-pressed", "true")
    shoot(driver, artifacts, "tools-ema")  # the page's default smoothing, 0.9, marked
    slider = page.locator("#loss-smoothing")
    for name, value in [("No smoothing", "0"), ("β = 0.99", "0.99"), ("β = 0.9", "0.9")]:
        preset = tool.get_by_role("button", name=name, exact=True)
        preset.click()
        driver.wait_until(f"app.state.view.smoothing === {value}")  # the chart smooths so
        expect(preset).to_have_attribute("aria-pressed", "true")
        expect(slider).to_have_value(value)  # and its slider says so
    expect(tool.locator("button[aria-pressed=true]")).to_have_count(1)
    assert_clean(driver)


def test_a_lesson_without_a_tool_shows_none(page: Page, server: Any) -> None:
    driver = open_lesson(page, server, "hidden-layers")
    tool = page.locator("#lesson-tool")
    expect(tool).to_be_hidden()
    expect(tool).to_be_empty()
    assert_clean(driver)
