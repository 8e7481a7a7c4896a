"""The traced step: a training step's forward, loss and backward, recorded once as a flat list
of aten operations (torch.fx make_fx) and replayed without autograd's engine or nn.Module calls.

Why: a tiny network's step is made of fixed per-operation costs, and autograd's bookkeeping and
the modules' Python cost as much again as the kernels' dispatch. The replay calls the same
kernels in the same order on the same tensors, so its losses and gradients are bitwise those of
the eager step (tests/unit/test_traced.py holds every path to that); the optimizer's update is
torch.optim's own (plain SGD's, one foreach add, is applied here as torch.optim applies it), so
every optimizer, schedule and mid-run change works unchanged.

Only models whose step is a pure function of (parameters, batch) qualify: no Dropout (it draws
random masks) and no BatchNorm (running statistics, train/eval modes). They train eagerly.
"""

from __future__ import annotations

import inspect
import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.fx.experimental.proxy_tensor import make_fx
from torch.utils._pytree import tree_flatten

from torchplay.engine.build import SeededDropout, linear_weights

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
PenaltyFn = Callable[[Sequence[torch.Tensor]], torch.Tensor | None]
Replay = Callable[..., tuple[torch.Tensor, ...]]
UNTRACEABLE = (SeededDropout, nn.Dropout, nn.BatchNorm1d)


# torch.fx keeps the tracer's state in module globals (CURRENT_PATCHER among them): two threads
# tracing at once corrupt each other's recording. Every trace in the process (a run's
# recording, a batch's, inductor's compile on its own thread) holds this lock; re-entrant, so
# that a batch can hold it across the recordings of all its batch sizes.
FX_LOCK = threading.RLock()


class RecorderBusy(RuntimeError):
    """Another thread is tracing now: step eagerly this time and record at a later step."""


def traceable(model: nn.Module) -> bool:
    return not any(isinstance(m, UNTRACEABLE) for m in model.modules())


