"""Python source for the parts of an exported script (export.py assembles them): the data
code copied from data.py, the feature map, the model with its initializers, loss, metric,
optimizer, schedule and penalties, each written as the plain torch calls that build.py and
session.py make, in the same order, so that the script's run is torchplay's.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from typing import Any

from torchplay.data import toy as data
from torchplay.engine.build import OPTIMIZERS, SeededDropout, optimizer_options
from torchplay.spec.model import (
    OWN_DATA_KINDS,
    ActivationLayer,
    BatchNormLayer,
    BiasInitSpec,
    DropoutLayer,
    ExperimentSpec,
    InitSpec,
    LayerNormLayer,
    LinearLayer,
    ScheduleSpec,
)
from torchplay.store import libcode
from torchplay.store.owncode import own_data_code

# --- data ---------------------------------------------------------------------------------

BRANCH = re.compile(r'^(\s*)if kind == "(\w+)":\s*$')
DATA_CONSTANTS = ("CIRCLE_R", "XOR_PAD", "HALF_WIDTH_2D", "HALF_WIDTH_1D", "TARGET_STD",
                  "RULE_KINDS", "BUMPS", "BUMP_SIGMA")


def _only_branch(source: str, kind: str) -> str:
    """A data.py function without its `if kind == "other":` blocks: only `kind`'s is kept."""
    kept: list[str] = []
    skipping: int | None = None  # indentation of the `if` whose block is being dropped
    for line in source.splitlines():
        indent = len(line) - len(line.lstrip())
        if skipping is not None and (not line.strip() or indent > skipping):
            continue
        skipping = None
        found = BRANCH.match(line)
        if found and found.group(2) != kind:
            skipping = len(found.group(1))
            continue
        kept.append(line)
    return "\n".join(kept)


def _wrap(text: str, indent: str) -> str:
    """Comma-separated source text broken into lines of at most 100 characters."""
    return textwrap.fill(text, 100, initial_indent=indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False)


def _literal(value: Any) -> str:
    """Python source for a constant of data.py (numbers, strings, tuples, dicts, arrays)."""
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        return "(" + ", ".join(map(_literal, value)) + ("," if len(value) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_literal(k)}: {_literal(v)}" for k, v in value.items()) + "}"
    if hasattr(value, "tolist"):  # a numpy array
        rows = ",\n    ".join(repr(row) for row in value.tolist())
        return f"np.array([\n    {rows},\n], dtype=np.{value.dtype})"
    return repr(value)


def data_code(spec: ExperimentSpec) -> str:
    """DATA, the constants, Points and generate() with the functions it calls (data.py's);
    for a library set, its loader (libcode.py)."""
    if spec.data.is_library:
        return libcode.data_code(spec)
    d = spec.data
    if d.kind in OWN_DATA_KINDS:
        return own_data_code(spec)
    sources = [_only_branch(inspect.getsource(f), d.kind)
               for f in (data._rule, data._polar, data._sample, data._span, data.generate)]
    if "_polar(" not in sources[2]:
        del sources[1]  # only circle and spiral draw in polar coordinates
    functions = "\n\n\n".join(sources)
    constants = [f"JITTER = {_literal({d.kind: data.JITTER.get(d.kind, 0.0)})}"]
    constants += [f"{name} = {_literal(getattr(data, name))}" for name in DATA_CONSTANTS
                  if re.search(rf"\b{name}\b", functions)]
    fields = [f"{k}={_literal(v)}" for k, v in d.model_dump(mode="json").items()]
    fields += [f"task={_literal(d.task)}", f"n_classes={d.n_classes}", f"is_1d={d.is_1d}"]
    return f'''# --- data: copied from torchplay's data.py (the branches this dataset takes), so
# the points are torchplay's, number for number. DATA is the data spec, with what generate()
# derives from it.
DataSpec = SimpleNamespace
DATA = DataSpec(
{_wrap(", ".join(fields), "    ")})
{chr(10).join(constants)}


{inspect.getsource(data.Points).strip()}


{functions}'''


# --- features, model, loss ----------------------------------------------------------------

FEATURE_CODE = {"x1": "a", "x2": "b", "x1_sq": "a * a", "x2_sq": "b * b", "x1_x2": "a * b",
                "sin_x1": "torch.sin(a)", "sin_x2": "torch.sin(b)"}


