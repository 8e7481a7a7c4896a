"""Dataset generation and feature maps: determinism, shapes, labels, shift and standardisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from torchplay.data.toy import Features, Points, generate
from torchplay.spec.model import (
    CLASSIFICATION_KINDS,
    REGRESSION_1D_KINDS,
    REGRESSION_2D_KINDS,
    DataSpec,
    FeatureSpec,
)

ALL_KINDS = CLASSIFICATION_KINDS + REGRESSION_2D_KINDS + REGRESSION_1D_KINDS


def arrays(p: Points) -> list[np.ndarray]:
    return [p.train_x, p.train_y, p.test_x, p.test_y]


def circle_rule(x: np.ndarray) -> np.ndarray:
    return (np.hypot(x[:, 0], x[:, 1]) < 3.0).astype(np.int64)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_same_spec_gives_identical_points(kind: str) -> None:
    spec = DataSpec(kind=kind, noise=0.4, seed=7, test_shift=0.3)
    a, b = generate(spec), generate(DataSpec(**spec.model_dump()))
    for x, y in zip(arrays(a), arrays(b), strict=True):
        assert np.array_equal(x, y)
    assert a.extent == b.extent


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_different_seed_gives_different_points(kind: str) -> None:
    a = generate(DataSpec(kind=kind, seed=1))
    b = generate(DataSpec(kind=kind, seed=2))
    assert not np.array_equal(a.train_x, b.train_x)


def test_known_values_pin_the_generator() -> None:
    # Catches accidental changes to the draw order, which would silently change shared links.
    p = generate(DataSpec(kind="circle", points=10, seed=0, noise=0.5))
    np.testing.assert_allclose(p.train_x, [[5.2043171, -0.5099761], [2.5031869, 0.4112414],
                                           [1.2925560, 1.3510206], [3.7676768, 1.5562267],
                                           [4.0917215, -2.9340734]], rtol=1e-5)
    assert p.train_y.tolist() == [0, 1, 1, 0, 0]
    q = generate(DataSpec(kind="poly1d", points=10, seed=0))
    x = q.train_x[:, 0].astype(np.float64)
    np.testing.assert_allclose(x, [0.3412488, 0.9944199, 0.2307702, 0.3710840, 0.3009185],
                               rtol=1e-5)
    np.testing.assert_allclose(q.train_y, 2 * x**3 - x, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ALL_KINDS)
def test_shapes_and_dtypes(kind: str) -> None:
    spec = DataSpec(kind=kind, points=101, train_fraction=0.3, noise=0.5)
    p = generate(spec)
    dim = 1 if spec.is_1d else 2
    assert p.train_x.shape == (30, dim) and p.test_x.shape == (71, dim)
    assert p.train_x.dtype == np.float32 and p.test_x.dtype == np.float32
    assert p.train_y.shape == (30,) and p.test_y.shape == (71,)
    want = np.int64 if spec.task == "classification" else np.float32
    assert p.train_y.dtype == want and p.test_y.dtype == want
    for arr in arrays(p):
        assert np.all(np.isfinite(arr))
    if spec.task == "classification":
        labels = np.concatenate([p.train_y, p.test_y])
        assert set(np.unique(labels)) == set(range(spec.n_classes))
    assert len(p.extent) == 4 and all(isinstance(v, float) for v in p.extent)


@pytest.mark.parametrize("classes", [2, 3, 4, 5])
def test_spiral_has_one_balanced_class_per_arm(classes: int) -> None:
    spec = DataSpec(kind="spiral", classes=classes, points=503)
    p = generate(spec)
    counts = np.bincount(np.concatenate([p.train_y, p.test_y]), minlength=classes)
    assert len(counts) == classes
    assert counts.max() - counts.min() <= 1 and counts.sum() == 503


@pytest.mark.parametrize("kind", CLASSIFICATION_KINDS)
def test_two_class_sets_are_balanced(kind: str) -> None:
    p = generate(DataSpec(kind=kind, points=1001, classes=2))
    counts = np.bincount(np.concatenate([p.train_y, p.test_y]))
    assert counts.tolist() in ([501, 500], [500, 501])
    # Shuffled before the split, so the training set alone is roughly balanced too.
    assert abs(np.mean(p.train_y) - 0.5) < 0.1


@pytest.mark.parametrize(
    ("points", "fraction", "n_train"),
    [(500, 0.5, 250), (10, 0.05, 1), (10, 0.95, 9), (100, 0.8, 80), (20_000, 0.05, 1000)],
)
def test_train_fraction_split_sizes(points: int, fraction: float, n_train: int) -> None:
    p = generate(DataSpec(kind="gauss", points=points, train_fraction=fraction))
    assert len(p.train_x) == n_train and len(p.test_x) == points - n_train


@pytest.mark.parametrize("shift", [0.0, 1.5, -3.0])
@pytest.mark.parametrize("kind", ALL_KINDS)
def test_extent_covers_all_points(kind: str, shift: float) -> None:
    spec = DataSpec(kind=kind, noise=1.0, test_shift=shift)
    p = generate(spec)
    x_min, x_max, y_min, y_max = p.extent
    assert x_min < x_max and y_min < y_max
    for x, y in [(p.train_x, p.train_y), (p.test_x, p.test_y)]:
        assert x[:, 0].min() >= x_min and x[:, 0].max() <= x_max
        second = y if spec.is_1d else x[:, 1]
        assert second.min() >= y_min and second.max() <= y_max
    if not spec.is_1d:
        assert x_min <= -6 and x_max >= 6 and y_min <= -6 and y_max >= 6


@pytest.mark.parametrize("kind", ["circle", "xor", "checkerboard", "moons"])
def test_clean_sets_are_within_the_plane_window(kind: str) -> None:
    p = generate(DataSpec(kind=kind, points=2000))
    assert np.abs(np.concatenate([p.train_x, p.test_x])).max() <= 6.0


def test_circle_labels_follow_rule_without_noise() -> None:
    p = generate(DataSpec(kind="circle", points=1000))
    assert np.array_equal(p.train_y, circle_rule(p.train_x))
    r = np.hypot(p.train_x[:, 0], p.train_x[:, 1])
    assert np.all((r <= 2.5) | (r >= 3.5))  # a clear gap between disc and ring


def test_xor_keeps_axes_clear_and_labels_by_sign() -> None:
    p = generate(DataSpec(kind="xor", points=1000))
    assert np.abs(p.train_x).min() >= 0.3 - 1e-6 and np.abs(p.train_x).max() <= 5 + 1e-6
    assert np.array_equal(p.train_y, (p.train_x[:, 0] * p.train_x[:, 1] > 0).astype(np.int64))


def test_checkerboard_labels_are_cell_parity() -> None:
    p = generate(DataSpec(kind="checkerboard", points=1000, test_shift=0.25))
    for x, y in [(p.train_x, p.train_y), (p.test_x, p.test_y)]:
        cells = np.floor((x.astype(np.float64) + 6) / 3).astype(np.int64)
        assert np.array_equal(y, (cells[:, 0] + cells[:, 1]) % 2)


def test_noise_zero_is_clean_and_noise_moves_the_same_points() -> None:
    clean = generate(DataSpec(kind="sine1d", points=200))
    noisy = generate(DataSpec(kind="sine1d", points=200, noise=0.5))
    x = clean.train_x[:, 0].astype(np.float64)
    np.testing.assert_allclose(clean.train_y, np.sin(np.pi * x), atol=1e-6)
    assert np.array_equal(clean.train_x, noisy.train_x)
    residual = noisy.train_y - clean.train_y
    assert 0.15 < residual.std() < 0.35  # std = 0.5 * noise = 0.25


def test_test_shift_moves_test_points_and_relabels_circle() -> None:
    base = generate(DataSpec(kind="circle", points=1000))
    moved = generate(DataSpec(kind="circle", points=1000, test_shift=0.5))
    assert np.array_equal(base.train_x, moved.train_x)
    assert np.array_equal(base.train_y, moved.train_y)
    np.testing.assert_allclose(moved.test_x, base.test_x + 3.0, atol=1e-5)
    assert np.array_equal(moved.test_y, circle_rule(moved.test_x))
    assert not np.array_equal(moved.test_y, base.test_y)  # relabelled, not carried along


def test_test_shift_carries_cluster_labels() -> None:
    base = generate(DataSpec(kind="gauss", points=400))
    moved = generate(DataSpec(kind="gauss", points=400, test_shift=-1.0))
    np.testing.assert_allclose(moved.test_x, base.test_x - 6.0, atol=1e-5)
    assert np.array_equal(moved.test_y, base.test_y)


@pytest.mark.parametrize("kind", ["poly1d", "sine1d", "plane", "multi_gauss"])
def test_test_shift_recomputes_regression_targets(kind: str) -> None:
    spec = DataSpec(kind=kind, points=300, test_shift=0.5)
    p, base = generate(spec), generate(DataSpec(kind=kind, points=300))
    shift = 0.5 if spec.is_1d else 3.0
    np.testing.assert_allclose(p.test_x, base.test_x + shift, atol=1e-5)
    x = p.test_x.astype(np.float64)
    if kind == "poly1d":
        want = 2 * x[:, 0] ** 3 - x[:, 0]
    elif kind == "sine1d":
        want = np.sin(np.pi * x[:, 0])
    elif kind == "plane":
        want = (x[:, 0] + x[:, 1]) / 12
    else:
        assert not np.allclose(p.test_y, base.test_y)
        return
    np.testing.assert_allclose(p.test_y, want, atol=1e-5)


def test_regression_targets_roughly_in_unit_range() -> None:
    for kind in REGRESSION_2D_KINDS + REGRESSION_1D_KINDS:
        p = generate(DataSpec(kind=kind, points=2000))
        y = np.concatenate([p.train_y, p.test_y])
        assert -1.2 <= y.min() < -0.5 and 0.5 < y.max() <= 1.2, kind


def test_features_2d_values_match_numpy_by_hand() -> None:
    inputs = ["sin_x2", "x1", "x1_x2", "x2_sq", "x2", "x1_sq", "sin_x1"]
    train = torch.tensor([[1.0, 2.0], [-0.5, 3.0], [4.0, -1.0]])
    feats = Features(FeatureSpec(inputs=inputs, standardize=False), False, train)
    assert feats.names == inputs
    raw = np.array([[0.5, -2.0], [3.0, 1.5]])
    got = feats(torch.tensor(raw, dtype=torch.float32)).numpy()
    a, b = raw[:, 0], raw[:, 1]
    want = np.stack([np.sin(b), a, a * b, b * b, b, a * a, np.sin(a)], axis=1)
    assert got.shape == (2, 7) and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_features_standardise_with_training_statistics() -> None:
    p = generate(DataSpec(kind="moons", points=400, noise=0.3))
    spec = FeatureSpec(inputs=["x1", "x2", "x1_sq", "x1_x2", "sin_x1"])
    train = torch.from_numpy(p.train_x)
    f = Features(spec, False, train)(train)
    torch.testing.assert_close(f.mean(0), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(f.std(0, unbiased=False), torch.ones(5), atol=1e-4, rtol=0)
    # The test set reuses the training statistics: x1 is scaled by hand the same way.
    test = torch.from_numpy(p.test_x)
    x1 = p.train_x[:, 0].astype(np.float64)
    want = (p.test_x[:, 0] - x1.mean()) / x1.std()
    np.testing.assert_allclose(Features(spec, False, train)(test)[:, 0].numpy(), want,
                               rtol=1e-4, atol=1e-5)


def test_constant_feature_does_not_divide_by_zero() -> None:
    train = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 0.0]])
    out = Features(FeatureSpec(inputs=["x2", "x1"]), False, train)(train)
    assert torch.isfinite(out).all() and torch.equal(out[:, 0], torch.zeros(3))


@pytest.mark.parametrize("degree", [1, 3, 15])
def test_features_1d_powers(degree: int) -> None:
    train = torch.tensor([[-1.0], [-0.5], [0.25], [0.9]])
    feats = Features(FeatureSpec(degree=degree, standardize=False), True, train)
    assert feats.names == ["x"] + [f"x^{k}" for k in range(2, degree + 1)]
    raw = np.array([[-0.7], [0.0], [0.3], [1.0]])
    got = feats(torch.tensor(raw, dtype=torch.float32)).numpy()
    want = raw ** np.arange(1, degree + 1)
    assert got.shape == (4, degree)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)


def test_features_1d_standardised_high_degree() -> None:
    p = generate(DataSpec(kind="poly1d", points=30, seed=3))
    train = torch.from_numpy(p.train_x)
    f = Features(FeatureSpec(degree=15), True, train)(train)
    assert f.shape == (15, 15)
    torch.testing.assert_close(f.mean(0), torch.zeros(15), atol=1e-4, rtol=0)
    torch.testing.assert_close(f.std(0, unbiased=False), torch.ones(15), atol=1e-3, rtol=0)


def test_features_work_on_a_grid_and_reject_wrong_width() -> None:
    train = torch.randn(50, 2, generator=torch.Generator().manual_seed(0))
    feats = Features(FeatureSpec(inputs=["x1_sq", "x2"]), False, train)
    grid = torch.cartesian_prod(torch.linspace(-6, 6, 11), torch.linspace(-6, 6, 11))
    out = feats(grid)
    assert out.shape == (121, 2) and out.dtype == torch.float32 and out.device == grid.device
    with pytest.raises(ValueError):
        feats(torch.zeros(3, 1))
    with pytest.raises(ValueError):
        Features(FeatureSpec(degree=2), True, train[:, :1])(torch.zeros(3, 2))


def test_features_keep_the_input_device() -> None:
    """Grids and batches stay where they are (a GPU in use); the meta device stands in for
    one here, since it exists on every machine and any stray copy to the CPU would show."""
    train = torch.randn(20, 2)
    for inputs, standardize in ((["x1", "x1_x2", "sin_x2"], False), (["x1_sq", "x2"], True)):
        feats = Features(FeatureSpec(inputs=inputs, standardize=standardize), False, train)
        out = feats(train.to("meta"))
        assert out.device.type == "meta" and out.shape == (20, len(inputs))


def test_extent_of_1d_data_spans_target_range() -> None:
    p = generate(DataSpec(kind="sine1d", points=500))
    x_min, x_max, y_min, y_max = p.extent
    assert x_min <= -1 and x_max >= 1
    assert y_min < -0.9 and y_max > 0.9 and y_max - y_min < 3.0
    assert math.isclose(x_max - x_min, 2.2, rel_tol=0.05)
