"""The fast feature-major forward used for grids must give the model's own numbers."""

from __future__ import annotations

import pytest
import torch

from torchplay.engine.build import ACTIVATIONS
from torchplay.engine.probes import columns_forward
from torchplay.engine.session import TrainingSession
from torchplay.spec.model import ExperimentSpec


@pytest.mark.parametrize("fn", sorted(ACTIVATIONS))
def test_columns_forward_equals_the_model_for_every_layer_kind(fn: str) -> None:
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "spiral", "classes": 3, "points": 200},
        "features": {"inputs": ["x1", "x2", "x1_x2"]},
        "network": {"layers": [
            {"type": "linear", "units": 6}, {"type": "batchnorm"},
            {"type": "activation", "fn": fn}, {"type": "dropout", "p": 0.3},
            {"type": "linear", "units": 5, "bias": False}, {"type": "layernorm"},
            {"type": "activation", "fn": fn}]},
        "training": {"batch_size": 20}})
    session = TrainingSession(spec, torch.device("cpu"))
    for _ in range(30):  # moves weights and BatchNorm's running statistics off their init
        session.step()
    session.model.eval()
    x = torch.randn(500, 3)
    with torch.no_grad():
        expected = session.model(x)
    got = columns_forward(session.model, x.T.contiguous())[-1].T
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
