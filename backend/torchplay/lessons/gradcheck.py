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

from torchplay.engine.build import SeededDropout, make_loss
from torchplay.engine.probes import layer_name
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec

CPU = torch.device("cpu")


def gradient_check(source: ExperimentSpec | TrainingSession, points: int = 8,
                   eps: float = 1e-6) -> list[dict[str, Any]]:
    """Per parameter tensor of the model: {layer, module, name, numel, grad_norm,
    max_abs_diff, rel_diff, below_resolution}, comparing autograd with central differences
    (L(w + eps) - L(w - eps)) / (2 eps).

    A spec is built into a fresh session on the CPU (its initial weights are checked); a
    session is checked at its current weights.
    """
    session = source if isinstance(source, TrainingSession) else TrainingSession(source, CPU)
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
        return loss_fn(model(x), y)

    model.zero_grad(set_to_none=True)
    value = loss()
    value.backward()
    # One rounding step of the loss, seen through the finite difference, times a margin of 10:
    # a gradient element below this is indistinguishable from 0.
    resolution = 10 * abs(value.item()) * torch.finfo(torch.float64).eps / (2 * eps)
    report = []
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
                report.append(_compare(index, module, name, numeric, auto, resolution))
    return report


MAX_CHECKED_PARAMETERS = 5_000  # two forward passes each: ~0.4 s, the worker held meanwhile


def check_now(session: TrainingSession, points: int = 8) -> dict[str, Any]:
    """The gradient check of a live session at its current step, as the page shows it:
    {step, layers: gradient_check's rows, max_rel_diff}. Refuses (ValueError) a model too big
    to check one parameter at a time."""
    count = sum(p.numel() for p in session.model.parameters())
    if count > MAX_CHECKED_PARAMETERS:
        raise ValueError(f"the model has {count:,} parameters; a gradient check perturbs them "
                         f"one at a time and is limited to {MAX_CHECKED_PARAMETERS:,}")
    rows = gradient_check(session, points)
    return {"step": session.step_count, "layers": rows,
            "max_rel_diff": max((row["rel_diff"] for row in rows), default=0.0)}


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
