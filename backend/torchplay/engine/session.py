"""TrainingSession: one experiment's data, model and optimizer, trained step by step.

It knows no HTTP and no threads: one caller at a time drives it (the runner's worker, a test,
a script). Same spec + seed + device gives the same run, step for step, however often frames
are taken: probes watch real steps or run in eval mode, and every random draw comes from the
session's own generators.
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from torchplay.data.cache import SHARED
from torchplay.data.columns import make_features
from torchplay.data.library import points_for
from torchplay.engine import largedata, probes
from torchplay.engine.build import (
    build_model,
    linear_weights,
    lr_factor,
    make_loss,
    make_optimizer,
    optimizer_options,
)
from torchplay.engine.history import Cursor, History
from torchplay.engine.imageviews import ImageViews
from torchplay.engine.steppers.traced import TracedStep, traceable
from torchplay.spec.model import ExperimentSpec, SpecError


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


class TrainingSession:
    """The training loop of one experiment, with its controls and measurements."""

    def __init__(self, spec: ExperimentSpec, device: torch.device | None = None,
                 traced: bool = True) -> None:
        """traced=False keeps every step eager (the plain path the traced one is tested on)."""
        self.spec = spec
        self.allow_traced = traced
        self.device = device or resolve_device(spec.training.device)
        self.points = points_for(spec.data)  # library sets: views of one shared copy
        raw_train = torch.from_numpy(self.points.train_x)
        self.features = make_features(spec, self.points, raw_train)
        self.large = largedata.is_large(self.points)  # see largedata.py's frame contract
        shape, names = self.points.image_shape, self.points.class_names
        self.images = ImageViews(shape, names) if shape and names else None
        self._figures: tuple[tuple[float, float, float, float], dict[int, float]] | None = None
        self._figures_due = largedata.Throttle(1 / largedata.FIGURES_PER_SECOND)
        # A large set's tensors are views of the process's one copy: shared on a GPU too.
        to = SHARED.on_device if self.large else lambda t, device: t.to(device)
        self.x_train = to(self.features(raw_train), self.device)  # (N_train, F)
        self.x_test = to(self.features(torch.from_numpy(self.points.test_x)), self.device)
        self.y_train = to(torch.from_numpy(self.points.train_y), self.device)
        self.y_test = to(torch.from_numpy(self.points.test_y), self.device)
        self.history = History()
        self._grids: dict[tuple[int, int], tuple[torch.Tensor, torch.Tensor]] = {}
        self.events: list[dict[str, Any]] = []
        self.reset()

    # --- controls -------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to step 0: fresh weights from the seed, empty history; the spec is kept."""
        seed = self.spec.training.seed
        self.dropout_g = torch.Generator(device=self.device).manual_seed(seed + 1)
        self.shuffle_g = torch.Generator().manual_seed(seed + 2)
        self.model = build_model(self.spec, torch.Generator().manual_seed(seed),
                                 self.dropout_g).to(self.device)
        self.loss_fn = make_loss(self.spec.loss)
        self.optimizer = make_optimizer(self.spec, self.model)
        self.use_traced = self.allow_traced and traceable(self.model)
        self._has_norm = any(isinstance(m, nn.BatchNorm1d) for m in self.model)
        self._traced: TracedStep | None = None
        self.step_count = 0
        self.epoch = 0
        self._order = self._new_order()
        self._gathered: tuple[torch.Tensor | None, torch.Tensor, torch.Tensor] = (
            None, self.x_train, self.y_train)
        self._position = 0
        self.running = False
        self.pending_steps = 0
        self.epoch_target: int | None = None
        self.diverged = False
        self._best: tuple[float, int, int] | None = None  # test loss, epoch, step
        self._stopped_at = 0  # epoch of the last early stop
        self.last_layers: dict[str, list[float | None]] | None = None
        self._rate_mark = (time.perf_counter(), 0)
        self.spec_changed_at: int | None = None  # first step trained under an updated spec
        if self.images is not None:
            self.images.reset()
        self._figures_due.reset()
        self.history.clear()
        self._set_lr()
        self._record_eval()

    def update(self, new_spec: ExperimentSpec) -> None:
        """Take a spec that differs only in live fields (spec.apply_patch checks that):
        model, step count and history stay."""
        old, self.spec = self.spec, new_spec
        if self.step_count > 0 and self.spec_changed_at is None:
            self.spec_changed_at = self.step_count  # the spec alone no longer replays this run
        if new_spec.optimizer.kind != old.optimizer.kind:
            self.optimizer = make_optimizer(new_spec, self.model)
        elif new_spec.optimizer != old.optimizer:
            for group in self.optimizer.param_groups:
                group.update(optimizer_options(new_spec.optimizer))
        if (new_spec.regularization, new_spec.loss) != (old.regularization, old.loss):
            self._traced = None  # the penalty and the loss are recorded into the traced step
        self._set_lr()

    def request(self, n: int, unit: str = "step") -> None:
        """Ask for n more steps, or for training up to n more epoch boundaries."""
        if unit == "epoch":
            self.epoch_target = self.epoch + n
        else:
            self.pending_steps += n

    @property
    def wants_work(self) -> bool:
        if self.diverged:
            return False
        return self.running or self.pending_steps > 0 or (
            self.epoch_target is not None and self.epoch < self.epoch_target)

    @property
    def epoch_length(self) -> int:
        """Points an epoch uses. BatchNorm cannot normalise a batch of one point, so when the
        last batch would hold one, that point sits this epoch out (the next shuffle differs)."""
        n = len(self.y_train)
        return n - 1 if self._has_norm and n % self.batch_size == 1 else n

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.epoch_length / self.batch_size)

    @property
    def batch_size(self) -> int:
        return min(self.spec.training.batch_size, len(self.y_train))

    @property
    def lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    # --- training -------------------------------------------------------------------------

    def step(self, probe: bool = False) -> None:
        """One optimizer step on the next mini-batch; with probe, also measure every layer."""
        if self.diverged:
            return
        size = self.batch_size
        if self.large:  # by index: no shuffled copy of the whole set per run
            batch = self._order[self._position:self._position + size]
            x, y = self.x_train[batch], self.y_train[batch]
        else:
            x_epoch, y_epoch = self._shuffled()
            x = x_epoch[self._position:self._position + size]
            y = y_epoch[self._position:self._position + size]
        traced = None if probe else self._traced_step(x, y)
        watch = None
        if traced is not None:
            data_loss, loss, grads = traced(x, y)
            has_penalty = self._penalty_on
            traced.update(self.optimizer, grads)
        else:
            if not self.model.training:  # toggled only after an evaluation: .train() recurses
                self.model.train()
            watch = probes.StepProbe(self.model) if probe else None
            data_loss = self.loss_fn(self.model(x), y)
            penalty = self._penalty(linear_weights(self.model))
            has_penalty = penalty is not None
            loss = data_loss if penalty is None else data_loss + penalty
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if watch:
                watch.after_backward()
            self.optimizer.step()
        if watch:
            self.last_layers = watch.finish()
        if not has_penalty:
            value = total = loss.item()
        else:
            value, total = torch.stack((data_loss.detach(), loss.detach())).tolist()
        self.step_count += 1
        if self.pending_steps:
            self.pending_steps -= 1
        self._position += size
        if not (math.isfinite(value) and math.isfinite(total)):
            self._diverge(total if math.isfinite(value) else value)
            return
        self.history.add_step(self.step_count, value)
        if self._position >= self.epoch_length:
            self._end_epoch()

    def _shuffled(self) -> tuple[torch.Tensor, torch.Tensor]:
        """This epoch's training set in its shuffled order, gathered once an epoch, so that a
        step takes its batch as a slice (a view) rather than gathering it."""
        order, x, y = self._gathered
        if order is not self._order:  # a new epoch (or a RunGroup reshuffled this session)
            order, x, y = self._order, self.x_train[self._order], self.y_train[self._order]
            self._gathered = order, x, y
        return x, y

    @property
    def _penalty_on(self) -> bool:
        return bool(self.spec.regularization.l1 or self.spec.regularization.l2)

    def _penalty(self, weights: Sequence[torch.Tensor]) -> torch.Tensor | None:
        """The L1 and L2 terms added to the loss, or None when both are off. Both the eager
        and the traced step call it, so that they compute the same sums in the same order."""
        reg = self.spec.regularization
        terms = []
        if reg.l1:
            terms.append(reg.l1 * sum(w.abs().sum() for w in weights))
        if reg.l2:
            terms.append(reg.l2 * sum(w.pow(2).sum() for w in weights))
        return sum(terms) if terms else None  # type: ignore[return-value]

    def _traced_step(self, x: torch.Tensor, y: torch.Tensor) -> TracedStep | None:
        """The replayed step (see traced.py), prepared for this batch, once the first epoch
        has run eagerly, for models that allow it; None means: step eagerly."""
        if not self.use_traced or self.epoch == 0:
            return None
        try:
            if self._traced is None:
                self._traced = TracedStep(self.model, self.loss_fn, self._penalty)
            self._traced.prepare(x, y)
        except Exception:  # a model the recorder cannot follow still trains, eagerly
            self.use_traced, self._traced = False, None
            return None
        return self._traced

    def _end_epoch(self) -> None:
        self.epoch += 1
        self._order = self._new_order()
        self._position = 0
        self._set_lr()
        test_loss = self._record_eval()
        limit = self.spec.training.epochs
        if limit is not None and self.epoch == limit:
            self._halt("finished")
        elif self._early_stop(test_loss):
            self._halt("early_stopped")
        if self.epoch_target is not None and self.epoch >= self.epoch_target:
            self.epoch_target = None

    def _early_stop(self, test_loss: float) -> bool:
        if self._best is None or test_loss < self._best[0]:
            self._best = (test_loss, self.epoch, self.step_count)
        stopping = self.spec.regularization.early_stopping
        # Patience counts from the best epoch, or from the last stop when a person resumed.
        since = max(self._best[1], self._stopped_at)
        return stopping.enabled and self.epoch - since >= stopping.patience

    def _halt(self, event: str) -> None:
        """Stop running (a later resume may go on) and tell why."""
        self.running = False
        self.pending_steps = 0
        self.epoch_target = None
        info: dict[str, Any] = {"event": event, "step": self.step_count, "epoch": self.epoch}
        if event == "early_stopped":
            self._stopped_at = self.epoch
        if event == "early_stopped" and self._best is not None:
            info.update(best_test_loss=self._best[0], best_epoch=self._best[1],
                        best_step=self._best[2])
        self.events.append(info)

    def _diverge(self, value: float) -> None:
        self.diverged = True
        self._halt("diverged")
        self.events[-1]["message"] = (f"loss became {value} at step {self.step_count}; "
                                      "lower the learning rate or reset")

    def _new_order(self) -> torch.Tensor:
        order = torch.randperm(len(self.y_train), generator=self.shuffle_g)
        # .to() costs 0.7 us even where the order already is, 64 times an epoch side by side
        return order if self.device.type == "cpu" else order.to(self.device)

    def _set_lr(self) -> None:
        base = self.spec.optimizer.lr
        lr = base * lr_factor(self.spec.schedule, self.epoch, base)
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    # --- measurements ---------------------------------------------------------------------

    @torch.no_grad()
    def evaluate(self, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
        """Loss and metric (accuracy, or R^2 for regression) over a whole set, eval mode."""
        self._eval_mode()
        out = self.model(x)
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

    def _record_eval(self) -> float:
        train_loss, train_metric = self.evaluate(self.x_train, self.y_train)
        test_loss, test_metric = self.evaluate(self.x_test, self.y_test)
        self.history.add_eval((self.epoch, self.step_count, self.lr, _finite(train_loss),
                               _finite(test_loss), _finite(train_metric),
                               _finite(test_metric)))
        return test_loss

    def summary(self) -> dict[str, Any]:
        """The model as the page's 'ready' message describes it."""
        layers = []
        for i, module in enumerate(self.model):
            params = sum(p.numel() for p in module.parameters())
            weight = getattr(module, "weight", None)
            shape = list(weight.shape) if isinstance(weight, nn.Parameter) else None
            layers.append({"index": i, "name": probes.layer_name(module), "parameters": params,
                           "weight_shape": shape})
        return {"parameters": sum(p.numel() for p in self.model.parameters()),
                "layers": layers, "device": str(self.device), "features": self.features.names,
                "task": self.spec.data.task, "classes": self.spec.data.n_classes,
                "output_dim": self.spec.output_dim, "steps_per_epoch": self.steps_per_epoch}

    def frame(self) -> dict[str, Any]:
        """Everything a frame shows now, except the history (which the stream adds)."""
        now = time.perf_counter()
        mark_time, mark_step = self._rate_mark
        rate = (self.step_count - mark_step) / (now - mark_time) if now > mark_time else 0.0
        self._rate_mark = (now, self.step_count)
        x_train, y_train, x_test, y_test = largedata.frame_sets(
            self.large, self.x_train, self.y_train, self.x_test, self.y_test)
        settled = not self.wants_work
        if self._figures is None or not self.large or self._figures_due.due(self.step_count,
                                                                               settled):
            self._figures = self._measure(x_train, y_train, x_test, y_test)
            self._figures_due.mark(self.step_count)
        (train_loss, train_metric, test_loss, test_metric), dead = self._figures
        n = len(self.model)
        layers: dict[str, Any] = {column: [None] * n for column in probes.STEP_COLUMNS}
        layers.update(self.last_layers or {})  # none before the first probed step
        layers.update(name=[probes.layer_name(m) for m in self.model],
                      dead_fraction=[dead.get(i) for i in range(n)])
        return {
            "step": self.step_count, "epoch": self.epoch, "lr": self.lr,
            "running": self.running and not self.diverged, "diverged": self.diverged,
            "steps_per_second": rate, "epochs_per_second": rate / self.steps_per_epoch,
            "metric": "r2" if self.spec.data.task == "regression" else "accuracy",
            "train_loss": _finite(train_loss), "test_loss": _finite(test_loss),
            "train_metric": _finite(train_metric), "test_metric": _finite(test_metric),
            "best": None if self._best is None else {
                "test_loss": self._best[0], "epoch": self._best[1], "step": self._best[2]},
            "evaluated_on": largedata.evaluated_on(self.large, len(self.y_train),
                                                   len(self.y_test)),
            "layers": layers,
            # D > 2 inputs have no plane to draw yet (data16's projection will give one)
            "output": None if self.spec.data.is_library else self._output_view(),
            "neurons": [] if self.spec.data.is_library else self._neuron_maps(),
            "links": probes.link_weights(self.model),
            "images": None if self.images is None else self.images.view(
                self.model, self.step_count, settled, x_test, y_test),
        }

    def _measure(self, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
                 y_test: torch.Tensor) -> tuple[tuple[float, float, float, float],
                                                dict[int, float]]:
        """A frame's figures: train and test loss and metric, and each ReLU's dead share."""
        dead_found: dict[int, torch.Tensor] = {}
        hooks = probes.dead_hooks(self.model, dead_found)
        try:
            train_loss, train_metric = self.evaluate(x_train, y_train)
        finally:
            for hook in hooks:
                hook.remove()
        test_loss, test_metric = self.evaluate(x_test, y_test)
        dead = {i: v.item() for i, v in dead_found.items()}
        return (train_loss, train_metric, test_loss, test_metric), dead

    def frames(self) -> list[dict[str, Any]]:
        """This run's frames: one (a RunGroup has one per variant)."""
        return [self.frame()]

    @property
    def histories(self) -> list[History]:
        return [self.history]

    @torch.no_grad()
    def _output_view(self) -> dict[str, Any]:
        """The model's output over the data's window: a curve (1-D) or a quantised grid."""
        self._eval_mode()
        extent, n = self.points.extent, self.spec.probes.grid
        raw, grid_t = self._grid(n, side_1d=n)
        out = probes.columns_forward(self.model, grid_t)[-1]  # (outputs, points)
        if self.spec.data.is_1d:
            return {"kind": "curve", "size": n, "x": raw[:, 0].tolist(),
                    "y": [_finite(v) for v in out[0].cpu().tolist()]}
        view: dict[str, Any] = {"size": n, "extent": list(extent)}
        if self.spec.data.task == "regression":
            lo, hi = float(self.points.train_y.min()), float(self.points.train_y.max())
            scaled = (out[0] - lo) / max(hi - lo, 1e-12)
            view.update(kind="value", low=lo, high=hi, values=probes.b64_bytes(
                probes.quantize_unit(scaled.nan_to_num(0.5))))
        elif self.spec.data.n_classes == 2:
            # sigmoid of the logit difference is softmax's class-1 probability, far cheaper
            logit = out[0] if self.spec.output_dim == 1 else out[1] - out[0]
            view.update(kind="probability", values=probes.b64_bytes(
                probes.quantize_unit(torch.sigmoid(logit).nan_to_num(0.5))))
        else:
            confidence, label = out.softmax(0).max(dim=0)
            view.update(kind="classes", classes=self.spec.data.n_classes,
                        values=probes.b64_bytes(label),
                        confidence=probes.b64_bytes(
                            probes.quantize_unit(confidence.nan_to_num(0))))
        return view

    def _neuron_maps(self) -> list[dict[str, Any]]:
        side = self.spec.probes.neuron_grid
        _, grid_t = self._grid(side, side_1d=side * 2)
        height, width = (1, side * 2) if self.spec.data.is_1d else (side, side)
        self._eval_mode()
        return probes.neuron_maps(self.model, grid_t, len(self.features.names), height, width)

    def _eval_mode(self) -> None:
        if self.model.training:  # .eval() recurses through every module: skip when already so
            self.model.eval()

    def _grid(self, n: int, side_1d: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw points of an n x n grid (or a line of side_1d points) over the data's window,
        and their features laid out (features, points) on the device; cached, as neither
        changes during a run."""
        key = (n, side_1d)
        if key not in self._grids:
            extent = self.points.extent
            raw = probes.line_points(extent, side_1d) if self.spec.data.is_1d else \
                probes.grid_points(extent, n)
            self._grids[key] = (raw, self.features(raw.to(self.device)).T.contiguous())
        return self._grids[key]

    def dataset(self) -> dict[str, Any]:
        """The raw points, for the page to draw under the boundary (a bounded sample of a
        library set's)."""
        return largedata.ready_data(self.points, self.spec.data.is_library)

    def recording(self) -> tuple[dict[str, Any], bytes]:
        """The run as it stands, to save: its spec and the run as JSON-ready data (complete
        curves, this moment's frame, the model summary and the points), and the weights as
        torch.save'd state_dict bytes (CPU tensors, keyed as the nn.Sequential names them)."""
        history, _ = self.history.since(Cursor())
        del history["replace"]
        run = {"step": self.step_count, "epoch": self.epoch,
               "spec_changed_at_step": self.spec_changed_at, "summary": self.summary(),
               "data": self.dataset(), "frame": self.frame(), "history": history}
        buffer = io.BytesIO()
        torch.save({k: v.detach().cpu() for k, v in self.model.state_dict().items()}, buffer)
        return {"spec": self.spec.model_dump(mode="json"), "run": run}, buffer.getvalue()

    def take_events(self) -> list[dict[str, Any]]:
        events, self.events = self.events, []
        return events


def _finite(value: float) -> float | None:
    """JSON has no NaN or inf: those become null."""
    return value if math.isfinite(value) else None
