"""tests/patch_cases.json against the server's merge patch (spec/model.py `patched` and
validation); tests/browser/test_page_patches.py holds the page's patch.js to the same cases."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from torchplay.api.messages import validation_error
from torchplay.spec.model import ExperimentSpec, merge_patch, patched

TABLE = json.loads((Path(__file__).parents[1] / "patch_cases.json").read_text())
CASES, RFC = TABLE["cases"], TABLE["rfc7386"]


def server_result(case: dict[str, Any]) -> dict[str, Any]:
    """{"spec": the complete patched spec} or {"error": the field the server names}."""
    base = ExperimentSpec.model_validate(case["base"])
    merged = patched(base, case["patch"])
    try:
        return {"spec": ExperimentSpec.model_validate(merged).model_dump(mode="json")}
    except ValidationError as exc:
        return {"error": validation_error(exc, merged, "invalid_spec")["field"]}


def contains(whole: Any, part: Any) -> bool:
    """Whether every field of `part` is in `whole` with that value (lists compared item by
    item, each item as a part)."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v)
                                               for k, v in part.items())
    if isinstance(part, list):
        return isinstance(whole, list) and len(whole) == len(part) and all(
            contains(w, p) for w, p in zip(whole, part, strict=True))
    return whole == part


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_server_applies_each_case(case: dict[str, Any]) -> None:
    result = server_result(case)
    if "error" in case:
        assert result == {"error": case["error"]}
    else:
        assert "spec" in result, result
        assert contains(result["spec"], case["expect"]), result["spec"]


@pytest.mark.parametrize("example", RFC, ids=[json.dumps(e["patch"]) for e in RFC])
def test_merge_patch_is_rfc_7386(example: dict[str, Any]) -> None:
    assert merge_patch(example["target"], example["patch"]) == example["result"]
