"""What a run shows: its frame (losses, per-layer statistics, output view, neuron maps, link
weights), its summary for `ready`, its points, and its recording for a save.

Views only read a run, in eval mode or through hooks, and never step it or touch its random
generators, so taking frames never changes the run.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from torchplay.data.sources import TableView
from torchplay.data.toy import Points
from torchplay.engine import largedata, probes
from torchplay.engine.history import Cursor
from torchplay.engine.run import EvalRow, Run, finite


def frame(run: Run, path: str, path_reason: str | None, rate: float,
          settled: bool) -> dict[str, Any]:
    """Everything a frame shows now, except the history (which the stream adds). `path` is
    how the run's steps are computed ("eager", "traced", "batched", "compiled"), with the
    reason when a faster path is not taken; `rate` its steps per second; `settled`: the run
    has stopped (a large set's figures and image views are measured again then)."""
    sets = largedata.frame_sets(run.large, run.x_train, run.y_train, run.x_test, run.y_test)
    if run.figures is None or not run.large or run.figures_due.due(run.step_count, settled):
        run.figures = _measure(run, *sets)
        run.figures_due.mark(run.step_count)
    (train_loss, test_loss, train_metric, test_metric), dead_found = run.figures
    n = len(run.model)
    layers: dict[str, Any] = {column: [None] * n for column in probes.STEP_COLUMNS}
    finite_model = run.finite_model()
    if finite_model:  # a model with NaN or inf weights has no statistics, not zeros
        layers.update(run.last_layers or {})  # none before the first probed step
        layers.update(dead_fraction=[dead_found.get(i) for i in range(n)])
    else:
        layers.update(dead_fraction=[None] * n)
    layers.update(name=[probes.layer_name(m) for m in run.model])
    best = run.best
    return {
        "step": run.step_count, "epoch": run.epoch, "lr": run.lr,
        "diverged": run.diverged, "halted": run.halted,
        "path": path, "path_reason": path_reason,
        "steps_per_second": rate, "epochs_per_second": rate / run.steps_per_epoch,
        "metric": "r2" if run.spec.data.task == "regression" else "accuracy",
        "train_loss": finite(train_loss), "test_loss": finite(test_loss),
        "train_metric": finite(train_metric), "test_metric": finite(test_metric),
        "best": None if best is None else {
            "test_loss": best[0], "epoch": best[1], "step": best[2]},
        "evaluated_on": largedata.evaluated_on(run.large, len(run.y_train), len(run.y_test)),
        "layers": layers,
        "layers_step": run.layers_step if finite_model else None,
        # images (784 inputs) have no plane to draw: their views are `images`
        "output": None if run.points.image_shape else output_view(run),
        "neurons": [] if run.points.image_shape else neuron_maps(run),
        "links": probes.link_weights(run.model),
        "images": None if run.images is None else run.images.view(
            run.model, run.step_count, settled, sets[2], sets[3]),
    }


def _measure(run: Run, x_train: torch.Tensor, y_train: torch.Tensor, x_test: torch.Tensor,
             y_test: torch.Tensor) -> tuple[EvalRow, dict[int, float]]:
    """A frame's figures: train and test loss and metric, and each ReLU's dead share."""
    dead_found: dict[int, torch.Tensor] = {}
    hooks = probes.dead_hooks(run.model, dead_found)
    try:
        train_loss, train_metric = run.evaluate(x_train, y_train)
    finally:
        for hook in hooks:
            hook.remove()
    test_loss, test_metric = run.evaluate(x_test, y_test)
    dead = {i: v.item() for i, v in dead_found.items()}
    return (train_loss, test_loss, train_metric, test_metric), dead


@torch.no_grad()
def output_view(run: Run) -> dict[str, Any]:
    """The model's output over the data's window: a curve (1-D) or a quantised grid."""
    run.eval_mode()
    spec, points = run.spec, run.points
    extent, n = _extent(run), spec.probes.grid
    raw, grid_t = _grid(run, n, side_1d=n)
    out = probes.columns_forward(run.model, grid_t)[-1]  # (outputs, points)
    if spec.data.is_1d:
        return {"kind": "curve", "size": n, "x": raw[:, 0].tolist(),
                "y": [finite(v) for v in out[0].cpu().tolist()]}
    view: dict[str, Any] = {"size": n, "extent": list(extent)}
    if spec.data.task == "regression":
        lo, hi = float(points.train_y.min()), float(points.train_y.max())
        scaled = (out[0] - lo) / max(hi - lo, 1e-12)
        view.update(kind="value", low=lo, high=hi, values=probes.b64_bytes(
            probes.quantize_unit(scaled.nan_to_num(0.5))))
    elif spec.data.n_classes == 2:
        # sigmoid of the logit difference is softmax's class-1 probability, far cheaper
        logit = out[0] if spec.output_dim == 1 else out[1] - out[0]
        view.update(kind="probability", values=probes.b64_bytes(
            probes.quantize_unit(torch.sigmoid(logit).nan_to_num(0.5))))
    else:
        confidence, label = out.softmax(0).max(dim=0)
        view.update(kind="classes", classes=spec.data.n_classes,
                    values=probes.b64_bytes(label),
                    confidence=probes.b64_bytes(
                        probes.quantize_unit(confidence.nan_to_num(0))))
    return view


def neuron_maps(run: Run) -> list[dict[str, Any]]:
    side = run.spec.probes.neuron_grid
    _, grid_t = _grid(run, side, side_1d=side * 2)
    height, width = (1, side * 2) if run.spec.data.is_1d else (side, side)
    run.eval_mode()
    return probes.neuron_maps(run.model, grid_t, len(run.features.names), height, width)


def _grid(run: Run, n: int, side_1d: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw points of an n x n grid (or a line of side_1d points) over the data's window, and
    their features laid out (features, points) on the device; cached, as neither changes
    during a run."""
    key = (n, side_1d)
    if key not in run.grids:
        extent = _extent(run)
        raw = probes.line_points(extent, side_1d) if run.spec.data.is_1d else \
            probes.grid_points(extent, n)
        inputs = raw if run.view is None else torch.from_numpy(
            run.view.from_plane(raw.numpy()).astype("float32"))  # the plane, lifted
        run.grids[key] = (raw, run.features(inputs.to(run.device)).T.contiguous())
    return run.grids[key]


def _extent(run: Run) -> tuple[float, float, float, float]:
    """The window of the Output plane: the data's, or for D > 2 inputs the plane's."""
    return run.view.extent if run.view is not None else run.points.extent


def summary(run: Run) -> dict[str, Any]:
    """The model as the page's 'ready' message describes it; `device` is where the run
    trains (the device resolved, not the setting)."""
    layers = []
    for i, module in enumerate(run.model):
        params = sum(p.numel() for p in module.parameters())
        weight = getattr(module, "weight", None)
        shape = list(weight.shape) if isinstance(weight, nn.Parameter) else None
        layers.append({"index": i, "name": probes.layer_name(module), "parameters": params,
                       "weight_shape": shape})
    return {"parameters": sum(p.numel() for p in run.model.parameters()),
            "layers": layers, "device": str(run.device), "features": run.features.names,
            "task": run.spec.data.task, "classes": run.spec.data.n_classes,
            "class_names": run.points.class_names, "output_dim": run.spec.output_dim,
            "steps_per_epoch": run.steps_per_epoch}


MAX_SHOWN_POINTS = 5_000  # of each set, for tables: the page draws these


def dataset(run: Run) -> dict[str, Any]:
    """The raw points, for the page to draw under the boundary."""
    return points_data(run.points, run.view, run.spec.data.is_library)


def points_data(p: Points, view: TableView | None, library: bool) -> dict[str, Any]:
    """dataset() of a run's points and plane view (never changed in place: a new spec's data
    makes new ones), so a save can turn them to lists off the training thread."""
    if view is None:  # every point of a generated set, or a bounded sample of a library's
        return largedata.ready_data(p, library)
    # More than two inputs: the points as projected onto the plane, at most MAX_SHOWN_POINTS
    # of each set (they are shuffled, so the first are a fair sample).
    shown = MAX_SHOWN_POINTS
    plane = view.plane
    return {"train_x": view.to_plane(p.train_x[:shown]).round(4).tolist(),
            "train_y": p.train_y[:shown].tolist(),
            "test_x": view.to_plane(p.test_x[:shown]).round(4).tolist(),
            "test_y": p.test_y[:shown].tolist(), "extent": list(view.extent),
            "plane": {"labels": list(plane.labels), "explained": plane.explained,
                      "inputs": len(plane.origin), "train_points": len(p.train_y),
                      "test_points": len(p.test_y)},
            "class_names": p.class_names}


@dataclass
class Snapshot:
    """A run as it stood at one step, taken cheaply on its training thread (weights cloned,
    curves copied, counters, the frame built for it); finish() makes the recording from it on
    any other thread, so serialising a large run never holds a training thread."""

    spec: dict[str, Any]
    data: dict[str, Any]  # the recording's `run` but for its points
    points: Points
    view: TableView | None
    library: bool
    weights: dict[str, torch.Tensor]  # (CPU clones, keyed as the nn.Sequential names them)

    def finish(self) -> tuple[dict[str, Any], bytes]:
        """The recording: the spec and the run as JSON-ready data, and the weights as
        torch.save'd state_dict bytes."""
        data = {**self.data, "data": points_data(self.points, self.view, self.library)}
        return {"spec": self.spec, "run": data}, saved_weights([self.weights])


def snapshot(run: Run, shown: dict[str, Any]) -> Snapshot:
    """The run as it stands, to save: its counters, complete curves (copied), `shown` (this
    moment's frame), the model summary, and its weights cloned to the CPU."""
    history, _ = run.history.since(Cursor())
    del history["replace"]
    data = {"step": run.step_count, "epoch": run.epoch,
            "spec_changed_at_step": run.spec_changed_at, "weight_edits": run.weight_edits,
            "summary": summary(run), "frame": shown, "history": history}
    weights = {k: v.detach().to("cpu", copy=True) for k, v in run.model.state_dict().items()}
    return Snapshot(run.spec.model_dump(mode="json"), data, run.points, run.view,
                    run.spec.data.is_library, weights)


def recording(run: Run, shown: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
    """The run as it stands, to save (a snapshot finished at once)."""
    return snapshot(run, shown).finish()


def saved_weights(state_dicts: list[dict[str, torch.Tensor]]) -> bytes:
    """torch.save'd bytes of a lone run's state_dict, or for runs side by side a list of
    their state_dicts, in order (what a saved experiment's weights.pt holds)."""
    buffer = io.BytesIO()
    torch.save(state_dicts[0] if len(state_dicts) == 1 else state_dicts, buffer)
    return buffer.getvalue()
