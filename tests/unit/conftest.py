"""Unit tests train as the server does: on one torch thread.

Tiny models gain nothing from more threads, and BLAS splits products differently across
threads, so a different count rounds (and so ends) a run differently."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
