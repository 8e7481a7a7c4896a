"""Build the PyTorch pieces of an experiment from its spec: model, initializers, loss, optimizer,
learning-rate schedule. Pure functions of the spec and a torch.Generator, so a seed fixes them."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F

from torchplay.spec.model import (
    ActivationLayer,
    AdagradSpec,
    AdamSpec,
    BatchNormLayer,
    BiasInitSpec,
    DropoutLayer,
    ExperimentSpec,
    InitSpec,
    LayerNormLayer,
    LinearLayer,
    LossSpec,
    RMSpropSpec,
    ScheduleSpec,
    SGDSpec,
)


class SeededDropout(nn.Module):
    """Inverted dropout drawing its masks from the session's own generator.

    nn.Dropout draws from torch's global RNG, which every session in a worker thread shares;
    a private generator keeps each run reproducible however sessions interleave.
    """

    def __init__(self, p: float, generator: torch.Generator) -> None:
        super().__init__()
        self.p = p
        self.generator = generator

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = 1.0 - self.p
        mask = torch.empty_like(x).bernoulli_(keep, generator=self.generator)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"


ACTIVATIONS: dict[str, Callable[[ActivationLayer], nn.Module]] = {
    "relu": lambda _: nn.ReLU(),
    "leaky_relu": lambda a: nn.LeakyReLU(a.slope),
    "prelu": lambda a: nn.PReLU(init=a.slope),
    "elu": lambda _: nn.ELU(),
    "gelu": lambda _: nn.GELU(),
    "silu": lambda _: nn.SiLU(),
    "sigmoid": lambda _: nn.Sigmoid(),
    "tanh": lambda _: nn.Tanh(),
    "softplus": lambda _: nn.Softplus(),
    "identity": lambda _: nn.Identity(),
}


def init_weight(weight: torch.Tensor, init: InitSpec, g: torch.Generator) -> None:
    """Apply one InitSpec to a Linear weight in place, drawing from g."""
    i = nn.init
    match init.kind:
        case "default":
            i.kaiming_uniform_(weight, a=math.sqrt(5), generator=g)
        case "zeros":
            i.zeros_(weight)
        case "constant":
            i.constant_(weight, init.value)
        case "normal":
            i.normal_(weight, init.mean, init.std, generator=g)
        case "uniform":
            i.uniform_(weight, init.a, init.b, generator=g)
        case "xavier_uniform":
            i.xavier_uniform_(weight, gain=init.gain, generator=g)
        case "xavier_normal":
            i.xavier_normal_(weight, gain=init.gain, generator=g)
        case "kaiming_uniform":
            i.kaiming_uniform_(weight, mode=init.mode, nonlinearity=init.nonlinearity, generator=g)
        case "kaiming_normal":
            i.kaiming_normal_(weight, mode=init.mode, nonlinearity=init.nonlinearity, generator=g)
        case "orthogonal":
            i.orthogonal_(weight, gain=init.gain, generator=g)


def init_bias(bias: torch.Tensor, init: BiasInitSpec, fan_in: int, g: torch.Generator) -> None:
    """Apply a BiasInitSpec; 'default' repeats nn.Linear's uniform(+-1/sqrt(fan_in))."""
    match init.kind:
        case "default":
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0.0
            nn.init.uniform_(bias, -bound, bound, generator=g)
        case "zeros":
            nn.init.zeros_(bias)
        case "constant":
            nn.init.constant_(bias, init.value)


def make_linear(fan_in: int, units: int, bias: bool, init: InitSpec, bias_init: BiasInitSpec,
                g: torch.Generator) -> nn.Linear:
    linear = nn.Linear(fan_in, units, bias=bias)
    with torch.no_grad():
        init_weight(linear.weight, init, g)
        if linear.bias is not None:
            init_bias(linear.bias, bias_init, fan_in, g)
    return linear


