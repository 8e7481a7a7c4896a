"""Uploaded tables: every way a file can be refused (each naming its line and column), the
limits, the label mapping's documented order, and the choice of columns."""

from __future__ import annotations

import numpy as np
import pytest

from torchplay.data import table as tables
from torchplay.data.table import TableError, parse, select
from torchplay.spec.model import TableSpec

GOOD = b"a,b,label\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"


def spec(**fields: object) -> TableSpec:
    base: dict[str, object] = {"hash": "0" * 64, "target": "label", "inputs": ["a", "b"]}
    return TableSpec.model_validate({**base, **fields})


def refused(raw: bytes) -> TableError:
    with pytest.raises(TableError) as caught:
        parse(raw)
    return caught.value


def test_a_good_csv_and_the_same_as_tsv() -> None:
    table = parse(GOOD)
    assert [c.name for c in table.columns] == ["a", "b", "label"] and table.rows == 4
    assert table.lines.tolist() == [2, 3, 4, 5]
    tsv = parse(GOOD.replace(b",", b"\t"))
    assert np.array_equal(tsv.columns[1].numbers, table.columns[1].numbers)
    assert table.hash == tables.content_hash(GOOD) != tsv.hash


def test_blank_lines_a_byte_order_mark_quotes_and_spaces_are_read() -> None:
    raw = b'\xef\xbb\xbf a , "b",label\n1, 2 ,x\n\n3,4,"y, quoted"\n5,6,x\r\n7,8,y'
    table = parse(raw)
    assert [c.name for c in table.columns] == ["a", "b", "label"]
    assert table.lines.tolist() == [2, 4, 5, 6]
    assert table.columns[2].text == ["x", "y, quoted", "x", "y"]


@pytest.mark.parametrize(("raw", "line", "column", "words"), [
    (b"a,b\n1,2\n\xe9,3\n", 3, None, "byte 1 (0xe9) is not UTF-8"),
    (b"", 1, None, "the file is empty"),
    (b"\n\n", 1, None, "the file is empty"),
    (b"onlyone\n1\n2\n3\n4\n", 1, None, "one column only"),
    (b"a,,c\n1,2,3\n", 1, "2", "without a name"),
    (b"a,b,a\n1,2,3\n", 1, "'a'", "names this column twice"),
    (b"a,b,c\n1,2,3\n4,5\n6,7,8\n9,9,9\n", 3, None, "2 fields but the header has 3 columns"),
    (b"a,b\n1,2\n3,4\n", None, None, "2 data row(s); at least 4"),
    (b'a,b\n1,"2\n3,4\n', 3, None, "cannot be read as CSV"),
])
def test_every_bad_file_names_its_line_and_column(raw: bytes, line: int | None,
                                                  column: str | None, words: str) -> None:
    exc = refused(raw)
    assert (exc.line, exc.column) == (line, column)
    assert words in str(exc)
    if line is not None:
        assert str(exc).startswith(f"line {line}")


def test_the_limits_on_bytes_rows_and_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    header = ",".join(f"c{i}" for i in range(tables.MAX_COLUMNS + 1)).encode()
    exc = refused(header + b"\n")
    assert exc.line == 1 and "66 columns; the limit is 65" in str(exc)
    monkeypatch.setattr(tables, "MAX_ROWS", 5)
    exc = refused(b"a,b\n" + b"1,2\n" * 6)
    assert exc.line == 7 and "more than 5 data rows" in str(exc)
    monkeypatch.setattr(tables, "MAX_TABLE_BYTES", 10)
    assert "the limit is 10" in str(refused(GOOD))


def test_labels_map_to_classes_in_the_documented_order() -> None:
    # numbers (however written) in numeric order: 2 before 10, -1 first
    table = parse(b"a,b,label\n0,0,10\n0,1,2\n1,0,-1\n1,1,2.0\n")
    x, y, names = select(table, spec(classes=3))
    assert names == ["-1", "2", "10"] and y.tolist() == [2, 1, 0, 1]
    assert x.dtype == np.float32 and x.shape == (4, 2)
    # text in code-point order: capitals before lower case, "10" before "9"
    table = parse(b"a,b,label\n0,0,b\n0,1,B\n1,0,a\n1,1,9\n2,2,10\n")
    _, y, names = select(table, spec(classes=5))
    assert names == ["10", "9", "B", "a", "b"] and y.tolist() == [4, 2, 3, 1, 0]
    # any numbers: numeric order (text would put 10.5 before 9)
    _, _, names = select(parse(b"a,b,label\n0,0,10.5\n0,1,9\n1,0,10.5\n1,1,9\n"), spec())
    assert names == ["9", "10.5"]


@pytest.mark.parametrize(("raw", "fields", "field", "words"), [
    (b"a,b,label\n1,2,x\n3,oops,y\n5,6,x\n7,8,y\n", {}, "inputs",
     "line 3, column 'b': 'oops' is not a number"),
    (b"a,b,label\n1,2,x\n3,,y\n5,6,x\n7,8,y\n", {}, "inputs",
     "line 3, column 'b': the cell is empty"),
    (b"a,b,label\n1,2,x\n3,4,y\n5,6,\n7,8,y\n", {}, "target",
     "line 4, column 'label': the cell is empty; every row needs the target"),
    (b"a,b,label\n1,2,x\n3,4,x\n5,6,x\n7,8,x\n", {}, "target",
     "column 'label': one class only ('x')"),
    (GOOD, {"classes": 3}, "classes", "2 classes, but data.table.classes says 3"),
    (GOOD, {"task": "regression"}, "target", "line 2, column 'label': 'x' is not a number"),
    (GOOD, {"target": "nope"}, "target", "the table has no column 'nope'"),
    (GOOD, {"inputs": ["a", "zz"]}, "inputs", "the table has no column 'zz'"),
])
def test_a_bad_choice_of_columns_names_the_cell(raw: bytes, fields: dict[str, object],
                                                field: str, words: str) -> None:
    with pytest.raises(TableError) as caught:
        select(parse(raw), spec(**fields))
    assert words in str(caught.value) and caught.value.field == field


def test_too_many_classes_and_regression_targets() -> None:
    rows = b"".join(f"{i},{i},{i}\n".encode() for i in range(25))
    table = parse(b"a,b,label\n" + rows)
    with pytest.raises(TableError, match="25 distinct labels"):
        select(table, spec(classes=20))
    _, y, names = select(table, spec(task="regression"))
    assert names is None and y.dtype == np.float32 and y[24] == 24.0


def test_the_summary_tells_the_page_which_columns_it_can_use() -> None:
    table = parse(b"a,b,label\n1,2,x\n3,oops,y\n5,,x\n7,8,y\n")
    a, b, label = table.summary()["columns"]
    assert a == {"name": "a", "numeric": True, "missing_line": None, "not_number": None,
                 "distinct": 4, "labels": ["1", "3", "5", "7"]}
    assert b["numeric"] is False and b["not_number"] == {"line": 3, "text": "oops"}
    assert b["missing_line"] == 4 and label["labels"] == ["x", "y"]


def test_table_spec_refuses_inconsistent_columns() -> None:
    for fields, words in [({"inputs": ["a", "a"]}, "twice"),
                          ({"inputs": ["a", "label"]}, "is the target"),
                          ({"plane": ["a"]}, "name two"),
                          ({"plane": ["a", "q"]}, "not one of the input")]:
        with pytest.raises(ValueError, match=words):
            spec(**fields)
