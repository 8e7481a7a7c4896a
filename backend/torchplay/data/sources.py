"""Where a DataSpec's points come from: the toy generators, drawn points, uploaded tables.

Uploaded tables live in the store, which the engine does not know; the web layer hands a
table's bytes to `TABLES` (a per-process shelf keyed by content hash, so one copy serves
every run, and the same hash always means the same table) before it opens a run on it.
A table's Points are the raw chosen columns; `table_view` gives the plane through them that
the Output plane shows, in the standardised inputs' space.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from torchplay.data import projection
from torchplay.data.drawn import generate_drawn
from torchplay.data.library import library_points
from torchplay.data.table import Table, TableError, content_hash, parse, select
from torchplay.data.toy import Points, _span, generate
from torchplay.spec.model import DataSpec, SpecError, TableSpec, train_count

SHELF_TABLES = 8  # parsed tables kept per process (the store keeps them all)


class TableShelf:
    """Parsed tables by content hash, the most recently used kept; thread-safe."""

    def __init__(self, capacity: int = SHELF_TABLES) -> None:
        self.capacity = capacity
        self._tables: OrderedDict[str, Table] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, digest: str) -> Table | None:
        with self._lock:
            table = self._tables.get(digest)
            if table is not None:
                self._tables.move_to_end(digest)
            return table

    def add(self, raw: bytes) -> Table:
        """Parse raw (TableError if it is no usable table) and keep it; a known hash is not
        parsed again."""
        found = self.get(content_hash(raw))
        if found is not None:
            return found
        table = parse(raw)
        with self._lock:
            self._tables[table.hash] = table
            while len(self._tables) > self.capacity:
                self._tables.popitem(last=False)
        return table


TABLES = TableShelf()


@dataclass(frozen=True, eq=False)
class TableView:
    """How a table's inputs are normalised, and the plane of them the Output plane shows."""

    mean: np.ndarray  # (D,) of the training inputs
    std: np.ndarray  # (D,)
    plane: projection.Plane
    extent: tuple[float, float, float, float]  # plane coordinates (u, v) of every point

    def to_plane(self, raw: np.ndarray) -> np.ndarray:
        return projection.project(self.plane, (raw - self.mean) / self.std)

    def from_plane(self, uv: np.ndarray) -> np.ndarray:
        return projection.lift(self.plane, uv) * self.std + self.mean


def table_view(spec: TableSpec, train_x: np.ndarray, test_x: np.ndarray) -> TableView:
    """The normalisation (training statistics) and the chosen plane of a table's inputs."""
    return columns_view(list(spec.inputs), list(spec.plane), train_x, test_x)


def plane_view(spec: DataSpec, points: Points) -> TableView | None:
    """The plane a run with D > 2 inputs is shown on: a table's chosen one, the principal
    plane of a tabular library set (iris, wine, ...); None for 2-D and 1-D sets and images."""
    if spec.table is not None:
        return table_view(spec.table, points.train_x, points.test_x)
    if spec.is_library and points.image_shape is None and points.columns is not None and \
            len(points.columns) > 2:
        return columns_view(points.columns, [], points.train_x, points.test_x)
    return None


def columns_view(columns: list[str], chosen: list[str], train_x: np.ndarray,
                 test_x: np.ndarray) -> TableView:
    """The normalisation (training statistics) of D input columns, and the plane through
    them: the two `chosen` columns, or the first two principal components."""
    wide = train_x.astype(np.float64)
    mean, std = wide.mean(axis=0), np.maximum(wide.std(axis=0), 1e-8)
    normal = (wide - mean) / std
    if chosen:
        i, j = (columns.index(name) for name in chosen)
        plane = projection.column_plane(normal, columns, i, j)
    else:
        plane = projection.principal_plane(normal, columns)
    uv = projection.project(plane, (np.concatenate((wide, test_x)) - mean) / std)
    lo, hi = uv.min(axis=0), uv.max(axis=0)
    extent = (*_span(lo[0], hi[0], 0.05), *_span(lo[1], hi[1], 0.05))
    return TableView(mean, std, plane, extent)


def table_arrays(spec: DataSpec, table: Table) -> tuple[np.ndarray, np.ndarray,
                                                        list[str] | None, int]:
    """A table's chosen inputs and targets shuffled by data.seed, the class names, and how
    many rows go to training (data.train_fraction); TableError for a bad choice. Exported
    scripts copy this function."""
    x, y, names = select(table, spec.table)
    order = np.random.default_rng(spec.seed).permutation(len(y))
    n_train = min(max(round(len(y) * spec.train_fraction), 1), len(y) - 1)
    return x[order], y[order], names, n_train


def table_points(spec: DataSpec, table: Table) -> Points:
    """A table's chosen columns, shuffled and split, as Points (extent: on the plane)."""
    assert spec.table is not None
    try:
        x, y, names, n_train = table_arrays(spec, table)
    except TableError as exc:
        raise SpecError(f"data.table.{exc.field or 'hash'}", str(exc)) from None
    view = table_view(spec.table, x[:n_train], x[n_train:])
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:], view.extent,
                  columns=list(spec.table.inputs), class_names=names)


def load_points(spec: DataSpec, tables: TableShelf = TABLES) -> Points:
    """The points of any DataSpec; SpecError when its table is not on the shelf or its
    chosen columns cannot be used."""
    if spec.is_library:  # views of the process's one shared copy
        return library_points(spec)
    if spec.drawn is not None:
        points = generate_drawn(spec)
        assert len(points.train_y) == train_count(spec)
        return points
    if spec.table is not None:
        table = tables.get(spec.table.hash)
        if table is None:
            raise SpecError("data.table.hash", f"this server has no data set with hash "
                            f"{spec.table.hash[:12]}…; upload the file again")
        return table_points(spec, table)
    return generate(spec)
