"""The store's datasets table (schema 4, upgraded in place from 2) and drawn points: their
bounds in the spec, and their use as data (split, noise on the same points, shift)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from torchplay.api.messages import validation_error
from torchplay.data.drawn import DRAWN_JITTER, generate_drawn
from torchplay.data.table import content_hash
from torchplay.spec.model import DataSpec, ExperimentSpec, train_count
from torchplay.store.experiments import MIGRATIONS, SCHEMA_VERSION, Store, StoreError

CSV = b"a,b,y\n1,2,x\n3,4,y\n5,6,x\n7,8,y\n"


def test_a_schema_2_file_gains_the_datasets_table(tmp_path: Path) -> None:
    path = tmp_path / "v2.sqlite3"
    old = sqlite3.connect(path)
    for step in MIGRATIONS[:2]:
        old.execute(step)
    old.execute("INSERT INTO meta VALUES ('schema_version', '2')")
    old.commit()
    old.close()
    store = Store(path)
    assert store.schema_version == SCHEMA_VERSION  # every migration since ran
    digest = content_hash(CSV)
    assert store.put_dataset(digest, "mine.csv", CSV) is True
    assert store.put_dataset(digest, "again.csv", CSV) is False  # stored once, first name kept
    assert store.dataset(digest) == ("mine.csv", CSV)
    assert store.dataset("0" * 64) is None
    with pytest.raises(StoreError, match="name"):
        store.put_dataset("1" * 64, "n" * 201, CSV)
    store.close()
    with sqlite3.connect(path) as reader:
        assert reader.execute("SELECT COUNT(*) FROM datasets").fetchone() == (1,)


def drawn(**fields: object) -> DataSpec:
    points = {"x1": [-3.0, -2.0, 2.0, 3.0, 0.5], "x2": [1.0, -1.0, 1.0, -1.0, 0.0],
              "value": [0, 0, 1, 1, 2]}
    extra = fields.pop("drawn", {})
    return DataSpec.model_validate({"kind": "drawn", "classes": 3,
                                    "drawn": {**points, **extra}, **fields})  # type: ignore[dict-item]


def test_drawn_points_are_split_shifted_and_jittered_like_any_set() -> None:
    clean = generate_drawn(drawn(train_fraction=0.6))
    assert len(clean.train_y) == train_count(drawn(train_fraction=0.6)) == 3
    together = np.concatenate((clean.train_x, clean.test_x))
    assert sorted(map(tuple, together.tolist())) == sorted(
        [(-3, 1), (-2, -1), (2, 1), (3, -1), (0.5, 0)])
    assert clean.extent == pytest.approx((-6.24, 6.24, -6.24, 6.24))
    noisy = generate_drawn(drawn(train_fraction=0.6, noise=0.5))
    # the same points in the same order, each moved by at most the jitter
    assert np.array_equal(noisy.train_y, clean.train_y)
    assert np.abs(noisy.train_x - clean.train_x).max() <= DRAWN_JITTER * 0.5 + 1e-6
    assert not np.array_equal(noisy.train_x, clean.train_x)
    shifted = generate_drawn(drawn(train_fraction=0.6, test_shift=0.5))
    assert np.allclose(shifted.test_x, clean.test_x + 3.0)
    assert np.array_equal(shifted.train_x, clean.train_x)


@pytest.mark.parametrize(("data", "field"), [
    ({"drawn": {"x1": [-3.0, 7.0, 2.0, 3.0, 0.5]}}, "drawn.x1.1"),
    ({"drawn": {"value": [0, 0, 1, 1, 3]}}, "drawn.value"),
    ({"drawn": {"value": [0, 0, 1, 1, 0.5]}}, "drawn.value.4"),
    ({"drawn": {"x2": [1.0]}}, "drawn.value"),
    ({"drawn": {"x1": [1.0], "x2": [1.0], "value": [0]}}, "drawn.value"),
    ({"drawn": {"task": "regression", "value": [0, 0, 1, 1, 2]}}, "drawn.value.4"),
])
def test_bad_drawn_points_name_their_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        drawn(**data)
    assert validation_error(caught.value, {}, "invalid_spec")["field"] == field  # as sent


def test_own_data_only_with_its_kind_and_a_table_input_count() -> None:
    with pytest.raises(ValidationError, match="only kind drawn"):
        DataSpec.model_validate({"kind": "circle", "drawn": {"x1": [], "x2": [], "value": []}})
    with pytest.raises(ValidationError, match="needs its table"):
        DataSpec.model_validate({"kind": "table"})
    spec = ExperimentSpec.model_validate({
        "data": {"kind": "table", "table": {"hash": "a" * 64, "target": "y",
                                            "inputs": ["a", "b", "c"], "classes": 4}},
        "features": {"inputs": ["x1"]}})
    assert spec.input_dim == 3 and spec.output_dim == 4  # columns, not features.inputs
