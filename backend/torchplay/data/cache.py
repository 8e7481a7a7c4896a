"""One copy per process of every real data set, shared read-only by every run that uses it.

Fashion-MNIST as float32 pixels is 220 MB: a copy per session would let ten people exhaust a
server. So library sets load through `SHARED.get(key, load)`, which runs `load` once per key
for the life of the process (under a lock, so two runs starting together load once) and hands
every caller the same arrays. Nothing may write to them: sessions take views or make their own
copies (a standardised table), never change these in place.

The one module-level object here is on purpose: "once per process" is the requirement.
A large set on a GPU is copied there once per device (`on_device`), not once per run.
`data_dir` is where `mnist` and `fashion_mnist` look first (the `--data-dir` setting, or the
TORCHPLAY_DATA_DIR variable); the server sets it from its settings when it starts.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import Any, TypeVar

import torch

T = TypeVar("T")


class DataCache:
    """Loaded data sets by key; each loaded at most once."""

    def __init__(self, data_dir: Path | None = None) -> None:
        self.data_dir = data_dir
        self._items: dict[Hashable, Any] = {}
        self._lock = threading.Lock()
        self.loads: Counter[Hashable] = Counter()  # how often each key was loaded (tests)

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        """The value for key, loading it first if no run has yet."""
        with self._lock:  # one lock for all keys: loads are rare and take under a second
            if key not in self._items:
                self._items[key] = load()
                self.loads[key] += 1
            return self._items[key]

    def on_device(self, tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
        """tensor on device: itself on the CPU, else one copy per device shared by every run
        (the key holds the source, so its memory cannot be reused by another tensor)."""
        if device.type == "cpu":
            return tensor
        key = ("device", tensor.data_ptr(), tuple(tensor.shape), tensor.dtype, str(device))
        return self.get(key, lambda: (tensor, tensor.to(device)))[1]

    def forget(self) -> None:
        """Drop every loaded set (tests that swap files under a key)."""
        with self._lock:
            self._items.clear()


_env_dir = os.environ.get("TORCHPLAY_DATA_DIR")
SHARED = DataCache(Path(_env_dir) if _env_dir else None)
