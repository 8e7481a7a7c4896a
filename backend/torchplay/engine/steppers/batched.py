"""BatchedStepper: many runs of one architecture stepped as one computation (comparisons,
sweeps).

K runs share the layer stack, the number of training points and the batch size; they may
differ in seeds, data noise, initializers, optimizer settings (SGD with momentum and Nesterov,
Adam/AdamW with AMSGrad), schedule, L1/L2, epoch limits and early stopping. Weights are stacked
(K, out, in) and each Linear runs as one baddbmm for all runs; the loss is the sum of the runs'
own mean losses, so each run's gradient is exactly its own, and the optimizers are elementwise
(stacked_optim.py). Each run (engine/run.py) keeps its own data, generators, counters and
history; this stepper only computes. A run that stops (its limit, early stopping, divergence)
stays in the stack but takes no update and draws no dropout mask, so it resumes where its lone
run would. Each run makes the run it would make alone, to float rounding (the contract:
docs/protocol.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import Future, wait

import torch
from torch import nn
from torch.nn import functional as F

from torchplay.engine.build import SeededDropout, call
from torchplay.engine.largedata import LARGE_VALUES
from torchplay.engine.run import EvalRow, Run
from torchplay.engine.steppers import compiled, traced
from torchplay.engine.steppers.base import Columns, FallbackLog, StepResult
from torchplay.engine.steppers.stacked_optim import StackedOptimizer
from torchplay.spec.model import ExperimentSpec, SpecError, train_count

BATCHABLE_LAYERS = ("linear", "activation", "dropout")
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
    if first.optimizer.kind not in ("sgd", "adam", "adamw"):
        raise SpecError("optimizer.kind", "runs side by side support sgd, adam and adamw")
    for spec in specs[1:]:
        for field, same in (
                ("network.layers", shape(spec) == shape(first)),
                ("loss", spec.loss == first.loss),
                ("optimizer.kind", spec.optimizer.kind == first.optimizer.kind),
                ("training.batch_size", spec.training.batch_size == first.training.batch_size),
                ("data.points", (spec.data.points, spec.data.train_fraction) ==
                 (first.data.points, first.data.train_fraction)),
                ("data.kind", spec.data.kind == first.data.kind and
                 spec.data.n_classes == first.data.n_classes),
                ("features", spec.input_dim == first.input_dim)):
            if not same:
                raise SpecError(field, f"runs side by side must share {field}")


class BatchedStepper:
    """K runs advanced together by one stacked computation per step."""

    def __init__(self, runs: Sequence[Run], compile: bool = False) -> None:
        """compile: from the second epoch, build the step with inductor in the background and
        switch to it when ready (compiled.py; CPU only). Worth it for a run of minutes, not
        for a few epochs."""
        check_batchable([run.spec for run in runs])
        self.runs = list(runs)
        first = self.runs[0]
        device = first.device
        self.spec = first.spec
        # Points last, (K, F, N): a stacked Linear is then W (K, out, in) @ h (K, in, N), which
        # CPU bmm runs ~9x faster than h @ W^T when `in` is tiny and N is a whole data set.
        self.x_train = torch.stack([r.x_train.T for r in self.runs])  # (K, F, N)
        self.y_train = torch.stack([r.y_train for r in self.runs])  # (K, N)
        # training and test sets evaluated as one: one forward pass an epoch, not two
        self.x_eval = torch.cat([self.x_train, torch.stack([r.x_test.T for r in self.runs])], 2)
        self.y_eval = torch.cat([self.y_train, torch.stack([r.y_test for r in self.runs])], 1)
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
        self.optimizer = StackedOptimizer(self.params, self.runs)
        self.position = 0  # within the epoch, the same for every run
        self.traceable = not any(isinstance(m, SeededDropout) for m in self.modules)
        self.reason: str | None = None if self.traceable else \
            "Dropout steps the batch eagerly (random masks)"
        self._fallback = FallbackLog()
        self._leaves = [p.detach() for p in self.params]  # replays must not record autograd
        self.ones = torch.ones(len(self.runs), device=device)  # seeds K backwards
        self._replays: dict[StepKey, traced.Replay] = {}
        self.compile = compile and device.type == "cpu" and compiled.available()
        self._compiling: dict[StepKey, Future[traced.Replay | None]] = {}
        self.compiled: set[StepKey] = set()  # keys whose step is compiled now
        self._replayed = False  # whether the latest step replayed (or ran compiled)
        self._penalties()
        self._shuffle()

    def path(self, run: Run) -> tuple[str, str | None]:
        if self._replayed and self.compiled:
            return "compiled", None
        if self._replayed:
            return "batched", "its compiled step is being built" if self._compiling else None
        if self.reason:
            return "batched", self.reason
        return "batched", "the first epoch steps the batch eagerly; its step is recorded " \
            "for the second" if run.epoch == 0 else None

    def points(self) -> int:
        return self._batches[self._next_batch][0].shape[2]

    def refresh(self, new_optimizer: bool, objective: bool) -> None:
        """Read the runs' settings again, after a live change; new_optimizer (another kind)
        starts its state afresh, as a lone run makes a new optimizer."""
        self.spec = self.runs[0].spec
        if new_optimizer:
            self.optimizer.reset_state()
        self.optimizer.read_settings()
        self._penalties()
        self._batches_from_here()

    def set_active(self) -> None:
        self.optimizer.read_settings()

    def _penalties(self) -> None:
        specs = [run.spec for run in self.runs]
        self.l1 = self.optimizer._column([s.regularization.l1 for s in specs])
        self.l2 = self.optimizer._column([s.regularization.l2 for s in specs])
        self.use_l1, self.use_l2 = bool(self.l1.any()), bool(self.l2.any())

    def _shuffle(self) -> None:
        """Each run's epoch order (K, N), and its training set gathered in that order once
        an epoch: a step slices its batches out."""
        self.order = torch.stack([run.order for run in self.runs])
        # gather, not take_along_dim: that one first wraps negative indices (a remainder op)
        self.x_epoch = torch.gather(self.x_train, 2, self.order.unsqueeze(1).expand_as(
            self.x_train))
        self.y_epoch = torch.gather(self.y_train, 1, self.order)
        self._batches_from_here()

    def _batches_from_here(self) -> None:
        """The epoch's remaining mini-batches as views: (inputs, targets). Targets are what a
        step's loss compares its outputs with: the labels, or for cross-entropy the one-hot
        labels (K, C, B) weighted -1/(the batch's size), so that each run's mean loss is one
        product and one sum, whose backward is one product: seven operations fewer than
        F.cross_entropy's nll_loss2d and its views. They depend on the position within the
        epoch and on the batch size (an epoch's last batch may be shorter)."""
        points, size = self.y_epoch.shape[1], self.runs[0].batch_size
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
        tensors = [getattr(run.model[index], name) for run in self.runs]
        if tensors[0] is None:
            return None
        return torch.stack([t.detach() for t in tensors]).requires_grad_()

    # --- the model, stacked ---------------------------------------------------------------

    def forward(self, x: torch.Tensor, train: bool,
                record: list[torch.Tensor] | None = None,
                params: Sequence[torch.Tensor] | None = None,
                dropout: bool = True) -> torch.Tensor:
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
                if train and m.p > 0 and dropout:
                    h = h * self._dropout_masks(h, m.p) / (1.0 - m.p)
            else:
                h = call(m, h)
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
        # Each run draws its masks from its own generator, as it would alone: (B, units) in
        # that order, then laid points last. A stopped run draws none, as it would alone.
        _, units, points = h.shape
        return torch.stack([
            torch.empty(points, units, dtype=h.dtype, device=h.device).bernoulli_(
                1.0 - p, generator=run.dropout_g).T if run.active else
            torch.ones(units, points, dtype=h.dtype, device=h.device) for run in self.runs])

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
                   record: list[torch.Tensor] | None = None, dropout: bool = True
                   ) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """Each variant's loss on its batch (K,) and the gradients of their sum plus the L1/L2
        terms; a function of its arguments alone, so that it can be recorded (traced.py).
        `ones` (K,) seeds the backward pass of the K objectives at once, as a sum would, two
        operations fewer."""
        out = self.forward(x, train=True, record=record, params=params, dropout=dropout)
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
        use; None where the step runs eagerly: during the first epoch, with dropout, while
        another thread traces, or when the recorder cannot follow the model."""
        key = (x.shape[2], self.use_l1, self.use_l2)
        replay = self._replays.get(key)
        if replay is None and self.traceable and self.runs[0].epoch > 0:
            # every batch size of the epoch at once (an epoch's last batch may be shorter),
            # before a compile is asked for: a compile holds the tracer for seconds
            if not traced.FX_LOCK.acquire(blocking=False):
                return None  # another thread is tracing: step eagerly, record later
            try:
                for example in ((x, target), self._batches[-1]):
                    self._record(*example)
            except Exception as error:  # a model the recorder cannot follow still trains
                self.traceable = False
                self.reason = "the step could not be recorded (" + self._fallback.warn(
                    "a batch of runs", self.runs[0], error) + ")"
                self._replays.clear()
                return None
            finally:
                traced.FX_LOCK.release()
            replay = self._replays[key]
        return replay

    def _record(self, x: torch.Tensor, target: torch.Tensor) -> None:
        """Record the step for this batch's size (FX_LOCK held), and ask for its compile."""
        key = (x.shape[2], self.use_l1, self.use_l2)
        if key in self._replays:
            return
        args = (self.ones, x, target, self.l1, self.l2)
        # the constant `ones` is a leaf: its views are hoisted
        self._replays[key] = traced.record_step(self._objective, self.params,
                                                self._leaves + [self.ones], *args)
        if self.compile:  # traced again: record_step simplified its graph
            graph = traced.trace_flat(self._objective, self.params, *args)
            if compiled.worth_compiling(graph.graph):
                self._compiling[key] = compiled.submit(graph, [*self._leaves, *args])

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

    def step(self, probe: bool) -> StepResult:
        """One optimizer step for every active run on its own next mini-batch. A probed step
        runs eagerly, to see each layer's output."""
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
        self.optimizer.update(grads)
        if not probe:  # a probed step is eager by nature: the path is that of the others
            self._replayed = replay is not None
        self.position += x.shape[2]
        layers = self._probe_columns(record or [], grads, before) if probe else None
        return StepResult(losses, layers)

    def _probe_columns(self, outputs: list[torch.Tensor], grads: Sequence[torch.Tensor],
                       before: list[torch.Tensor]) -> list[Columns]:
        """Each run's layer statistics of this step, in a lone run's columns."""
        rows: list[torch.Tensor] = []
        for output in outputs:  # (K, B, units)
            var, mean = torch.var_mean(output.flatten(1), dim=1, correction=0)
            rows += [mean, var]
        rows += [g.flatten(1).norm(dim=1) for g in grads]  # weights, then biases
        rows += [w.detach().flatten(1).norm(dim=1) for w in self.weights]
        rows += [(w.detach() - b).flatten(1).norm(dim=1) / b.flatten(1).norm(dim=1)
                 for w, b in zip(self.weights, before, strict=True)]
        table = torch.stack(rows).T.tolist()  # (K, rows): one read-back for all runs
        n, n_w = len(self.modules), len(self.weights)
        with_bias = [at for at, b in zip(self.linear_at, self.biases, strict=True)
                     if b is not None]
        result = []
        for row in table:
            parts = []
            for size in (2 * n, n_w, len(with_bias), n_w, n_w):
                parts.append(row[:size])
                row = row[size:]
            moments, grad_w, grad_b, weight_norm, ratio = parts
            columns: Columns = {
                "act_mean": moments[0::2], "act_var": moments[1::2],
                "grad_norm_weight": [None] * n, "grad_norm_bias": [None] * n,
                "weight_norm": [None] * n, "update_ratio": [None] * n}
            for j, at in enumerate(self.linear_at):
                columns["grad_norm_weight"][at] = grad_w[j]
                columns["weight_norm"][at] = weight_norm[j]
                columns["update_ratio"][at] = ratio[j]
            for j, at in enumerate(with_bias):
                columns["grad_norm_bias"][at] = grad_b[j]
            result.append(columns)
        return result

    def new_epoch(self) -> None:
        self.position = 0
        self._shuffle()
        if self.optimizer.lrs_changed():  # a schedule
            self.optimizer.read_settings()

    @torch.no_grad()
    def evaluate(self) -> list[EvalRow]:
        """Each run's loss and metric on its training and on its test set, one forward."""
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
        return [tuple(row) for row in torch.stack(rows, 1).tolist()]  # type: ignore[misc]

    def _correct(self, out: torch.Tensor) -> torch.Tensor:
        """1.0 where a point's predicted class is its label, (K, N). With one or two outputs,
        one comparison of booleans ("class 1?"), not classes as int64: an epoch end's time is
        mostly memory traffic, and this is an eighth of it."""
        if out.shape[1] > 2:
            return (predicted_classes(out) == self.y_eval).float()
        is_one = out[:, 0] > 0 if out.shape[1] == 1 else out[:, 1] > out[:, 0]  # ties: class 0
        return (is_one == self.y_eval_is_one).float()

    def sync(self) -> None:
        """Write each run's weights back into its model (before its frame)."""
        with torch.no_grad():
            for j, at in enumerate(self.linear_at):
                for k, run in enumerate(self.runs):
                    run.model[at].weight.copy_(self.weights[j][k])
                    if self.biases[j] is not None:
                        run.model[at].bias.copy_(self.biases[j][k])

    @torch.no_grad()
    def set_weight(self, run: Run, module: int, row: int, col: int, value: float) -> None:
        """In the stacked weight, in place: the optimizer, the replay and the compiled step
        all read its storage (self._leaves are views of it); the model too, for what reads it
        before the next sync."""
        self.weights[self.linear_at.index(module)][self.runs.index(run), row, col] = value
        run.model[module].weight[row, col] = value

    def gradients(self, run: Run, x: torch.Tensor, y: torch.Tensor) -> list[torch.Tensor]:
        """The batch's own step on (x, y) for every run, as it trains (replayed or compiled
        where recorded for this size, else eagerly), without the penalty; run's slice."""
        k = self.runs.index(run)
        xs = x.T.unsqueeze(0).expand(len(self.runs), -1, -1).contiguous()  # (K, F, B)
        ys = y.unsqueeze(0).expand(len(self.runs), -1).contiguous()
        target = ys
        if self.spec.loss.kind == "cross_entropy":
            target = F.one_hot(ys, self.spec.output_dim).transpose(1, 2).to(x.dtype) * (
                -1.0 / len(y))
        zero = torch.zeros_like(self.l1)
        key = (len(y), False, False)
        if key not in self._replays and self.traceable and self._replayed:
            self._replays[key] = traced.record_step(  # as training records its own step
                self._objective, self.params, self._leaves + [self.ones], self.ones, xs,
                target, zero, zero, wait=True)
        replay = self._replays.get(key)
        if replay is not None:
            _, *grads = replay(*self._leaves, self.ones, xs, target, zero, zero)
        else:
            _, grads = self._objective(self.params, self.ones, xs, target, zero, zero,
                                       dropout=False)
        by_layer = {id(p): g[k] for p, g in zip(self.params, grads, strict=True)}
        ordered = []
        for j in range(len(self.linear_at)):
            ordered.append(by_layer[id(self.weights[j])])
            if self.biases[j] is not None:
                ordered.append(by_layer[id(self.biases[j])])
        return ordered


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
