"""Many variants of one architecture trained as one computation: comparisons and sweeps.

K variants share the layer stack, the number of training points and the batch size; they may
differ in seeds, data noise, initializers, optimizer settings (SGD or Adam/AdamW), schedule and
L1/L2. Weights are stacked (K, out, in) and each Linear runs as one baddbmm for all variants;
the loss is the sum of the variants' own mean losses, so each variant's gradient is exactly its
own, and the optimizers are elementwise. Each variant starts from a lone TrainingSession (its
data, weights and generators) and keeps that session's counters and history up to date, so
variant k makes the run its session would make alone, to float rounding, and every frame of it
is that session's frame.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from concurrent.futures import Future, wait

import torch
from torch import nn
from torch.nn import functional as F

from torchplay.engine import fasttanh
from torchplay.engine.build import SeededDropout
from torchplay.engine.largedata import LARGE_VALUES
from torchplay.engine.session import TrainingSession, _finite
from torchplay.engine.steppers import compiled, traced
from torchplay.spec.model import AdamSpec, ExperimentSpec, SGDSpec, SpecError, train_count

BATCHABLE_LAYERS = ("linear", "activation", "dropout")
# Steps' losses reach the histories when read (a frame), at a divergence, or after this many
# steps: flushing costs ~5 us a variant however many steps it carries.
FLUSH_AT = 1000
StepKey = tuple[int, bool, bool]  # a recorded step's batch size, and whether L1, L2 are on


def check_batchable(specs: Sequence[ExperimentSpec]) -> None:
    """Raise SpecError naming the first thing that keeps these specs from one batch."""
    first = specs[0]

    def shape(spec: ExperimentSpec) -> list[tuple[object, ...]]:
        return [(layer.type, getattr(layer, "units", None), getattr(layer, "bias", None),
                 getattr(layer, "fn", None), getattr(layer, "slope", None),
                 getattr(layer, "p", None)) for layer in spec.network.layers]

    for i, layer in enumerate(first.network.layers):
        if layer.type not in BATCHABLE_LAYERS or getattr(layer, "fn", None) == "prelu":
            raise SpecError(f"network.layers.{i}", "runs side by side support linear, dropout "
                            "and activation layers other than prelu")
    if train_count(first.data) * first.input_dim > LARGE_VALUES:
        raise SpecError("data.points", "runs side by side stack a copy of their data; a "
                        "large set's runs each train alone, on the one shared copy")
    if first.optimizer.kind not in ("sgd", "adam", "adamw") or \
            isinstance(first.optimizer, AdamSpec) and first.optimizer.amsgrad:
        raise SpecError("optimizer.kind", "runs side by side support sgd, adam and adamw")
    for spec in specs[1:]:
        for field, same in (
                ("network.layers", shape(spec) == shape(first)),
                ("loss", spec.loss == first.loss),
                ("optimizer.kind", spec.optimizer.kind == first.optimizer.kind),
                ("training.batch_size", spec.training.batch_size == first.training.batch_size),
                ("training.epochs", spec.training.epochs == first.training.epochs),
                ("data.points", (spec.data.points, spec.data.train_fraction) ==
                 (first.data.points, first.data.train_fraction)),
                ("data.kind", spec.data.kind == first.data.kind and
                 spec.data.n_classes == first.data.n_classes),
                ("features", spec.input_dim == first.input_dim)):
            if not same:
                raise SpecError(field, f"runs side by side must share {field}")


class BatchedRuns:
    """K TrainingSessions advanced together by one stacked computation per step."""

    def __init__(self, specs: Sequence[ExperimentSpec], device: torch.device,
                 compile: bool = False) -> None:
        """compile: from the second epoch, build the step with inductor in the background and
        switch to it when ready (compiled.py; CPU only). Worth it for a run of minutes, not
        for a few epochs."""
        check_batchable(specs)
        self.sessions = [TrainingSession(spec, device) for spec in specs]
        first = self.sessions[0]
        self.spec = specs[0]
        # Points last, (K, F, N): a stacked Linear is then W (K, out, in) @ h (K, in, N), which
        # CPU bmm runs ~9x faster than h @ W^T when `in` is tiny and N is a whole data set.
        self.x_train = torch.stack([s.x_train.T for s in self.sessions])  # (K, F, N)
        self.y_train = torch.stack([s.y_train for s in self.sessions])  # (K, N)
        # training and test sets evaluated as one: one forward pass an epoch, not two
        self.x_eval = torch.cat([self.x_train, torch.stack([s.x_test.T for s in self.sessions])],
                                2)
        self.y_eval = torch.cat([self.y_train, torch.stack([s.y_test for s in self.sessions])],
                                1)
        self.y_eval_is_one = self.y_eval == 1  # for two classes' accuracy (_correct)
        if self.spec.loss.kind == "cross_entropy":
            self.one_hot_train = F.one_hot(self.y_train, self.spec.output_dim).transpose(
                1, 2).to(self.x_train.dtype)  # (K, C, N)
            self.minus_one_hot_eval = -F.one_hot(self.y_eval, self.spec.output_dim).transpose(
                1, 2).to(self.x_train.dtype).contiguous()
        self.modules = list(first.model)  # the layer kinds; parameters live stacked below
        self.linear_at = [i for i, m in enumerate(self.modules) if isinstance(m, nn.Linear)]
        self.weights = [self._stack(i, "weight") for i in self.linear_at]  # (K, out, in)
        self.biases = [self._stack(i, "bias") for i in self.linear_at]  # (K, out) or None
        self.params = [p for p in self.weights + self.biases if p is not None]
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        self.optimizer_steps = 0  # since the optimizer (its kind) was made: Adam's t
        self.position = 0  # within the epoch, the same for every variant
        self.traceable = not any(isinstance(m, SeededDropout) for m in self.modules)
        self._leaves = [p.detach() for p in self.params]  # replays must not record autograd
        self.ones = torch.ones(len(specs), device=self.x_train.device)  # seeds K backwards
        self._replays: dict[StepKey, traced.Replay] = {}
        self.compile = compile and device.type == "cpu" and compiled.available()
        self._compiling: dict[StepKey, Future[traced.Replay | None]] = {}
        self.compiled: set[StepKey] = set()  # keys whose step is compiled now
        self._unflushed: list[torch.Tensor] = []  # each step's (K,) losses, not yet flushed
        self._checked = 0  # how many of them are known finite (checked at an epoch's end)
        self._hyper()
        self._shuffle()

    def refresh(self, new_optimizer: bool = False) -> None:
        """Read the sessions' settings again, after a live change; new_optimizer (another
        kind) starts its state afresh, as a lone session makes a new optimizer."""
        self.spec = self.sessions[0].spec
        if new_optimizer:
            self.state = [{} for _ in self.params]
            self.optimizer_steps = 0
        self._hyper()
        self._batches_from_here()

    def _shuffle(self) -> None:
        """Each variant's epoch order (K, N), and its training set gathered in that order once
        an epoch: a step slices its batches out."""
        self.order = torch.stack([s._order for s in self.sessions])
        # gather, not take_along_dim: that one first wraps negative indices (a remainder op)
        self.x_epoch = torch.gather(self.x_train, 2, self.order.unsqueeze(1).expand_as(
            self.x_train))
        self.y_epoch = torch.gather(self.y_train, 1, self.order)
        self._batches_from_here()

    def _batches_from_here(self) -> None:
        """The epoch's remaining mini-batches as views: (inputs, targets). Targets are what a
        step's loss compares its outputs with: the labels, or for cross-entropy the one-hot
        labels (K, C, B) weighted -1/(the batch's size), so that each variant's mean loss is one
        product and one sum, whose backward is one product: seven operations fewer than
        F.cross_entropy's nll_loss2d and its views. They depend on the position within the
        epoch and on the batch size (an epoch's last batch may be shorter)."""
        points, size = self.y_epoch.shape[1], self.sessions[0].batch_size
        targets = self.y_epoch
        if self.spec.loss.kind == "cross_entropy":
            targets = self._weighted_one_hot(points, size)
        start = self.position
        self._batches = list(zip(self.x_epoch[..., start:].split(size, 2),
                                 targets[..., start:].split(size, -1), strict=True))
        self._next_batch = 0

    def _weighted_one_hot(self, points: int, size: int) -> torch.Tensor:
        weight = torch.full((points,), -1.0 / size, device=self.y_epoch.device)
        tail = (points - self.position) % size
        if tail:
            weight[points - tail:] = -1.0 / tail
        one_hot = torch.gather(self.one_hot_train, 2, self.order.unsqueeze(1).expand_as(
            self.one_hot_train))
        return one_hot * weight

    def _stack(self, index: int, name: str) -> torch.Tensor | None:
        tensors = [getattr(s.model[index], name) for s in self.sessions]
        if tensors[0] is None:
            return None
        return torch.stack([t.detach() for t in tensors]).requires_grad_()

    def _column(self, values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=self.x_train.device)

    def _hyper(self) -> None:
        """Per-variant settings as (K, 1, ..) tensors shaped for each parameter; read again
        whenever a learning rate changes."""
        specs = [s.spec for s in self.sessions]
        self.lr_values = [s.lr for s in self.sessions]
        opts = [s.optimizer for s in specs]
        self.l1 = self._column([s.regularization.l1 for s in specs])
        self.l2 = self._column([s.regularization.l2 for s in specs])
        self.use_l1, self.use_l2 = bool(self.l1.any()), bool(self.l2.any())
        columns = {"lr": self.lr_values,
                   "weight_decay": [o.weight_decay for o in opts]}
        if isinstance(opts[0], SGDSpec):
            columns.update(momentum=[o.momentum for o in opts],  # type: ignore[union-attr]
                           dampening=[o.dampening for o in opts],  # type: ignore[union-attr]
                           nesterov=[float(o.nesterov) for o in opts])  # type: ignore[union-attr]
        else:
            columns.update(beta1=[o.beta1 for o in opts],  # type: ignore[union-attr]
                           beta2=[o.beta2 for o in opts],  # type: ignore[union-attr]
                           eps=[o.eps for o in opts])  # type: ignore[union-attr]
        self.uses = {name: any(values) for name, values in columns.items()}
        tensors = {name: self._column(values) for name, values in columns.items()}
        self.shaped = [{name: t.view((-1,) + (1,) * (p.dim() - 1)) for name, t in tensors.items()}
                       for p in self.params]
        self.lr_shaped = [h["lr"] for h in self.shaped]
        self.plain_sgd = isinstance(opts[0], SGDSpec) and not (
            self.uses["weight_decay"] or self.uses["momentum"])

    # --- the model, stacked ---------------------------------------------------------------

    def forward(self, x: torch.Tensor, train: bool,
                record: list[torch.Tensor] | None = None,
                params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """(K, F, B) -> (K, outputs, B); `record` collects every module's output. params
        (weights, then biases, as self.params) stand in for the stacked parameters."""
        weights, biases = self._split(params) if params is not None else (self.weights,
                                                                           self.biases)
        h, linear = x, 0
        for m in self.modules:
            if isinstance(m, nn.Linear):
                w, b = weights[linear], biases[linear]
                h = torch.bmm(w, h) if b is None else torch.baddbmm(b.unsqueeze(2), w, h)
                linear += 1
            elif isinstance(m, SeededDropout):
                if train and m.p > 0:
                    h = h * self._dropout_masks(h, m.p) / (1.0 - m.p)
            elif isinstance(m, nn.Tanh) and not train:  # evaluations: whole data sets
                h = fasttanh.tanh(h)
            else:
                h = m(h)
            if record is not None:
                record.append(h.detach())
        return h

    def _split(self, params: Sequence[torch.Tensor]
               ) -> tuple[list[torch.Tensor], list[torch.Tensor | None]]:
        """self.params' layout back to (weights, biases with None where a layer has none)."""
        n = len(self.weights)
        weights, rest = list(params[:n]), iter(params[n:])
        return weights, [None if b is None else next(rest) for b in self.biases]

    def _dropout_masks(self, h: torch.Tensor, p: float) -> torch.Tensor:
        # Each variant draws its masks from its own generator, as it would alone: (B, units)
        # in that order, then laid points last.
        _, units, points = h.shape
        return torch.stack([torch.empty(points, units, dtype=h.dtype, device=h.device)
                            .bernoulli_(1.0 - p, generator=s.dropout_g).T
                            for s in self.sessions])

    def _point_losses(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each variant's loss at each point: (K, B)."""
        kind = self.spec.loss.kind
        if kind == "cross_entropy":  # classes on dim 1: (K, C, B) -> (K, B)
            # F.cross_entropy's nll_loss2d takes 1.5x as long on CPU
            return -out.log_softmax(1).gather(1, y.unsqueeze(1))[:, 0]
        if kind == "bce":
            return F.binary_cross_entropy_with_logits(out[:, 0], y.float(), reduction="none")
        if kind == "mse":
            return (out[:, 0] - y).pow(2)
        return F.huber_loss(out[:, 0], y, reduction="none", delta=self.spec.loss.delta)

    def _objective(self, params: Sequence[torch.Tensor], ones: torch.Tensor, x: torch.Tensor,
                   target: torch.Tensor, l1: torch.Tensor, l2: torch.Tensor,
                   record: list[torch.Tensor] | None = None
                   ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Each variant's loss on its batch (K,) and the gradients of their sum plus the L1/L2
        terms; a function of its arguments alone, so that it can be recorded (traced.py).
        `ones` (K,) seeds the backward pass of the K objectives at once, as a sum would, two
        operations fewer."""
        out = self.forward(x, train=True, record=record, params=params)
        if self.spec.loss.kind == "cross_entropy":  # target: weighted one-hot (_batches_from_here)
            losses = (target * out.log_softmax(1)).sum((1, 2))
        else:
            losses = self._point_losses(out, target).mean(1)
        weights = params[:len(self.weights)]
        objective = losses
        if self.use_l1:
            objective = objective + sum(l1 * w.abs().sum((1, 2)) for w in weights)
        if self.use_l2:
            objective = objective + sum(l2 * w.pow(2).sum((1, 2)) for w in weights)
        return losses.detach(), torch.autograd.grad(objective, params, grad_outputs=ones)

    def _replay(self, x: torch.Tensor, target: torch.Tensor) -> traced.Replay | None:
        """The recording of _objective for this batch size and penalty kind, made on first
        use; None where the step runs eagerly: during the first epoch, with dropout, or when
        the recorder cannot follow the model."""
        key = (x.shape[2], self.use_l1, self.use_l2)
        replay = self._replays.get(key)
        if replay is None and self.traceable and self.sessions[0].epoch > 0:
            args = (self.ones, x, target, self.l1, self.l2)
            try:  # the constant `ones` is a leaf: its views are hoisted
                replay = self._replays[key] = traced.record_step(
                    self._objective, self.params, self._leaves + [self.ones], *args)
            except Exception:  # a model the recorder cannot follow still trains, eagerly
                self.traceable = False
                return None
            if self.compile:  # traced again: record_step simplified its graph for replaying
                graph = traced.trace_flat(self._objective, self.params, *args)
                if compiled.worth_compiling(graph.graph):
                    self._compiling[key] = compiled.submit(graph, [*self._leaves, *args])
        return replay

    def _adopt_compiled(self) -> None:
        """Switch each recorded step whose compile has ended to its compiled form."""
        for key, future in list(self._compiling.items()):
            if future.done():
                del self._compiling[key]
                fast = future.result()
                if fast is not None:
                    self._replays[key] = self._guarded(key, fast, self._replays[key])
                    self.compiled.add(key)

    def _guarded(self, key: StepKey, fast: traced.Replay,
                 plain: traced.Replay) -> traced.Replay:
        """The compiled step, which checks its arguments' shapes and strides; arguments laid
        out otherwise than those it was compiled for go back to the replay, for good."""
        def step(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
            try:
                return fast(*args)
            except AssertionError:
                self._replays[key] = plain
                self.compiled.discard(key)
                return plain(*args)
        return step

    def wait_compiled(self, timeout: float | None = None) -> bool:
        """Wait for the compiles asked for so far and switch to them; whether every recorded
        step is compiled now. For benches and tests: the server never waits."""
        wait(list(self._compiling.values()), timeout)
        self._adopt_compiled()
        return bool(self._replays) and self.compiled == set(self._replays)

    # --- training -------------------------------------------------------------------------

    def step(self, probe: bool = False) -> None:
        """One optimizer step for every variant on its own next mini-batch. A probed step runs
        eagerly, to see each layer's output."""
        x, target = self._batches[self._next_batch]  # (K, F, B), (K, [C,] B)
        self._next_batch += 1
        if self._compiling:
            self._adopt_compiled()
        replay = None if probe else self._replay(x, target)
        record: list[torch.Tensor] | None = [] if probe else None
        if replay is not None:
            losses, *grads = replay(*self._leaves, self.ones, x, target, self.l1, self.l2)
        else:
            losses, grads = self._objective(self.params, self.ones, x, target, self.l1,
                                            self.l2, record)
        before = [w.detach().clone() for w in self.weights] if probe else []
        self._update(grads)
        self._unflushed.append(losses)
        self.optimizer_steps += 1
        self.position += x.shape[2]
        if probe:
            self._store_probe(record or [], grads, before)
        if self.position >= self.order.shape[1]:
            self._end_epoch()
        elif probe or len(self._unflushed) >= FLUSH_AT:
            self.flush()

    def flush(self) -> None:
        """Bring each session's counters and history up to date (before reading them)."""
        rows, self._unflushed, self._checked = self._unflushed, [], 0
        if not rows:
            return
        table = torch.stack(rows)  # (steps, K)
        columns = table.T.tolist()  # per variant: one read-back for all
        finite = table.isfinite().all(0).tolist()
        for session, losses, all_finite in zip(self.sessions, columns, finite, strict=True):
            if session.diverged:  # stopped at the step that diverged, as a lone run stops
                continue
            first = session.step_count + 1
            if not all_finite:
                bad = next(i for i, loss in enumerate(losses) if not math.isfinite(loss))
                session.history.add_steps(range(first, first + bad), losses[:bad])
                session.step_count = first + bad
                session._diverge(losses[bad])
                continue
            session.history.add_steps(range(first, first + len(losses)), losses)
            session.step_count = first - 1 + len(losses)
            session._position = self.position

    def _update(self, grads: Sequence[torch.Tensor]) -> None:
        """torch.optim's SGD or Adam/AdamW update, with per-variant hyperparameters."""
        if self.plain_sgd:  # param -= lr * grad, in one foreach call (a third of the time)
            torch._foreach_addcmul_(self._leaves, self.lr_shaped, grads, value=-1)
        else:
            self._optimizer_update(grads)

    @torch.no_grad()
    def _optimizer_update(self, grads: Sequence[torch.Tensor]) -> None:
        kind, uses = self.spec.optimizer.kind, self.uses
        t = self.optimizer_steps + 1
        for param, grad, state, h in zip(self.params, grads, self.state, self.shaped,
                                         strict=True):
            if uses["weight_decay"]:
                if kind == "adamw":
                    param.mul_(1 - h["lr"] * h["weight_decay"])
                else:
                    grad = grad + h["weight_decay"] * param
            if kind == "sgd":
                if uses["momentum"]:
                    if "buf" not in state:
                        state["buf"] = grad.clone()
                    else:
                        state["buf"].mul_(h["momentum"]).add_((1 - h["dampening"]) * grad)
                    # momentum 0 means plain SGD (torch keeps no buffer then)
                    step = torch.where(h["momentum"] > 0, state["buf"], grad)
                    if uses["nesterov"]:
                        step = torch.where(h["nesterov"] > 0, grad + h["momentum"] * step, step)
                    grad = step
                param.sub_(h["lr"] * grad)
                continue
            m = state.setdefault("m", torch.zeros_like(param))
            v = state.setdefault("v", torch.zeros_like(param))
            m.lerp_(grad, 1 - h["beta1"])
            v.mul_(h["beta2"]).addcmul_(grad, grad * (1 - h["beta2"]))
            denom = (v.sqrt() / torch.sqrt(1 - h["beta2"] ** t)).add_(h["eps"])
            param.sub_(h["lr"] / (1 - h["beta1"] ** t) * m / denom)

    def _store_probe(self, outputs: list[torch.Tensor], grads: Sequence[torch.Tensor],
                     before: list[torch.Tensor]) -> None:
        """Per-variant layer statistics of this step, in the lone session's columns."""
        rows: list[torch.Tensor] = []
        for output in outputs:  # (K, B, units)
            var, mean = torch.var_mean(output.flatten(1), dim=1, correction=0)
            rows += [mean, var]
        rows += [g.flatten(1).norm(dim=1) for g in grads]  # weights, then biases
        rows += [w.detach().flatten(1).norm(dim=1) for w in self.weights]
        rows += [(w.detach() - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)
                 for w, b in zip(self.weights, before, strict=True)]
        table = torch.stack(rows).T.tolist()  # (K, rows): one read-back for all variants
        n, n_w = len(self.modules), len(self.weights)
        with_bias = [at for at, b in zip(self.linear_at, self.biases, strict=True)
                     if b is not None]
        for session, row in zip(self.sessions, table, strict=True):
            cut = [2 * n, n_w, len(with_bias), n_w, n_w]
            parts = []
            for size in cut:
                parts.append(row[:size])
                row = row[size:]
            moments, grad_w, grad_b, weight_norm, ratio = parts
            columns: dict[str, list[float | None]] = {
                "act_mean": moments[0::2], "act_var": moments[1::2],
                "grad_norm_weight": [None] * n, "grad_norm_bias": [None] * n,
                "weight_norm": [None] * n, "update_ratio": [None] * n}
            for j, at in enumerate(self.linear_at):
                columns["grad_norm_weight"][at] = grad_w[j]
                columns["weight_norm"][at] = weight_norm[j]
                columns["update_ratio"][at] = ratio[j]
            for j, at in enumerate(with_bias):
                columns["grad_norm_bias"][at] = grad_b[j]
            session.last_layers = columns

    def _end_epoch(self) -> None:
        self.position = 0
        fresh = self._unflushed[self._checked:]  # this epoch's: the rest were checked before
        if fresh and not torch.stack(fresh).isfinite().all():
            self.flush()  # a variant diverged: it stops at that step, as its lone run stops
        self._checked = len(self._unflushed)
        for session in self.sessions:
            if session.diverged:  # a lone run stops at that step: no more epochs or evals
                continue
            session.epoch += 1
            session._order = session._new_order()
            session._position = 0
            session._set_lr()
        self._shuffle()
        if [s.lr for s in self.sessions] != self.lr_values:  # a schedule
            self._hyper()
        self._record_evals()

    @torch.no_grad()
    def _record_evals(self) -> None:
        """Each variant's loss and metric on its training and on its test set."""
        out = self.forward(self.x_eval, train=False)
        train, test = slice(0, self.x_train.shape[2]), slice(self.x_train.shape[2], None)
        if self.spec.loss.kind == "cross_entropy":  # a product with the labels: no gather
            losses = out.log_softmax(1).mul_(self.minus_one_hot_eval).sum(1)
        else:
            losses = self._point_losses(out, self.y_eval)
        rows = [losses[:, train].mean(1), losses[:, test].mean(1)]
        if self.spec.data.task == "regression":
            rows += [_r2(out[:, 0, part], self.y_eval[:, part]) for part in (train, test)]
        else:
            correct = self._correct(out)
            rows += [correct[:, train].mean(1), correct[:, test].mean(1)]
        table = torch.stack(rows, 1)
        finite = bool(table.isfinite().all())
        pending = len(self._unflushed)  # steps each variant in training has taken unflushed
        for session, row in zip(self.sessions, table.tolist(), strict=True):
            if session.diverged:
                continue
            values = row if finite else [_finite(v) for v in row]
            session.history.add_eval((session.epoch, session.step_count + pending, session.lr,
                                      *values))

    def _correct(self, out: torch.Tensor) -> torch.Tensor:
        """1.0 where a point's predicted class is its label, (K, N). With one or two outputs,
        one comparison of booleans ("class 1?"), not classes as int64: an epoch end's time is
        mostly memory traffic, and this is an eighth of it."""
        if out.shape[1] > 2:
            return (predicted_classes(out) == self.y_eval).float()
        is_one = out[:, 0] > 0 if out.shape[1] == 1 else out[:, 1] > out[:, 0]  # ties: class 0
        return (is_one == self.y_eval_is_one).float()

    def sync(self) -> None:
        """Bring every session fully up to date, weights included (before its frame)."""
        self.flush()
        with torch.no_grad():
            for j, at in enumerate(self.linear_at):
                for k, session in enumerate(self.sessions):
                    session.model[at].weight.copy_(self.weights[j][k])
                    if self.biases[j] is not None:
                        session.model[at].bias.copy_(self.biases[j][k])


def _r2(pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Each variant's coefficient of determination, (K, B) -> (K,)."""
    sse = (pred - y).pow(2).sum(1)
    sst = (y - y.mean(1, keepdim=True)).pow(2).sum(1).clamp_min(1e-12)
    return 1 - sse / sst


def predicted_classes(out: torch.Tensor) -> torch.Tensor:
    """Each point's predicted class, (K, C, N) -> (K, N): out.argmax(1), the first of equal
    maxima, but one comparison a class: argmax along a dimension that is not the last takes
    ~1 ms on CPU here, max(1).indices 0.1-0.2 ms, two classes' comparison 20 us."""
    if out.shape[1] == 1:  # one logit: class 1 where it is positive
        return (out[:, 0] > 0).long()
    label = torch.zeros_like(out[:, 0], dtype=torch.long)
    best = out[:, 0]
    for c in range(1, out.shape[1]):
        better = out[:, c] > best
        label = label.masked_fill(better, c)
        if c + 1 < out.shape[1]:
            best = torch.where(better, out[:, c], best)
    return label
