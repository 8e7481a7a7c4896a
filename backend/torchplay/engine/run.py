"""Run: one variant's data, model and bookkeeping, the one owner of a run's rules.

A run counts its steps and epochs, shuffles each epoch from its own generator, turns the
schedule into a learning rate, records each epoch's evaluation, stops at its epoch limit, stops
early, diverges, and says so in its events. How a step is computed is not its business: a
stepper (engine/steppers/) computes losses and gradients and applies the update, and the
Training that drives both tells the run what happened (`advance`, `record_losses`,
`end_epoch`). So every path (eager, traced replay, batched, compiled) obeys the same rules,
written once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from torchplay.data.cache import SHARED
from torchplay.data.columns import make_features
from torchplay.data.sources import load_points, plane_view
from torchplay.engine import largedata
from torchplay.engine.build import (
    build_model,
    forward,
    lr_factor,
    make_loss,
    make_optimizer,
    optimizer_options,
)
from torchplay.engine.history import History
from torchplay.engine.imageviews import ImageViews
from torchplay.spec.model import FRAME_SAMPLE, ExperimentSpec, SpecError

EvalRow = tuple[float, float, float, float]  # train loss, test loss, train metric, test metric


def resolve_device(name: str) -> torch.device:
    """'auto' picks CUDA, then MPS, then CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise SpecError("training.device", "cuda was asked for but this server has no CUDA "
                        "device; use auto or cpu")
    if name == "mps" and not torch.backends.mps.is_available():
        raise SpecError("training.device", "mps was asked for but this server has no MPS "
                        "device; use auto or cpu")
    return torch.device(name)


@dataclass(frozen=True)
class Changes:
    """What a live update changed, for the steppers to follow."""

    optimizer_kind: bool  # a new optimizer, its state started afresh
    objective: bool  # the loss or the L1/L2 penalty: recorded steps are stale


