"""Read IDX files (the format of MNIST and Fashion-MNIST), gzipped or raw, with numpy.

An IDX file is two zero bytes, a type code, the number of dimensions, each dimension as a
big-endian uint32, then the values in C order, big-endian. MNIST's images are (N, 28, 28)
uint8 and its labels (N,) uint8.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

DTYPES = {0x08: np.dtype("u1"), 0x09: np.dtype("i1"), 0x0B: np.dtype(">i2"),
          0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IdxError(ValueError):
    """A file that is not a well-formed IDX file; the message names the file."""


def read_idx(path: Path) -> np.ndarray:
    """The array an IDX file holds (.gz files are decompressed first)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as exc:  # gzip raises BadGzipFile (an OSError) or EOFError
        raise IdxError(f"{path}: cannot be read: {exc}") from exc
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] not in DTYPES:
        raise IdxError(f"{path}: not an IDX file (bad magic number)")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IdxError(f"{path}: truncated header")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = DTYPES[raw[2]]
    count = int(np.prod(shape)) if shape else 1
    if len(raw) - header != count * dtype.itemsize:
        raise IdxError(f"{path}: holds {len(raw) - header} bytes of values, the header says "
                       f"{shape} of {dtype.itemsize} byte(s)")
    return np.frombuffer(raw, dtype, count=count, offset=header).reshape(shape)