def features_code(spec: ExperimentSpec) -> str:
    """features(raw) and prepare(): the inputs and targets as the network sees them."""
    if spec.data.is_library:
        return libcode.features_code(spec)
    f = spec.features
    if spec.data.table is not None:
        doc = ", ".join(spec.data.table.inputs)
        body = "    return raw  # a table's columns are the inputs as they are"
        shape = f"(N, {len(spec.data.table.inputs)})"
    elif spec.data.is_1d:
        doc = f"x, x^2 .. x^{f.degree}" if f.degree > 1 else "x"
        body = (f"    # Repeated products keep odd powers of negative x signed.\n"
                f"    return torch.cumprod(raw.expand(-1, {f.degree}), dim=1)")
        shape = "(N, 1)"
    else:
        doc = ", ".join(f.inputs)
        columns = ", ".join(FEATURE_CODE[name] for name in f.inputs)
        body = f"    a, b = raw[:, 0], raw[:, 1]\n    return torch.stack([{columns}], dim=1)"
        shape = "(N, 2)"
    if f.standardize:
        scale = '''    # Standardise by the training set's statistics, in float64 as torchplay does.
    wide = features(raw_train.double())
    mean = wide.mean(dim=0).float()
    std = wide.std(dim=0, unbiased=False).clamp_min(1e-8).float()
    x_train, x_test = (features(raw_train) - mean) / std, (features(raw_test) - mean) / std'''
    else:
        scale = "    x_train, x_test = features(raw_train), features(raw_test)"
    return f'''# --- features
def features(raw: torch.Tensor) -> torch.Tensor:
    """The network's inputs {doc} of raw points {shape}."""
{body}


def prepare() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training inputs and targets, then test inputs and targets, as the network sees them."""
    points = generate(DATA)
    raw_train, raw_test = torch.from_numpy(points.train_x), torch.from_numpy(points.test_x)
{scale}
    return x_train, torch.from_numpy(points.train_y), x_test, torch.from_numpy(points.test_y)'''


def _init_code(init: InitSpec, target: str) -> str:
    match init.kind:
        case "default":
            return f"nn.init.kaiming_uniform_({target}, a=math.sqrt(5), generator=g)  # PyTorch's"
        case "zeros":
            return f"nn.init.zeros_({target})"
        case "constant":
            return f"nn.init.constant_({target}, {init.value!r})"
        case "normal":
            return f"nn.init.normal_({target}, {init.mean!r}, {init.std!r}, generator=g)"
        case "uniform":
            return f"nn.init.uniform_({target}, {init.a!r}, {init.b!r}, generator=g)"
        case "xavier_uniform" | "xavier_normal" | "orthogonal":
            return f"nn.init.{init.kind}_({target}, gain={init.gain!r}, generator=g)"
        case "kaiming_uniform" | "kaiming_normal":
            return (f"nn.init.{init.kind}_({target}, mode={init.mode!r}, "
                    f"nonlinearity={init.nonlinearity!r}, generator=g)")
    raise ValueError(init.kind)


def _bias_code(init: BiasInitSpec, fan_in: int) -> str:
    match init.kind:
        case "default":
            return (f"bound = 1 / math.sqrt({fan_in})  # PyTorch's own bias init\n"
                    "    nn.init.uniform_(layer.bias, -bound, bound, generator=g)")
        case "zeros":
            return "nn.init.zeros_(layer.bias)"
        case "constant":
            return f"nn.init.constant_(layer.bias, {init.value!r})"
    raise ValueError(init.kind)


def _linear_code(fan_in: int, units: int, bias: bool, init: InitSpec,
                 bias_init: BiasInitSpec) -> list[str]:
    lines = [f"layer = nn.Linear({fan_in}, {units}, bias={bias})", "with torch.no_grad():",
             "    " + _init_code(init, "layer.weight")]
    if bias:
        lines.append("    " + _bias_code(bias_init, fan_in))
    return lines + ["modules.append(layer)"]


ACTIVATION_CODE = {"relu": "nn.ReLU()", "leaky_relu": "nn.LeakyReLU({slope!r})",
                   "prelu": "nn.PReLU(init={slope!r})", "elu": "nn.ELU()", "gelu": "nn.GELU()",
                   "silu": "nn.SiLU()", "sigmoid": "nn.Sigmoid()", "tanh": "nn.Tanh()",
                   "softplus": "nn.Softplus()", "identity": "nn.Identity()"}
LOSS_CODE = {
    "cross_entropy": ("Cross-entropy over the classes", "F.cross_entropy(out, y)"),
    "bce": ("Binary cross-entropy of the one logit", "F.binary_cross_entropy_with_logits("
            "out[:, 0], y.float())"),
    "mse": ("Mean squared error", "F.mse_loss(out[:, 0], y)"),
    "huber": ("Huber loss", "F.huber_loss(out[:, 0], y, delta={delta!r})"),
}


