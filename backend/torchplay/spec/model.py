"""ExperimentSpec: the one description of an experiment.

The page edits it, links carry it, the server validates it, the engine builds from it. Every
number has bounds so that no spec can exhaust the server; every field has a description, which
docs/spec.md and the page's tooltips both read from the JSON Schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEC_VERSION = 1

MAX_LAYERS = 32
MAX_UNITS = 1024
MAX_POINTS = 20_000  # generated sets; library sets are bounded by their own size
MAX_LIBRARY_POINTS = 60_000  # the standard MNIST training set
MAX_GRID = 200
MAX_PARAMETERS = 2_000_000
MAX_EPOCHS = 1_000_000
# Compute limits, so that no unit of work holds a training thread for long: ~100 ms of one core
# of the 2-vCPU machine in MEASURED.md. A point costs its parameters (multiply-adds) plus
# ACTIVATION_COST for each value a hidden layer outputs (elementwise work: bias, tanh, their
# backward); a step costs that times the points in its batch, a frame times the points it
# evaluates (every train and test point, grid cell and neuron-map cell). Fitted in CPU time
# over [u, u] tanh layers, u = 64..512, 20,000 points: a step does 1.3-1.9e10 such units a
# second, a frame 4.8-5.2e10, so the limits below are ~70 and ~80 ms.
ACTIVATION_COST = 128
MAX_STEP_WORK = 1_000_000_000
MAX_FRAME_WORK = 4_000_000_000
# A data set of more than LARGE_VALUES input numbers is "large": its runs share one copy and
# its frames measure a fixed sample of FRAME_SAMPLE training and FRAME_SAMPLE test points.
LARGE_VALUES = 2_000_000
FRAME_SAMPLE = 500

CLASSIFICATION_KINDS = ("circle", "xor", "gauss", "spiral", "moons", "checkerboard")
# Your own data: the task is the data's own (DrawnSpec.task, TableSpec.task), not the kind's.
OWN_DATA_KINDS = ("drawn", "table")
DRAWN_HALF_WIDTH = 6.0  # drawn points lie in [-6, 6]^2, the toy sets' window
MAX_DRAWN_TARGET = 1.0  # a drawn regression target lies in [-1, 1]
MAX_TABLE_INPUTS = 64
MAX_TABLE_CLASSES = 20
# Classification sets whose class count is data.classes (the others have 2; a table has its
# own, table.classes).
VARIABLE_CLASSES = ("spiral", "drawn")
REGRESSION_2D_KINDS = ("plane", "multi_gauss")
REGRESSION_1D_KINDS = ("poly1d", "sine1d")
FEATURES_2D = ("x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2")
RELU_FAMILY = ("relu", "leaky_relu", "prelu")
# Which losses fit which task; a loss listed in TWO_CLASS_LOSSES needs exactly 2 classes.
LOSSES_BY_TASK: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "classification": ("cross_entropy", "bce"), "regression": ("mse", "huber")})
TWO_CLASS_LOSSES = ("bce",)
# Activations whose `slope` field is read (the others ignore it).
SLOPE_ACTIVATIONS = ("leaky_relu", "prelu")
# Which ScheduleSpec fields each schedule kind reads.
SCHEDULE_PARAMS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "constant": (), "step": ("step_size", "gamma"), "exponential": ("gamma",),
    "inverse_time": ("k",), "cosine": ("t_max", "eta_min")})
# Library sets (data/library.py): real data, loaded once per process. Classes, inputs (D) and
# points available (IDX sets: their standard training images) per set.
LIBRARY_CLASSES = {"iris": 3, "wine": 3, "breast_cancer": 2, "digits": 10, "fashion_mnist": 10,
                   "mnist": 10}
LIBRARY_REGRESSION_KINDS = ("diabetes",)
LIBRARY_KINDS = (*LIBRARY_CLASSES, *LIBRARY_REGRESSION_KINDS)
LIBRARY_INPUTS = {"iris": 4, "wine": 13, "breast_cancer": 30, "digits": 64, "fashion_mnist": 784,
                  "mnist": 784, "diabetes": 10}
LIBRARY_SIZES = {"iris": 150, "wine": 178, "breast_cancer": 569, "digits": 1797,
                 "fashion_mnist": 60_000, "mnist": 60_000, "diabetes": 442}
IDX_KINDS = ("fashion_mnist", "mnist")
IMAGE_KINDS = ("digits", *IDX_KINDS)


class SpecError(ValueError):
    """A spec that is well-formed but not acceptable here; `field` is its dotted path."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Strict(BaseModel):
    """Base for every part of the spec: unknown keys and NaN/inf are errors, not ignored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


DataKind = Literal[
    "circle", "xor", "gauss", "spiral", "moons", "checkerboard",
    "plane", "multi_gauss", "poly1d", "sine1d", "drawn", "table",
    "iris", "wine", "breast_cancer", "digits", "fashion_mnist", "mnist", "diabetes",
]
Task = Literal["classification", "regression"]
Coordinate = Annotated[float, Field(ge=-DRAWN_HALF_WIDTH, le=DRAWN_HALF_WIDTH)]
ColumnName = Annotated[str, Field(min_length=1, max_length=200)]


class DrawnSpec(Strict):
    """Points drawn on the Output plane, columnar: point i is (x1[i], x2[i]) with value[i]."""

    task: Task = Field("classification", description="classification: value is the class "
                       "index (0 .. data.classes - 1); regression: value is the target in "
                       "[-1, 1].")
    x1: list[Coordinate] = Field(default_factory=list, max_length=MAX_POINTS, description=
                                 "First coordinates, each in [-6, 6].")
    x2: list[Coordinate] = Field(default_factory=list, max_length=MAX_POINTS, description=
                                 "Second coordinates, each in [-6, 6].")
    value: list[float] = Field(default_factory=list, max_length=MAX_POINTS, description=
                               "Class index or target value of each point.")

    @model_validator(mode="after")
    def _columns_agree(self) -> DrawnSpec:
        if not len(self.x1) == len(self.x2) == len(self.value):
            raise SpecError("value", f"x1, x2 and value must be equally long (they have "
                            f"{len(self.x1)}, {len(self.x2)} and {len(self.value)} entries)")
        for i, v in enumerate(self.value):
            if self.task == "classification" and (v != int(v) or not 0 <= v < 5):
                raise SpecError(f"value.{i}", f"{v} is not a class index 0 .. 4")
            if self.task == "regression" and abs(v) > MAX_DRAWN_TARGET:
                raise SpecError(f"value.{i}", f"{v} is outside the target range [-1, 1]")
        return self


class TableSpec(Strict):
    """An uploaded table (stored by the server under its content hash) and how it is read."""

    hash: str = Field(pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the uploaded file, "
                      "as POST /api/tables answers it.")
    target: ColumnName = Field(description="The column to predict.")
    inputs: list[ColumnName] = Field(min_length=2, max_length=MAX_TABLE_INPUTS, description=
                                     "The input columns, in this order (numbers only).")
    task: Task = Field("classification", description="classification: the target's distinct "
                       "values are the classes, in the documented order; regression: the "
                       "target is a number.")
    classes: int = Field(2, ge=2, le=MAX_TABLE_CLASSES, description="classification: how "
                         "many distinct target values the table has (checked against it).")
    plane: list[ColumnName] = Field(default_factory=list, max_length=2, description="The "
                                    "Output plane for more than 2 inputs: empty is the first "
                                    "two principal components of the standardised inputs; "
                                    "two input names show those two columns.")

    @model_validator(mode="after")
    def _columns(self) -> TableSpec:
        if len(set(self.inputs)) != len(self.inputs):
            raise SpecError("inputs", "lists a column twice")
        if self.target in self.inputs:
            raise SpecError("inputs", f"{self.target!r} is the target; it cannot be an input too")
        if len(self.plane) == 1 or len(set(self.plane)) != len(self.plane):
            raise SpecError("plane", "name two different input columns, or none for the "
                            "principal plane")
        for name in self.plane:
            if name not in self.inputs:
                raise SpecError("plane", f"{name!r} is not one of the input columns")
        return self


class DataSpec(Strict):
    """Which points to learn from, and how the test set is drawn."""

    kind: DataKind = Field("circle", description="Dataset generator. circle, xor, gauss, spiral, "
                           "moons, checkerboard classify; plane, multi_gauss regress over the "
                           "plane; poly1d, sine1d regress a 1-D curve; drawn is points drawn "
                           "by hand (data.drawn), table an uploaded table (data.table). Library "
                           "sets (real data, D inputs): iris, wine, breast_cancer, digits (8x8 "
                           "images), fashion_mnist, mnist (28x28 images) classify; diabetes "
                           "regresses.")
    classes: int = Field(3, ge=2, le=5, description="Number of spiral arms (spiral), or of "
                         "classes to draw (drawn); other toy classification sets have 2.")
    points: int = Field(500, ge=10, le=MAX_LIBRARY_POINTS, description="Points generated, "
                        "train and test together (at most 20,000 for generated sets). Library "
                        "sets: points taken from the set (seeded shuffle), a value above its "
                        "size takes it whole; fashion_mnist and mnist: training images taken "
                        "from the standard 60,000, tested on the standard 10,000.")
    noise: float = Field(0.0, ge=0.0, le=1.0, description="Noise level from 0 (clean) to 1 "
                         "(heavy): points jitter, blobs spread or targets scatter more as it "
                         "grows, depending on the dataset.")
    train_fraction: float = Field(0.5, ge=0.05, le=0.95, description="Share of the points "
                                  "used for training; the rest is the test set.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of the data generator.")
    test_shift: float = Field(0.0, ge=-3.0, le=3.0, description="Moves the test distribution "
                              "along every input axis by this much (in units of the data's "
                              "half-width) to show distribution shift; 0 draws test and train "
                              "alike. Not for uploaded tables.")
    drawn: DrawnSpec | None = Field(None, description="kind drawn: the points themselves "
                                    "(`points` does not apply).")
    table: TableSpec | None = Field(None, description="kind table: the uploaded table and its "
                                    "columns (`points`, `noise` and `test_shift` do not apply).")

    @model_validator(mode="after")
    def _own_data(self) -> DataSpec:
        for kind in OWN_DATA_KINDS:
            present = getattr(self, kind) is not None
            if present and self.kind != kind:
                raise SpecError(kind, f"only kind {kind} has {kind} data; remove it "
                                f"(null) for kind {self.kind}")
            if not present and self.kind == kind:
                raise SpecError(kind, f"kind {kind} needs its {kind} data")
        if self.drawn is not None:
            if len(self.drawn.value) < 2:
                raise SpecError("drawn.value", "draw at least 2 points (one to train on, one "
                                "to test)")
            if self.drawn.task == "classification" and max(self.drawn.value) >= self.classes:
                raise SpecError("drawn.value", f"a point has class {int(max(self.drawn.value))}"
                                f" but data.classes is {self.classes}")
        if self.test_shift != 0 and self.kind == "table":
            raise SpecError("test_shift", "an uploaded table has no shift; set 0")
        return self

    @model_validator(mode="after")
    def _points_per_kind(self) -> DataSpec:
        if self.kind not in LIBRARY_KINDS and self.points > MAX_POINTS:
            raise SpecError("points", f"generated sets have at most {MAX_POINTS:,} points; "
                            f"{self.kind} was asked for {self.points:,}")
        return self

    @property
    def task(self) -> Literal["classification", "regression"]:
        if self.drawn is not None:
            return self.drawn.task
        if self.table is not None:
            return self.table.task
        return "classification" if self.kind in CLASSIFICATION_KINDS or \
            self.kind in LIBRARY_CLASSES else "regression"

    @property
    def n_classes(self) -> int:
        if self.task == "regression":
            return 0
        if self.table is not None:
            return self.table.classes
        if self.kind in LIBRARY_CLASSES:
            return LIBRARY_CLASSES[self.kind]
        return self.classes if self.kind in VARIABLE_CLASSES else 2

    @property
    def is_1d(self) -> bool:
        return self.kind in REGRESSION_1D_KINDS

    @property
    def is_library(self) -> bool:
        """Real data with D raw columns as inputs (data/library.py), not a generator."""
        return self.kind in LIBRARY_KINDS

    @property
    def is_image(self) -> bool:
        return self.kind in IMAGE_KINDS


Feature2D = Literal["x1", "x2", "x1_sq", "x2_sq", "x1_x2", "sin_x1", "sin_x2"]


class FeatureSpec(Strict):
    """What the network sees of each point."""

    inputs: list[Feature2D] = Field(["x1", "x2"], min_length=1, max_length=7, description=
                                    "Input features for 2-D datasets, in this order (library "
                                    "sets take their raw columns instead).")
    degree: int = Field(1, ge=1, le=15, description="For 1-D datasets: inputs x, x^2 .. x^degree.")
    standardize: bool = Field(True, description="Scale each feature to mean 0, std 1 using "
                              "training-set statistics (library tables: per column; images "
                              "stay pixels in [0, 1]).")

    @model_validator(mode="after")
    def _unique_inputs(self) -> FeatureSpec:
        if len(set(self.inputs)) != len(self.inputs):
            raise SpecError("inputs", "lists a feature twice")
        return self


InitKind = Literal[
    "default", "zeros", "constant", "normal", "uniform", "xavier_uniform", "xavier_normal",
    "kaiming_uniform", "kaiming_normal", "orthogonal",
]


class InitSpec(Strict):
    """How a Linear layer's weights start (torch.nn.init)."""

    kind: InitKind = Field("default", description="default is PyTorch's own Linear init "
                           "(kaiming_uniform with a=sqrt(5)).")
    value: float = Field(0.0, ge=-100, le=100, description="constant: every weight equals this.")
    mean: float = Field(0.0, ge=-100, le=100, description="normal: mean.")
    std: float = Field(1.0, ge=0, le=100, description="normal: standard deviation.")
    a: float = Field(-1.0, ge=-100, le=100, description="uniform: lower bound.")
    b: float = Field(1.0, ge=-100, le=100, description="uniform: upper bound.")
    gain: float = Field(1.0, ge=0, le=100, description="xavier and orthogonal: gain.")
    mode: Literal["fan_in", "fan_out"] = Field("fan_in", description="kaiming: fan mode.")
    nonlinearity: Literal["relu", "leaky_relu", "tanh", "sigmoid", "linear"] = Field(
        "relu", description="kaiming: the nonlinearity whose gain is used.")

    @model_validator(mode="after")
    def _ordered_bounds(self) -> InitSpec:
        if self.kind == "uniform" and self.a >= self.b:
            raise SpecError("b", "uniform init needs a < b")
        return self


