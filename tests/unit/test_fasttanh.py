"""The evaluations' tanh (torchplay/engine/fasttanh.py) must be torch.tanh to within float rounding:
boundaries, neuron maps and batched runs' epoch losses are read as the model's own numbers."""

from __future__ import annotations

import torch

from torchplay.engine import fasttanh


def ulps_apart(got: torch.Tensor, want: torch.Tensor) -> torch.Tensor:
    """|got - want| in units of the last place of want (float32), computed in float64."""
    spacing = torch.nextafter(want.abs(), torch.tensor(float("inf"))) - want.abs()
    return (got.double() - want.double()).abs() / spacing.double()


def test_fast_tanh_is_torch_tanh_to_within_two_ulps_over_the_float_range() -> None:
    magnitudes = torch.cat([torch.logspace(-44, 2, 400_000), torch.linspace(0, 12, 400_000)])
    xs = torch.cat([magnitudes, -magnitudes]).float().view(8, 100, -1)  # a 3-d batch, as used
    got, want = fasttanh.tanh(xs), torch.tanh(xs)
    assert got.shape == want.shape and got.dtype == want.dtype
    assert float(ulps_apart(got, want).max()) <= 2.0
    assert torch.equal(torch.signbit(got), torch.signbit(want))  # -0 stays -0


def test_fast_tanh_keeps_the_special_values() -> None:
    specials = torch.tensor([float("inf"), float("-inf"), float("nan"), 1e38, -1e38, 0.0, -0.0,
                             1e-45, 20.0, -20.0])
    xs = specials.repeat(fasttanh.MIN_ELEMENTS)  # big enough for the fast path
    got, want = fasttanh.tanh(xs), torch.tanh(xs)
    assert torch.equal(got.isnan(), want.isnan())
    assert torch.equal(got[~want.isnan()], want[~want.isnan()])


def test_fast_tanh_takes_any_layout_and_leaves_its_input_alone() -> None:
    x = torch.randn(64, 500, 4).transpose(1, 2)  # not contiguous
    before = x.clone()
    torch.testing.assert_close(fasttanh.tanh(x), torch.tanh(x), rtol=3e-7, atol=0)
    assert torch.equal(x, before)


def test_small_other_dtype_and_autograd_inputs_get_torch_tanh_itself() -> None:
    for x in (torch.randn(10, 4), torch.randn(64, 4, 500, dtype=torch.float64),
              torch.randn(64, 4, 500, requires_grad=True)):
        assert torch.equal(fasttanh.tanh(x), torch.tanh(x))
