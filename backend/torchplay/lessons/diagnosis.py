"""Bias and variance from train and test error, in plain words (lesson 20).

Errors are fractions: 1 - accuracy for classification, 1 - R^2 (the share of the target's
variance left unexplained) for regression. With a base error b (the best achievable: 0 for
separable classes, the noise's share otherwise):
- avoidable bias = train error - b; above BIAS_THRESHOLD the model does not even fit the
  training set: high bias;
- variance = test error - train error; above VARIANCE_THRESHOLD the model fits the training
  set much better than new data: high variance.
Both thresholds are 0.05, i.e. five points of error: small enough to flag a real gap on the
playground's datasets (a few hundred points, where one test point is 0.3-1 point of error),
large enough not to flag sampling noise between two halves of one clean dataset.
"""

from __future__ import annotations

import math
from typing import Any

from torchplay.engine.session import TrainingSession

BIAS_THRESHOLD = 0.05
VARIANCE_THRESHOLD = 0.05
TIE = 1e-6  # above float32 rounding of a metric (~6e-8), far below any real gap

ADVICE = {
    "high bias": "The model does not fit even the training data. Try a bigger network (more "
                 "or wider layers), better features, longer training or less regularisation.",
    "high variance": "The model fits the training data much better than new data: it has "
                     "learned noise. Try more training data, regularisation (L2, dropout, "
                     "early stopping) or a smaller network.",
    "high bias and high variance": "The model fits the training data poorly and new data "
                                   "worse still. Fix the bias first (a bigger model, better "
                                   "features), then the variance (more data, regularisation).",
    "good fit": "Training error is close to the base error and test error close to the "
                "training error: neither a bigger model nor more regularisation is called for.",
}


def diagnose(train_error: float, test_error: float, base_error: float = 0.0,
             bias_threshold: float = BIAS_THRESHOLD,
             variance_threshold: float = VARIANCE_THRESHOLD) -> dict[str, Any]:
    """Verdict ("high bias", "high variance", "high bias and high variance" or "good fit"),
    an explanation, and the two gaps it rests on."""
    for name, value in (("train_error", train_error), ("test_error", test_error),
                        ("base_error", base_error)):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    bias = train_error - base_error
    variance = test_error - train_error
    # Metrics arrive as float32 (0.95 reads 0.9499999881): a gap within TIE of a threshold is
    # at it, not above (one miss in 20 is 5%, not "high above 5%").
    high_bias = bias > bias_threshold + TIE
    high_variance = variance > variance_threshold + TIE
    if high_bias and high_variance:
        verdict = "high bias and high variance"
    elif high_bias:
        verdict = "high bias"
    elif high_variance:
        verdict = "high variance"
    else:
        verdict = "good fit"
    explanation = (f"Training error {train_error:.1%} is {bias:+.1%} from the base error "
                   f"{base_error:.1%} (avoidable bias; high above {bias_threshold:.0%}); test "
                   f"error {test_error:.1%} is {variance:+.1%} from the training error "
                   f"(variance; high above {variance_threshold:.0%}). {ADVICE[verdict]}")
    return {"verdict": verdict, "explanation": explanation, "avoidable_bias": bias,
            "variance": variance}


def session_errors(session: TrainingSession) -> tuple[float, float]:
    """(train error, test error) from the session's latest evaluation: 1 - accuracy, or
    1 - R^2 for regression."""
    evals = session.history.evals.data
    train_metric, test_metric = evals["train_metric"][-1], evals["test_metric"][-1]
    if train_metric is None or test_metric is None:
        raise ValueError("the run has no finite metric to diagnose (did it diverge?)")
    return max(0.0, 1.0 - train_metric), max(0.0, 1.0 - test_metric)


def diagnose_session(session: TrainingSession, base_error: float = 0.0) -> dict[str, Any]:
    """diagnose() on a session's latest train and test metric."""
    train_error, test_error = session_errors(session)
    return diagnose(train_error, test_error, base_error)