class BiasInitSpec(Strict):
    """How a Linear layer's bias starts."""

    kind: Literal["default", "zeros", "constant"] = Field("default", description="default is "
                                                          "PyTorch's uniform(+-1/sqrt(fan_in)).")
    value: float = Field(0.0, ge=-100, le=100, description="constant: every bias equals this.")


class LinearLayer(Strict):
    """A fully connected layer: y = x W^T + b."""

    type: Literal["linear"] = "linear"
    units: int = Field(8, ge=1, le=MAX_UNITS, description="Output units.")
    bias: bool = Field(True, description="Whether the layer adds a bias.")
    init: InitSpec = Field(default_factory=InitSpec)
    bias_init: BiasInitSpec = Field(default_factory=BiasInitSpec)


ActivationFn = Literal[
    "relu", "leaky_relu", "prelu", "elu", "gelu", "silu", "sigmoid", "tanh", "softplus", "identity",
]


class ActivationLayer(Strict):
    """An elementwise nonlinearity."""

    type: Literal["activation"] = "activation"
    fn: ActivationFn = Field("tanh", description="Elementwise nonlinearity.")
    slope: float = Field(0.01, ge=0, le=1, description="leaky_relu: negative slope; prelu: its "
                         "initial (learned) slope.")


class DropoutLayer(Strict):
    """Zeroes units at random while training; does nothing in eval mode."""

    type: Literal["dropout"] = "dropout"
    p: float = Field(0.5, ge=0, lt=1, description="Probability of zeroing a unit in training "
                     "(inverted dropout: kept units are scaled by 1/(1-p)).")


