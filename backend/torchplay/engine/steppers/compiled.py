"""Batched steps compiled by TorchInductor into a few fused C++ loops, built on a background
thread while the plain replay trains: a batch switches to its compiled step when it is ready.

Why: K tiny networks side by side spend their replayed step (traced.py) in 22 dispatches and in
bmm's small-matrix kernel, which is scalar (~4.5 ns an output element). Inductor left alone
calls that same bmm kernel, and gains nothing. Written instead as a broadcast product summed
over the contraction, each tiny matrix product becomes a loop that inductor fuses with the
elementwise operations around it (bias, tanh, log-softmax and their backwards) and vectorises:
at K = 64 on TF Playground's default the step takes ~40 µs against the replay's ~125.

The compiled step is the same function with other rounding (fused, vectorised, FMA), so a batch
that switches stays equal to its lone runs to float tolerance, not bit for bit
(tests/unit/test_compiled.py). A process's first compile takes 10-16 s of one core (inductor's
imports and compiler checks), later ones ~3-4 s, and each graph and shapes compile once in a
process (the same group started again reuses it). Nothing of inductor is imported before a
batch asks for its first compile: with it imported and warmed, lone sessions measured 5-8%
slower (bench/engine.py, two A/B pairs), for reasons not found. Where no C++ compiler works,
the batch keeps its replay; the reason is logged once.
"""

from __future__ import annotations

import logging
import queue
import shutil
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Any

import torch

from torchplay.engine.steppers.traced import FX_LOCK, Replay

log = logging.getLogger(__name__)

# rows x columns x contraction of one matrix product, at most, for it to become a fused loop.
# Measured at K = 64 (compiled step time over the replay's): [16, 16] at batch 32 0.75-0.79,
# [32, 32] 0.58-0.69, [64, 64] 0.74, [128, 128] at batch 64 (2^20 terms) 0.89, [256, 256] at
# batch 128 (2^23) 1.44.
SMALL_PRODUCT = 1 << 20
CACHE_SIZE = 32  # compiled steps kept, the least recently asked for dropped first
# While the compile thread works, a thread waiting for the GIL gets it after this long
# (Python's default is 5 ms). A training thread lets go of the GIL in every torch call and waits
# for it again after: with the default, a step of ~25 calls took ~150 ms while compiling.
SWITCH_INTERVAL = 0.0005

_jobs: queue.SimpleQueue[tuple[Future[Any], Callable[[], Any]]] = queue.SimpleQueue()
_cache: OrderedDict[tuple[object, ...], Future[Replay | None]] = OrderedDict()
_lock = threading.Lock()
_worker: threading.Thread | None = None
_warned = False


def available() -> bool:
    """A C++ compiler for inductor's CPU code is on PATH (it is tried for real when used)."""
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


def submit(graph: torch.fx.GraphModule, example: Sequence[torch.Tensor]
           ) -> Future[Replay | None]:
    """The compiled form of `graph` (flat tensors in, flat tensors out, traced.trace_flat) for
    arguments shaped as `example`: a future that a background thread completes with a callable
    of the same arguments, or with None where compiling failed. `graph` becomes the compiler's.
    One compile serves every caller asking for the same graph on the same shapes, unless the
    graph holds tensors of its own (constants), which its code does not show."""
    shapes = tuple((t.shape, t.stride(), t.dtype, t.device) for t in example)
    own = any(node.op == "get_attr" for node in graph.graph.nodes)
    key = (graph.code, shapes) if not own else (object(),)
    with _lock:
        future = _cache.get(key)
        if future is not None:
            _cache.move_to_end(key)
            return future
        future = _cache[key] = Future()
        if len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        _start_worker()
    # copies with the same strides (a batch is a view), as the step is compiled for them: the
    # example tensors are live parameters and batches, and the compiler's are its own
    copies = [torch.empty_strided(t.shape, t.stride(), dtype=t.dtype, device=t.device).copy_(t)
              for t in example]
    _jobs.put((future, lambda: _compile(graph, copies)))
    return future


def _start_worker() -> None:
    global _worker
    if _worker is None:  # a daemon: a compile in progress does not hold up the process's exit
        _worker = threading.Thread(target=_work, name="torchplay-compile", daemon=True)
        _worker.start()


def _work() -> None:
    while True:
        future, job = _jobs.get()
        interval = sys.getswitchinterval()
        sys.setswitchinterval(min(interval, SWITCH_INTERVAL))
        try:
            future.set_result(job())
        except Exception as error:  # no compiler, or one inductor cannot use: keep the replay
            _warn(error)
            future.set_result(None)
        finally:
            sys.setswitchinterval(interval)


def _warn(error: Exception) -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("batched steps stay uncompiled (inductor failed: %s: %s)",
                    type(error).__name__, str(error).splitlines()[0] if str(error) else "")


def _compile(graph: torch.fx.GraphModule, example: list[torch.Tensor]) -> Replay:
    # imported here, on this thread: the first import takes seconds
    from torch._inductor import compile as inductor_compile
    from torch._inductor import config

    small_products_as_reductions(graph.graph)
    graph.recompile()
    # inductor traces with torch.fx too (AOT autograd): never beside a recording
    with FX_LOCK, config.patch(compile_threads=1):  # in this thread, not a pool of processes
        return inductor_compile(graph, example)


def worth_compiling(graph: torch.fx.Graph) -> bool:
    """Whether every matrix product in the graph becomes a fused sum: a compiled step that
    keeps a bmm call was slower than the replay in every case measured (1.3-1.9x)."""
    products = [n for n in graph.nodes if n.target in _PRODUCTS]
    return bool(products) and all(_small(n) for n in products)


def small_products_as_reductions(graph: torch.fx.Graph) -> None:
    """bmm(a, b) as (a[..., None] * b[:, None]).sum(2), and baddbmm(c, a, b) as c + that, where
    one product has at most SMALL_PRODUCT terms: the same sums, which inductor fuses."""
    aten = torch.ops.aten
    for node in list(graph.nodes):
        if node.target not in _PRODUCTS or not _small(node):
            continue
        bias, a, b = (None, *node.args) if node.target is aten.bmm.default else node.args
        with graph.inserting_before(node):
            product = graph.call_function(aten.mul.Tensor, (
                graph.call_function(aten.unsqueeze.default, (a, 3)),
                graph.call_function(aten.unsqueeze.default, (b, 1))))
            result = graph.call_function(aten.sum.dim_IntList, (product, [2]))
            if bias is not None:
                result = graph.call_function(aten.add.Tensor, (bias, result))
        node.replace_all_uses_with(result)
        graph.erase_node(node)
    graph.lint()


_PRODUCTS = (torch.ops.aten.bmm.default, torch.ops.aten.baddbmm.default)


def _small(product: torch.fx.Node) -> bool:
    a, b = product.args[-2:]
    _, rows, inner = a.meta["val"].shape
    return not product.kwargs and rows * inner * b.meta["val"].shape[2] <= SMALL_PRODUCT
