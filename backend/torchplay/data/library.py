"""Real data sets, offline: scikit-learn's bundled tables and images, and IDX image sets.

- iris, wine, breast_cancer (classify), diabetes (regress) and digits (8x8 images, 10 classes)
  ship inside scikit-learn's wheel: no download.
- fashion_mnist: the four standard IDX files, from `<data dir>/fashion-mnist` (or
  `fashion_mnist`, or torchvision's `FashionMNIST/raw`), else Debian's
  `dataset-fashion-mnist` package (/usr/share/datasets/fashion-mnist).
- mnist: the same four files from `<data dir>/mnist`, `<data dir>/MNIST/raw` or the data dir
  itself.

Each set is read once per process (cache.SHARED) and shared. How a spec picks points:
scikit-learn sets are shuffled by `data.seed`, the first min(points, size) taken and split by
`train_fraction`; IDX sets keep their standard split: the first min(points, 60,000) training
images, and all 10,000 test images. `noise` and `test_shift` apply to generated sets only.
Images are pixels in [0, 1] (digits: value / 16; IDX: value / 255), one column per pixel in
row-major order. The diabetes target is standardised over the whole set (its mean 152.1, std
77.0), so a regression loss starts near 1 rather than near 29,000.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from torchplay.data.cache import SHARED, DataCache
from torchplay.data.idx import IdxError, read_idx
from torchplay.data.toy import Points, generate
from torchplay.spec.model import (
    IDX_KINDS,
    LIBRARY_INPUTS,
    LIBRARY_KINDS,
    LIBRARY_SIZES,
    DataSpec,
    SpecError,
)

DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")
IDX_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
             "t10k-labels-idx1-ubyte")
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                   "Sneaker", "Bag", "Ankle boot")
SOURCES = {
    "fashion_mnist": "https://github.com/zalandoresearch/fashion-mnist (data/fashion)",
    "mnist": "https://yann.lecun.com/exdb/mnist/ (or any mirror of its four files)",
}
TITLES = {"iris": "Iris", "wine": "Wine", "breast_cancer": "Breast cancer", "digits": "Digits",
          "diabetes": "Diabetes", "fashion_mnist": "Fashion-MNIST", "mnist": "MNIST"}


@dataclass(frozen=True, eq=False)
class Table:
    """A whole library set as loaded once: inputs, targets and what they are called."""

    x: np.ndarray  # (N, D) float32
    y: np.ndarray  # (N,) int64 class or float32 target
    columns: list[str]
    class_names: list[str] | None
    image_shape: tuple[int, int] | None
    test_x: np.ndarray | None = None  # IDX sets: the standard test split
    test_y: np.ndarray | None = None


def idx_dirs(kind: str, data_dir: Path | None) -> list[Path]:
    """Where a kind's IDX files are looked for, in order."""
    found: list[Path] = []
    if data_dir is not None:
        if kind == "fashion_mnist":
            found += [data_dir / "fashion-mnist", data_dir / "fashion_mnist",
                      data_dir / "FashionMNIST" / "raw"]
        else:
            found += [data_dir / "mnist", data_dir / "MNIST" / "raw", data_dir]
    if kind == "fashion_mnist":
        found.append(DEBIAN_FASHION)
    return found


def _idx_file(folder: Path, name: str) -> Path | None:
    """The file `name` in folder, gzipped or raw, with '-idx' or '.idx' (both are seen)."""
    for stem in (name, name.replace("-idx", ".idx")):
        for candidate in (folder / f"{stem}.gz", folder / stem):
            if candidate.is_file():
                return candidate
    return None


def find_idx(kind: str, data_dir: Path | None) -> list[Path] | None:
    """The four files of the first folder that holds all of them, or None."""
    for folder in idx_dirs(kind, data_dir):
        files = [_idx_file(folder, name) for name in IDX_FILES]
        if all(files):
            return files  # type: ignore[return-value]
    return None


def how_to_get(kind: str, data_dir: Path | None) -> str:
    """What to do when a kind's files are missing, in plain words."""
    looked = ", ".join(str(d) for d in idx_dirs(kind, data_dir))
    files = ", ".join(f"{name}.gz" for name in IDX_FILES)
    folder = "fashion-mnist" if kind == "fashion_mnist" else "mnist"
    where = f"looked in {looked}" if looked else "no --data-dir is set"
    text = f"{TITLES[kind]} is not on this server ({where}). "
    if kind == "fashion_mnist":
        text += "Install it with `apt-get install dataset-fashion-mnist` (Debian, Ubuntu), or p"
    else:
        text += "P"
    text += (f"ut its four IDX files ({files}; .gz or not) from {SOURCES[kind]} in "
             f"DIR/{folder} and start torchplay with --data-dir DIR (or TORCHPLAY_DATA_DIR=DIR).")
    return text


