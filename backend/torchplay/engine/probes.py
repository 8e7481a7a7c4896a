"""Measurements of a model, taken only when a frame is due.

Two sources, kept apart so that measuring never changes the run:
- StepProbe watches one real training step (train mode: dropout on, BatchNorm on batch
  statistics): per-layer activation mean and variance of that mini-batch, gradient norms after
  backward, and the update-to-weight ratio of the optimizer step.
- The eval-mode functions (no_grad, no RNG drawn, no running statistics touched): losses and
  metrics over whole sets, dead units over the training set, the boundary grid, neuron maps.
"""

from __future__ import annotations

import base64
import weakref
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from torchplay.engine.build import SeededDropout, call

RELU_FAMILY = (nn.ReLU, nn.LeakyReLU, nn.PReLU)
MAX_MAP_UNITS = 32  # neuron maps per column; wider layers are not drawn neuron by neuron
MAX_LINK_WEIGHTS = 4096  # weights sent for the diagram's links, per Linear layer
SMALL_MOMENTS = 1024  # elements up to which one var_mean beats two passes (8 us against 9)
STEP_COLUMNS = ("act_mean", "act_var", "grad_norm_weight", "grad_norm_bias", "weight_norm",
                "update_ratio")  # what StepProbe.finish measures, per layer


def layer_name(module: nn.Module) -> str:
    """A short label for the charts' legends."""
    match module:
        case nn.Linear():
            return f"linear {module.out_features}"
        case SeededDropout():
            return f"dropout {module.p:g}"
        case nn.BatchNorm1d():
            return "batchnorm"
        case nn.LayerNorm():
            return "layernorm"
    return type(module).__name__.lower()


def _params(module: nn.Module) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    weight = getattr(module, "weight", None)
    bias = getattr(module, "bias", None)
    return (weight if isinstance(weight, nn.Parameter) else None,
            bias if isinstance(bias, nn.Parameter) else None)


class StepProbe:
    """Context for one probed training step: forward hooks, then gradients, then the update.

    Hooks only keep each module's output; norms are taken with one foreach call per kind and
    everything is read back with one transfer, so a probed step costs little more than a bare
    one.
    """

    def __init__(self, model: nn.Sequential, hooks: bool = True) -> None:
        """hooks=False: the step is replayed (traced.py), so no module runs; `observe` then
        takes the outputs instead."""
        self.model = model
        self.outputs: list[torch.Tensor | None] = [None] * len(model)
        self._handles = [m.register_forward_hook(self._hook(i))
                         for i, m in enumerate(model)] if hooks else []
        params = [_params(m) for m in model]
        self.with_weight = [i for i, (w, _) in enumerate(params) if w is not None]
        self.with_bias = [i for i, (_, b) in enumerate(params) if b is not None]
        self.weights = [params[i][0] for i in self.with_weight]
        self.biases = [params[i][1] for i in self.with_bias]
        self.before = _copies(model, [w.detach() for w in self.weights])
        self.grad_norms: list[torch.Tensor] = []

    def _hook(self, index: int) -> Callable[..., None]:
        def record(_m: nn.Module, _inputs: object, output: torch.Tensor) -> None:
            self.outputs[index] = output.detach()
        return record

    @torch.no_grad()
    def observe(self, x: torch.Tensor) -> None:
        """Every module's output on batch x, before the update: for a replayed step, whose
        model has no Dropout or BatchNorm (traced.py), these are the very values its forward
        computes, by the same kernels."""
        for i, module in enumerate(self.model):
            x = call(module, x)
            self.outputs[i] = x

    def after_backward(self) -> None:
        """Gradient norms of each layer's weight and bias, read before the optimizer moves."""
        for handle in self._handles:
            handle.remove()
        grads = [p.grad if p.grad is not None else torch.zeros_like(p)
                 for p in self.weights + self.biases]
        self.grad_norms = list(torch._foreach_norm(grads)) if grads else []

    def finish(self) -> dict[str, list[float | None]]:
        """Per-layer columns after the optimizer step (dead fractions are added at frame time).
        """
        weights = [w.detach() for w in self.weights]
        recorded = [i for i, o in enumerate(self.outputs) if o is not None]
        moments = [t for i in recorded  # mean, then variance, of each recorded output
                   for t in _moments(self.outputs[i])]
        deltas = torch._foreach_sub(weights, self.before) if weights else []
        groups = [moments, self.grad_norms, _norms(weights), _norms(self.before), _norms(deltas)]
        flat = torch.stack([t for g in groups for t in g]).tolist()  # one read-back in all
        values = []
        for group in groups:
            values.append(flat[:len(group)])
            flat = flat[len(group):]
        moment, grads, w_norm, before_norm, delta_norm = values
        n_w = len(weights)

        def spread(indices: list[int], column_values: list[float]) -> list[float | None]:
            column: list[float | None] = [None] * len(self.model)
            for i, v in zip(indices, column_values, strict=True):
                column[i] = v
            return column

        return {"act_mean": spread(recorded, moment[0::2]),
                "act_var": spread(recorded, moment[1::2]),
                "grad_norm_weight": spread(self.with_weight, grads[:n_w]),
                "grad_norm_bias": spread(self.with_bias, grads[n_w:]),
                "weight_norm": spread(self.with_weight, w_norm),
                "update_ratio": spread(self.with_weight, [
                    d / b if b > 0 else None for d, b in zip(delta_norm, before_norm,
                                                             strict=True)])}


