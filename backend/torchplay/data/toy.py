"""Datasets and input features: a DataSpec becomes points, a FeatureSpec becomes a feature map.

`generate` draws every number from `np.random.default_rng(spec.seed)` in a fixed order, so the
same DataSpec gives the same points on any machine. The clean points, the noise and the shuffle
are drawn the same way whatever `noise` is, so moving the noise slider disturbs the same points
rather than drawing new ones.

What `noise` (0..1) means per dataset is NOISE_MEANING below (docs/spec.md prints it).

`test_shift` translates the test inputs by test_shift * half-width (6 for plane sets, 1 for 1-D
sets) along every axis. Rule-labelled sets (circle, xor, checkerboard and all regression sets)
relabel the moved points by the same rule, so p(y|x) stays the same; cluster sets (gauss,
spiral, moons) carry their labels along.

Class 1 is: circle's inner disc, xor's quadrants where x1*x2 >= 0, gauss's blob at (2, 2),
moons' lower (inner) moon, checkerboard's cells with odd column + row index; spiral's class k
is arm k.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import get_args

import numpy as np
import torch

from torchplay.spec.model import LIBRARY_KINDS, OWN_DATA_KINDS, DataKind, DataSpec, FeatureSpec

# "jitter a": an independent uniform offset in [-a*noise, a*noise] added to each coordinate
# after the label is fixed; "target std s": Gaussian noise of std s*noise on the target.
NOISE_MEANING = {
    "circle": "jitter 2.5 (inner disc r < 2.5, outer ring 3.5 < r < 5; label r < 3)",
    "xor": "jitter 2.5 (uniform in [-5, 5]^2, 0.3 kept clear of the axes)",
    "gauss": "blob std grows from sqrt(0.5) = 0.71 to 2 (variance 0.5 + 3.5 noise)",
    "spiral": "jitter 1.0",
    "moons": "jitter 1.5",
    "checkerboard": "jitter 1.5 (cells are 3 wide)",
    "plane": "target std 0.5 (target (x1 + x2) / 12)",
    "multi_gauss": "target std 0.5 (six bumps of height +-1, sigma 1.2)",
    "poly1d": "target std 0.5 (target 2x^3 - x)",
    "sine1d": "target std 0.5 (target sin(pi x))",
    "drawn": "classification: jitter 1.0; regression: target std 0.25 (targets in [-1, 1])",
    "table": "none: an uploaded table's values are used as they are",
    **{kind: "none: a real data set's values are used as they are" for kind in LIBRARY_KINDS},
}
# Amplitude of the uniform coordinate jitter at noise = 1; gauss spreads its blobs instead.
JITTER = {"circle": 2.5, "xor": 2.5, "gauss": 0.0, "spiral": 1.0, "moons": 1.5,
          "checkerboard": 1.5}
TARGET_STD = 0.5
RULE_KINDS = ("circle", "xor", "checkerboard", "plane", "multi_gauss", "poly1d", "sine1d")
HALF_WIDTH_2D, HALF_WIDTH_1D = 6.0, 1.0
CIRCLE_R, XOR_PAD = 5.0, 0.3
# Sign-alternating bumps on a 3 x 2 lattice, as in TF Playground's reg-gauss.
BUMPS = np.array([[-4, 2.5, 1], [0, 2.5, -1], [4, 2.5, 1],
                  [-4, -2.5, -1], [0, -2.5, 1], [4, -2.5, -1]], dtype=np.float64)
BUMP_SIGMA = 1.2


@dataclass(frozen=True, eq=False)  # eq=False: == on ndarray fields would raise, not compare
class Points:
    """Raw points of one experiment, before features (numpy, CPU)."""

    train_x: np.ndarray  # (N_train, D) float32; D = 2 for plane datasets, 1 for poly1d/sine1d
    train_y: np.ndarray  # (N_train,) int64 class index or float32 regression target
    test_x: np.ndarray
    test_y: np.ndarray
    extent: tuple[float, float, float, float]  # (x_min, x_max, y_min, y_max); 1-D: x and target
    columns: list[str] | None = None  # input names (D of them); None: a toy set's x1, x2 (or x)
    class_names: list[str] | None = None  # None: classes are numbered
    image_shape: tuple[int, int] | None = None  # (height, width) when the columns are pixels


def _rule(kind: str, x: np.ndarray) -> np.ndarray:
    """Label or clean target of rule-labelled sets, valid anywhere (also off the training area)."""
    if kind == "circle":
        # Threshold midway between disc and ring, so clean training points keep their class.
        return (np.hypot(x[:, 0], x[:, 1]) < 0.6 * CIRCLE_R).astype(np.int64)
    if kind == "xor":
        return (x[:, 0] * x[:, 1] >= 0).astype(np.int64)
    if kind == "checkerboard":
        cells = np.floor((x + HALF_WIDTH_2D) / 3.0).astype(np.int64)
        return (cells[:, 0] + cells[:, 1]) % 2
    if kind == "plane":
        return (x[:, 0] + x[:, 1]) / (2 * HALF_WIDTH_2D)
    if kind == "multi_gauss":
        d2 = ((x[:, None, :] - BUMPS[None, :, :2]) ** 2).sum(axis=2)
        return (BUMPS[:, 2] * np.exp(-d2 / (2 * BUMP_SIGMA**2))).sum(axis=1)
    if kind == "poly1d":
        return 2 * x[:, 0] ** 3 - x[:, 0]
    if kind == "sine1d":
        return np.sin(np.pi * x[:, 0])
    raise ValueError(f"{kind!r} is not rule-labelled")


def _polar(r: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _sample(spec: DataSpec, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clean inputs (float64) and labels/targets in class order; the caller shuffles."""
    n, kind = spec.points, spec.kind
    # Labels cycle through the classes so every classification set is balanced to within one.
    label = np.arange(n) % max(spec.n_classes, 1)
    u = rng.uniform(size=(n, 2))
    if kind == "circle":
        r = np.where(label == 1, 0.5 * CIRCLE_R * u[:, 0],
                     CIRCLE_R * (0.7 + 0.3 * u[:, 0]))
        return _polar(r, 2 * np.pi * u[:, 1]), label
    if kind == "xor":
        mag = XOR_PAD + (5.0 - XOR_PAD) * u
        sign1 = np.where(rng.uniform(size=n) < 0.5, -1.0, 1.0)
        sign2 = np.where(label == 1, sign1, -sign1)
        return mag * np.stack([sign1, sign2], axis=1), label
    if kind == "gauss":
        std = np.sqrt(0.5 + 3.5 * spec.noise)
        centre = np.where(label[:, None] == 1, 2.0, -2.0)
        return centre + std * rng.standard_normal((n, 2)), label
    if kind == "spiral":
        # 1.75 turns out to radius 5, arms evenly rotated (TF Playground's spiral, k arms).
        t = 1.75 * 2 * np.pi * u[:, 0] + 2 * np.pi * label / spec.n_classes
        return _polar(5.0 * u[:, 0], t), label
    if kind == "moons":
        t = np.pi * u[:, 0]
        outer = np.stack([np.cos(t), np.sin(t)], axis=1)
        inner = np.stack([1 - np.cos(t), 0.5 - np.sin(t)], axis=1)
        # make_moons spans [-1, 2] x [-0.5, 1]; centre it and scale into about [-5.3, 5.3].
        return (np.where(label[:, None] == 0, outer, inner) - [0.5, 0.25]) * 3.5, label
    if kind == "checkerboard":
        # Pick a cell of the point's class, then a uniform spot inside it.
        row = rng.integers(0, 4, size=n)
        col = (2 * rng.integers(0, 2, size=n) + (row + label) % 2) % 4
        x = np.stack([col, row], axis=1) * 3.0 - HALF_WIDTH_2D + 3.0 * u
        return x, label
    if spec.is_1d:
        x = rng.uniform(-HALF_WIDTH_1D, HALF_WIDTH_1D, size=(n, 1))
    else:
        x = (2 * u - 1) * HALF_WIDTH_2D
    return x, _rule(kind, x)


