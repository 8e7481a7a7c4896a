"""Gradient checking: autograd's gradients against central finite differences (lesson 19).

The check runs on a float64 copy of the session's current model, so the run itself is not
touched, on a fixed batch (the first `points` training points), and differentiates the data
loss (the L1/L2 penalties are closed-form, and L1's kink at 0 would spoil a finite difference).

Two choices make the checked function deterministic and the same one training differentiates:
- Dropout is switched off (p = 0): a fresh random mask in each of the two evaluations of a
  finite difference would make it meaningless.
- BatchNorm stays in train mode, normalising with the batch's own statistics. That is the
  function whose gradient training uses, including the terms that flow through the batch mean
  and variance (the part of BatchNorm's backward most worth checking). Eval mode would check a
  different, simpler function: a fixed affine map with the running statistics. The running
  statistics of the copy do move with each forward pass; train-mode outputs never read them.

Per parameter tensor the report gives max |g_num - g_auto| and the relative difference
||g_num - g_auto|| / (||g_num|| + ||g_auto||). With eps = 1e-6 in float64 the truncation error
is O(eps^2) ~ 1e-12 and the rounding error ~1e-16 / eps ~ 1e-10 per element, so a correct
backward pass gives relative differences around 1e-9, far below the 1e-7 the lesson asks for;
a wrong one gives 1e-3 or more. Kinks (ReLU inputs within eps of 0) can spoil single elements.

The check also looks at the gradient that trains: the run's own path (the traced replay, the
batched or compiled step, or eager float32 autograd) computes its float32 gradient on the same
batch, and the report gives its relative difference from the float64 autograd gradient
(path_rel_diff). float32 carries ~7 significant digits, so a right path stays below
PATH_TOLERANCE (1e-4; typically 1e-7 to 1e-6), and a wrong one (a replay that scaled a
gradient by 1.5, say) is far above it.

BatchNorm in train mode needs at least two points (one point has no batch variance): with
`points: 1` such a model is refused before the check starts (CheckRefused, field `points`).

A tensor whose true gradient is exactly 0 (a Linear's bias right before BatchNorm: subtracting
the batch mean cancels it) would divide rounding noise by ~0. Where both norms are below what a
finite difference can resolve (one rounding step of the loss / 2 eps, times 10), the report
says below_resolution and gives rel_diff 0.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

from torchplay.engine.build import SeededDropout, forward, make_loss
from torchplay.engine.group import Training
from torchplay.engine.probes import layer_name
from torchplay.engine.run import Run
from torchplay.spec.model import ExperimentSpec

CPU = torch.device("cpu")
PATH_TOLERANCE = 1e-4  # the training path's float32 gradient against float64 autograd


class CheckRefused(ValueError):
    """A gradient check that cannot be made, and the field of the request that says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def gradient_check(source: ExperimentSpec | Run | Any, points: int = 8, eps: float = 1e-6,
                   path_grads: list[torch.Tensor] | None = None) -> list[dict[str, Any]]:
    """Per parameter tensor of the model: {layer, module, name, numel, grad_norm,
    max_abs_diff, rel_diff, below_resolution}, comparing autograd with central differences
    (L(w + eps) - L(w - eps)) / (2 eps); with path_grads (the training path's float32
    gradients on the same points, in parameter order) also path_rel_diff and path_ok.

    A spec is built into a fresh run on the CPU (its initial weights are checked); a run (or
    a TrainingSession) is checked at its current weights.
    """
    session = Run(source, CPU) if isinstance(source, ExperimentSpec) else source
    refuse_batch_of_one(session.model, points)
    model = copy.deepcopy(session.model).to(CPU, torch.float64)
    for module in model.modules():
        if isinstance(module, SeededDropout):
            module.p = 0.0  # no mask: the function must be the same at w+eps and w-eps
    model.train()  # BatchNorm on batch statistics: see the module docstring
    x = session.x_train[:points].to(CPU, torch.float64)
    y = session.y_train[:points].to(CPU)
    y = y.double() if y.is_floating_point() else y
    loss_fn = make_loss(session.spec.loss)  # float64 model: float64 loss throughout

    def loss() -> torch.Tensor:
        return loss_fn(forward(model, x), y)

    model.zero_grad(set_to_none=True)
    value = loss()
    value.backward()
    # One rounding step of the loss, seen through the finite difference, times a margin of 10:
    # a gradient element below this is indistinguishable from 0.
    resolution = 10 * abs(value.item()) * torch.finfo(torch.float64).eps / (2 * eps)
    report = []
    path = iter(path_grads) if path_grads is not None else None
    with torch.no_grad():
        for index, module in enumerate(model):
            for name, param in module.named_parameters(recurse=False):
                assert param.grad is not None
                auto = param.grad.detach().clone()
                numeric = torch.empty_like(param)
                flat, grad = param.view(-1), numeric.view(-1)
                for j in range(flat.numel()):
                    kept = flat[j].item()
                    flat[j] = kept + eps
                    up = loss().item()
                    flat[j] = kept - eps
                    down = loss().item()
                    flat[j] = kept
                    grad[j] = (up - down) / (2 * eps)
                row = _compare(index, module, name, numeric, auto, resolution)
                if path is not None:
                    row.update(_compare_path(next(path), auto, row["below_resolution"]))
                report.append(row)
    return report