class BatchNormLayer(Strict):
    """Normalises each unit over the mini-batch (running statistics in eval mode)."""

    type: Literal["batchnorm"] = "batchnorm"
    momentum: float = Field(0.1, gt=0, le=1, description="Running-statistics momentum.")


class LayerNormLayer(Strict):
    """Normalises each point over its units."""

    type: Literal["layernorm"] = "layernorm"


Layer = Annotated[
    LinearLayer | ActivationLayer | DropoutLayer | BatchNormLayer | LayerNormLayer,
    Field(discriminator="type"),
]


class NetworkSpec(Strict):
    """The hidden layers in order; the output Linear is added, sized from the task."""

    layers: list[Layer] = Field(default_factory=lambda: [
        LinearLayer(units=4), ActivationLayer(fn="tanh"),
        LinearLayer(units=2), ActivationLayer(fn="tanh"),
    ], max_length=MAX_LAYERS, description="Hidden layers; an empty list is a linear model.")
    output_init: InitSpec = Field(default_factory=InitSpec, description="Init of the output "
                                  "Linear layer's weights.")


class LossSpec(Strict):
    """What training minimises, averaged over the mini-batch."""

    kind: Literal["cross_entropy", "bce", "mse", "huber"] = Field(
        "cross_entropy", description="cross_entropy and bce (2 classes, one logit) classify; "
        "mse and huber regress.")
    delta: float = Field(1.0, gt=0, le=100, description="huber: where quadratic turns linear.")