def _span(lo: float, hi: float, pad: float) -> tuple[float, float]:
    margin = pad * max(hi - lo, 1e-3)
    return float(lo - margin), float(hi + margin)


def generate(spec: DataSpec) -> Points:
    """Draw, shuffle, split and (optionally) shift the points that `spec` describes."""
    rng = np.random.default_rng(spec.seed)
    x, y = _sample(spec, rng)
    order = rng.permutation(spec.points)
    x, y = x[order], y[order]
    dim = x.shape[1]
    # Drawn unconditionally so that noise only scales these, never changes which numbers come.
    jitter = rng.uniform(-1.0, 1.0, size=x.shape) * JITTER.get(spec.kind, 0.0) * spec.noise
    target_noise = rng.standard_normal(spec.points) * TARGET_STD * spec.noise

    # spec.train_count repeats this split: generate's source travels into exported scripts
    n_train = min(max(round(spec.points * spec.train_fraction), 1), spec.points - 1)
    half_width = HALF_WIDTH_1D if spec.is_1d else HALF_WIDTH_2D
    x[n_train:] += spec.test_shift * half_width
    if spec.test_shift != 0 and spec.kind in RULE_KINDS:
        y[n_train:] = _rule(spec.kind, x[n_train:])

    if spec.task == "classification":
        x, y = (x + jitter).astype(np.float32), y.astype(np.int64)
    else:
        x, y = x.astype(np.float32), (y + target_noise).astype(np.float32)

    if dim == 1:
        x_lo, x_hi = min(float(x.min()), -half_width), max(float(x.max()), half_width)
        extent = (*_span(x_lo, x_hi, 0.05), *_span(float(y.min()), float(y.max()), 0.1))
    else:
        lo = np.minimum(x.min(axis=0).astype(np.float64), -half_width)
        hi = np.maximum(x.max(axis=0).astype(np.float64), half_width)
        extent = (*_span(lo[0], hi[0], 0.02), *_span(lo[1], hi[1], 0.02))
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:], extent,
                  ["x"] if dim == 1 else ["x1", "x2"])


