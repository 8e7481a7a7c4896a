"""torch.optim's SGD and Adam/AdamW updates applied to K runs' stacked parameters, each run
with its own hyperparameters, as (K, 1, ..) tensors.

The same arithmetic as torch.optim's single-tensor updates, elementwise, so each run's slice
moves as its lone optimizer would move it, to float rounding. A run that is not active (it
stopped: its epoch limit, early stopping, divergence) takes a zero step and keeps its state,
and its step count t does not advance: resumed, it goes on as its lone run would.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from torchplay.engine.run import Run
from torchplay.spec.model import SGDSpec


class StackedOptimizer:
    """Per-run optimizer settings and state for stacked parameters (K, ...)."""

    def __init__(self, params: Sequence[torch.Tensor], runs: Sequence[Run]) -> None:
        self.params = list(params)
        self.leaves = [p.detach() for p in self.params]
        self.runs = list(runs)
        self.device = self.params[0].device
        self.reset_state()
        self.read_settings()

    def reset_state(self) -> None:
        """A new optimizer (another kind): state and step counts start afresh."""
        self.state: list[dict[str, torch.Tensor]] = [{} for _ in self.params]
        self.t = torch.zeros(len(self.runs), device=self.device)  # each run's Adam step count

    def _column(self, values: Sequence[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=torch.float32, device=self.device)

    def read_settings(self) -> None:
        """The runs' settings as tensors shaped for each parameter; read again whenever a
        learning rate, a setting or which runs are active changes."""
        specs = [run.spec for run in self.runs]
        active = [run.active for run in self.runs]
        self.all_active = all(active)
        self.active = self._column([float(a) for a in active])
        self.kind = specs[0].optimizer.kind
        # a stopped run takes a zero step: param -= 0 * update leaves it as it is
        self.lr_values = [run.lr for run in self.runs]
        opts = [s.optimizer for s in specs]
        columns: dict[str, list[float]] = {
            "lr": [lr if a else 0.0 for lr, a in zip(self.lr_values, active, strict=True)],
            "weight_decay": [o.weight_decay for o in opts]}
        if isinstance(opts[0], SGDSpec):
            columns.update(momentum=[o.momentum for o in opts],  # type: ignore[union-attr]
                           dampening=[o.dampening for o in opts],  # type: ignore[union-attr]
                           nesterov=[float(o.nesterov) for o in opts])  # type: ignore[union-attr]
        else:
            columns.update(beta1=[o.beta1 for o in opts],  # type: ignore[union-attr]
                           beta2=[o.beta2 for o in opts],  # type: ignore[union-attr]
                           eps=[o.eps for o in opts],  # type: ignore[union-attr]
                           amsgrad=[float(o.amsgrad) for o in opts])  # type: ignore[union-attr]
        self.uses = {name: any(values) for name, values in columns.items()}
        tensors = {name: self._column(values) for name, values in columns.items()}
        tensors["active"] = self.active
        self.shaped = [{name: t.view((-1,) + (1,) * (p.dim() - 1)) for name, t in tensors.items()}
                       for p in self.params]
        self.lr_shaped = [h["lr"] for h in self.shaped]
        self.plain_sgd = isinstance(opts[0], SGDSpec) and not (
            self.uses["weight_decay"] or self.uses["momentum"])

    def lrs_changed(self) -> bool:
        return [run.lr for run in self.runs] != self.lr_values

    def update(self, grads: Sequence[torch.Tensor]) -> None:
        if self.plain_sgd:  # param -= lr * grad, in one foreach call (a third of the time)
            torch._foreach_addcmul_(self.leaves, self.lr_shaped, grads, value=-1)
        else:
            self._update(grads)

    @torch.no_grad()
    def _update(self, grads: Sequence[torch.Tensor]) -> None:
        kind, uses = self.kind, self.uses
        self.t += self.active
        for param, grad, state, h in zip(self.params, grads, self.state, self.shaped,
                                         strict=True):
            # while some run is stopped, its state is put back after the update
            kept = None if self.all_active else {k: v.clone() for k, v in state.items()}
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
            else:
                self._adam(param, grad, state, h)
            if kept is not None:
                for name, tensor in state.items():
                    old = kept.get(name, torch.zeros_like(tensor))
                    tensor.copy_(torch.where(h["active"] > 0, tensor, old))

    def _adam(self, param: torch.Tensor, grad: torch.Tensor, state: dict[str, torch.Tensor],
              h: dict[str, torch.Tensor]) -> None:
        m = state.setdefault("m", torch.zeros_like(param))
        v = state.setdefault("v", torch.zeros_like(param))
        m.lerp_(grad, 1 - h["beta1"])
        v.mul_(h["beta2"]).addcmul_(grad, grad * (1 - h["beta2"]))
        t = self.t.view_as(h["lr"]).clamp_min(1)  # a stopped run before its first step: 1
        second = v
        if self.uses["amsgrad"]:  # the largest second moment so far, for the runs that ask
            v_max = state.setdefault("v_max", torch.zeros_like(param))
            torch.maximum(v_max, v, out=v_max)
            second = torch.where(h["amsgrad"] > 0, v_max, v)
        denom = (second.sqrt() / torch.sqrt(1 - h["beta2"] ** t)).add_(h["eps"])
        param.sub_(h["lr"] / (1 - h["beta1"] ** t) * m / denom)