class Run:
    """One experiment's data, model, generators, counters, history and events."""

    def __init__(self, spec: ExperimentSpec, device: torch.device) -> None:
        self.spec = spec
        self.device = device
        self.points = load_points(spec.data)
        raw_train = torch.from_numpy(self.points.train_x)
        # D > 2 inputs are shown on a plane through them (the principal plane by default)
        self.view = plane_view(spec.data, self.points)
        self.features = make_features(spec, self.points, raw_train)
        self.large = largedata.is_large(self.points)  # see largedata.py's frame contract
        # a large classification set's epoch rows take their training figures from the
        # epoch's own mini-batches (largedata.py): the steps tally them
        self.tallies = self.large and spec.data.task != "regression"
        # A large set's tensors are views of the process's one copy: shared on a GPU too.
        to = SHARED.on_device if self.large else lambda t, device: t.to(device)
        self.x_train = to(self.features(raw_train), device)  # (N_train, F)
        self.x_test = to(self.features(torch.from_numpy(self.points.test_x)), device)
        self.y_train = to(torch.from_numpy(self.points.train_y), device)
        self.y_test = to(torch.from_numpy(self.points.test_y), device)
        shape, names = self.points.image_shape, self.points.class_names
        self.images = ImageViews(shape, names) if shape and names else None
        # a large set's frame figures, measured on a fixed sample at most a few times a second
        self.figures: tuple[EvalRow, dict[int, float]] | None = None
        self.figures_due = largedata.Throttle(1 / largedata.FIGURES_PER_SECOND)
        self.history = History()
        self.events: list[dict[str, Any]] = []
        # the input grids of the output view and neuron maps, by size (engine/views.py)
        self.grids: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self.reset()

    def reset(self) -> None:
        """Back to step 0: fresh weights from the seed, empty history; the spec is kept."""
        seed = self.spec.training.seed
        self.dropout_g = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.shuffle_g = torch.Generator().manual_seed(seed + 2)
        self.model = build_model(self.spec, torch.Generator().manual_seed(seed),
                                 self.dropout_g).to(self.device)
        self.loss_fn = make_loss(self.spec.loss)
        self.optimizer = make_optimizer(self.spec, self.model)
        self.has_norm = any(isinstance(m, nn.BatchNorm1d) for m in self.model)
        self.step_count = 0
        self.epoch = 0
        self.position = 0  # points of this epoch already trained on
        self.order = self._new_order()
        self._gathered: tuple[torch.Tensor | None, torch.Tensor, torch.Tensor] = (
            None, self.x_train, self.y_train)
        self.diverged = False
        self.halted = False  # finished or stopped early; a resume clears it
        self.best: tuple[float, int, int] | None = None  # test loss, epoch, step
        self._stopped_at = 0  # epoch of the last early stop
        self.last_layers: dict[str, list[float | None]] | None = None
        self.layers_step: int | None = None  # the step last_layers describes
        self.spec_changed_at: int | None = None  # first step trained under an updated spec
        self.weight_edits = 0  # weights set by hand (engine/edit.py) since the reset
        self.events = []
        if self.images is not None:
            self.images.reset()
        self.figures = None
        self.figures_due.reset()
        self._tally: list[tuple[torch.Tensor, torch.Tensor, int]] = []  # the epoch's batches
        self.history.clear()
        self.set_lr()

    def update(self, new_spec: ExperimentSpec) -> Changes:
        """Take a spec that differs only in live fields (spec.apply_patch checks that):
        model, counters and history stay."""
        old, self.spec = self.spec, new_spec
        if self.step_count > 0 and self.spec_changed_at is None:
            self.spec_changed_at = self.step_count  # the spec alone no longer replays this run
        kind = new_spec.optimizer.kind != old.optimizer.kind
        if kind:
            self.optimizer = make_optimizer(new_spec, self.model)
        elif new_spec.optimizer != old.optimizer:
            for group in self.optimizer.param_groups:
                group.update(optimizer_options(new_spec.optimizer))
        self.set_lr()
        return Changes(optimizer_kind=kind, objective=(new_spec.regularization, new_spec.loss)
                       != (old.regularization, old.loss))

    # --- what the rules depend on ---------------------------------------------------------

    @property
    def active(self) -> bool:
        """Whether a step of the training advances this run."""
        return not (self.diverged or self.halted)

    @property
    def batch_size(self) -> int:
        return min(self.spec.training.batch_size, len(self.y_train))

    @property
    def epoch_length(self) -> int:
        """Points an epoch uses. BatchNorm cannot normalise a batch of one point, so when the
        last batch would hold one, that point sits this epoch out (the next shuffle differs)."""
        n = len(self.y_train)
        return n - 1 if self.has_norm and n % self.batch_size == 1 else n

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.epoch_length / self.batch_size)

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    @property
    def at_limit(self) -> bool:
        limit = self.spec.training.epochs
        return limit is not None and self.epoch >= limit

    @property
    def penalty_on(self) -> bool:
        return bool(self.spec.regularization.l1 or self.spec.regularization.l2)

    def penalty(self, weights: Sequence[torch.Tensor]) -> torch.Tensor | None:
        """The L1 and L2 terms added to the loss, or None when both are off. Eager and traced
        steps call it alike, so that they compute the same sums in the same order."""
        reg = self.spec.regularization
        terms = []
        if reg.l1:
            terms.append(reg.l1 * sum(w.abs().sum() for w in weights))
        if reg.l2:
            terms.append(reg.l2 * sum(w.pow(2).sum() for w in weights))
        return sum(terms) if terms else None  # type: ignore[return-value]

    def ends_epoch_next(self, size: int | None = None) -> bool:
        """Whether the next step of `size` points (the batch size) completes the epoch."""
        return self.position + (size or self.batch_size) >= self.epoch_length

    def may_halt_at_epoch_end(self) -> bool:
        """Whether the coming epoch end can stop this run (its limit, or early stopping)."""
        limit = self.spec.training.epochs
        return (limit is not None and self.epoch + 1 >= limit) or \
            self.spec.regularization.early_stopping.enabled

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next mini-batch of this epoch's shuffled training set, as views: the set is
        gathered in its epoch order once an epoch, and a step slices its batch out."""
        if self.large:  # by index: no shuffled copy of the whole set per run
            batch = self.order[self.position:self.position + self.batch_size]
            return self.x_train[batch], self.y_train[batch]
        order, x, y = self._gathered
        if order is not self.order:
            order, x, y = self.order, self.x_train[self.order], self.y_train[self.order]
            self._gathered = order, x, y
        end = self.position + self.batch_size
        return x[self.position:end], y[self.position:end]

    # --- what the Training reports --------------------------------------------------------

    def advance(self, points: int) -> None:
        """A step on `points` points was taken."""
        self.step_count += 1
        self.position += points

    def record_losses(self, losses: Sequence[float]) -> bool:
        """The losses of this run's latest len(losses) steps (they are read back lazily);
        False when one is not finite: the run diverged at that step, and the steps after it
        never happened as far as its counters and history say."""
        first = self.step_count - len(losses) + 1
        bad = next((i for i, v in enumerate(losses) if not math.isfinite(v)), None)
        kept = losses if bad is None else losses[:bad]
        self.history.add_steps(range(first, first + len(kept)), kept)
        if bad is None:
            return True
        self.step_count = first + bad
        self.diverged = True
        self._halt("diverged", message=f"loss became {losses[bad]} at step {self.step_count}; "
                                       "lower the learning rate or reset")
        return False

    def set_layers(self, columns: dict[str, list[float | None]]) -> None:
        """The per-layer statistics of the step just taken (a probed step)."""
        self.last_layers = columns
        self.layers_step = self.step_count

    def end_epoch(self, row: EvalRow) -> None:
        """The epoch just ended with this evaluation: count it, reshuffle, follow the schedule,
        record the evaluation, and stop at the epoch limit or early."""
        self.epoch += 1
        self.order = self._new_order()
        self.position = 0
        self.set_lr()
        self.record_eval(row)
        self._tally = []
        test_loss = row[1]
        if self.best is None or test_loss < self.best[0]:  # strictly lower: ties keep the first
            self.best = (test_loss, self.epoch, self.step_count)
        limit = self.spec.training.epochs
        stopping = self.spec.regularization.early_stopping
        # Patience counts from the best epoch, or from the last stop when a person resumed.
        since = max(self.best[1], self._stopped_at)
        if limit is not None and self.epoch == limit:
            self._halt("finished")
        elif stopping.enabled and self.epoch - since >= stopping.patience:
            self._stopped_at = self.epoch
            self._halt("early_stopped", best_test_loss=self.best[0],
                       best_epoch=self.best[1], best_step=self.best[2])

    def record_eval(self, row: EvalRow) -> None:
        train_loss, test_loss, train_metric, test_metric = row
        self.history.add_eval((self.epoch, self.step_count, self.lr, finite(train_loss),
                               finite(test_loss), finite(train_metric),
                               finite(test_metric)))

    def _halt(self, event: str, **info: Any) -> None:
        if event != "diverged":
            self.halted = True
        self.events.append({"event": event, "step": self.step_count, "epoch": self.epoch,
                            **info})

    def take_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events

    def set_lr(self) -> None:
        base = self.spec.optimizer.lr
        lr = base * lr_factor(self.spec.schedule, self.epoch, base)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def _new_order(self) -> torch.Tensor:
        order = torch.randperm(len(self.y_train), generator=self.shuffle_g)
        # .to() costs 0.7 us even where the order already is, 64 times an epoch side by side
        return order if self.device.type == "cpu" else order.to(self.device)

    # --- measurements ---------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Loss and metric (accuracy, or R^2 for regression) over a whole set, eval mode."""
        self.eval_mode()
        out = forward(self.model, x)
        loss = self.loss_fn(out, y)
        if self.spec.data.task == "regression":
            pred = out[:, 0]
            metric = 1 - (pred - y).pow(2).sum() / (y - y.mean()).pow(2).sum().clamp_min(1e-12)
        elif self.spec.output_dim == 1:
            metric = ((out[:, 0] > 0).long() == y).float().mean()
        else:
            metric = (out.argmax(dim=1) == y).float().mean()
        loss_value, metric_value = torch.stack((loss, metric)).tolist()
        return loss_value, metric_value

    def eval_row(self) -> EvalRow:
        """Losses and metrics of the history's evaluation row: the whole sets in eval mode; a
        large classification set's training figures are the mini-batches' of the epoch (the
        fixed frame sample's at step 0), see largedata.py."""
        test_loss, test_metric = self.evaluate(self.x_test, self.y_test)
        if not self.tallies:
            train_loss, train_metric = self.evaluate(self.x_train, self.y_train)
        elif not self._tally:
            n = FRAME_SAMPLE
            train_loss, train_metric = self.evaluate(self.x_train[:n], self.y_train[:n])
        else:
            losses, correct, sizes = zip(*self._tally, strict=True)
            weights = torch.tensor(sizes, dtype=losses[0].dtype, device=losses[0].device)
            total = sum(sizes)
            train_loss = float((torch.stack(losses) * weights).sum()) / total
            train_metric = float(torch.stack(correct).sum()) / total
        return train_loss, test_loss, train_metric, test_metric

    def tally(self, data_loss: torch.Tensor, out: torch.Tensor, y: torch.Tensor) -> None:
        """Keep one mini-batch's mean loss and correct predictions, as it trained, for the
        epoch's training figures: three small operations a step, nothing read back."""
        if self.spec.output_dim == 1:
            correct = ((out[:, 0] > 0).long() == y).sum()
        else:
            correct = (out.argmax(dim=1) == y).sum()
        self._tally.append((data_loss, correct, len(y)))

    def eval_mode(self) -> None:
        if self.model.training:  # .eval() recurses through every module: skip when already so
            self.model.eval()

    def train_mode(self) -> None:
        if not self.model.training:  # toggled only after an evaluation: .train() recurses
            self.model.train()

    def finite_model(self) -> bool:
        """Whether every weight is a number: a model that is not has no statistics to show."""
        params = [p.detach() for p in self.model.parameters()]
        # the max-abs norm of each is NaN or inf exactly when it holds one: one foreach call
        return not params or bool(torch.stack(torch._foreach_norm(params, math.inf))
                                  .isfinite().all())


def finite(value: float) -> float | None:
    """JSON has no NaN or inf: those become null."""
    return value if math.isfinite(value) else None