def build_model(spec: ExperimentSpec, g: torch.Generator,
                dropout_g: torch.Generator) -> nn.Sequential:
    """The network on the CPU: one module per spec layer, in order, then the output Linear.

    Module i of the Sequential is spec.network.layers[i]; the last module is the output layer.
    Weights draw from g (a CPU generator, so a seed gives the same weights on every device);
    dropout masks draw from dropout_g, which lives on the training device.
    """
    modules: list[nn.Module] = []
    width = spec.input_dim
    for layer in spec.network.layers:
        match layer:
            case LinearLayer():
                modules.append(make_linear(width, layer.units, layer.bias, layer.init,
                                           layer.bias_init, g))
                width = layer.units
            case ActivationLayer():
                modules.append(ACTIVATIONS[layer.fn](layer))
            case DropoutLayer():
                modules.append(SeededDropout(layer.p, dropout_g))
            case BatchNormLayer():
                modules.append(nn.BatchNorm1d(width, momentum=layer.momentum))
            case LayerNormLayer():
                modules.append(nn.LayerNorm(width))
    modules.append(make_linear(width, spec.output_dim, True, spec.network.output_init,
                               BiasInitSpec(), g))
    return nn.Sequential(*modules)


def make_loss(loss: LossSpec) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """Loss of (model output, target) averaged over the batch; targets as the dataset stores
    them (class index or float value)."""
    match loss.kind:
        case "cross_entropy":
            return F.cross_entropy
        case "bce":
            return lambda out, y: F.binary_cross_entropy_with_logits(out[:, 0], y.to(out.dtype))
        case "mse":
            return lambda out, y: F.mse_loss(out[:, 0], y)
        case "huber":
            return lambda out, y: F.huber_loss(out[:, 0], y, delta=loss.delta)
    raise ValueError(loss.kind)


def optimizer_options(opt: SGDSpec | RMSpropSpec | AdamSpec | AdagradSpec) -> dict[str, object]:
    """The torch.optim keyword arguments that a param group carries for this optimizer spec."""
    match opt:
        case SGDSpec():
            return dict(lr=opt.lr, momentum=opt.momentum, dampening=opt.dampening,
                        nesterov=opt.nesterov, weight_decay=opt.weight_decay)
        case RMSpropSpec():
            return dict(lr=opt.lr, alpha=opt.alpha, eps=opt.eps, momentum=opt.momentum,
                        centered=opt.centered, weight_decay=opt.weight_decay)
        case AdamSpec():
            return dict(lr=opt.lr, betas=(opt.beta1, opt.beta2), eps=opt.eps,
                        weight_decay=opt.weight_decay, amsgrad=opt.amsgrad)
        case AdagradSpec():
            return dict(lr=opt.lr, lr_decay=opt.lr_decay, eps=opt.eps,
                        weight_decay=opt.weight_decay)
    raise ValueError(opt)


OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "adagrad": torch.optim.Adagrad,
}


def make_optimizer(spec: ExperimentSpec, model: nn.Module) -> torch.optim.Optimizer:
    return OPTIMIZERS[spec.optimizer.kind](model.parameters(), **optimizer_options(spec.optimizer))


def lr_factor(schedule: ScheduleSpec, epoch: int, base_lr: float) -> float:
    """Multiplier of the base learning rate after `epoch` completed epochs."""
    match schedule.kind:
        case "constant":
            return 1.0
        case "step":
            return schedule.gamma ** (epoch // schedule.step_size)
        case "exponential":
            return schedule.gamma ** epoch
        case "inverse_time":
            return 1.0 / (1.0 + schedule.k * epoch)
        case "cosine":
            floor = min(schedule.eta_min / base_lr, 1.0)
            phase = math.pi * min(epoch, schedule.t_max) / schedule.t_max
            return floor + (1.0 - floor) * (1 + math.cos(phase)) / 2
    raise ValueError(schedule.kind)


def linear_weights(model: nn.Module) -> list[torch.Tensor]:
    """The weights that L1/L2 penalties act on (Linear weights, not biases or norms)."""
    return [m.weight for m in model.modules() if isinstance(m, nn.Linear)]


def call(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x), through Module._call_impl (its hooks run as usual) rather than
    Module.__call__: while any thread traces with torch.fx (a run's recording, inductor's
    compile), fx replaces nn.Module.__call__ for the whole process, and a call made on
    another thread then goes through that thread's tracer and fails."""
    return module._call_impl(x)


def forward(model: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """model(x) for a stack of layers, each called as `call` calls it."""
    for module in model:
        x = module._call_impl(x)
    return x
