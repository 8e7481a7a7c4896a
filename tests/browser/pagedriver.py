"""A driver for the torchplay page: acts as a person would (pointer, keyboard) and waits on
the page's own state, never on the clock."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from playwright.sync_api import Locator, Page, expect
from playwright.sync_api import TimeoutError as PlaywrightTimeout


class Playground:
    """The torchplay page, driven as a person would: pointer, keyboard, visible text."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        # A panel that throws while drawing is caught (the others draw on) and logged.
        self.console_errors: list[str] = []
        page.on("console", lambda message: self.console_errors.append(message.text)
                if message.type == "error" else None)

    # --- reading the page ---------------------------------------------------------------

    def state(self, expression: str) -> Any:
        """Evaluate a JS expression over the app (`app`), e.g. 'app.state.frame.step'."""
        return self.page.evaluate(f"() => {{ const app = window.torchplay; return {expression}; }}")

    def step(self) -> int:
        return int(self.page.locator("#counter-step").get_attribute("data-step") or 0)

    def wait_until(self, expression: str, timeout: float = 30_000) -> None:
        """Wait for a JS condition over the app to hold."""
        try:
            self.page.wait_for_function(
                f"() => {{ const app = window.torchplay; return Boolean(app && ({expression}));"
                " }", timeout=timeout)
        except PlaywrightTimeout as exc:
            raise AssertionError(f"timed out waiting for {expression}; the page: "
                                 f"{self.snapshot()}") from exc

    def snapshot(self) -> str:
        """What a failing wait reports: the run, the spec's network, status and errors."""
        return self.page.evaluate("""() => { const app = window.torchplay; return JSON.stringify({
            run: app.state.run && app.state.run.summary.layers.map((l) => l.name),
            frame: app.state.frame && app.state.frame.step,
            layers: app.state.spec && app.state.spec.network.layers,
            status: app.state.status, startsInFlight: app.edits.startsInFlight,
            errors: [...document.querySelectorAll('.field-error, .error')]
              .map((e) => e.textContent).filter(Boolean) }); }""")

    def blocks(self) -> Locator:
        return self.page.locator("#stack .stack-list > .block")

    def block_labels(self) -> list[str]:
        return [text.strip() for text in self.blocks().all_inner_texts()]

    def layers(self) -> list[dict[str, Any]]:
        return self.state("app.state.spec.network.layers")

    def running_layers(self) -> list[str]:
        return self.state("app.state.run.summary.layers.map((l) => l.name)")

    def wait_for_network(self, names: list[str]) -> None:
        """Wait until the server runs exactly these modules (hidden layers + output)."""
        self.wait_until(f"app.state.run && app.state.frame && JSON.stringify("
                        f"app.state.run.summary.layers.map((l) => l.name)) === "
                        f"{json.dumps(json.dumps(names, separators=(',', ':')))}")

    def field(self, path: str) -> Locator:
        return self.page.locator(f'.field[data-path="{path}"]')

    def steady_for(self, ms: int) -> bool:
        """True when the step counter does not change for `ms` milliseconds (a page-side
        observation window, used to show that something does *not* happen)."""
        return self.page.evaluate("""(ms) => new Promise((resolve) => {
            const el = document.querySelector('#counter-step');
            const seen = el.dataset.step;
            const watch = new MutationObserver(() => {
              if (el.dataset.step !== seen) { watch.disconnect(); resolve(false); }
            });
            watch.observe(el, { attributes: true, childList: true, subtree: true });
            setTimeout(() => { watch.disconnect(); resolve(el.dataset.step === seen); }, ms);
        })""", ms)

    # --- acting on the page -------------------------------------------------------------

    def drag(self, source: Locator, x: float, y: float) -> None:
        """A real pointer drag: press on the source, move in steps, release at (x, y)."""
        box = source.bounding_box()
        assert box is not None
        mouse = self.page.mouse
        mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        mouse.down()
        mouse.move(box["x"] + box["width"] / 2 + 8, box["y"] + box["height"] / 2 + 8, steps=3)
        mouse.move(x, y, steps=12)
        mouse.up()

    def stack_end(self) -> tuple[float, float]:
        """A point in the stack just before the output block: 'append here'."""
        box = self.page.locator("#output-block").bounding_box()
        assert box is not None
        return box["x"] - 12, box["y"] + box["height"] / 2

    def drag_from_palette(self, name: str) -> None:
        count = self.blocks().count()
        self.drag(self.page.locator(f'.palette-item[data-block="{name}"]'), *self.stack_end())
        expect(self.blocks()).to_have_count(count + 1)

    def drag_out(self, index: int) -> None:
        count = self.blocks().count()
        target = self.page.locator("#diagram").bounding_box()
        assert target is not None
        self.drag(self.blocks().nth(index), target["x"] + target["width"] / 2,
                  target["y"] + target["height"] / 2)
        expect(self.blocks()).to_have_count(count - 1)

    def fill(self, path: str, value: str) -> None:
        """Type into a field and commit it the way a person does (Enter)."""
        control = self.field(path).locator("input, select").first
        control.fill(value)
        control.press("Enter")

    def play(self) -> None:
        self.page.locator("#play[aria-label=Play]").click()
        self.wait_until("app.state.status.running")

    def pause(self) -> None:
        self.page.locator("#play[aria-label=Pause]").click()
        # Also wait for the last frame to be drawn: panels draw on the next animation frame.
        self.wait_until("!app.state.status.running && app.state.frame && !app.state.frame.running"
                        " && !app.scheduled")

    def screenshot(self, artifacts: Path, name: str, full_page: bool = True) -> Path:
        path = artifacts / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path


def open_playground(page: Page, url: str) -> Playground:
    """Load the playground at `url` and wait until its first (paused) run is ready and drawn."""
    driver = Playground(page)
    page.goto(url)
    expect(page.locator("body")).not_to_have_class(re.compile("loading"))
    driver.wait_until("app.state.run && !app.state.run.recorded && app.state.frame && "
                      "app.drawn > 0")
    expect(page.locator("#data")).to_have_attribute("data-previews", re.compile(r"[1-9]"))
    return driver