def model_code(spec: ExperimentSpec) -> str:
    """build_model(g, dropout_g), loss_fn and metric_fn."""
    lines: list[str] = []
    width = spec.input_dim
    for layer in spec.network.layers:
        match layer:
            case LinearLayer():
                lines += _linear_code(width, layer.units, layer.bias, layer.init,
                                      layer.bias_init)
                width = layer.units
            case ActivationLayer():
                lines.append(f"modules.append({ACTIVATION_CODE[layer.fn]})".format(
                    slope=layer.slope))
            case DropoutLayer():
                lines.append(f"modules.append(SeededDropout({layer.p!r}, dropout_g))")
            case BatchNormLayer():
                lines.append(f"modules.append(nn.BatchNorm1d({width}, "
                             f"momentum={layer.momentum!r}))")
            case LayerNormLayer():
                lines.append(f"modules.append(nn.LayerNorm({width}))")
    lines.append("# the output layer")
    lines += _linear_code(width, spec.output_dim, True, spec.network.output_init, BiasInitSpec())
    dropout = any(isinstance(layer, DropoutLayer) for layer in spec.network.layers)
    loss_doc, loss_expr = LOSS_CODE[spec.loss.kind]
    if spec.data.task == "regression":
        metric = ("R^2 of the predictions",
                  "1 - (out[:, 0] - y).pow(2).sum() / (y - y.mean()).pow(2).sum().clamp_min(1e-12)")
    elif spec.output_dim == 1:
        metric = ("Accuracy (class 1 where the logit is positive)",
                  "((out[:, 0] > 0).long() == y).float().mean()")
    else:
        metric = ("Accuracy of the most likely class", "(out.argmax(dim=1) == y).float().mean()")
    body = textwrap.indent("\n".join(lines), "    ")
    dropout_class = inspect.getsource(SeededDropout).strip() + "\n\n\n" if dropout else ""
    return f'''# --- model
{dropout_class}def build_model(g: torch.Generator, dropout_g: torch.Generator) -> nn.Sequential:
    """The network, module by module; initial weights are drawn from g in this order."""
    modules: list[nn.Module] = []
{body}
    return nn.Sequential(*modules)


def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """{loss_doc}, averaged over the batch."""
    return {loss_expr.format(delta=spec.loss.delta)}


def metric_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """{metric[0]}."""
    return {metric[1]}'''


# --- optimizer, schedule, penalties -------------------------------------------------------

def _schedule_code(schedule: ScheduleSpec, lr: float) -> tuple[str, str]:
    """The docstring and body of learning_rate(epoch), as build.lr_factor computes it."""
    s = schedule
    match s.kind:
        case "constant":
            return "constant", f"return {lr!r} * 1.0"
        case "step":
            return (f"times {s.gamma!r} every {s.step_size} epochs",
                    f"return {lr!r} * {s.gamma!r} ** (epoch // {s.step_size})")
        case "exponential":
            return f"times {s.gamma!r} every epoch", f"return {lr!r} * {s.gamma!r} ** epoch"
        case "inverse_time":
            return (f"divided by 1 + {s.k!r} epoch",
                    f"return {lr!r} * (1.0 / (1.0 + {s.k!r} * epoch))")
        case "cosine":
            return (f"cosine down to {s.eta_min!r} over {s.t_max} epochs",
                    f"floor = min({s.eta_min!r} / {lr!r}, 1.0)\n"
                    f"    phase = math.pi * min(epoch, {s.t_max}) / {s.t_max}\n"
                    f"    return {lr!r} * (floor + (1.0 - floor) * (1 + math.cos(phase)) / 2)")
    raise ValueError(s.kind)


TERM_JOIN = "\n            + "


def training_code(spec: ExperimentSpec) -> str:
    """make_optimizer, learning_rate(epoch), penalty(model) and evaluate()."""
    options = ", ".join(f"{k}={v!r}" for k, v in optimizer_options(spec.optimizer).items())
    optimizer = f"torch.optim.{OPTIMIZERS[spec.optimizer.kind].__name__}"
    schedule_doc, schedule_body = _schedule_code(spec.schedule, spec.optimizer.lr)
    reg = spec.regularization
    terms = [f"{reg.l1!r} * sum(w.abs().sum() for w in weights)"] if reg.l1 else []
    terms += [f"{reg.l2!r} * sum(w.pow(2).sum() for w in weights)"] if reg.l2 else []
    if terms:
        penalty = f'''def penalty(model: nn.Module) -> torch.Tensor | float:
    """L1/L2 terms on the Linear weights (biases excluded), added to the minimised loss."""
    weights = [m.weight for m in model.modules() if isinstance(m, nn.Linear)]
    return ({TERM_JOIN.join(terms)})'''
    else:
        penalty = '''def penalty(model: nn.Module) -> torch.Tensor | float:
    """No L1/L2 penalty in this experiment."""
    return 0.0'''
    return f'''# --- training
def make_optimizer(model: nn.Module) -> torch.optim.Optimizer:
    return {optimizer}(
{_wrap("model.parameters(), " + options, "        ")})


def learning_rate(epoch: int) -> float:
    """Learning rate of epoch `epoch` (from 0): {schedule_doc}."""
    {schedule_body}


{penalty}


@torch.no_grad()
def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Loss and metric over a whole set, in eval mode (dropout off, BatchNorm running stats)."""
    model.eval()
    out = model(x)
    return loss_fn(out, y).item(), metric_fn(out, y).item()'''