def _load_idx(kind: str, files: list[Path]) -> Table:
    arrays = []
    try:
        arrays = [read_idx(path) for path in files]
    except IdxError as exc:
        raise SpecError("data.kind", f"{TITLES[kind]}: {exc}") from exc
    train_images, train_labels, test_images, test_labels = arrays
    for images, labels in ((train_images, train_labels), (test_images, test_labels)):
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise SpecError("data.kind", f"{TITLES[kind]}: images {images.shape} and labels "
                            f"{labels.shape} do not match (want (N, H, W) and (N,))")
    h, w = train_images.shape[1:]
    names = list(FASHION_CLASSES) if kind == "fashion_mnist" else [str(d) for d in range(10)]

    def pixels(images: np.ndarray) -> np.ndarray:
        # In place in float32: one 188 MB array, no float64 intermediate.
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= 255
        return x

    return Table(pixels(train_images), train_labels.astype(np.int64), _pixel_names(h, w),
                 names, (h, w), pixels(test_images), test_labels.astype(np.int64))


def _pixel_names(h: int, w: int) -> list[str]:
    return [f"pixel_{r}_{c}" for r in range(h) for c in range(w)]


def _load_sklearn(kind: str) -> Table:
    try:
        from sklearn import datasets  # imported here: ~1 s, and only library sets need it
    except ImportError as exc:
        raise SpecError("data.kind", f"{kind} comes from scikit-learn, which is not "
                        "installed: pip install scikit-learn") from exc
    if kind == "digits":
        bunch: Any = datasets.load_digits()
        return Table((bunch.data / 16).astype(np.float32), bunch.target.astype(np.int64),
                     _pixel_names(8, 8), [str(d) for d in range(10)], (8, 8))
    if kind == "diabetes":
        bunch = datasets.load_diabetes(scaled=False)
        y = bunch.target.astype(np.float64)
        return Table(bunch.data.astype(np.float32), ((y - y.mean()) / y.std()).astype(
            np.float32), list(bunch.feature_names), None, None)
    bunch = {"iris": datasets.load_iris, "wine": datasets.load_wine,
             "breast_cancer": datasets.load_breast_cancer}[kind]()
    return Table(bunch.data.astype(np.float32), bunch.target.astype(np.int64),
                 list(bunch.feature_names), [str(n) for n in bunch.target_names], None)


def table(kind: str, cache: DataCache = SHARED) -> Table:
    """The whole set of a library kind, loaded once per process and shared."""
    if kind in IDX_KINDS:
        files = find_idx(kind, cache.data_dir)
        if files is None:
            raise SpecError("data.kind", how_to_get(kind, cache.data_dir))
        return cache.get((kind, tuple(files)), lambda: _load_idx(kind, files))
    return cache.get(kind, lambda: _load_sklearn(kind))


def available(kind: str, cache: DataCache = SHARED) -> bool:
    """Whether a library kind can load here (IDX files found; scikit-learn importable)."""
    if kind in IDX_KINDS:
        return find_idx(kind, cache.data_dir) is not None
    return importlib.util.find_spec("sklearn") is not None  # found, not imported (~1 s)


def previews() -> list[dict[str, Any]]:
    """What the page's picker shows of each library set, without loading any: its task,
    classes, size, inputs, whether it is here, and if not how to get it."""
    found = []
    for kind in LIBRARY_KINDS:
        spec = DataSpec(kind=kind)
        here = available(kind)
        found.append({"kind": kind, "title": TITLES[kind], "task": spec.task, "one_d": False,
                      "library": True, "classes": spec.n_classes, "size": LIBRARY_SIZES[kind],
                      "inputs": LIBRARY_INPUTS[kind], "image": spec.is_image,
                      "available": here, "how_to_get": None if here else how_to_get(
                          kind, SHARED.data_dir) if kind in IDX_KINDS else
                      "pip install scikit-learn", "extent": [0, 1, 0, 1], "x": [], "y": []})
    return found


def _extent(x: np.ndarray) -> tuple[float, float, float, float]:
    """The first two columns' range: the frame contract's field; D > 2 sets draw no plane."""
    lo, hi = x[:, :2].min(axis=0), x[:, :2].max(axis=0)
    return float(lo[0]), float(hi[0]), float(lo[-1]), float(hi[-1])


def library_points(spec: DataSpec, cache: DataCache = SHARED) -> Points:
    """A library set's points as the spec picks them (see the module's docstring)."""
    t = table(spec.kind, cache)
    if t.test_x is not None and t.test_y is not None:
        n = min(spec.points, LIBRARY_SIZES[spec.kind], len(t.x))
        # Views of the shared arrays: a run adds no copy of the images.
        train_x, train_y, test_x, test_y = t.x[:n], t.y[:n], t.test_x, t.test_y
    else:
        used = min(spec.points, len(t.x))
        order = np.random.default_rng(spec.seed).permutation(len(t.x))[:used]
        n_train = min(max(round(used * spec.train_fraction), 1), used - 1)
        x, y = t.x[order], t.y[order]
        train_x, train_y, test_x, test_y = x[:n_train], y[:n_train], x[n_train:], y[n_train:]
    return Points(train_x, train_y, test_x, test_y, _extent(train_x), columns=t.columns,
                  class_names=t.class_names, image_shape=t.image_shape)


def points_for(spec: DataSpec, cache: DataCache = SHARED) -> Points:
    """Any data spec's points: generated, or taken from a library set."""
    return library_points(spec, cache) if spec.is_library else generate(spec)