_BEFORE: weakref.WeakKeyDictionary[nn.Module, list[torch.Tensor]] = weakref.WeakKeyDictionary()


def _copies(model: nn.Module, weights: list[torch.Tensor]) -> list[torch.Tensor]:
    """The weights copied into buffers kept per model: a fresh 0.8 MB copy each probed step
    cost ~0.4 ms in page faults on Fashion-MNIST's first layer, a tenth of its step."""
    kept = _BEFORE.get(model)
    if kept is None or [k.shape for k in kept] != [w.shape for w in weights] or \
            any(k.device != w.device or k.dtype != w.dtype
                for k, w in zip(kept, weights, strict=True)):
        kept = _BEFORE[model] = [torch.empty_like(w) for w in weights]
    if weights:
        torch._foreach_copy_(kept, weights)
    return kept


def _moments(t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population variance over every element. torch.var_mean's single-pass
    reduction over a whole 256 x 256 batch takes ~330 us on one CPU thread, two passes ~30 us
    (and the two-pass sum is the accurate one); on a small batch its one call is the cheaper."""
    if t.numel() <= SMALL_MOMENTS:
        var, mean = torch.var_mean(t, correction=0)
        return mean, var
    mean = t.mean()
    return mean, (t - mean).square().mean()


def _norms(tensors: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch._foreach_norm(tensors)) if tensors else []


def has_relu_family(model: nn.Module) -> bool:
    return any(isinstance(m, RELU_FAMILY) for m in model)


def dead_hooks(model: nn.Sequential, found: dict[int, torch.Tensor]) -> list[Any]:
    """Hooks that record, per ReLU-family layer, the share of units whose input is <= 0 for
    every point of the batch passing through (so they pass no gradient)."""
    return [m.register_forward_hook(_capture_dead(found, i))
            for i, m in enumerate(model) if isinstance(m, RELU_FAMILY)]


def _capture_dead(found: dict[int, torch.Tensor], index: int) -> Callable[..., None]:
    def capture(_m: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        found[index] = (inputs[0] <= 0).all(dim=0).float().mean()
    return capture


def grid_points(extent: tuple[float, float, float, float], n: int) -> torch.Tensor:
    """Cell centres of an n x n grid over extent, row-major, row 0 at the top (y max)."""
    x_min, x_max, y_min, y_max = extent
    xs = x_min + (torch.arange(n) + 0.5) * (x_max - x_min) / n
    ys = y_max - (torch.arange(n) + 0.5) * (y_max - y_min) / n
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((xx.reshape(-1), yy.reshape(-1)), dim=1)  # (n*n, 2)


def line_points(extent: tuple[float, float, float, float], n: int) -> torch.Tensor:
    """n evenly spaced x values across a 1-D dataset's window, as (n, 1)."""
    return torch.linspace(extent[0], extent[1], n).unsqueeze(1)


def b64_bytes(t: torch.Tensor) -> str:
    return base64.b64encode(t.to(torch.uint8).cpu().numpy().tobytes()).decode("ascii")


def quantize_unit(t: torch.Tensor) -> torch.Tensor:
    """Values in [0, 1] to bytes 0..255."""
    return (t.clamp(0, 1) * 255).round()


@torch.no_grad()
def columns_forward(model: nn.Sequential, x_t: torch.Tensor) -> list[torch.Tensor]:
    """Eval-mode forward of points laid out along dim 1, (features, N); every module's output.

    The same numbers as model(x).T, but several times faster on big grids of tiny layers:
    nn.Linear adds its bias over a tiny inner dimension slowly, addmm with a column bias not.
    """
    outputs = []
    h = x_t
    for m in model:
        match m:
            case nn.Linear():
                h = m.weight @ h if m.bias is None else torch.addmm(m.bias[:, None], m.weight, h)
            case SeededDropout():
                pass  # identity in eval mode
            case nn.BatchNorm1d():
                scale = torch.rsqrt(m.running_var + m.eps) * m.weight
                h = (h - m.running_mean[:, None]) * scale[:, None] + m.bias[:, None]
            case nn.LayerNorm():
                var, mean = torch.var_mean(h, dim=0, correction=0, keepdim=True)
                h = (h - mean) * torch.rsqrt(var + m.eps) * m.weight[:, None] + m.bias[:, None]
            case _:
                h = call(m, h)  # activations are elementwise (PReLU has one shared slope)
        outputs.append(h)
    return outputs


def neuron_maps(model: nn.Sequential, features_t: torch.Tensor, n_features: int,
                height: int, width: int) -> list[dict[str, object]]:
    """What each input feature and each hidden unit computes over a small grid.

    features_t is (features, points). A hidden 'column' is a Linear layer together with the
    elementwise layers after it, up to the next Linear: its map is the column's output. Each
    column is quantised symmetrically: byte = 127.5 * (1 + v / scale), scale = max |v| over it.
    """
    outputs = columns_forward(model, features_t)
    linear_at = [i for i, m in enumerate(model) if isinstance(m, nn.Linear)]
    columns = [("input", -1, features_t[:n_features])]
    columns += [("hidden", at, outputs[end - 1]) for at, end in zip(linear_at, linear_at[1:],
                                                                     strict=False)]
    # every column quantised at once (a few operations in all, not a few per column)
    shown = [values[:MAX_MAP_UNITS] for _, _, values in columns]  # each (units, points)
    counts = [len(v) for v in shown]
    scales = torch.stack([v.abs().max() for v in shown]).clamp_min(1e-12)
    row_scales = scales.repeat_interleave(torch.tensor(counts, device=scales.device))
    q = ((torch.cat(shown) / row_scales[:, None] + 1) * 127.5).round()
    data = q.to(torch.uint8).cpu().numpy().tobytes()
    maps, start, points = [], 0, shown[0].shape[1]
    for (kind, layer, values), count, scale in zip(columns, counts, scales.tolist(),
                                                   strict=True):
        end = start + count * points
        maps.append({"kind": kind, "layer": layer, "units": values.shape[0],
                     "shown": count, "height": height, "width": width, "scale": scale,
                     "maps": base64.b64encode(data[start:end]).decode("ascii")})
        start = end
    return maps


def link_weights(model: nn.Sequential) -> list[dict[str, object]]:
    """Weights of the small Linear layers, for the diagram's links (sign and magnitude)."""
    links = []
    for i, module in enumerate(model):
        if isinstance(module, nn.Linear) and module.weight.numel() <= MAX_LINK_WEIGHTS:
            links.append({"layer": i, "shape": list(module.weight.shape),
                          "values": module.weight.detach().cpu().reshape(-1).tolist()})
    return links