LR = Field(0.03, gt=0, le=100, description="Learning rate (before the schedule).")
WEIGHT_DECAY = Field(0.0, ge=0, le=10, description="The optimizer's own weight decay.")
EPS = Field(1e-8, gt=0, le=1, description="Added to denominators for stability.")


class SGDSpec(Strict):
    """Stochastic gradient descent, with optional (Nesterov) momentum."""

    kind: Literal["sgd"] = "sgd"
    lr: float = LR
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum factor.")
    dampening: float = Field(0.0, ge=0, le=1, description="Dampening of momentum.")
    nesterov: bool = Field(False, description="Nesterov momentum (needs momentum > 0, "
                           "dampening 0).")
    weight_decay: float = WEIGHT_DECAY

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> SGDSpec:
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise SpecError("nesterov", "nesterov needs momentum > 0 and dampening 0")
        return self


class RMSpropSpec(Strict):
    """Divides each step by a running root-mean-square of the gradient."""

    kind: Literal["rmsprop"] = "rmsprop"
    lr: float = Field(0.01, gt=0, le=100, description="Learning rate (before the schedule).")
    alpha: float = Field(0.99, ge=0, lt=1, description="Smoothing of the squared gradient.")
    eps: float = EPS
    momentum: float = Field(0.0, ge=0, lt=1, description="Momentum factor.")
    centered: bool = Field(False, description="Normalise by the gradient's variance estimate.")
    weight_decay: float = WEIGHT_DECAY


