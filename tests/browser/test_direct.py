"""Direct manipulation and the controls around it, with real pointer and keyboard input: a
weight read on hover and edited by click (and by keyboard), the run going on from it, in a
comparison the run on show alone; units and
layers changed on the diagram by keyboard; an optimizer switch that drops the old kind's
fields and says so (the learning-rate chart showing the new rate at once); Continue at the
epoch limit; a spec.json imported by file chooser and by drop, refused by field when bad."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

HEIGHTS = {390: 844, 768: 1024, 1280: 800, 1920: 1080}

# A point a fifth of the way along the link from input 0 to unit 1 of the first hidden layer
# (the diagram's cubic: control points at the middle x), in page pixels: near its source, away
# from where links cross.
LINK_POINT_JS = """() => {
  const from = document.querySelector("canvas.neuron[data-column='0'][data-unit='0']")
    .getBoundingClientRect();
  const to = document.querySelector("canvas.neuron[data-column='1'][data-unit='1']")
    .getBoundingClientRect();
  const [x1, y1, x2, y2] = [from.right, from.top + from.height / 2, to.left,
    to.top + to.height / 2];
  const t = 0.2, u = 1 - t, mid = (x1 + x2) / 2;
  return { x: u ** 3 * x1 + 3 * u * u * t * mid + 3 * u * t * t * mid + t ** 3 * x2,
    y: u ** 3 * y1 + 3 * u * u * t * y1 + 3 * u * t * t * y2 + t ** 3 * y2 };
}"""
WEIGHT_JS = "app.state.frame.links[0].values[1 * app.state.frame.links[0].shape[1] + 0]"


@pytest.fixture
def at_width(browser: Browser, server: Any) -> Iterator[Any]:
    contexts = []

    def open_at(width: int, path: str = "/") -> Playground:
        context = browser.new_context(viewport={"width": width, "height": HEIGHTS[width]},
                                      has_touch=width < 800)
        contexts.append(context)
        return open_playground(context.new_page(), server.url + path)

    yield open_at
    for context in contexts:
        context.close()


def test_a_weight_reads_on_hover_and_is_edited_by_click(at_width, artifacts: Path) -> None:
    play = at_width(1280)
    page = play.page
    point = page.evaluate(LINK_POINT_JS)
    page.mouse.move(point["x"], point["y"])
    tip = page.locator(".link-tip")
    expect(tip).to_contain_text("weight")
    expect(tip).to_contain_text("from X₁ to linear 4 · tanh unit 2")
    play.screenshot(artifacts, "direct-1280-weight-hover", full_page=False)
    page.mouse.click(point["x"], point["y"])
    editor = page.locator(".link-editor input")
    expect(editor).to_be_focused()
    editor.fill("3.25")
    editor.press("Enter")
    play.wait_until(f"{WEIGHT_JS} === 3.25")
    assert play.state("app.state.frame.step") == 0  # paused: the edit alone
    play.play()
    play.wait_until(f"app.state.frame.step > 50 && {WEIGHT_JS} !== 3.25")
    assert abs(play.state(WEIGHT_JS) - 3.25) < 3  # trained on from the edited value
    play.pause()
    # Saved, the run says its weights were edited.
    page.locator("#share-open").click()
    page.locator("#share-save").click()
    page.wait_for_function("() => document.querySelector('#share-url').value.includes('/e/')")
    page.goto(page.locator("#share-url").input_value())
    expect(page.locator(".recorded-changed")).to_contain_text(
        "Weights were edited by hand (1 time)")


def run_weight(k: int) -> str:
    """Run k's weight from input 0 to unit 1, as its latest frame shows it."""
    return f"app.state.runs[{k}].frame.links[0].values[app.state.runs[{k}].frame.links[0]" \
        ".shape[1]]"


