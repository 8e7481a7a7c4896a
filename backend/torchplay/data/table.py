"""Uploaded tables: a CSV (header row, commas) or TSV file read into numeric columns.

`parse` checks the whole file once: UTF-8, a header of unique names, every row as long as the
header, the limits below. Whether a cell is a number is kept per column rather than refused,
as only the columns the user picks must be numbers; `select` then names the first bad cell of
a chosen column. Every refusal is a TableError that says the line (1-based, as an editor
shows it) and the column (its header name, or its 1-based number where the header is at
fault) and what is wrong.

Class labels: the target's distinct values, each a class. When every label is a number
(`3`, `3.0`, `-1`, `0.5`), classes are in numeric order (and `3` and `3.0` are one class);
otherwise in the order of their text (Unicode code points: `10` before `9`, `B` before `a`).
Class i is the i-th label in that order.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
from dataclasses import dataclass

import numpy as np

from torchplay.spec.model import MAX_TABLE_CLASSES, MAX_TABLE_INPUTS, TableSpec

MAX_TABLE_BYTES = 10_000_000
MAX_ROWS = 100_000
MAX_COLUMNS = MAX_TABLE_INPUTS + 1  # the inputs and a target
MIN_ROWS = 4  # enough to train on some and test on others
MAX_LABELS_SHOWN = MAX_TABLE_CLASSES


class TableError(ValueError):
    """A file (or a choice of its columns) that cannot be used; says where and why."""

    def __init__(self, message: str, line: int | None = None, column: str | None = None,
                 field: str | None = None) -> None:
        where = ", ".join(part for part in (
            None if line is None else f"line {line}",
            None if column is None else f"column {column}") if part)
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.column = column
        self.reason = message
        self.field = field  # the TableSpec field a bad choice of columns belongs to


@dataclass(frozen=True, eq=False)
class Column:
    """One column: its numbers (NaN where a cell is empty or not a number) and where the first
    empty cell and the first cell that is no number are."""

    name: str
    numbers: np.ndarray  # (rows,) float64
    text: list[str] | None  # every cell's text, kept only when some cell is not a number
    first_missing: int | None  # file line of the first empty cell
    first_text: tuple[int, str] | None  # file line and text of the first non-number


@dataclass(frozen=True, eq=False)
class Table:
    """A parsed upload: its hash, columns in header order, and each row's line in the file."""

    hash: str
    columns: list[Column]
    lines: np.ndarray  # (rows,) int64

    @property
    def rows(self) -> int:
        return len(self.lines)

    def column(self, name: str, field: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise TableError(f"the table has no column {name!r}", field=field)

    def summary(self) -> dict[str, object]:
        """What the page shows to let the user pick the target and the inputs."""
        return {"hash": self.hash, "rows": self.rows,
                "columns": [_column_summary(c) for c in self.columns]}


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def _decode(raw: bytes) -> str:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        at = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise TableError(f"byte {at} (0x{raw[exc.start]:02x}) is not UTF-8; save the file as "
                         "UTF-8 text", line) from None
    return text.removeprefix("\ufeff")  # a byte-order mark some spreadsheets write


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None  # 'nan' and 'inf' are no data


def parse(raw: bytes) -> Table:
    """Read a whole upload, or raise TableError naming the first problem's line and column."""
    if len(raw) > MAX_TABLE_BYTES:
        raise TableError(f"the file has {len(raw):,} bytes; the limit is {MAX_TABLE_BYTES:,}")
    text = _decode(raw)
    first = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True,
                        skipinitialspace=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise TableError("the file is empty; the first line names the columns", 1)
        names = [cell.strip() for cell in header]
        _check_header(names)
        cells: list[list[str]] = [[] for _ in names]
        lines: list[int] = []
        for row in reader:
            if not row or (len(row) == 1 and not row[0].strip()):
                continue  # a blank line
            if len(lines) == MAX_ROWS:
                raise TableError(f"more than {MAX_ROWS:,} data rows; the limit is "
                                 f"{MAX_ROWS:,}", reader.line_num)
            if len(row) != len(names):
                raise TableError(f"this row has {len(row)} fields but the header has "
                                 f"{len(names)} columns (a ragged row)", reader.line_num)
            lines.append(reader.line_num)
            for store, cell in zip(cells, row, strict=True):
                store.append(cell.strip())
    except csv.Error as exc:
        raise TableError(f"cannot be read as {'TSV' if delimiter == chr(9) else 'CSV'}: "
                         f"{exc}", reader.line_num) from None
    if len(lines) < MIN_ROWS:
        raise TableError(f"the file has {len(lines)} data row(s); at least {MIN_ROWS} are "
                         "needed to train and test")
    at = np.array(lines, dtype=np.int64)
    columns = [_column(name, values, at) for name, values in zip(names, cells, strict=True)]
    return Table(content_hash(raw), columns, at)


def _check_header(names: list[str]) -> None:
    if len(names) > MAX_COLUMNS:
        raise TableError(f"{len(names)} columns; the limit is {MAX_COLUMNS} ("
                         f"{MAX_TABLE_INPUTS} inputs and a target)", 1)
    if len(names) < 2:
        raise TableError("one column only: a table needs inputs and a target (is the file "
                         "separated by commas or tabs?)", 1)
    seen: set[str] = set()
    for i, name in enumerate(names):
        if not name:
            raise TableError("the header leaves this column without a name", 1, str(i + 1))
        if name in seen:
            raise TableError("the header names this column twice", 1, repr(name))
        seen.add(name)


def _column(name: str, values: list[str], lines: np.ndarray) -> Column:
    try:  # fast path: numpy reads a column of plain numbers in C
        numbers = np.array(values, dtype=np.float64)
        if np.isfinite(numbers).all():
            return Column(name, numbers, None, None, None)
    except ValueError:
        pass
    numbers = np.full(len(values), np.nan)
    first_missing: int | None = None
    first_text: tuple[int, str] | None = None
    for i, cell in enumerate(values):
        value = _number(cell) if cell else None
        if value is not None:
            numbers[i] = value
        elif not cell and first_missing is None:
            first_missing = int(lines[i])
        elif cell and first_text is None:
            first_text = (int(lines[i]), cell)
    return Column(name, numbers, values if first_text is not None else None, first_missing,
                  first_text)


def labels_of(column: Column) -> tuple[list[str], np.ndarray]:
    """Class names in class order and each row's class index (the module doc's rule)."""
    if column.text is None:
        values, index = np.unique(column.numbers, return_inverse=True)
        return [_label(v) for v in values], index.astype(np.int64)
    text = column.text
    names = sorted(set(text))
    lookup = {name: i for i, name in enumerate(names)}
    return names, np.array([lookup[t] for t in text], dtype=np.int64)


def _label(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(float(value))


def _column_summary(column: Column) -> dict[str, object]:
    if column.first_missing is None:
        names, _ = labels_of(column)
        distinct = len(names)
        shown = names if distinct <= MAX_LABELS_SHOWN else None
    else:
        distinct, shown = 0, None
    return {"name": column.name, "numeric": column.first_text is None,
            "missing_line": column.first_missing,
            "not_number": None if column.first_text is None else {
                "line": column.first_text[0], "text": column.first_text[1][:80]},
            "distinct": distinct, "labels": shown}


def select(table: Table, spec: TableSpec) -> tuple[np.ndarray, np.ndarray, list[str] | None]:
    """The chosen inputs (rows, D) float32, the targets (class index int64 or float32), and
    the class names (None for regression); TableError names a bad cell's line and column."""
    target = table.column(spec.target, "target")
    _complete(target, "the target", "target")
    inputs = []
    for name in spec.inputs:
        column = table.column(name, "inputs")
        _complete(column, "an input", "inputs")
        if column.first_text is not None:
            line, text = column.first_text
            raise TableError(f"{text[:80]!r} is not a number (input columns hold numbers)",
                             line, repr(name), "inputs")
        inputs.append(column.numbers)
    x = np.stack(inputs, axis=1).astype(np.float32)
    if spec.task == "regression":
        if target.first_text is not None:
            line, text = target.first_text
            raise TableError(f"{text[:80]!r} is not a number (a regression target is a "
                             "number; choose classification for labels)", line,
                             repr(target.name), "target")
        return x, target.numbers.astype(np.float32), None
    names, y = labels_of(target)
    if len(names) < 2:
        raise TableError(f"one class only ({names[0]!r}); classification needs at least 2 "
                         "labels", None, repr(target.name), "target")
    if len(names) > MAX_TABLE_CLASSES:
        raise TableError(f"{len(names)} distinct labels; classification takes at most "
                         f"{MAX_TABLE_CLASSES} (choose regression for a numeric target)", None,
                         repr(target.name), "target")
    if len(names) != spec.classes:
        raise TableError(f"{len(names)} classes, but data.table.classes says {spec.classes}",
                         None, repr(target.name), "classes")
    return x, y, names


def _complete(column: Column, role: str, field: str) -> None:
    if column.first_missing is not None:
        raise TableError(f"the cell is empty; every row needs {role}", column.first_missing,
                         repr(column.name), field)
