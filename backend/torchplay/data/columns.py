"""The network's inputs for sets with D raw columns (library sets): the columns themselves.

Tables are standardised per column with the training set's mean and std when
`features.standardize` is on; images stay pixels in [0, 1] whatever it says, and are passed
through untouched, so a run of Fashion-MNIST trains on the shared arrays, not on a copy.
`features.inputs` and `features.degree` apply to the 2-D and 1-D generated sets only.
"""

from __future__ import annotations

import torch

from torchplay.data.toy import Features, Points
from torchplay.spec.model import ExperimentSpec, FeatureSpec


class ColumnFeatures:
    """Identity on the columns, or per-column standardisation fitted on the training set."""

    def __init__(self, spec: FeatureSpec, columns: list[str], image: bool,
                 train_x: torch.Tensor) -> None:
        self.names = list(columns)
        self.mean: torch.Tensor | None = None
        self.std: torch.Tensor | None = None
        if spec.standardize and not image:
            wide = train_x.detach().to("cpu", torch.float64)
            self.mean = wide.mean(dim=0).float()
            # A constant column (std 0) stays 0 after centring rather than dividing by zero.
            self.std = wide.std(dim=0, unbiased=False).clamp_min(1e-8).float()

    def __call__(self, raw: torch.Tensor) -> torch.Tensor:
        if raw.ndim != 2 or raw.shape[1] != len(self.names):
            raise ValueError(f"raw inputs must have shape (N, {len(self.names)}), got "
                             f"{tuple(raw.shape)}")
        if self.mean is None or self.std is None:
            return raw
        return (raw - self.mean.to(raw.device)) / self.std.to(raw.device)


def make_features(spec: ExperimentSpec, points: Points,
                  train_x: torch.Tensor) -> Features | ColumnFeatures:
    """The feature map a spec's data calls for, fitted on the raw training inputs."""
    if spec.data.is_library:
        assert points.columns is not None
        return ColumnFeatures(spec.features, points.columns, points.image_shape is not None,
                              train_x)
    columns = points.columns if spec.data.table is not None else None  # a table's D columns
    return Features(spec.features, spec.data.is_1d, train_x, columns)
