"""tanh over a whole data set or grid, for evaluations that train nothing (epoch losses of
batched runs, decision boundaries and neuron maps).

Why: ATen's float tanh on CPU (Sleef's u10) costs ~2.5 ns an element here, most of a 500-point
evaluation of 64 tanh networks and half of a 200x200 boundary. oneDNN's tanh, reached through
an mkldnn tensor, is ~4x as fast including the two layout copies and stays within 1.2 ulp of
torch.tanh (tests/unit/test_fasttanh.py). Training steps keep torch.tanh: their gradients and
losses are the lone run's own.
"""

from __future__ import annotations

import functools

import torch

# Below this the two copies into and out of oneDNN's layout cost more than they save.
MIN_ELEMENTS = 4096


def tanh(h: torch.Tensor) -> torch.Tensor:
    """torch.tanh(h), to within about an ulp, faster on big float32 CPU tensors."""
    if h.numel() < MIN_ELEMENTS or h.dtype != torch.float32 or h.device.type != "cpu" \
            or h.requires_grad or not _onednn_works():
        return torch.tanh(h)
    return h.contiguous().to_mkldnn().tanh_().to_dense()


@functools.cache
def _onednn_works() -> bool:
    """oneDNN is built into torch's x86 and arm64 wheels but not every build: try it once."""
    if not torch.backends.mkldnn.is_available():
        return False
    try:
        probe = torch.linspace(-3, 3, 16)
        return bool(torch.allclose(probe.to_mkldnn().tanh_().to_dense(), torch.tanh(probe)))
    except RuntimeError:
        return False