FEATURE_MAPS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "x1": lambda a, b: a,
    "x2": lambda a, b: b,
    "x1_sq": lambda a, b: a * a,
    "x2_sq": lambda a, b: b * b,
    "x1_x2": lambda a, b: a * b,
    "sin_x1": lambda a, b: torch.sin(a),
    "sin_x2": lambda a, b: torch.sin(b),
}


class Features:
    """The feature map of FeatureSpec plus standardisation fitted on the training inputs."""

    def __init__(self, spec: FeatureSpec, is_1d: bool, train_x: torch.Tensor,
                 columns: list[str] | None = None) -> None:
        """columns: the names of D raw input columns (a table), which pass through as they
        are (standardised if asked); `spec.inputs` and `degree` apply to toy sets only."""
        self.is_1d = is_1d
        self.degree = spec.degree
        self.inputs = list(spec.inputs)
        self.columns = columns
        if columns is not None:
            self.names = list(columns)
        elif is_1d:
            self.names = ["x"] + [f"x^{p}" for p in range(2, spec.degree + 1)]
        else:
            self.names = list(spec.inputs)
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        if spec.standardize:
            # float64 keeps the mean and variance of high powers (x^15) accurate.
            feats = self._raw_features(train_x.detach().to("cpu", torch.float64))
            self.mean = feats.mean(dim=0).float()
            self.std = feats.std(dim=0, unbiased=False).clamp_min(1e-8).float()

    def _raw_features(self, raw: torch.Tensor) -> torch.Tensor:
        want = len(self.columns) if self.columns is not None else 1 if self.is_1d else 2
        if raw.ndim != 2 or raw.shape[1] != want:
            raise ValueError(f"raw inputs must have shape (N, {want}), got {tuple(raw.shape)}")
        if self.columns is not None:
            return raw
        if self.is_1d:
            # Repeated products keep odd powers of negative x signed without trusting float pow.
            return torch.cumprod(raw.expand(-1, self.degree), dim=1)
        a, b = raw[:, 0], raw[:, 1]
        return torch.stack([FEATURE_MAPS[name](a, b) for name in self.inputs], dim=1)

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        feats = self._raw_features(raw.float())
        if self.mean is not None and self.std is not None:
            feats = (feats - self.mean.to(raw.device)) / self.std.to(raw.device)
        return feats


def previews(points: int = 200) -> list[dict[str, object]]:
    """Every generated dataset at its defaults with `points` points, for the page's
    thumbnails: kind, task, dimension, class count and the raw training and test points
    together (library sets describe themselves: library.previews)."""
    found = []
    for kind in get_args(DataKind):
        if kind in OWN_DATA_KINDS or kind in LIBRARY_KINDS:
            continue  # the user's own data, and real sets (previewed by data/library.py)
        spec = DataSpec(kind=kind, points=points)
        p = generate(spec)
        found.append({"kind": kind, "task": spec.task, "one_d": spec.is_1d,
                      "classes": spec.n_classes, "extent": list(p.extent),
                      "x": np.concatenate((p.train_x, p.test_x)).round(4).tolist(),
                      "y": np.concatenate((p.train_y, p.test_y)).tolist()})
    return found
