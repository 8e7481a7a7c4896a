"""Library data sets: the IDX reader on files written here in the real format (gzipped and
raw), MNIST and Fashion-MNIST from a data directory, Debian's Fashion-MNIST, scikit-learn's
sets, per-kind bounds, per-column features, and one shared copy per process."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from torchplay.data.cache import SHARED, DataCache
from torchplay.data.columns import ColumnFeatures
from torchplay.data.idx import IdxError, read_idx
from torchplay.data.library import (
    DEBIAN_FASHION,
    FASHION_CLASSES,
    IDX_FILES,
    library_points,
    table,
)
from torchplay.engine.session import TrainingSession
from torchplay.engine.steppers.batched import check_batchable
from torchplay.spec.model import (
    LIBRARY_INPUTS,
    LIBRARY_SIZES,
    DataSpec,
    ExperimentSpec,
    FeatureSpec,
    SpecError,
)


def idx_bytes(array: np.ndarray) -> bytes:
    """An IDX file's bytes, written from the format's description (not by the reader's code):
    0, 0, type 0x08 (unsigned byte), rank, each size as a big-endian uint32, then the values."""
    return (bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
            + array.astype(np.uint8).tobytes())


def write_set(folder: Path, n_train: int, n_test: int, gz: bool, seed: int = 0,
              side: tuple[int, int] = (28, 28)) -> dict[str, np.ndarray]:
    """Four IDX files of random images and labels, as MNIST names them."""
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, *side)),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, *side)),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test)}
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in arrays.items():
        data = idx_bytes(array)
        if gz:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_read_idx_reads_the_real_format(tmp_path: Path, gz: bool) -> None:
    written = write_set(tmp_path, 7, 3, gz, side=(5, 4))
    for name, array in written.items():
        path = tmp_path / (f"{name}.gz" if gz else name)
        read = read_idx(path)
        assert read.shape == array.shape and read.dtype == np.uint8
        assert np.array_equal(read, array)


def test_read_idx_names_the_file_it_cannot_read(tmp_path: Path) -> None:
    bad = tmp_path / "train-images-idx3-ubyte"
    bad.write_bytes(b"PK\x03\x04 not an idx file")
    with pytest.raises(IdxError, match="train-images-idx3-ubyte: not an IDX file"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(idx_bytes(np.zeros((4, 3, 3)))[:-5])
    with pytest.raises(IdxError, match="the header says"):
        read_idx(short)
    broken = tmp_path / "broken.gz"
    broken.write_bytes(b"\x1f\x8b not really gzip")
    with pytest.raises(IdxError, match="cannot be read"):
        read_idx(broken)


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_comes_from_the_data_dir_with_its_standard_split(tmp_path: Path,
                                                               gz: bool) -> None:
    written = write_set(tmp_path / "mnist", 40, 12, gz)
    cache = DataCache(tmp_path)
    points = library_points(DataSpec(kind="mnist", points=25), cache)
    # The first `points` training images, every test image; pixels / 255, one column each.
    assert points.train_x.shape == (25, 784) and points.test_x.shape == (12, 784)
    expected = written["train-images-idx3-ubyte"][:25].reshape(25, -1) / 255
    assert np.allclose(points.train_x, expected, atol=1e-7)
    assert np.array_equal(points.train_y, written["train-labels-idx1-ubyte"][:25])
    assert np.array_equal(points.test_y, written["t10k-labels-idx1-ubyte"])
    assert points.image_shape == (28, 28) and len(points.columns) == 784
    assert points.class_names == [str(d) for d in range(10)]
    # More points than the files hold: all of them.
    assert len(library_points(DataSpec(kind="mnist", points=60_000), cache).train_y) == 40


def test_fashion_mnist_prefers_the_data_dir_and_names_its_classes(tmp_path: Path) -> None:
    write_set(tmp_path / "fashion-mnist", 30, 10, gz=True, seed=3)
    points = library_points(DataSpec(kind="fashion_mnist", points=100), DataCache(tmp_path))
    assert len(points.train_y) == 30 and len(points.test_y) == 10
    assert points.class_names == list(FASHION_CLASSES)


def test_missing_files_say_how_to_get_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           ) -> None:
    cache = DataCache(tmp_path)
    with pytest.raises(SpecError) as mnist:
        table("mnist", cache)
    assert mnist.value.field == "data.kind"
    assert "--data-dir DIR" in mnist.value.message and str(tmp_path / "mnist") in \
        mnist.value.message
    # Without Debian's package either, fashion_mnist names the package to install.
    monkeypatch.setattr("torchplay.data.library.DEBIAN_FASHION", tmp_path / "nowhere")
    with pytest.raises(SpecError, match="apt-get install dataset-fashion-mnist"):
        table("fashion_mnist", cache)
    # Three of the four files are not a set.
    write_set(tmp_path / "mnist", 5, 5, gz=False)
    (tmp_path / "mnist" / IDX_FILES[3]).unlink()
    with pytest.raises(SpecError, match="is not on this server"):
        table("mnist", cache)


def test_debians_fashion_mnist_is_the_standard_set() -> None:
    """Debian's dataset-fashion-mnist (CI installs it): the real 60,000 + 10,000 images."""
    assert DEBIAN_FASHION.is_dir(), "apt-get install dataset-fashion-mnist"
    points = library_points(DataSpec(kind="fashion_mnist", points=60_000), DataCache())
    assert points.train_x.shape == (60_000, 784) and points.test_x.shape == (10_000, 784)
    assert points.train_x.dtype == np.float32
    assert 0.0 == points.train_x.min() and points.train_x.max() == 1.0
    assert np.array_equal(np.bincount(points.train_y), np.full(10, 6000))
    assert np.array_equal(np.bincount(points.test_y), np.full(10, 1000))


@pytest.mark.parametrize("kind", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_scikit_learn_sets_split_by_seed(kind: str) -> None:
    spec = DataSpec(kind=kind, points=60_000, train_fraction=0.8, seed=5)
    a, b = library_points(spec), library_points(spec)
    size = LIBRARY_SIZES[kind]
    assert len(a.train_y) + len(a.test_y) == size
    assert len(a.train_y) == round(size * 0.8)
    assert a.train_x.shape[1] == LIBRARY_INPUTS[kind] == len(a.columns)
    assert np.array_equal(a.train_x, b.train_x) and np.array_equal(a.test_y, b.test_y)
    other = library_points(DataSpec(kind=kind, points=60_000, train_fraction=0.8, seed=6))
    assert not np.array_equal(a.train_y, other.train_y) or \
        not np.array_equal(a.train_x, other.train_x)
    if spec.task == "classification":
        assert a.class_names is not None and len(a.class_names) == spec.n_classes
        assert set(np.unique(np.concatenate((a.train_y, a.test_y)))) == set(
            range(spec.n_classes))
    else:  # diabetes: the target standardised over the whole set
        y = np.concatenate((a.train_y, a.test_y))
        assert abs(y.mean()) < 1e-5 and abs(y.std() - 1) < 1e-5
    if kind == "digits":
        assert a.image_shape == (8, 8) and a.train_x.min() == 0 and a.train_x.max() == 1


def test_points_are_bounded_per_kind() -> None:
    with pytest.raises(ValidationError, match="generated sets have at most 20,000 points"):
        DataSpec(kind="circle", points=20_001)
    with pytest.raises(ValidationError, match="less than or equal to 60000"):
        DataSpec(kind="fashion_mnist", points=60_001)
    assert DataSpec(kind="fashion_mnist", points=60_000).points == 60_000
    # A library set smaller than `points` is taken whole (the default 500 fits every kind).
    iris = library_points(DataSpec(kind="iris"))
    assert len(iris.train_y) + len(iris.test_y) == 150


def test_tables_are_standardised_per_column_and_images_are_not() -> None:
    wine = library_points(DataSpec(kind="wine"))
    raw = torch.from_numpy(wine.train_x)
    features = ColumnFeatures(FeatureSpec(), wine.columns, False, raw)
    x = features(raw).double()
    assert torch.allclose(x.mean(0), torch.zeros(13, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(x.std(0, unbiased=False), torch.ones(13, dtype=torch.float64),
                          atol=1e-4)
    digits = library_points(DataSpec(kind="digits"))
    pixels = torch.from_numpy(digits.train_x)
    assert ColumnFeatures(FeatureSpec(), digits.columns, True, pixels)(pixels) is pixels
    with pytest.raises(ValueError, match=r"shape \(N, 13\)"):
        features(pixels)


def fashion_spec(seed: int = 0) -> ExperimentSpec:
    return ExperimentSpec.model_validate({
        "data": {"kind": "fashion_mnist", "points": 60_000},
        "network": {"layers": [{"type": "linear", "units": 16},
                               {"type": "activation", "fn": "relu"}]},
        "training": {"batch_size": 256, "seed": seed}})


def test_runs_of_one_set_share_one_copy_in_the_process() -> None:
    first, second = TrainingSession(fashion_spec(0)), TrainingSession(fashion_spec(1))
    shared = table("fashion_mnist")
    assert SHARED.loads[next(k for k in SHARED.loads if k[0] == "fashion_mnist")] == 1
    for session in (first, second):
        # The network's inputs are the cached pixels themselves: no copy per run.
        assert session.x_train.data_ptr() == torch.from_numpy(shared.x).data_ptr()
        assert session.x_test.data_ptr() == torch.from_numpy(shared.test_x).data_ptr()
    before = shared.x[:1000].sum(dtype=np.float64)
    for _ in range(5):
        first.step()
        second.step(probe=True)
    first.frame()
    assert shared.x[:1000].sum(dtype=np.float64) == before  # nothing wrote to it


def test_a_large_sets_frames_measure_a_fixed_sample_a_few_times_a_second() -> None:
    session = TrainingSession(fashion_spec())
    session.running = True
    first = session.frame()
    assert first["evaluated_on"] == {"train": 500, "test": 500, "sample": True}
    session.step()
    again = session.frame()  # moments later, while training: the same figures
    assert again["train_loss"] == first["train_loss"]
    assert again["images"] is first["images"]  # views too: rebuilt at most once a second
    session.running = False  # stopped: the figures and views are those of the model now
    session.step()
    settled = session.frame()
    assert settled["train_loss"] != first["train_loss"]
    assert settled["images"]["version"] == first["images"]["version"] + 1
    assert settled["images"]["step"] == settled["step"] == 2
    # The epoch's end evaluates the whole sets: history row 0 is the step-0 model on all of it.
    x, y = session.x_test, session.y_test
    session.reset()
    loss, accuracy = session.evaluate(x, y)
    assert session.history.evals.data["test_loss"][0] == loss


def test_a_large_set_goes_to_a_device_once_and_trains_alone() -> None:
    x = torch.from_numpy(table("fashion_mnist").x)
    meta = torch.device("meta")  # a device every machine has: copies without memory
    assert SHARED.on_device(x, meta) is SHARED.on_device(x, meta)
    assert SHARED.on_device(x, torch.device("cpu")) is x
    with pytest.raises(SpecError) as refused:
        check_batchable([fashion_spec(0), fashion_spec(1)])
    assert refused.value.field == "data.points"


def test_a_large_sets_epoch_rows_take_the_training_figures_from_its_mini_batches() -> None:
    """The whole test set at each epoch's end; the training figures are the epoch's own
    mini-batches' (a weighted mean of the step losses: 234 batches of 256 and one of 96), the
    same on the traced path as on the eager one; step 0's come from the training sample."""
    rows = []
    for traced in (True, False):
        session = TrainingSession(fashion_spec(), traced=traced)
        session.request(2, "epoch")
        while session.wants_work:
            session.step()
        evals, steps = session.history.evals.data, session.history.steps.data
        losses = torch.tensor(steps["loss"][-235:], dtype=torch.float64)
        sizes = torch.tensor([256.0] * 234 + [96.0], dtype=torch.float64)
        assert evals["train_loss"][-1] == pytest.approx(float((losses * sizes).sum() / 60_000),
                                                        rel=1e-5)
        assert 0.5 < evals["train_metric"][-1] < 1
        assert (evals["test_loss"][-1], evals["test_metric"][-1]) == \
            session.evaluate(session.x_test, session.y_test)
        sample = session.x_train[:500], session.y_train[:500]
        session.reset()
        assert evals["train_loss"][0] == session.evaluate(*sample)[0]
        rows.append((evals["train_loss"][-1], evals["train_metric"][-1]))
    assert rows[0] == rows[1]
