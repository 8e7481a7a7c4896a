"""The page at phone, tablet, laptop and large widths (390, 768, 1280, 1920 px): nothing scrolls
sideways, no panel is narrower than its content, the phone's builder works by touch, and the
link carries the view (and a classroom link's hidden controls, which can be shown again).
Screenshots go to artifacts/screen-*.png for a person to look at."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

WIDTHS = {390: 844, 768: 1024, 1280: 800, 1920: 1080}

OVERFLOW_JS = """() => {
  const doc = document.documentElement;
  const tooNarrow = [...document.querySelectorAll('.panel, .chart, .topbar, .lesson-card')]
    .filter((e) => e.offsetParent !== null && e.scrollWidth > e.clientWidth + 1)
    .map((e) => `${e.id || e.className}: ${e.clientWidth} < ${e.scrollWidth}`);
  return { page: doc.scrollWidth, view: doc.clientWidth, tooNarrow };
}"""
# The diagram's − / + / × buttons each within reach: over no other column's title, no neuron.
DIAGRAM_OVERLAP_JS = """() => {
  const box = (e) => e.getBoundingClientRect();
  const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom &&
    b.top < a.bottom;
  const titles = [...document.querySelectorAll('#diagram .col-title')];
  const neurons = [...document.querySelectorAll('#diagram canvas.neuron, #diagram .out-node')];
  const found = [];
  titles.forEach((title, c) => title.querySelectorAll('button').forEach((button) => {
    const b = box(button);
    titles.forEach((other, d) => { if (d !== c && meet(b, box(other))) {
      found.push(`${button.ariaLabel} over column ${d}'s title`); } });
    if (neurons.some((n) => meet(b, box(n)))) found.push(`${button.ariaLabel} over a neuron`);
  }));
  return found;
}"""

# Selects and number fields whose shown text is wider than their box (an arrow's 20 px aside).
CLIPPED_FIELDS_JS = """() => {
  const ctx = document.createElement('canvas').getContext('2d');
  return [...document.querySelectorAll('select, input[type=number]')]
    .filter((el) => el.offsetParent !== null).flatMap((el) => {
      const cs = getComputedStyle(el);
      ctx.font = `${cs.fontWeight} ${cs.fontSize} ${cs.fontFamily}`;
      const text = el.tagName === 'SELECT' ? el.selectedOptions[0]?.textContent ?? '' : el.value;
      const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight) -
        (el.tagName === 'SELECT' ? 20 : 0);
      return ctx.measureText(text).width > room ? [`${el.id} "${text}"`] : [];
    });
}"""


@pytest.fixture
def at_width(browser: Browser, server: Any, request: pytest.FixtureRequest
             ) -> Iterator[Any]:
    """open(width, path=''): the page at that width (touch below 800 px), ready and drawn."""
    contexts = []

    def open_at(width: int, path: str = "/") -> Playground:
        phone = width < 800
        context = browser.new_context(viewport={"width": width, "height": WIDTHS[width]},
                                      has_touch=phone, is_mobile=width < 500)
        contexts.append(context)
        return open_playground(context.new_page(), server.url + path)

    yield open_at
    for context in contexts:
        context.close()


def step_to(play: Playground, n: int) -> None:
    """Train exactly n steps with the top bar's Step N, and wait until they are drawn."""
    play.page.locator("#step-n").fill(str(n))
    play.page.locator("#step-n-go").click()
    play.wait_until(f"app.state.frame.step >= {n} && !app.scheduled")


def no_sideways_scroll(play: Playground) -> None:
    found = play.page.evaluate(OVERFLOW_JS)
    assert found["page"] <= found["view"], found
    assert not found["tooNarrow"], found


@pytest.mark.parametrize("width", list(WIDTHS))
def test_every_width_fits_without_sideways_scroll(at_width, artifacts: Path,
                                                  width: int) -> None:
    play = at_width(width)
    no_sideways_scroll(play)
    assert play.page.evaluate(DIAGRAM_OVERLAP_JS) == []
    builder = play.page.locator("#builder").bounding_box()
    diagram = play.page.locator("#diagram").bounding_box()
    assert builder and diagram
    assert builder["width"] >= min(width - 40, 340), builder  # never squeezed to a sliver
    assert diagram["width"] >= min(width - 40, 340), diagram
    # Play says what it does in words, not only with an icon.
    expect(play.page.locator("#play")).to_contain_text("Play")
    # Charts: a log axis labels only a few short decades, legends list every series.
    step_to(play, 40)
    legend = play.page.locator("#chart-loss .u-legend .u-series")
    expect(legend.first).to_be_visible()
    assert play.page.locator("#chart-loss .u-legend .u-marker-dash").count() == \
        legend.count() - 1  # every series but x draws its colour and dash
    values = play.page.locator("#chart-loss .u-legend .u-value").all_inner_texts()
    assert not any(v.strip() in ("", "–") for v in values[2:]), values  # latest values
    play.screenshot(artifacts, f"screen-{width}")
    play.page.screenshot(path=str(artifacts / f"screen-{width}-top.png"))
    # The diagram's controls at this width, by this width's pointer (a tap on a phone).
    more = play.page.locator(".col-title[data-column='1'] button[aria-label^='One unit more']")
    (more.tap if width < 800 else more.click)()
    play.wait_until("app.state.run.summary.layers[0].name.includes('5')")
    # A narrow page stays narrow while the charts and the diagram redraw.
    no_sideways_scroll(play)
    assert play.page.evaluate(DIAGRAM_OVERLAP_JS) == []
    # A layer's editor, with its longest option shown: every field shows its whole text.
    block = play.page.locator("#stack .stack-list > .block").first
    (block.tap if width < 800 else block.click)()
    init = "network.layers.0.init"
    play.page.locator(f'.editor [data-path="{init}.kind"] select').select_option(
        "kaiming_uniform")
    play.page.locator(f'.editor [data-path="{init}.mode"] select').select_option("fan_out")
    play.wait_until("app.state.spec.network.layers[0].init.mode === 'fan_out'")
    assert play.page.evaluate(CLIPPED_FIELDS_JS) == []
    no_sideways_scroll(play)