def test_a_weight_is_edited_in_the_run_on_show_of_a_comparison(at_width, server: Any,
                                                                artifacts: Path) -> None:
    play = at_width(1280, "/#v=1&runs.0.label=slow&runs.1.label=fast"
                    "&runs.1.patch.optimizer.lr=0.3")
    page = play.page
    play.wait_until("app.state.runs.length === 2 && app.state.runs.every((r) => r.frame)")
    assert play.state("app.state.run.spec.optimizer.lr") == 0.03
    slow = play.state(run_weight(0))
    page.locator("#run-list input[value='1']").check()
    play.wait_until("app.state.selected === 1 && app.state.frame === app.state.runs[1].frame")
    page.evaluate("document.querySelector('#diagram').scrollIntoView({block: 'center'})")
    point = page.evaluate(LINK_POINT_JS)
    page.mouse.move(point["x"], point["y"])
    expect(page.locator(".link-tip")).to_contain_text("click to edit")
    page.mouse.click(point["x"], point["y"])
    editor = page.locator(".link-editor input")
    expect(editor).to_be_focused()
    editor.fill("3.25")
    editor.press("Enter")
    play.wait_until(f"{run_weight(1)} === 3.25")
    expect(page.locator("#announce")).to_contain_text("Weight set to 3.25 in fast")
    assert play.state(run_weight(0)) == slow  # the other run untouched
    play.screenshot(artifacts, "direct-1280-comparison-weight", full_page=False)
    page.locator("#step-n").fill("20")
    page.locator("#step-n-go").click()
    play.wait_until("app.state.runs.every((r) => r.frame.step === 20)")
    assert abs(play.state(run_weight(1)) - 3.25) < 3  # trained on from the edited value
    assert play.state(run_weight(1)) != 3.25
    page.locator("#share-open").click()
    page.locator("#share-save").click()
    page.wait_for_function("() => document.querySelector('#share-url').value.includes('/e/')")
    link = page.locator("#share-url").input_value()
    run = httpx.get(link.replace("/e/", "/api/experiments/"), timeout=20).json()["run"]
    assert run["weight_edits"] == 0 and run["variants"][0]["run"]["weight_edits"] == 1
    page.goto(link)
    expect(page.locator(".recorded-changed")).to_contain_text(
        "fast: Weights were edited by hand (1 time)")
    expect(page.locator(".recorded-changed")).not_to_contain_text("slow")


def test_a_weight_is_edited_by_keyboard(at_width, artifacts: Path) -> None:
    play = at_width(768)
    page = play.page
    page.locator("#diagram canvas.links").focus()
    page.keyboard.press("ArrowRight")  # the first link: input 0 to unit 0
    expect(page.locator(".link-tip")).to_contain_text("from X₁ to linear 4 · tanh unit 1")
    page.keyboard.press("Enter")
    page.keyboard.type("-1.5")
    page.keyboard.press("Enter")
    play.wait_until("app.state.frame.links[0].values[0] === -1.5")
    expect(page.locator("#diagram canvas.links")).to_be_focused()  # back where it was
    play.screenshot(artifacts, "direct-768-weight-keyboard", full_page=False)


def test_a_weight_is_edited_by_a_tap_on_a_phone(at_width, artifacts: Path) -> None:
    play = at_width(390)
    page = play.page
    page.evaluate("document.querySelector('#diagram').scrollIntoView({block: 'center'})")
    # 9 px above the middle of the top link into the output (the last hidden layer's first
    # unit to class 0), where no other link runs: a finger lands off the thin curve.
    point = page.evaluate("""() => {
      const from = document.querySelector("canvas.neuron[data-column='2'][data-unit='0']")
        .getBoundingClientRect();
      const to = document.querySelector('#diagram .out-node').getBoundingClientRect();
      return { x: (from.right + to.left) / 2,
        y: (from.top + from.height / 2 + to.top + to.height / 2) / 2 - 9 };
    }""")
    page.touchscreen.tap(point["x"], point["y"])
    editor = page.locator(".link-editor input")
    expect(editor).to_be_focused()
    editor.fill("-2.75")
    page.locator(".link-editor button", has_text="Set").tap()
    play.wait_until("app.state.frame.links.some((l) => l.values.includes(-2.75))")
    play.screenshot(artifacts, "direct-390-weight-tap", full_page=False)


def test_units_layers_and_inputs_by_keyboard(at_width) -> None:
    play = at_width(1920)
    page = play.page
    layers = len(play.layers())
    more = page.locator(".col-title[data-column='1'] button[aria-label^='One unit more']")
    more.focus()
    page.keyboard.press("Enter")
    play.wait_until("app.state.spec.network.layers[0].units === 5")
    play.wait_until("app.state.run.summary.layers[0].name.includes('5')")
    page.locator("#add-layer").focus()
    page.keyboard.press("Enter")
    play.wait_until(f"app.state.run.summary.layers.length === {layers + 3}")
    page.locator(".col-title[data-column='1'] button[aria-label^='Remove']").focus()
    page.keyboard.press("Enter")
    play.wait_until(f"app.state.run.summary.layers.length === {layers + 1}")
    page.locator("canvas.neuron[data-column='0'][data-unit='0']").focus()
    page.keyboard.press("Enter")
    play.wait_until("JSON.stringify(app.state.run.summary.features) === '[\"x2\"]'")
    page.locator(".inputs-off button", has_text="X₁²").focus()
    page.keyboard.press("Enter")
    play.wait_until("app.state.run.summary.features.includes('x1_sq')")