class AdamSpec(Strict):
    """Adam (or AdamW, whose weight decay is decoupled from the gradient step)."""

    kind: Literal["adam", "adamw"] = "adam"
    lr: float = Field(0.001, gt=0, le=100, description="Learning rate (before the schedule).")
    beta1: float = Field(0.9, ge=0, lt=1, description="Decay of the gradient's running mean.")
    beta2: float = Field(0.999, ge=0, lt=1, description="Decay of the squared gradient's "
                         "running mean.")
    eps: float = EPS
    weight_decay: float = WEIGHT_DECAY
    amsgrad: bool = Field(False, description="Use the AMSGrad variant.")


class AdagradSpec(Strict):
    """Divides each step by the root of the summed squared gradients."""

    kind: Literal["adagrad"] = "adagrad"
    lr: float = Field(0.01, gt=0, le=100, description="Learning rate (before the schedule).")
    lr_decay: float = Field(0.0, ge=0, le=10, description="Adagrad's own learning-rate decay.")
    eps: float = Field(1e-10, gt=0, le=1, description="Added to denominators for stability.")
    weight_decay: float = WEIGHT_DECAY


Optimizer = Annotated[SGDSpec | RMSpropSpec | AdamSpec | AdagradSpec, Field(discriminator="kind")]


class ScheduleSpec(Strict):
    """Learning rate by completed epoch e: lr(e) = lr * factor(e)."""

    kind: Literal["constant", "step", "exponential", "inverse_time", "cosine"] = Field(
        "constant", description="step: gamma^floor(e/step_size); exponential: gamma^e; "
        "inverse_time: 1/(1+k*e); cosine: from 1 down to eta_min/lr over t_max epochs.")
    step_size: int = Field(10, ge=1, le=MAX_EPOCHS, description="step: epochs between decays.")
    gamma: float = Field(0.5, gt=0, le=1, description="step, exponential: decay factor.")
    k: float = Field(0.1, ge=0, le=100, description="inverse_time: decay rate.")
    t_max: int = Field(100, ge=1, le=MAX_EPOCHS, description="cosine: epochs of one half-wave.")
    eta_min: float = Field(0.0, ge=0, le=100, description="cosine: learning rate at the bottom.")


