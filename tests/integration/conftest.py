"""Integration fixtures: asyncio for the async tests, and a second server with a small cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT_CONFTEST = Path(__file__).resolve().parent.parent / "conftest.py"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def server_factory(request: pytest.FixtureRequest,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """start(*flags) starts another real server (tests/conftest.py's start_server); each one
    started is stopped after the module. Each conftest.py is a module named 'conftest', so the
    root one is reached through pytest's plugin registry rather than imported."""
    root = request.config.pluginmanager.get_plugin(str(ROOT_CONFTEST))
    assert root is not None, f"{ROOT_CONFTEST} is not loaded"
    started = []

    def start(*flags: str) -> Any:
        db = tmp_path_factory.mktemp("db") / "torchplay.sqlite3"
        started.append(root.start_server(db, *flags))
        return started[-1]

    yield start
    for server in started:
        root.stop_server(server)
