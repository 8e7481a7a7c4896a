"""The data part of an exported script for a library set: the set loaded and picked as
torchplay's data/library.py does, then its columns as the network's inputs (codegen.py writes
the rest). scikit-learn's sets need scikit-learn; IDX sets need their four files, found where
torchplay looks (TORCHPLAY_DATA_DIR, then Debian's folder for Fashion-MNIST) and read with
numpy."""

from __future__ import annotations

import inspect

from torchplay.data import idx, library
from torchplay.spec.model import IDX_KINDS, ExperimentSpec

SKLEARN_LOAD = {
    "iris": "bunch = datasets.load_iris()\n    x = bunch.data.astype(np.float32)",
    "wine": "bunch = datasets.load_wine()\n    x = bunch.data.astype(np.float32)",
    "breast_cancer": "bunch = datasets.load_breast_cancer()\n    x = bunch.data.astype("
                     "np.float32)",
    "digits": "bunch = datasets.load_digits()\n    x = (bunch.data / 16).astype(np.float32)  "
              "# pixels in [0, 1]",
    "diabetes": "bunch = datasets.load_diabetes(scaled=False)\n    x = bunch.data.astype("
                "np.float32)",
}


def needs(spec: ExperimentSpec) -> str:
    """What the script needs beyond numpy and torch, for its docstring."""
    if spec.data.kind in IDX_KINDS:
        return (f"the {library.TITLES[spec.data.kind]} IDX files (see load_points: "
                "TORCHPLAY_DATA_DIR, or Debian's dataset-fashion-mnist)")
    return "scikit-learn (pip install scikit-learn), whose wheel holds the data set"


def _sklearn_code(kind: str) -> str:
    target = ("y = bunch.target.astype(np.float64)\n    # standardised over the whole set, "
              "as torchplay does\n    y = ((y - y.mean()) / y.std()).astype(np.float32)"
              if kind == "diabetes" else "y = bunch.target.astype(np.int64)")
    return f'''def load_points() -> Points:
    """scikit-learn's {kind} set, shuffled by the data seed, cut to DATA.points and split by
    DATA.train_fraction, as torchplay picks it."""
    from sklearn import datasets  # pip install scikit-learn: the data ships in its wheel

    {SKLEARN_LOAD[kind]}
    {target}
    used = min(DATA.points, len(x))
    order = np.random.default_rng(DATA.seed).permutation(len(x))[:used]
    n_train = min(max(round(used * DATA.train_fraction), 1), used - 1)
    x, y = x[order], y[order]
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:])'''


def _idx_code(kind: str) -> str:
    reader = inspect.getsource(idx.read_idx).replace("IdxError", "ValueError")
    subfolders = (["fashion-mnist", "fashion_mnist", "FashionMNIST/raw"] if kind ==
                  "fashion_mnist" else ["mnist", "MNIST/raw", "."])
    debian = (f"\n    folders.append(Path({str(library.DEBIAN_FASHION)!r}))  # Debian's "
              "dataset-fashion-mnist") if kind == "fashion_mnist" else ""
    missing = (f"{library.TITLES[kind]}: no folder holds its four IDX files ("
               f"{', '.join(library.IDX_FILES)}; .gz or not). Get them from "
               f"{library.SOURCES[kind]}, put them in DIR/{subfolders[0]} and set "
               "TORCHPLAY_DATA_DIR=DIR")
    if kind == "fashion_mnist":
        missing += ", or apt-get install dataset-fashion-mnist"
    files = ",\n             ".join(repr(name) for name in library.IDX_FILES)
    return f'''import gzip
import os
from pathlib import Path

DTYPES = {{0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}}
IDX_FILES = ({files})


{reader.strip()}


def load_points() -> Points:
    """The first DATA.points of the standard training images and all the test images, pixels
    / 255, from the first folder holding the four IDX files (.gz or not), looked for where
    torchplay looks: under $TORCHPLAY_DATA_DIR{", then in Debian's folder" if debian else ""}."""
    base = os.environ.get("TORCHPLAY_DATA_DIR")
    folders = [Path(base) / sub for sub in {subfolders!r}] if base else []{debian}
    for folder in folders:
        files = [next((f for f in (folder / (n + ".gz"), folder / n) if f.is_file()), None)
                 for n in IDX_FILES]
        if all(files):
            break
    else:
        raise SystemExit({missing!r})
    train_images, train_labels, test_images, test_labels = (read_idx(f) for f in files)
    n = min(DATA.points, len(train_labels))

    def pixels(images: np.ndarray) -> np.ndarray:
        x = images.reshape(len(images), -1).astype(np.float32)
        x /= 255
        return x

    return Points(pixels(train_images[:n]), train_labels[:n].astype(np.int64),
                  pixels(test_images), test_labels.astype(np.int64))'''


def data_code(spec: ExperimentSpec) -> str:
    """DATA, Points and load_points() for a library set."""
    d = spec.data
    body = _idx_code(d.kind) if d.kind in IDX_KINDS else _sklearn_code(d.kind)
    return f'''# --- data: {library.TITLES[d.kind]}, picked as torchplay's data/library.py picks it.
DATA = SimpleNamespace(kind={d.kind!r}, points={d.points}, train_fraction={d.train_fraction!r},
                       seed={d.seed})


@dataclass(frozen=True, eq=False)
class Points:
    """Raw points: inputs (N, D) float32, one column per feature or pixel; targets."""

    train_x: np.ndarray
    train_y: np.ndarray
    test_x: np.ndarray
    test_y: np.ndarray


{body}'''


def features_code(spec: ExperimentSpec) -> str:
    """prepare(): the columns as the network's inputs (tables standardised per column)."""
    if spec.features.standardize and not spec.data.is_image:
        scale = '''    # Each column standardised by training-set statistics, in float64.
    wide = raw_train.double()
    mean = wide.mean(dim=0).float()
    std = wide.std(dim=0, unbiased=False).clamp_min(1e-8).float()
    x_train, x_test = (raw_train - mean) / std, (raw_test - mean) / std'''
    else:
        scale = "    x_train, x_test = raw_train, raw_test  # pixels in [0, 1], as they are" \
            if spec.data.is_image else "    x_train, x_test = raw_train, raw_test"
    return f'''# --- features
def prepare() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Training inputs and targets, then test inputs and targets, as the network sees them."""
    points = load_points()
    raw_train, raw_test = torch.from_numpy(points.train_x), torch.from_numpy(points.test_x)
{scale}
    return x_train, torch.from_numpy(points.train_y), x_test, torch.from_numpy(points.test_y)'''