def test_optimizer_switch_drops_momentum_says_so_and_shows_the_new_rate(at_width) -> None:
    play = at_width(1280)
    page = play.page
    play.fill("optimizer.momentum", "0.9")
    play.wait_until("app.state.run.spec.optimizer.momentum === 0.9")
    page.locator("#optimizer-kind").select_option("adam")
    play.wait_until("app.state.frame && app.state.frame.lr === 0.001")
    note = page.locator("#optimizer-switch-note")
    expect(note).to_contain_text("SGD → Adam")
    expect(note).to_contain_text("Learning rate 0.03 → 0.001")
    expect(note).to_contain_text("Momentum")
    assert "momentum" not in play.state("app.state.spec.optimizer")
    assert play.state("app.state.status.error") is None  # the server took the switch
    # The learning-rate chart ends at the rate in use now, not the old one, at step 0.
    expect(page.locator("#chart-lr .u-legend .u-series").nth(1)).to_contain_text("0.001")


def test_continue_at_the_epoch_limit_raises_it_visibly(at_width) -> None:
    play = at_width(1280)
    page = play.page
    play.fill("training.epochs", "2")
    play.wait_until("app.state.run.spec.training.epochs === 2")
    play.play()
    play.wait_until("app.state.status.finished && !app.state.status.running")
    expect(page.locator("#play")).to_contain_text("Continue")
    expect(page.locator("#status")).to_contain_text("epoch limit")
    # Every text the status line shows from here on (the run may reach its new limit, and
    # say so, before a check could read the line).
    page.evaluate("""() => {
      const status = document.querySelector('#status');
      window.statusSeen = [];
      new MutationObserver(() => window.statusSeen.push(status.textContent))
        .observe(status, { childList: true, characterData: true, subtree: true });
    }""")
    page.locator("#play").click()
    play.wait_until("app.state.spec.training.epochs === 4")
    page.wait_for_function("() => window.statusSeen.some((t) => t.includes('raised from 2 to 4'))")
    expect(play.field("training.epochs").locator("input")).to_have_value("4")
    play.wait_until("app.state.frame.epoch === 4 && !app.state.status.running")


def test_import_a_spec_by_chooser_and_by_drop(at_width, tmp_path: Path,
                                              artifacts: Path) -> None:
    play = at_width(390)
    page = play.page
    good = tmp_path / "spec.json"
    good.write_text(json.dumps({"version": 1, "data": {"kind": "xor", "noise": 0.25},
                                "optimizer": {"kind": "adam", "lr": 0.005}}))
    with page.expect_file_chooser() as chooser:
        page.locator("#import-button").tap()
    chooser.value.set_files(str(good))
    play.wait_until("app.state.run && app.state.run.spec.data.kind === 'xor' && "
                    "app.state.run.spec.optimizer.lr === 0.005")
    expect(page.locator("#status")).to_contain_text("Opened spec.json")
    assert "data.kind=xor" in page.url
    # A bad file, dropped on the page: refused with the fields at fault, nothing changed.
    bad = {"version": 1, "data": {"kind": "nope"}, "training": {"batch_size": -3}}
    page.evaluate("""(text) => {
      const transfer = new DataTransfer();
      transfer.items.add(new File([text], 'bad.json', { type: 'application/json' }));
      const target = document.querySelector('#output');
      for (const type of ['dragover', 'drop']) {
        target.dispatchEvent(new DragEvent(type, { bubbles: true, cancelable: true,
          dataTransfer: transfer }));
      }
    }""", json.dumps(bad))
    dialog = page.locator("dialog[open]")
    expect(dialog).to_contain_text("bad.json was not opened")
    expect(dialog).to_contain_text("data.kind")
    expect(dialog).to_contain_text("training.batch_size")
    page.screenshot(path=str(artifacts / "direct-390-import-refused.png"))
    dialog.locator("button", has_text="Close").click()
    assert play.state("app.state.spec.data.kind") == "xor"
