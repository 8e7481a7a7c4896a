"""Browser-test fixtures: headless Chromium (Debian's when installed) against the real server,
and the page loaded and ready (see pagedriver.py for how tests act on it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pagedriver import Playground, open_playground
from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """Debian's Chromium when present (Playwright cannot download its own here)."""
    args = {**browser_type_launch_args, "args": CHROMIUM_ARGS}
    if CHROMIUM.exists():
        args["executable_path"] = str(CHROMIUM)
    return args


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (gitignored): for a person to look at, not for asserting."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def play(page: Page, server: Any) -> Iterator[Playground]:
    """The page loaded from the server, its first (paused) run ready and drawn."""
    driver = open_playground(page, server.url + "/")
    yield driver
    assert not driver.errors, f"errors in the page: {driver.errors}"


@pytest.fixture
def servers(request: pytest.FixtureRequest) -> Any:
    """tests/conftest.py, for start_server/stop_server: a test that restarts a server runs
    its own. Each conftest.py is a module named 'conftest', so the root one is reached through
    pytest's plugin registry rather than imported."""
    plugin = request.config.pluginmanager.get_plugin(str(ROOT / "tests" / "conftest.py"))
    assert plugin is not None, "tests/conftest.py is not loaded"
    return plugin


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last. Playwright's sync API keeps an event loop running in the
    main thread from its first test to the end of the session, and tests that later call
    asyncio.run() (the integration tests' WebSocket clients) would fail with "Cannot run the
    event loop while another loop is running"."""
    here = Path(__file__).resolve().parent
    ours = [here in Path(str(item.path)).resolve().parents for item in items]
    items[:] = [item for item, mine in zip(items, ours, strict=True) if not mine] + \
        [item for item, mine in zip(items, ours, strict=True) if mine]
