"""tests/patch_cases.json against the page's patch.js (in Chromium, with the served schema):
every case's result must equal the server's (spec/model.py `patched`, then validation; the
same cases run against it alone in tests/unit/test_patch_cases.py) field for field, and where
the server refuses a case, the page's result must be refused at the same field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page
from pydantic import ValidationError

from torchplay.api.messages import validation_error
from torchplay.spec.model import ExperimentSpec, patched

pytestmark = pytest.mark.browser

TABLE = json.loads((Path(__file__).parents[1] / "patch_cases.json").read_text())
CASES = TABLE["cases"]

APPLY_JS = """async (cases) => {
  const { applyPatch } = await import('/static/src/patch.js');
  const { Schema } = await import('/static/src/schema.js');
  const schema = new Schema(await (await fetch('/api/schema')).json());
  return cases.map(({ base, patch }) => applyPatch(base, patch, schema));
}"""


def judged(spec: dict[str, Any]) -> dict[str, Any]:
    """A patched spec as the server takes it: validated, or the field it refuses."""
    try:
        return {"spec": ExperimentSpec.model_validate(spec).model_dump(mode="json")}
    except ValidationError as exc:
        return {"error": validation_error(exc, spec, "invalid_spec")["field"]}


def test_page_applies_every_case_as_the_server_does(page: Page, server: Any) -> None:
    page.goto(server.url + "/api/health")  # the server's origin, to import its modules
    bases = [ExperimentSpec.model_validate(c["base"]) for c in CASES]
    results = page.evaluate(APPLY_JS, [{"base": b.model_dump(mode="json"), "patch": c["patch"]}
                                       for b, c in zip(bases, CASES, strict=True)])
    for case, base, mine in zip(CASES, bases, results, strict=True):
        theirs = judged(patched(base, case["patch"]))
        assert theirs == ({"error": case["error"]} if "error" in case else theirs)
        if "spec" in theirs:
            # Complete as it stands: no field missing, none extra, every value the server's.
            assert mine == theirs["spec"], case["name"]
        else:
            assert judged(mine) == theirs, case["name"]


def test_page_merge_is_rfc_7386(page: Page, server: Any) -> None:
    page.goto(server.url + "/api/health")
    got = page.evaluate("""async (examples) => {
      const { mergePatch } = await import('/static/src/patch.js');
      return examples.map(({ target, patch }) => mergePatch(target, patch));
    }""", TABLE["rfc7386"])
    assert got == [e["result"] for e in TABLE["rfc7386"]]
