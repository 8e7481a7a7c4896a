"""The page under its own Content-Security-Policy, and a page on another origin, in real
Chromium: the page loads, trains and opens a lesson with no CSP violation, and a page served
from another origin cannot drive the server's /ws (while the same script run on the server's
own page can: the control)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from pagedriver import open_playground
from playwright.sync_api import Page

pytestmark = pytest.mark.browser

# Collect every CSP violation the document reports, from before the page's first script.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__violations.push(
  `${e.violatedDirective} ${e.blockedURI} ${e.sourceFile}:${e.lineNumber}`));
"""

# What a hostile page would run: open the server's socket, start a run, report what happened.
DRIVE = """async (url) => new Promise((resolve) => {
  const seen = [];
  const ws = new WebSocket(url);
  ws.onopen = () => { seen.push('open'); ws.send(JSON.stringify({type: 'start', spec: {}})); };
  ws.onmessage = (e) => { const m = JSON.parse(e.data); seen.push(m.type);
                          if (m.type === 'ready') { ws.close(); resolve(seen); } };
  ws.onerror = () => seen.push('error');
  ws.onclose = (e) => { seen.push(`close ${e.code}`); resolve(seen); };
})"""


def test_the_page_runs_with_no_csp_violation(page: Page, server: Any, artifacts: Path) -> None:
    page.add_init_script(COLLECT_VIOLATIONS)
    play = open_playground(page, server.url + "/")
    play.play()
    play.wait_until("app.state.frame && app.state.frame.step > 50")
    play.pause()
    page.goto(server.url + "/#lesson=hidden-layers")
    play.wait_until("app.state.frame && app.drawn > 0")
    play.screenshot(artifacts, "security-csp")
    violations = page.evaluate("window.__violations")
    assert violations == [], sorted(set(violations))
    csp_errors = [m for m in play.console_errors if "Content Security Policy" in m]
    assert csp_errors == [] and play.errors == [], (csp_errors, play.errors)
    header = httpx.get(server.url + "/", timeout=10).headers["content-security-policy"]
    assert "script-src 'self'" in header  # the policy the page was just held to


def test_a_page_on_another_origin_cannot_drive_the_socket(page: Page, server: Any) -> None:
    # The control: the very script, run on the server's own page, opens a run.
    page.goto(server.url + "/api/health")
    own = page.evaluate(DRIVE, server.ws_url)
    assert own[:2] == ["open", "ready"] or "ready" in own, own
    # A page on another origin (another port of this host, served by the browser's router
    # so nothing else listens) runs it: the handshake is refused, no run starts.
    elsewhere = "http://127.0.0.1:1/page.html"
    page.route(elsewhere, lambda route: route.fulfill(
        status=200, content_type="text/html", body="<!doctype html><title>elsewhere</title>"))
    page.goto(elsewhere)
    assert page.evaluate("location.origin") == "http://127.0.0.1:1"
    seen = page.evaluate(DRIVE, server.ws_url)
    assert "open" not in seen and "ready" not in seen, seen
    assert seen[-1].startswith("close 1006"), seen
    assert httpx.get(server.url + "/api/health", timeout=10).json()["training"] == 0