class EarlyStoppingSpec(Strict):
    """Stop training when the test loss stops improving."""

    enabled: bool = Field(False, description="Stop when the test loss has not improved for "
                          "`patience` epochs.")
    patience: int = Field(20, ge=1, le=100_000, description="Epochs without improvement.")


class RegularizationSpec(Strict):
    """Penalties added to the loss, apart from the optimizer's weight decay."""

    l1: float = Field(0.0, ge=0, le=10, description="lambda * sum of |w| over Linear weights "
                      "(biases excluded).")
    l2: float = Field(0.0, ge=0, le=10, description="lambda * sum of w^2 over Linear weights "
                      "(biases excluded).")
    early_stopping: EarlyStoppingSpec = Field(default_factory=EarlyStoppingSpec)


class TrainingSpec(Strict):
    """How the data is fed, for how long, from which seed, on which device."""

    batch_size: int = Field(10, ge=1, le=MAX_POINTS, description="Points per step; a value "
                            "above the training-set size means the full batch.")
    epochs: int | None = Field(None, ge=1, le=MAX_EPOCHS, description="Stop after this many "
                               "epochs (a 'finished' event); none runs until paused.")
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed of initialisation, shuffling "
                      "and dropout.")
    device: Literal["auto", "cpu", "cuda", "mps"] = Field("auto", description="auto picks "
                                                          "CUDA, then MPS, then CPU.")


class ProbeSpec(Strict):
    """Resolution of what frames draw."""

    grid: int = Field(100, ge=10, le=MAX_GRID, description="Decision-boundary grid is grid x "
                      "grid (1-D data: points on the curve).")
    neuron_grid: int = Field(24, ge=4, le=64, description="Side of each neuron's small map.")


