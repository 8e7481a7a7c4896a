"""A 2-D plane through data with more than two inputs, for the Output plane to show.

The plane passes through `origin` along two orthonormal `axes`, all in the space of the
normalised inputs (each column standardised; the caller normalises). By default it is the
principal plane: the first two principal components, so it shows as much of the data's spread
as any plane can, with every other direction held at the data's mean. `column_plane` shows two
chosen inputs instead. `project` maps points onto plane coordinates (u, v); `lift` maps plane
coordinates back to full input vectors, which is how a model is asked about the plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)  # eq=False: == on ndarray fields would raise, not compare
class Plane:
    """A plane in normalised input space and how much of the data's variance it shows."""

    origin: np.ndarray  # (D,) where the plane passes: the data's mean, normalised inputs
    axes: np.ndarray  # (2, D) orthonormal directions in normalised input space
    labels: tuple[str, str]  # ("PC1", "PC2") or the two chosen column names
    explained: float  # share of the data's total variance the plane shows, 0..1


def _check(x: np.ndarray, columns: list[str]) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(columns) or x.shape[1] < 2 or len(x) < 1:
        raise ValueError(f"x must be (N >= 1, D >= 2) with D = len(columns) = {len(columns)}, "
                         f"got {x.shape}")
    return x


def principal_plane(x: np.ndarray, columns: list[str]) -> Plane:
    """The plane of the first two principal components of x (N, D)."""
    x = _check(x, columns)
    origin = x.mean(axis=0)
    centred = x - origin
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2].copy()
    if len(axes) < 2:  # one point only: any two directions show all (zero) variance
        axes = np.eye(2, x.shape[1])
    # An eigenvector's sign is arbitrary: fix it (largest entry positive) so a plane is stable.
    for axis in axes:
        if axis[np.argmax(np.abs(axis))] < 0:
            axis *= -1
    total = float((s**2).sum())
    explained = float((s[:2] ** 2).sum()) / total if total > 0 else 1.0
    return Plane(origin, axes, ("PC1", "PC2"), min(explained, 1.0))


def column_plane(x: np.ndarray, columns: list[str], i: int, j: int) -> Plane:
    """The plane of columns i (horizontal) and j (vertical), the others at the data's mean."""
    x = _check(x, columns)
    if i == j or not (0 <= i < x.shape[1] and 0 <= j < x.shape[1]):
        raise ValueError(f"two different columns are needed, got {i} and {j}")
    axes = np.zeros((2, x.shape[1]))
    axes[0, i] = axes[1, j] = 1.0
    variance = x.var(axis=0)
    total = float(variance.sum())
    explained = float(variance[i] + variance[j]) / total if total > 0 else 1.0
    return Plane(x.mean(axis=0), axes, (columns[i], columns[j]), explained)


def project(plane: Plane, x: np.ndarray) -> np.ndarray:
    """Plane coordinates (N, 2) of points x (N, D)."""
    return (np.asarray(x, dtype=np.float64) - plane.origin) @ plane.axes.T


def lift(plane: Plane, uv: np.ndarray) -> np.ndarray:
    """The input vectors (M, D) on the plane at coordinates uv (M, 2)."""
    return plane.origin + np.asarray(uv, dtype=np.float64) @ plane.axes
