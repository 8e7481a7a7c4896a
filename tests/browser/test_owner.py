"""The owner's controls in a real Chromium: the browser that saved an experiment keeps its
owner token and renames, annotates and deletes it; another browser (no token) sees no
controls and its requests are refused. A later save from the same browser reuses the token."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from pagedriver import Playground
from playwright.sync_api import Browser, expect
from test_share import ID, open_recorded, share

pytestmark = pytest.mark.browser


def test_the_saving_browser_renames_annotates_and_deletes_and_another_cannot(
        play: Playground, browser: Browser, server: Any, artifacts: Path) -> None:
    page = play.page
    link = share(play, "mine", "first note")
    token = page.evaluate("() => localStorage.getItem('torchplay.owner')")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", token)
    # A second save from the same browser: the same owner, no new token. (The dialog still
    # holds the first link until the second save is answered: wait for the new one.)
    page.locator("#share-open").click()
    page.locator("#share-name").fill("second")
    page.locator("#share-save").click()
    expect(page.locator("#share-url")).not_to_have_value(link)
    second = page.locator("#share-url").input_value()
    assert ID.search(second) and second != link
    page.keyboard.press("Escape")
    assert page.evaluate("() => localStorage.getItem('torchplay.owner')") == token

    shown = open_recorded(page.context.new_page(), link)  # same browser: same localStorage
    shown.page.locator("#share-open").click()
    owner = shown.page.locator("#share-owner")
    expect(owner).to_be_visible()
    owner.locator("summary").click()
    expect(shown.page.locator("#owner-name")).to_have_value("mine")
    expect(shown.page.locator("#owner-note")).to_have_value("first note")
    shown.page.locator("#owner-name").fill("Renamed by its owner")
    shown.page.locator("#owner-note").fill("a better note")
    shown.screenshot(artifacts, "owner-controls-1280", full_page=False)
    shown.page.locator("#owner-save").click()  # saved, and the page reloads to show it
    expect(shown.page.locator("#recorded-name")).to_have_text("Renamed by its owner")
    expect(shown.page.locator("#recorded-note")).to_have_text("a better note")

    stranger = browser.new_context()  # another browser: no token
    other = open_recorded(stranger.new_page(), link)
    other.page.locator("#share-open").click()
    expect(other.page.locator("#share-url")).to_have_value(link)
    expect(other.page.locator("#share-owner")).to_be_hidden()
    status = other.page.evaluate("""async (id) => (await fetch('/api/experiments/' + id,
        {method: 'DELETE'})).status""", link.rsplit("/", 1)[1])
    assert status == 403
    stranger.close()

    shown.page.locator("#share-open").click()
    shown.page.locator("#share-owner summary").click()
    shown.page.once("dialog", lambda dialog: dialog.accept())  # "Delete ...?"
    shown.page.locator("#owner-delete").click()
    expect(shown.page.locator("#owner-status")).to_have_text(re.compile("Deleted"))
    api = link.replace("/e/", "/api/experiments/")
    assert httpx.get(api).status_code == 404
    assert httpx.get(second.replace("/e/", "/api/experiments/")).status_code == 200
    assert not shown.errors