class ExperimentSpec(Strict):
    """Everything that defines an experiment; same spec + seed + device gives the same run."""

    version: Literal[1] = Field(SPEC_VERSION, description="Spec format version.")
    data: DataSpec = Field(default_factory=DataSpec)
    features: FeatureSpec = Field(default_factory=FeatureSpec)
    network: NetworkSpec = Field(default_factory=NetworkSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    optimizer: Optimizer = Field(default_factory=SGDSpec)
    schedule: ScheduleSpec = Field(default_factory=ScheduleSpec)
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    probes: ProbeSpec = Field(default_factory=ProbeSpec)

    @model_validator(mode="before")
    @classmethod
    def _default_optimizer_kind(cls, data: Any) -> Any:
        """An optimizer written without its kind is SGD, as the field's default is."""
        optimizer = data.get("optimizer") if isinstance(data, dict) else None
        if isinstance(optimizer, dict) and "kind" not in optimizer:
            data = {**data, "optimizer": {"kind": "sgd", **optimizer}}
        return data

    # Pydantic runs "before" validators last-defined first: this one sees the input as sent.
    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """A spec from an older version (an old link, a saved experiment) is brought up to date."""
        return migrate(data) if isinstance(data, dict) else data

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        task = self.data.task
        if self.loss.kind not in LOSSES_BY_TASK[task]:
            other = "regression" if task == "classification" else "classification"
            raise SpecError("loss.kind", f"{self.loss.kind} is a {other} loss and "
                            f"{self.data.kind} is a {task} set: use "
                            f"{' or '.join(LOSSES_BY_TASK[task])}")
        if self.loss.kind in TWO_CLASS_LOSSES and self.data.n_classes != 2:
            raise SpecError("loss.kind", f"{self.loss.kind} needs 2 classes; use cross_entropy")
        if any(isinstance(layer, BatchNormLayer) for layer in self.network.layers):
            if self.training.batch_size < 2:
                raise SpecError("training.batch_size", "BatchNorm needs at least 2 points per "
                                "batch to normalise over")
            if self.data.table is None and train_count(self.data) < 2:
                raise SpecError("data.points", "BatchNorm needs at least 2 training points")
        if parameter_count(self) > MAX_PARAMETERS:
            raise SpecError("network.layers", f"the network has {parameter_count(self):,} "
                            f"parameters; the limit is {MAX_PARAMETERS:,}")
        check_compute(self)
        return self

    @property
    def input_dim(self) -> int:
        if self.data.table is not None:  # D raw columns; features.inputs is for 2-D sets
            return len(self.data.table.inputs)
        if self.data.is_library:
            return LIBRARY_INPUTS[self.data.kind]
        return self.features.degree if self.data.is_1d else len(self.features.inputs)

    @property
    def output_dim(self) -> int:
        if self.data.task == "regression" or self.loss.kind == "bce":
            return 1
        return self.data.n_classes


def train_count(data: DataSpec) -> int:
    """How many of the points go to training: data.generate's split, which cannot call this
    (its source is copied into exported scripts, so it names nothing else of this module); a
    test checks the two agree. Library sets: library_train_count (never in a script, whose
    data is a plain namespace without is_library)."""
    if getattr(data, "is_library", False):
        return library_train_count(data)
    points = len(data.drawn.value) if data.drawn is not None else data.points
    return min(max(round(points * data.train_fraction), 1), points - 1)


def library_train_count(data: DataSpec) -> int:
    """A library set's training points: the IDX sets' first `points` training images, else
    `points` of the set (at most its size) split by train_fraction."""
    if data.kind in IDX_KINDS:
        return min(data.points, LIBRARY_SIZES[data.kind])
    used = min(data.points, LIBRARY_SIZES[data.kind])
    return min(max(round(used * data.train_fraction), 1), used - 1)


def parameter_count(spec: ExperimentSpec) -> int:
    """Trainable parameters the spec's network will have, counted without building it."""
    width, total = spec.input_dim, 0
    for layer in spec.network.layers:
        if isinstance(layer, LinearLayer):
            total += width * layer.units + (layer.units if layer.bias else 0)
            width = layer.units
        elif isinstance(layer, BatchNormLayer | LayerNormLayer):
            total += 2 * width
        elif isinstance(layer, ActivationLayer) and layer.fn == "prelu":
            total += 1
    return total + width * spec.output_dim + spec.output_dim


def activation_count(spec: ExperimentSpec) -> int:
    """Values the hidden layers output for one point, summed over the layers."""
    width, total = spec.input_dim, 0
    for layer in spec.network.layers:
        if isinstance(layer, LinearLayer):
            width = layer.units
        total += width
    return total


def point_cost(spec: ExperimentSpec) -> int:
    """What one point costs a forward pass, in the compute limits' units."""
    return parameter_count(spec) + ACTIVATION_COST * activation_count(spec)


def step_points(spec: ExperimentSpec) -> int:
    """Points in one training step: the batch, or the whole training set if that is smaller."""
    return min(spec.training.batch_size, train_count(spec.data))


def frame_points(spec: ExperimentSpec) -> int:
    """Points a frame evaluates: every train and test point, grid cell and neuron-map cell.
    Image sets draw no plane; a large set's frames measure a fixed sample of FRAME_SAMPLE
    training and FRAME_SAMPLE test points (engine/largedata.py)."""
    if spec.data.is_library and train_count(spec.data) * spec.input_dim > LARGE_VALUES:
        return 2 * FRAME_SAMPLE + (0 if spec.data.is_image else _cells(spec))
    if spec.data.is_image:
        return spec.data.points
    return spec.data.points + _cells(spec)


def _cells(spec: ExperimentSpec) -> int:
    grid, side = spec.probes.grid, spec.probes.neuron_grid
    return grid + 2 * side if spec.data.is_1d else grid * grid + side * side


def check_compute(spec: ExperimentSpec) -> None:
    """The compute limits per step and per frame (MAX_STEP_WORK, MAX_FRAME_WORK); raises
    SpecError naming the field to lower."""
    cost = point_cost(spec)
    step = step_points(spec) * cost
    if step > MAX_STEP_WORK:
        raise SpecError("training.batch_size", f"one step would cost {step_points(spec):,} "
                        f"points x {cost:,} = {step:,}, over the compute limit per step of "
                        f"{MAX_STEP_WORK:,} (points in a batch x (parameters + "
                        f"{ACTIVATION_COST} x hidden-layer outputs)); lower the batch size or "
                        "the network's size")
    frame = frame_points(spec) * cost
    if frame > MAX_FRAME_WORK:
        raise SpecError("probes.grid", f"one frame would cost {frame_points(spec):,} points "
                        f"(data, grid and neuron-map cells) x {cost:,} = {frame:,}, over the "
                        f"compute limit per frame of {MAX_FRAME_WORK:,}; lower probes.grid, "
                        "probes.neuron_grid, data.points or the network's size")


def merge_patch(base: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): objects merge key by key, null removes a key (so
    validation restores its default), anything else replaces. Neither argument changes.
    frontend/src/patch.js does the same; tests/patch_cases.json holds both to it."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(base) if isinstance(base, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


def diff_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The merge patch that turns one complete dumped spec into another: only what differs;
    an object whose keys differ (another optimizer kind) goes whole."""
    patch: dict[str, Any] = {}
    for key, value in new.items():
        before = old.get(key)
        if before == value:
            continue
        if isinstance(before, dict) and isinstance(value, dict) and before.keys() == value.keys():
            patch[key] = diff_patch(before, value)
        else:
            patch[key] = value
    return patch


Migration = Callable[[dict[str, Any]], dict[str, Any]]
# Version v -> the step that turns a version-v spec into a version v+1 spec. None is older
# than version 1 yet; when the format changes, SPEC_VERSION grows and its step goes here, so
# links and saved experiments written by older servers still open.
MIGRATIONS: Mapping[int, Migration] = MappingProxyType({})


def migrate(raw: dict[str, Any], steps: Mapping[int, Migration] | None = None,
            current: int = SPEC_VERSION) -> dict[str, Any]:
    """Bring a spec written by an older version up to `current`, one registered step at a
    time (MIGRATIONS unless `steps` is given); a spec without a version is taken as current.
    Raises SpecError('version')."""
    steps = MIGRATIONS if steps is None else steps
    version = raw.get("version", current)
    if isinstance(version, bool):  # Literal[1] would take True, which equals 1
        raise SpecError("version", "Input should be a valid integer, not a boolean")
    if not isinstance(version, int):
        return raw  # not a version number: validation names the field
    if version > current:
        raise SpecError("version", f"spec version {version} is newer than this server's "
                        f"({current}); upgrade torchplay to open it")
    while version < current:
        if version not in steps:
            oldest = min(steps, default=current)
            readable = f"{oldest} to {current}" if oldest < current else f"{current}"
            raise SpecError("version", f"spec version {version} is not supported (this "
                            f"server reads version {readable})")
        raw = {**steps[version](raw), "version": version + 1}
        version += 1
    return raw


LIVE_SECTIONS = ("optimizer", "schedule", "regularization", "probes", "training.batch_size",
                 "training.epochs")


def changed_fields(old: Any, new: Any, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves that differ between two dumped specs."""
    if isinstance(old, dict) and isinstance(new, dict):
        paths = []
        for key in sorted(old.keys() | new.keys()):
            sub = f"{prefix}.{key}" if prefix else str(key)
            paths += changed_fields(old.get(key), new.get(key), sub)
        return paths
    return [] if old == new else [prefix]


def patched(spec: ExperimentSpec, patch: dict[str, Any]) -> dict[str, Any]:
    """The spec's fields with a merge patch applied, not yet validated. A patch naming another
    optimizer kind rebuilds the optimizer from that kind's defaults plus the patch's own
    optimizer fields: no field of the old kind is carried over."""
    base = spec.model_dump()
    optimizer = patch.get("optimizer")
    if isinstance(optimizer, dict) and optimizer.get("kind", spec.optimizer.kind) != \
            spec.optimizer.kind:
        base["optimizer"] = {}
    return merge_patch(base, patch)


def apply_patch(spec: ExperimentSpec, patch: dict[str, Any]) -> ExperimentSpec:
    """The spec after a mid-run update: validated, and touching only what can change live
    (optimizer, schedule, regularization, probes, batch size, epoch limit)."""
    new = ExperimentSpec.model_validate(patched(spec, patch))
    for path in changed_fields(spec.model_dump(), new.model_dump()):
        if not any(path == live or path.startswith(live + ".") for live in LIVE_SECTIONS):
            raise SpecError(path, f"{path} cannot change during a run; start a new run "
                            "(or reset) to change it")
    return new
