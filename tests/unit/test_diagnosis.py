"""Bias/variance diagnosis: verdicts at and around the thresholds, and from a session."""

from __future__ import annotations

import pytest
import torch

from torchplay.engine.session import TrainingSession
from torchplay.lessons.diagnosis import diagnose, diagnose_session, session_errors
from torchplay.spec.model import ExperimentSpec


@pytest.mark.parametrize("train, test, base, verdict", [
    (0.15, 0.16, 0.0, "high bias"),
    (0.01, 0.11, 0.0, "high variance"),
    (0.15, 0.30, 0.0, "high bias and high variance"),
    (0.02, 0.04, 0.0, "good fit"),
    (0.15, 0.16, 0.12, "good fit"),  # most of the error is unavoidable
    (0.05, 0.10, 0.0, "good fit"),  # exactly at both thresholds: not above
])
def test_verdicts(train: float, test: float, base: float, verdict: str) -> None:
    result = diagnose(train, test, base)
    assert result["verdict"] == verdict
    assert result["avoidable_bias"] == pytest.approx(train - base)
    assert result["variance"] == pytest.approx(test - train)
    assert f"{train:.1%}" in result["explanation"] and f"{test:.1%}" in result["explanation"]


def test_thresholds_can_be_changed() -> None:
    assert diagnose(0.04, 0.05, bias_threshold=0.01)["verdict"] == "high bias"
    assert diagnose(0.0, 0.02, variance_threshold=0.01)["verdict"] == "high variance"


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf")])
def test_nonsense_errors_are_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        diagnose(bad, 0.1)


def test_a_session_is_diagnosed_from_its_latest_metrics() -> None:
    spec = ExperimentSpec.model_validate({"data": {"kind": "sine1d", "points": 60},
                                          "loss": {"kind": "mse"}, "training": {"epochs": 2}})
    session = TrainingSession(spec, torch.device("cpu"))
    for _ in range(2 * session.steps_per_epoch):
        session.step()
    train_error, test_error = session_errors(session)
    evals = session.history.evals.data
    assert train_error == pytest.approx(1 - evals["train_metric"][-1])  # 1 - R^2
    assert test_error == pytest.approx(1 - evals["test_metric"][-1])
    assert diagnose_session(session)["verdict"] == diagnose(train_error, test_error)["verdict"]


def test_a_gap_at_the_threshold_is_not_above_it_in_float32() -> None:
    # One miss in 20 is 5% of error; as a float32 accuracy it reads 1 - 0.9499999881.
    train_error = 1.0 - float(torch.tensor(0.95, dtype=torch.float32))
    assert train_error > 0.05
    assert diagnose(train_error, 0.3)["verdict"] == "high variance"
    assert diagnose(0.0501, 0.3)["verdict"] == "high bias and high variance"
