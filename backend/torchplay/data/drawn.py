"""Points drawn by hand on the Output plane (data.kind "drawn"): the spec holds them.

They are used as the toy sets' points are: shuffled by `data.seed`, split by
`data.train_fraction`, jittered by `data.noise` (classification: each coordinate moves by up to
DRAWN_JITTER * noise; regression: Gaussian noise of std DRAWN_TARGET_STD * noise on the target)
and the test part moved by `data.test_shift`, with every random number drawn whatever the
noise, so the noise slider disturbs the same points.
"""

from __future__ import annotations

import numpy as np

from torchplay.data.toy import HALF_WIDTH_2D, Points, _span
from torchplay.spec.model import DataSpec, train_count

DRAWN_JITTER = 1.0
DRAWN_TARGET_STD = 0.25  # targets lie in [-1, 1]


def generate_drawn(spec: DataSpec) -> Points:
    """Shuffle, split, jitter and shift the drawn points of `spec`."""
    drawn = spec.drawn
    if drawn is None:
        raise ValueError("generate_drawn needs data.kind drawn")
    rng = np.random.default_rng(spec.seed)
    n = len(drawn.value)
    order = rng.permutation(n)
    jitter = rng.uniform(-1.0, 1.0, size=(n, 2)) * DRAWN_JITTER * spec.noise
    target_noise = rng.standard_normal(n) * DRAWN_TARGET_STD * spec.noise
    x = np.stack([np.array(drawn.x1), np.array(drawn.x2)], axis=1)[order]
    y = np.array(drawn.value, dtype=np.float64)[order]
    n_train = train_count(spec)
    x[n_train:] += spec.test_shift * HALF_WIDTH_2D  # labels travel with the points
    if drawn.task == "classification":
        x, y = (x + jitter).astype(np.float32), y.astype(np.int64)
    else:
        x, y = x.astype(np.float32), (y + target_noise).astype(np.float32)
    lo = np.minimum(x.min(axis=0).astype(np.float64), -HALF_WIDTH_2D)
    hi = np.maximum(x.max(axis=0).astype(np.float64), HALF_WIDTH_2D)
    extent = (*_span(lo[0], hi[0], 0.02), *_span(lo[1], hi[1], 0.02))
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:], extent)