def refuse_batch_of_one(model: nn.Module, points: int) -> None:
    if points < 2 and any(isinstance(m, nn.BatchNorm1d) for m in model.modules()):
        raise CheckRefused("points", "a model with BatchNorm needs points >= 2 (one point has "
                           "no batch variance to normalise with)")


def _compare_path(path: torch.Tensor, auto: torch.Tensor, unresolved: bool) -> dict[str, Any]:
    path64 = path.detach().to(CPU, torch.float64)
    scale = (path64.norm() + auto.norm()).item()
    rel = 0.0 if unresolved or scale == 0 else (path64 - auto).norm().item() / scale
    return {"path_rel_diff": rel, "path_ok": rel < PATH_TOLERANCE}


MAX_CHECKED_PARAMETERS = 5_000  # two forward passes each: ~0.4 s, the worker held meanwhile


def check_now(training: Training, variant: int = 0, points: int = 8) -> dict[str, Any]:
    """The gradient check of a live run at its current step, as the page shows it: {step,
    path, layers: gradient_check's rows, max_rel_diff, max_path_rel_diff, path_tolerance}.
    Refuses (CheckRefused) a model too big to check one parameter at a time, and `points: 1`
    with BatchNorm."""
    run = training.current(variant)
    count = sum(p.numel() for p in run.model.parameters())
    if count > MAX_CHECKED_PARAMETERS:
        raise CheckRefused("type", f"the model has {count:,} parameters; a gradient check "
                           f"perturbs them one at a time and is limited to "
                           f"{MAX_CHECKED_PARAMETERS:,}")
    refuse_batch_of_one(run.model, points)
    path_grads = training.gradients(variant, run.x_train[:points], run.y_train[:points])
    rows = gradient_check(run, points, path_grads=path_grads)
    return {"step": run.step_count, "path": training.path(variant)[0], "layers": rows,
            "max_rel_diff": max((row["rel_diff"] for row in rows), default=0.0),
            "max_path_rel_diff": max((row["path_rel_diff"] for row in rows), default=0.0),
            "path_tolerance": PATH_TOLERANCE}


def _compare(index: int, module: nn.Module, name: str, numeric: torch.Tensor,
             auto: torch.Tensor, resolution: float) -> dict[str, Any]:
    diff = numeric - auto
    scale = (numeric.norm() + auto.norm()).item()
    # Both below what a finite difference can resolve: they agree as far as can be told.
    unresolved = scale < resolution * numeric.numel() ** 0.5
    return {"layer": index, "module": layer_name(module), "name": name,
            "numel": numeric.numel(), "grad_norm": auto.norm().item(),
            "max_abs_diff": diff.abs().max().item(),
            "rel_diff": 0.0 if unresolved else diff.norm().item() / scale,
            "below_resolution": unresolved}