class TracedStep:
    """Gradients and losses of one mini-batch by replaying a recorded graph; one recording per
    batch size (an epoch's last batch may be shorter). Build a new one when the loss or the
    penalty changes: both are recorded into the graph as constants."""

    def __init__(self, model: nn.Module, loss_fn: LossFn, penalty: PenaltyFn) -> None:
        named = dict(model.named_parameters())
        self.names = list(named)
        self.params = list(named.values())
        # Replaying on detached aliases (same storage) keeps autograd from recording the replay.
        self.leaves = [p.detach() for p in self.params]
        weights = {id(w) for w in linear_weights(model)}
        weight_index = [i for i, p in enumerate(self.params) if id(p) in weights]

        def step(params: list[torch.Tensor], x: torch.Tensor, y: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
            # The eager step's operations, in its order: forward, loss, penalty, backward.
            out = functional_call(model, dict(zip(self.names, params, strict=True)), (x,))
            data_loss = loss_fn(out, y)
            extra = penalty([params[i] for i in weight_index])
            loss = data_loss if extra is None else data_loss + extra
            grads = torch.autograd.grad(loss, params)
            return data_loss.detach(), loss.detach(), out.detach(), grads

        self._step = step
        self._replays: dict[int, Replay] = {}

    def prepare(self, x: torch.Tensor, y: torch.Tensor, wait: bool = False) -> None:
        """Record the step for this batch's size unless done; raises if the recorder cannot
        follow the model (the caller then steps eagerly), or RecorderBusy when another thread
        is tracing and not `wait`. Recording changes no tensor."""
        if len(x) not in self._replays:
            self._replays[len(x)] = record_step(self._step, self.params, self.leaves, x, y,
                                                wait=wait)

    def __call__(self, x: torch.Tensor, y: torch.Tensor
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """(data loss, total loss, the model's output, gradients in parameter order) of a
        prepared batch size."""
        data_loss, loss, out, *grads = self._replays[len(x)](*self.leaves, x, y)
        return data_loss, loss, out, grads

    def set_grads(self, grads: list[torch.Tensor]) -> None:
        """Each parameter's .grad, as backward would leave it."""
        for param, grad in zip(self.params, grads, strict=True):
            param.grad = grad

    def update(self, optimizer: torch.optim.Optimizer, grads: list[torch.Tensor]) -> None:
        """The optimizer's step with these gradients. Plain SGD (no momentum, weight decay or
        maximize: TF Playground's default) is applied here as torch.optim applies it,
        param.add_(grad, alpha=-lr) per tensor, without its per-step bookkeeping; any other
        optimizer steps itself. Either way each parameter's .grad is this step's gradient."""
        self.set_grads(grads)
        if _plain_sgd(optimizer):
            torch._foreach_add_(self.leaves, grads, alpha=-optimizer.param_groups[0]["lr"])
        else:
            optimizer_step(optimizer)


def _plain_sgd(optimizer: torch.optim.Optimizer) -> bool:
    if type(optimizer) is not torch.optim.SGD or len(optimizer.param_groups) != 1:
        return False
    group = optimizer.param_groups[0]
    return (group["momentum"] == 0 and group["weight_decay"] == 0 and not group["maximize"]
            and not group.get("fused") and not isinstance(group["lr"], torch.Tensor))


def record_step(step: Callable[..., Any], params: Sequence[torch.Tensor],
                leaves: Sequence[torch.Tensor], *args: torch.Tensor, wait: bool = False
                ) -> Replay:
    """step(params, *args), recorded on these example arguments and simplified, as a replay
    of flat arguments (*leaves, *rest of args) returning step's outputs flattened. `leaves` are
    the tensors every call of the replay will be given first: for params, then for any leading
    args that never change (a constant). Views of them are computed here, once."""
    graph = trace_flat(step, params, *args, wait=wait).graph
    _drop_identities(graph)
    _fold_sum_views(graph)
    bound = _hoist(graph, list(leaves))
    _drop_unit_products(graph, bound, leaves[len(params):], len(params))
    return _straight_line(graph, bound)


def trace_flat(step: Callable[..., Any], params: Sequence[torch.Tensor],
               *args: torch.Tensor, wait: bool = False) -> torch.fx.GraphModule:
    """step(params, *args) recorded on these example arguments as a graph of aten operations
    taking flat arguments (*params, *args) and returning step's outputs flattened. Raises
    RecorderBusy when another thread is tracing, unless told to wait for it."""
    inputs = [p.detach().requires_grad_(True) for p in params]
    count = len(inputs)

    def flat(*tensors: torch.Tensor) -> tuple[Any, ...]:
        return tuple(tree_flatten(step(list(tensors[:count]), *tensors[count:]))[0])

    # A training thread does not wait here: recording takes ~40 ms, a compile seconds, and an
    # eager step in the meantime is the same step (traced equals eager, bit for bit).
    if not FX_LOCK.acquire(blocking=wait):
        raise RecorderBusy("another recording or compile is tracing")
    try:
        return make_fx(flat)(*inputs, *args)
    finally:
        FX_LOCK.release()


def optimizer_step(optimizer: torch.optim.Optimizer) -> None:
    """optimizer.step() without the wrappers torch.optim puts around it (profiler range, step
    hooks, which torchplay does not use): the same update, a third less time on a tiny net."""
    with torch.no_grad():
        inspect.unwrap(type(optimizer).step)(optimizer)


def _straight_line(graph: torch.fx.Graph, bound: dict[torch.fx.Node, torch.Tensor]) -> Replay:
    """The graph as one Python function of flat arguments (parameters, x, y) returning a flat
    tuple (data loss, loss, gradients...) that calls each operation's C++ entry point directly.
    fx's own GraphModule goes through pytree and a Python wrapper per operation: a third of the
    replay's time on a tiny network. Nodes in `bound` are not computed: their tensor is used."""
    scope: dict[str, Any] = {}
    names: dict[torch.fx.Node, str] = {}
    arguments: list[str] = []
    lines: list[str] = []

    def source(value: Any) -> str:
        if isinstance(value, torch.fx.Node):
            return names[value]
        if isinstance(value, tuple | list):
            items = "".join(f"{source(v)}, " for v in value)
            return f"({items})" if isinstance(value, tuple) else f"[{items}]"
        if value is None or isinstance(value, bool | int | float | str):
            return repr(value)
        key = f"c{len(scope)}"  # dtypes, memory formats, devices: bound by name
        scope[key] = value
        return key

    for index, node in enumerate(graph.nodes):
        name = names[node] = f"v{index}"
        if node.op == "placeholder":
            arguments.append(name)
        elif node in bound:
            scope[name] = bound[node]
        elif node.op == "output":
            lines.append(f"return {source(tuple(tree_flatten(node.args[0])[0]))}")
        elif node.target is operator.getitem:
            lines.append(f"{name} = {source(node.args[0])}[{node.args[1]!r}]")
        else:
            call = [source(a) for a in node.args]
            call += [f"{k}={source(v)}" for k, v in node.kwargs.items()]
            function = f"f{len(scope)}"
            scope[function] = getattr(node.target, "_op", node.target)  # OpOverload's C++ op
            lines.append(f"{name} = {function}({', '.join(call)})")
    text = f"def replay({', '.join(arguments)}):\n    " + "\n    ".join(lines)
    exec(compile(text, "<torchplay traced step>", "exec"), scope)
    return scope["replay"]


def _drop_identities(graph: torch.fx.Graph) -> None:
    """Remove operations that return what they were given: detach of a tensor that needs no
    gradient, and a transpose of a transpose (backward transposes the forward's transposed
    weight back). Each removed operation is a dispatch saved on every step."""
    aten = torch.ops.aten
    for node in list(graph.nodes):
        if node.op != "call_function":
            continue
        source = node.args[0] if node.args else None
        if node.target is aten.detach.default:
            node.replace_all_uses_with(source)
        elif (node.target is aten.t.default and isinstance(source, torch.fx.Node)
              and source.target is aten.t.default):
            node.replace_all_uses_with(source.args[0])
        else:
            continue
        graph.erase_node(node)
    graph.eliminate_dead_code()


def _fold_sum_views(graph: torch.fx.Graph) -> None:
    """sum(x, dims, keepdim=True) viewed or squeezed to the keepdim=False shape (a bias's
    gradient) becomes sum(x, dims, keepdim=False): the same reduction, one dispatch fewer."""
    aten = torch.ops.aten
    for node in list(graph.nodes):
        source = node.args[0] if node.args else None
        if (node.target not in (aten.view.default, aten.squeeze.dim, aten.squeeze.dims)
                or not isinstance(source, torch.fx.Node)
                or source.target is not aten.sum.dim_IntList or len(source.users) != 1
                or source.kwargs or source.args[2:] != (True,)):
            continue
        kept = [n for i, n in enumerate(source.meta["val"].shape)
                if i not in _dims(source.args[1], source.meta["val"].dim())]
        if list(node.meta["val"].shape) != kept:
            continue
        with graph.inserting_before(node):
            folded = graph.call_function(aten.sum.dim_IntList, (source.args[0], source.args[1],
                                                                False))
        folded.meta = dict(node.meta)
        node.replace_all_uses_with(folded)
        graph.erase_node(node)
        graph.erase_node(source)


def _drop_unit_products(graph: torch.fx.Graph, bound: dict[torch.fx.Node, torch.Tensor],
                        constants: Sequence[torch.Tensor], first_constant: int) -> None:
    """x * ones is x, bit for bit (NaN, inf and -0 too): a product with a constant tensor of
    ones that leaves x's shape and dtype is dropped. The seeds of a batch of backward passes
    (grad_outputs=ones) make one on every step. Constants are the leaves from first_constant
    on (never the parameters: a weight may be all ones when recorded, and trained after),
    views of them, and hoisted ones_like."""
    aten = torch.ops.aten
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    value = dict(zip(placeholders[first_constant:], constants, strict=False))
    for node in graph.nodes:
        if node in bound and (node.target is aten.ones_like.default or node.args[0] in value):
            value[node] = bound[node]
    outputs = set(tree_flatten(next(iter(reversed(graph.nodes))).args[0])[0])
    for node in list(graph.nodes):
        if node.target is not aten.mul.Tensor or node in outputs or node.kwargs:
            continue
        for one, other in (node.args, node.args[::-1]):
            if (one in value and isinstance(other, torch.fx.Node)
                    and bool((value[one] == 1).all())
                    and other.meta["val"].shape == node.meta["val"].shape
                    and other.meta["val"].dtype == node.meta["val"].dtype
                    and _read_only_users(node)):
                node.replace_all_uses_with(other)
                graph.erase_node(node)
                break
    graph.eliminate_dead_code()
    live = set(graph.nodes)
    for node in [n for n in bound if n not in live]:
        del bound[node]


def _dims(dims: Sequence[int], rank: int) -> set[int]:
    return {d % rank for d in dims}


def _hoist(graph: torch.fx.Graph, leaves: list[torch.Tensor]) -> dict[torch.fx.Node, torch.Tensor]:
    """Tensors computed once instead of every step: views of the leaves and views of those
    (the transposed weights: the optimizer updates parameters in place, so a view stays
    current) and constant gradient seeds (ones_like of the loss, whose value never depends on
    the loss)."""
    aten = torch.ops.aten
    bound: dict[torch.fx.Node, torch.Tensor] = {}
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    bound_leaves = dict(zip(placeholders, leaves, strict=False))
    outputs = set(tree_flatten(next(iter(reversed(graph.nodes))).args[0])[0])
    for node in graph.nodes:
        if (node.op != "call_function" or node in outputs or not _read_only_users(node)
                or any(user in outputs for user in node.users)):  # no output aliases it
            continue
        schema = getattr(node.target, "_schema", None)
        if node.target in (aten.ones_like.default, aten.zeros_like.default) and not any(
                _is_view(getattr(user.target, "_schema", None)) for user in node.users):
            # no view of the constant may reach a gradient the optimizer could write to
            val = node.meta["val"]
            fill = 1 if node.target is aten.ones_like.default else 0
            bound[node] = torch.empty_strided(val.shape, val.stride(), dtype=val.dtype,
                                              device=val.device).fill_(fill)
        elif (schema is not None and _is_view(schema) and isinstance(node.args[0], torch.fx.Node)
              and (node.args[0] in bound_leaves or node.args[0] in bound)
              and all(not isinstance(a, torch.fx.Node) for a in node.args[1:])):
            source = bound_leaves.get(node.args[0], bound.get(node.args[0]))
            bound[node] = node.target(source, *node.args[1:], **node.kwargs)
    return bound


def _is_view(schema: torch.FunctionSchema | None) -> bool:
    if schema is None:
        return False
    alias = schema.returns[0].alias_info if len(schema.returns) == 1 else None
    return alias is not None and not alias.is_write and not schema.is_mutable


def _read_only_users(node: torch.fx.Node) -> bool:
    """No operation writes to this node's tensor (a hoisted tensor is shared by every step)."""
    return all(getattr(getattr(user.target, "_schema", None), "is_mutable", False) is False
               for user in node.users)