def test_phone_builder_and_diagram_by_touch(at_width, artifacts: Path) -> None:
    play = at_width(390)
    page = play.page
    layers = len(play.layers())
    page.locator("#add-layer").tap()
    play.wait_until(f"app.state.spec.network.layers.length === {layers + 2}")
    play.wait_until(f"app.state.run.summary.layers.length === {layers + 3}")
    units = play.state("app.state.spec.network.layers[0].units")
    page.locator(".col-title[data-column='1'] button[aria-label^='One unit more']").tap()
    play.wait_until(f"app.state.spec.network.layers[0].units === {units + 1}")
    # An input switched off and on again by touch.
    page.locator("canvas.neuron[data-column='0'][data-unit='1']").tap()
    play.wait_until("JSON.stringify(app.state.spec.features.inputs) === '[\"x1\"]'")
    page.locator(".inputs-off button", has_text="X₂").first.tap()
    play.wait_until("app.state.spec.features.inputs.includes('x2')")
    # A block of the stack opens its editor by touch: the builder is usable there.
    page.locator("#stack .stack-list > .block").first.tap()
    expect(page.locator(".editor")).to_be_visible()
    no_sideways_scroll(play)
    assert page.evaluate(DIAGRAM_OVERLAP_JS) == []  # three hidden columns on a phone
    play.screenshot(artifacts, "screen-390-touch-edits")


def test_the_link_carries_the_view(at_width, artifacts: Path) -> None:
    play = at_width(768)
    page = play.page
    page.locator("#show-test").check()
    page.locator("#loss-log").uncheck()
    play.wait_until("location.hash.includes('view.test=true') && "
                    "location.hash.includes('view.log=false')")
    link = page.url
    again = at_width(1280, link.removeprefix(play.page.url.split("/#")[0]))
    expect(again.page.locator("#show-test")).to_be_checked()
    expect(again.page.locator("#loss-log")).not_to_be_checked()
    assert again.state("app.state.view.showTest") is True
    again.screenshot(artifacts, "screen-1280-view-from-link")


def test_a_classroom_link_hides_controls_and_says_so(at_width, artifacts: Path) -> None:
    teacher = at_width(1920)
    page = teacher.page
    page.locator(".classroom-menu summary").click()
    page.locator(".classroom-menu input[data-hide=data]").check()
    page.locator(".classroom-menu input[data-hide=builder]").check()
    teacher.wait_until("decodeURIComponent(location.hash).includes('view.hide=[data,builder]')")
    link = page.locator(".classroom-menu input[type=text]").input_value()
    assert "view.hide=" in unquote(link)
    student = at_width(390, "/" + link.split("/", 3)[3])
    expect(student.page.locator("#data")).to_be_hidden()
    expect(student.page.locator("#builder")).to_be_hidden()
    expect(student.page.locator(".hidden-note")).to_contain_text("hidden by this link")
    no_sideways_scroll(student)
    student.screenshot(artifacts, "screen-390-classroom")
    # A view setting, not a lock: one tap brings the controls back.
    student.page.locator("#show-hidden").tap()
    expect(student.page.locator("#data")).to_be_visible()
    expect(student.page.locator("#builder")).to_be_visible()


def test_skip_link_hint_and_focusable_neurons(at_width, artifacts: Path) -> None:
    play = at_width(1280)
    page = play.page
    expect(page.locator("#hint")).to_contain_text("New here?")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.activeElement && "
                           "document.activeElement.closest('#builder') !== null")
    # From the builder, Tab reaches the diagram's neurons; a focused neuron shows its map.
    for _ in range(60):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.classList.contains('neuron')"):
            break
    else:
        raise AssertionError("Tab never reached a neuron")
    play.wait_until("app.state.hover !== null")
    expect(page.locator(".plot-caption")).to_be_visible()
    play.screenshot(artifacts, "screen-1280-neuron-focus", full_page=False)
    page.locator("#hint button").click()
    expect(page.locator("#hint")).to_be_hidden()
    page.reload()
    play.wait_until("app.state.frame && app.drawn > 0")
    expect(page.locator("#hint")).to_be_hidden()  # remembered


def test_a_saved_experiment_looks_read_only_and_says_fork(at_width, server: Any,
                                                          artifacts: Path) -> None:
    saved = httpx.post(server.url + "/api/experiments",
                       json={"spec": {"data": {"kind": "xor"}}, "name": "read me"},
                       timeout=20).json()
    page = at_width(768, "/").page
    page.goto(server.url + saved["url"])
    expect(page.locator("#data .read-only-note")).to_contain_text("Fork")
    expect(page.locator("#builder .read-only-note")).to_be_visible()
    expect(page.locator("body")).to_have_class(re.compile("recorded"))
    page.screenshot(path=str(artifacts / "screen-768-read-only.png"), full_page=True)
    page.locator("button", has_text="Fork").first.click()
    expect(page.locator("#data .read-only-note")).to_be_hidden()
