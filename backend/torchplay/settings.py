"""Server settings: one class that command-line flags and TORCHPLAY_* variables both fill."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from torchplay.store.access import Limits

LIMITS = Limits()  # the defaults
MAX_AUTO_PROCESSES = 8  # each child holds its own torch (~300 MB): no more unless asked


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TORCHPLAY_")

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=0, le=65535, description="Port (0 picks a free one).")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field(
        "auto", description="Device for runs whose spec says auto.")
    db: str = Field("torchplay.sqlite3", description="Where saved experiments live: a SQLite "
                    "file's path, or a postgresql:// URL (replicas share one).")
    trusted_proxy: str = Field("", description="Comma-separated addresses or networks of "
                               "reverse proxies whose X-Forwarded-For names the client (for "
                               "quotas); empty: the peer's address is the client's.")
    saves_per_minute: int = Field(LIMITS.saves_per_minute, ge=0,
                                  description="Saves a minute per owner token (0: no limit).")
    client_saves_per_minute: int = Field(LIMITS.client_saves_per_minute, ge=0,
                                         description="Saves a minute per client address (0: no "
                                         "limit).")
    bytes_per_owner: int = Field(LIMITS.bytes_per_owner, ge=0,
                                 description="Bytes stored per owner token (0: no limit).")
    bytes_per_client: int = Field(LIMITS.bytes_per_client, ge=0,
                                  description="Bytes stored per client address (0: no limit).")
    storage_cap: int = Field(LIMITS.storage_cap, ge=0,
                             description="Bytes the whole store may hold (0: no limit).")
    processes: int = Field(0, ge=0, le=64, description="Training processes: 1 trains in this "
                           "process; N >= 2 starts N child processes that train and relays "
                           "each client to one (serve/shards.py); 0: one per CPU this process "
                           f"may use, at most {MAX_AUTO_PROCESSES} (bench/cores.py measured "
                           "that a second process pays off where a second thread does not).")
    workers: int = Field(1, ge=1, le=64, description="Training threads (of each process).")
    max_sessions: int = Field(16, ge=1, le=10_000, description="Sessions training at once.")
    server_max_sessions: int | None = Field(None, ge=1, le=10_000, description="Set by a "
                                            "server for its training processes: its own "
                                            "limit, which their busy answer names.")
    torch_threads: int = Field(1, ge=1, le=256, description="Threads torch uses per op; 1 suits "
                               "small models and leaves cores to the server.")
    data_dir: Path | None = Field(None, description="Folder with IDX image sets: DIR/mnist "
                                  "(or DIR itself) for mnist, DIR/fashion-mnist for "
                                  "fashion_mnist (else Debian's dataset-fashion-mnist).")
    compile: bool = Field(True, description="Compile the step of runs side by side with "
                          "TorchInductor in the background (CPU, needs a C++ compiler); they "
                          "train on the plain path until it is ready.")
    ray_address: str | None = Field(None, description="A Ray cluster's address (ray://host:"
                                    "10001, host:6379 or auto; `local` starts Ray here): "
                                    "sweeps train their groups of trials as Ray tasks there "
                                    "(pip install 'torchplay[ray]'). Unset: in-process.")
    allow_host: str = Field("", description="Comma-separated host names (as in the browser's "
                            "address bar) this server answers to besides loopback; '*' for any "
                            "host, only on a network you trust.")
    allow_origin: str = Field("", description="Comma-separated origins (scheme://host:port) "
                              "whose pages may use this server besides its own; '*' for any, "
                              "only on a network you trust.")

    def training_processes(self) -> int:
        """`processes`, with 0 resolved to the CPUs this process may use (at most 8)."""
        if self.processes:
            return self.processes
        usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
        cpus = len(usable) if usable else (os.cpu_count() or 1)
        return max(1, min(cpus, MAX_AUTO_PROCESSES))

    def limits(self) -> Limits:
        return Limits(saves_per_minute=self.saves_per_minute,
                      client_saves_per_minute=self.client_saves_per_minute,
                      bytes_per_owner=self.bytes_per_owner, bytes_per_client=self.bytes_per_client,
                      storage_cap=self.storage_cap)
