"""The data part of an exported script for your own data (codegen.py asks this module):
drawn points are written into the script; an uploaded table is read from the file exported
beside it (data.csv), checked against the spec's hash, and parsed, chosen, shuffled and split
by copies of torchplay's own functions, so the script's points are torchplay's bit for bit.
"""

from __future__ import annotations

import inspect
import textwrap

from torchplay.data import drawn, sources, table, toy
from torchplay.spec import model
from torchplay.spec.model import ExperimentSpec

DATA_FILE = "data.csv"
TABLE_CONSTANTS = ("MAX_TABLE_BYTES", "MAX_ROWS", "MAX_TABLE_INPUTS", "MAX_COLUMNS", "MIN_ROWS",
                   "MAX_TABLE_CLASSES", "MAX_LABELS_SHOWN")
TABLE_CODE = (table.TableError, table.Column, table.Table, table.content_hash, table._decode,
              table._number, table.parse, table._check_header, table._column, table.labels_of,
              table._label, table._column_summary, table.select, table._complete,
              sources.table_arrays)
# Imports the table code needs beyond the script's own.
TABLE_IMPORTS = "import hashlib\nimport os\n"


def _source(*objects: object) -> str:
    return "\n\n\n".join(inspect.getsource(o).strip() for o in objects)  # type: ignore[arg-type]


def _data_fields(spec: ExperimentSpec) -> list[str]:
    d = spec.data
    fields = [f"{k}={v!r}" for k, v in d.model_dump(mode="json").items()
              if k not in ("drawn", "table")]
    fields += [f"task={d.task!r}", f"n_classes={d.n_classes}", "is_1d=False"]
    if d.drawn is not None:
        fields.append(f"drawn=SimpleNamespace(task={d.drawn.task!r}, x1={d.drawn.x1!r}, "
                      f"x2={d.drawn.x2!r}, value={d.drawn.value!r})")
    if d.table is not None:
        t = d.table
        fields.append(f"table=SimpleNamespace(hash={t.hash!r}, target={t.target!r}, "
                      f"inputs={t.inputs!r}, task={t.task!r}, classes={t.classes})")
    return fields


def own_data_code(spec: ExperimentSpec) -> str:
    """DATA, Points and generate() for kind drawn or table."""
    fields = textwrap.fill(", ".join(_data_fields(spec)), 100, initial_indent="    ",
                           subsequent_indent="    ", break_long_words=False,
                           break_on_hyphens=False)
    head = f'''DataSpec = SimpleNamespace
DATA = DataSpec(
{fields})


{inspect.getsource(toy.Points).strip()}'''
    if spec.data.drawn is not None:
        return f'''# --- data: the points drawn in torchplay, used as its data/drawn.py uses them
# (copied from it), so the points are torchplay's, number for number.
{head}
HALF_WIDTH_2D = {toy.HALF_WIDTH_2D!r}
DRAWN_JITTER = {drawn.DRAWN_JITTER!r}
DRAWN_TARGET_STD = {drawn.DRAWN_TARGET_STD!r}


{_source(model.train_count, toy._span, drawn.generate_drawn)}


generate = generate_drawn  # prepare() calls generate()'''
    constants = "\n".join(f"{name} = {getattr(table, name)!r}" for name in TABLE_CONSTANTS)
    return f'''# --- data: the uploaded table, read from {DATA_FILE} beside this script (torchplay
# exports it with the script) by copies of torchplay's data/table.py and data/sources.py, so
# the rows, classes, shuffle and split are torchplay's, number for number.
DATA_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), {DATA_FILE!r})
{head}
{constants}


{_source(*TABLE_CODE)}


def generate(spec: DataSpec) -> Points:
    """The table's chosen columns, shuffled and split as torchplay does."""
    with open(DATA_FILE, "rb") as file:
        raw = file.read()
    if content_hash(raw) != spec.table.hash:
        raise SystemExit(f"{{DATA_FILE}} is not the table this experiment trained on (its "
                         f"SHA-256 differs from {{spec.table.hash}})")
    x, y, names, n_train = table_arrays(spec, parse(raw))
    return Points(x[:n_train], y[:n_train], x[n_train:], y[n_train:], (0.0, 0.0, 0.0, 0.0),
                  columns=list(spec.table.inputs), class_names=names)'''
