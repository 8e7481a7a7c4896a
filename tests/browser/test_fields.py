"""Numbers in fields, with real pointer and keyboard input: a value with many digits (here a
link's learning rate, as a sweep trial opened as a run gives one) shows to a few significant
digits, marked rounded with every digit in its tooltip; focused, the field shows the exact
value; leaving it untouched sends nothing and changes nothing (no drift, the link keeps every
digit); a typed value is sent as typed and shown as typed."""

from __future__ import annotations

from urllib.parse import unquote

import pytest
from pagedriver import open_playground
from playwright.sync_api import Browser, expect

pytestmark = pytest.mark.browser

EXACT = 0.0353058512
SEND_LOG_JS = """() => {
  const client = window.torchplay.client;
  const send = client.send.bind(client);
  window.sent = [];
  client.send = (m) => { window.sent.push(m); return send(m); };
}"""


@pytest.mark.parametrize("width, height", [(390, 844), (1280, 800)])
def test_a_long_number_shows_rounded_and_is_kept_exact(browser: Browser, server,
                                                       width: int, height: int) -> None:
    context = browser.new_context(viewport={"width": width, "height": height},
                                  has_touch=width < 800)
    play = open_playground(context.new_page(), f"{server.url}/#v=1&optimizer.lr={EXACT}")
    page = play.page
    field = play.field("optimizer.lr")
    lr = field.locator("input")
    expect(lr).to_have_value("0.03531")
    expect(field).to_have_class("field field-number rounded")
    expect(lr).to_have_attribute("title", f"Shown rounded: the setting is exactly {EXACT} "
                                 "(click or focus the field to see and edit every digit)")
    assert page.evaluate("(el) => getComputedStyle(el, '::after').content",
                         field.locator("label").element_handle()) == '" ≈"'
    assert lr.evaluate("(el) => el.scrollWidth <= el.clientWidth")  # not clipped
    assert play.state("app.state.run.spec.optimizer.lr") == EXACT
    page.evaluate(SEND_LOG_JS)

    lr.click()  # focused: every digit, to edit
    expect(lr).to_have_value(str(EXACT))
    page.keyboard.press("Tab")  # left untouched: nothing sent, nothing changed
    expect(lr).to_have_value("0.03531")
    assert play.steady_for(300)
    assert play.state("window.sent.filter((m) => m.type === 'update').length") == 0
    assert play.state("app.state.spec.optimizer.lr") == EXACT
    assert f"optimizer.lr={EXACT}" in unquote(page.url)

    lr.click()  # a typed value is sent as typed, and shown as typed
    lr.press("Control+a")
    page.keyboard.type("0.0123456")
    lr.press("Enter")
    play.wait_until("app.state.run.spec.optimizer.lr === 0.0123456")
    assert play.state("window.sent.filter((m) => m.type === 'update')"
                      ".map((m) => m.patch.optimizer.lr)") == [0.0123456]
    expect(lr).to_have_value("0.0123456")  # still focused: as typed
    page.keyboard.press("Tab")
    expect(lr).to_have_value("0.01235")
    lr.click()
    lr.press("Control+a")
    page.keyboard.type("0.5")
    page.keyboard.press("Tab")
    play.wait_until("app.state.run.spec.optimizer.lr === 0.5")
    expect(lr).to_have_value("0.5")
    expect(field).not_to_have_class("rounded")
    context.close()
