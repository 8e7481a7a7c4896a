"""Views made for image data: first-layer weights as image tiles, a confusion matrix,
per-class accuracy, and a grid of test images with their predicted labels, mistakes first.

The views are rebuilt at most once every VIEW_INTERVAL seconds while a run trains, and once
more when it stops, each time with a new `version`. Every frame carries
the latest views; the socket writer sends them only to a client that has not yet had that
version (api/ws.py), so a view travels once per change, and the frame that carries it stays
within MAX_VIEW_BYTES: at most MAX_TILES tiles and GRID_IMAGES images, one byte per pixel.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from torchplay.engine.build import forward
from torchplay.engine.largedata import Throttle
from torchplay.engine.probes import b64_bytes

VIEW_INTERVAL = 1.0
MAX_TILES = 256
GRID_IMAGES = 36
# 256 tiles + 36 images of 28 x 28 bytes, as base64 (4/3), plus the small lists: 0.33 MB.
MAX_VIEW_BYTES = 400_000


def weight_tiles(model: nn.Sequential, shape: tuple[int, int]) -> dict[str, Any] | None:
    """The first Linear layer's incoming weights, one image per unit (at most MAX_TILES),
    each scaled by its own largest |w| to bytes: 128 is 0, 255 is +max, 1 is -max."""
    first = next((i for i, m in enumerate(model) if isinstance(m, nn.Linear)), None)
    if first is None:
        return None
    weight = model[first].weight.detach()  # (units, D)
    units = weight.shape[0]
    shown = weight[:MAX_TILES].float()
    scale = shown.abs().amax(dim=1).clamp_min(1e-12)  # (shown,)
    values = (128 + 127 * shown / scale[:, None]).round().clamp(1, 255)
    return {"layer": first, "units": units, "shown": len(shown),
            "height": shape[0], "width": shape[1],
            "scale": [round(v, 6) for v in scale.tolist()], "values": b64_bytes(values)}


class ImageViews:
    """The latest views of one run on an image set, rebuilt when due."""

    def __init__(self, shape: tuple[int, int], class_names: list[str]) -> None:
        self.shape = shape
        self.class_names = class_names
        self.version = 0
        self.reset()

    def reset(self) -> None:
        self.latest: dict[str, Any] | None = None
        self.throttle = Throttle(VIEW_INTERVAL)

    @torch.no_grad()
    def view(self, model: nn.Sequential, step: int, settled: bool, x_test: torch.Tensor,
             y_test: torch.Tensor) -> dict[str, Any]:
        """The views for the model as it stands (eval mode), rebuilt only when due; `settled`:
        the run has stopped (paused, finished, or its requested steps are done)."""
        if self.latest is not None and not self.throttle.due(step, settled):
            return self.latest
        classes = len(self.class_names)
        out = forward(model, x_test)
        predicted = out.argmax(dim=1) if out.shape[1] > 1 else (out[:, 0] > 0).long()
        confusion = torch.bincount(y_test * classes + predicted,
                                   minlength=classes * classes).reshape(classes, classes)
        totals = confusion.sum(dim=1)
        correct = confusion.diagonal()
        per_class = [c / t if t else None for c, t in zip(correct.tolist(), totals.tolist(),
                                                          strict=True)]
        wrong = (predicted != y_test).nonzero()[:, 0]
        right = (predicted == y_test).nonzero()[:, 0]
        pick = torch.cat((wrong, right))[:GRID_IMAGES]
        confidence = out.softmax(dim=1).amax(dim=1) if out.shape[1] > 1 else \
            torch.sigmoid(out[:, 0].abs())
        pixels = (x_test[pick].clamp(0, 1) * 255).round()
        self.version += 1
        self.latest = {
            "version": self.version, "step": step, "evaluated_on": len(y_test),
            "class_names": self.class_names,
            "tiles": weight_tiles(model, self.shape),
            "confusion": confusion.tolist(), "per_class": per_class,
            "grid": {"index": pick.tolist(), "label": y_test[pick].tolist(),
                     "predicted": predicted[pick].tolist(),
                     "confidence": [round(v, 3) for v in confidence[pick].tolist()],
                     "mistakes": int(len(wrong)), "height": self.shape[0],
                     "width": self.shape[1], "pixels": b64_bytes(pixels)},
        }
        self.throttle.mark(step)
        return self.latest
