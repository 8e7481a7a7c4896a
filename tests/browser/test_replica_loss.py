"""A replica that dies, seen from the page: two replicas behind nginx (tests/deployment.py);
the page's run lives on one; that one is killed. The page says the connection and its run were
lost, reconnects through nginx to the other replica, says so, and trains again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from deployment import Deployment, deploy
from pagedriver import open_playground
from playwright.sync_api import Page

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def deployment(request: pytest.FixtureRequest) -> Iterator[Deployment]:
    with deploy(request, 2) as running:
        yield running


def test_the_page_says_its_replica_died_and_trains_again_on_another(
        page: Page, deployment: Deployment, artifacts: Path) -> None:
    play = open_playground(page, deployment.proxy.url + "/")
    sessions = deployment.sessions()
    assert sorted(sessions) == [0, 1], sessions
    victim = sessions.index(1)
    # Every text the status line shows from now on (the "lost" one may last only as long as
    # the reconnection takes).
    page.evaluate("""() => {
        window.__statuses = [];
        const line = document.querySelector('#status');
        new MutationObserver(() => window.__statuses.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});
    }""")
    deployment.replicas[victim].process.kill()
    deployment.replicas[victim].process.wait(timeout=20)

    play.wait_until("app.state.status.connected && app.state.run && app.state.frame && "
                    "(app.state.status.note || '').startsWith('Reconnected')")
    shown = page.evaluate("() => window.__statuses")
    assert "Connection lost, and its run; reconnecting…" in shown, shown
    assert page.locator("#status").text_content() == \
        "Reconnected: the lost run starts over from step 0."
    play.screenshot(artifacts, "replica-lost-reconnected-1280", full_page=False)
    assert deployment.sessions()[1 - victim] == 1  # the run now lives on the other replica
    play.play()
    play.wait_until("app.state.frame.step > 20")
    assert not play.errors
