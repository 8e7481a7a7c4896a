"""ExperimentSpec: bounds, cross-field rules, live updates, and the generated reference."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from torchplay.engine.build import build_model
from torchplay.spec.doc import render
from torchplay.spec.model import (
    MAX_PARAMETERS,
    ExperimentSpec,
    SpecError,
    apply_patch,
    merge_patch,
    parameter_count,
)

ROOT = Path(__file__).resolve().parents[2]


def spec(**parts: object) -> ExperimentSpec:
    return ExperimentSpec.model_validate(parts)


def error_locs(exc: ValidationError) -> list[tuple[object, ...]]:
    return [tuple(e["loc"]) for e in exc.errors()]


def test_empty_spec_is_tf_playgrounds_default() -> None:
    default = spec()
    assert default.data.kind == "circle" and default.data.points == 500
    assert default.training.batch_size == 10
    assert [layer.type for layer in default.network.layers] == ["linear", "activation"] * 2
    assert default.optimizer.kind == "sgd" and default.optimizer.lr == 0.03


@pytest.mark.parametrize("parts, loc_end", [
    ({"network": {"layers": [{"type": "linear", "units": 1_000_000}]}}, "units"),
    ({"network": {"layers": [{"type": "linear", "units": 0}]}}, "units"),
    ({"optimizer": {"kind": "sgd", "lr": -1}}, "lr"),
    ({"optimizer": {"kind": "sgd", "lr": math.nan}}, "lr"),
    ({"training": {"batch_size": 0}}, "batch_size"),
    ({"data": {"points": 10**9}}, "points"),
    ({"probes": {"grid": 1000}}, "grid"),
    ({"data": {"kind": "spiral", "classes": 9}}, "classes"),
    ({"network": {"layers": [{"type": "activation", "fn": "swish"}]}}, "fn"),
    ({"data": {"colour": "red"}}, "colour"),
])
def test_out_of_bounds_values_are_rejected_at_their_field(parts: dict, loc_end: str) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**parts)
    assert any(str(loc[-1]) == loc_end for loc in error_locs(caught.value))


def test_more_than_32_layers_is_rejected() -> None:
    with pytest.raises(ValidationError) as caught:
        spec(network={"layers": [{"type": "activation"}] * 100})
    assert ("network", "layers") in error_locs(caught.value)


@pytest.mark.parametrize("parts, field", [
    ({"data": {"kind": "circle"}, "loss": {"kind": "mse"}}, "loss.kind"),
    ({"data": {"kind": "sine1d"}, "loss": {"kind": "cross_entropy"}}, "loss.kind"),
    ({"data": {"kind": "spiral", "classes": 3}, "loss": {"kind": "bce"}}, "loss.kind"),
    ({"network": {"layers": [{"type": "linear", "units": 1024}] * 3}}, "network.layers"),
    ({"optimizer": {"kind": "sgd", "nesterov": True}}, "nesterov"),
    ({"network": {"layers": [{"type": "batchnorm"}]}, "training": {"batch_size": 1}},
     "training.batch_size"),
])
def test_cross_field_rules_name_the_field(parts: dict, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        spec(**parts)
    causes = [e["ctx"]["error"] for e in caught.value.errors() if "error" in e.get("ctx", {})]
    assert any(isinstance(c, SpecError) and c.field == field for c in causes)


@pytest.mark.parametrize("layers, kind", [
    ([], "circle"),
    ([{"type": "linear", "units": 5}, {"type": "batchnorm"}, {"type": "activation",
      "fn": "prelu"}, {"type": "linear", "units": 3, "bias": False}, {"type": "layernorm"}],
     "spiral"),
])
def test_parameter_count_matches_the_built_model(layers: list, kind: str) -> None:
    s = spec(data={"kind": kind}, network={"layers": layers},
             features={"inputs": ["x1", "x2", "x1_x2"]})
    model = build_model(s, torch.Generator().manual_seed(0), torch.Generator())
    assert parameter_count(s) == sum(p.numel() for p in model.parameters())
    assert parameter_count(s) <= MAX_PARAMETERS


def test_merge_patch_merges_objects_and_replaces_the_rest() -> None:
    base = {"a": {"b": 1, "c": [1, 2]}, "d": 3}
    assert merge_patch(base, {"a": {"c": [9]}, "e": 4}) == {"a": {"b": 1, "c": [9]}, "d": 3,
                                                            "e": 4}


def test_live_patch_changes_only_what_it_names() -> None:
    old = spec(optimizer={"kind": "sgd", "lr": 0.03, "momentum": 0.5})
    new = apply_patch(old, {"optimizer": {"lr": 0.1}, "training": {"batch_size": 32}})
    assert new.optimizer.lr == 0.1 and new.optimizer.momentum == 0.5
    assert new.training.batch_size == 32 and new.network == old.network


def test_switching_optimizer_kind_starts_from_that_kinds_defaults() -> None:
    new = apply_patch(spec(optimizer={"kind": "sgd", "momentum": 0.9}),
                      {"optimizer": {"kind": "adam", "beta1": 0.8}})
    assert new.optimizer.kind == "adam" and new.optimizer.beta1 == 0.8
    assert new.optimizer.lr == 0.001


@pytest.mark.parametrize("patch, field", [
    ({"network": {"layers": []}}, "network.layers"),
    ({"data": {"noise": 0.3}}, "data.noise"),
    ({"training": {"seed": 4}}, "training.seed"),
])
def test_structural_patch_is_refused_with_its_field(patch: dict, field: str) -> None:
    with pytest.raises(SpecError) as caught:
        apply_patch(spec(), patch)
    assert caught.value.field == field


def test_invalid_patch_value_fails_validation() -> None:
    with pytest.raises(ValidationError):
        apply_patch(spec(), {"optimizer": {"lr": 0}})


def test_spec_reference_is_current() -> None:
    from torchplay.data.toy import NOISE_MEANING

    written = (ROOT / "docs" / "spec.md").read_text()
    regenerate = "run: python -m torchplay.spec.doc > docs/spec.md"
    assert written == render(NOISE_MEANING), regenerate


@pytest.mark.parametrize("points, fraction", [(10, 0.05), (42, 0.5), (20_000, 0.95), (11, 0.5)])
def test_train_count_is_the_split_data_makes(points: int, fraction: float) -> None:
    from torchplay.data.toy import generate
    from torchplay.spec.model import DataSpec, train_count

    data = DataSpec(points=points, train_fraction=fraction)
    assert train_count(data) == len(generate(data).train_y)
