"""The score's calibration: P(useful) as a logistic function of the fused score alone, and the fitting tools.

Since issue 28 the confidence shown is assistant.indexing.usefulness's model (trained by `python -m
assistant.labels`); this calibration is its baseline ("before" in the labels report), and `fit`,
`reliability` are the tools both use. A logistic fit of the score on judged real questions and
the dev set (`python -m assistant.eval --fit`, see docs/keywords-and-order.md); the fitted numbers
live below as `CALIBRATION`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

SIGNALS = ("score",)


@dataclass(frozen=True)
class Signals:
    """What an answer's confidence is computed from."""

    score: float  # the relevance the results are ordered by (Answer.score)

    def vector(self) -> np.ndarray:
        """The model's inputs, in SIGNALS order."""
        return np.array([self.score], dtype=np.float64)


@dataclass(frozen=True)
class Calibration:
    """Logistic regression over standardized SIGNALS, and what it was fitted on."""

    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    fitted_on: str


# Fitted 2026-11-28 (int8 encoder, score with the term match) by
# `python -m assistant.eval eval/dev.jsonl --real
# eval/real-dev.jsonl --judgments eval/judgments.jsonl --index <full 98-archive index> --fit`:
# judged useful = grade >= 1. Refit after any change to the ranking, the fields or the model.
CALIBRATION = Calibration(
    means=(0.4127,),
    scales=(0.1054,),
    coefficients=(1.0475,),
    intercept=-1.3015,
    fitted_on="640 judged real answers and 360 dev answers (weight 0.25)",
)


@dataclass(frozen=True)
class Bin:
    """One row of a reliability table: answers whose confidence fell in [low, high)."""

    low: float
    high: float
    count: int
    predicted: float  # mean confidence
    observed: float  # share judged useful


def confidence(features: np.ndarray, calibration: Calibration = CALIBRATION) -> np.ndarray:
    """P(useful) for each row of features (or one feature vector)."""
    z = (np.asarray(features) - calibration.means) / calibration.scales
    return 1.0 / (1.0 + np.exp(-(z @ np.asarray(calibration.coefficients) + calibration.intercept)))


def fit(features: np.ndarray, useful: np.ndarray, weights: np.ndarray, fitted_on: str, l2: float = 1.0) -> Calibration:
    """L2-regularized logistic regression by Newton's method; the intercept is not regularized."""
    means, scales = features.mean(axis=0), features.std(axis=0) + 1e-9
    x = np.hstack([(features - means) / scales, np.ones((len(features), 1))])
    beta = np.zeros(x.shape[1])
    penalty = l2 * np.diag([1.0] * (x.shape[1] - 1) + [0.0])
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-x @ beta))
        gradient = x.T @ (weights * (p - useful)) + penalty @ beta
        hessian = (x * (weights * p * (1 - p))[:, None]).T @ x + penalty
        step = np.linalg.solve(hessian, gradient)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return Calibration(_rounded(means), _rounded(scales), _rounded(beta[:-1]), round(float(beta[-1]), 4), fitted_on)


def _rounded(values: np.ndarray) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in values)


def cross_validated(
    features: np.ndarray, useful: np.ndarray, weights: np.ndarray, groups: Sequence[str], folds: int = 5
) -> np.ndarray:
    """Each sample's confidence from a model fitted without its question's fold (questions assigned by hash)."""
    fold = np.array([sum(map(ord, group)) % folds for group in groups])
    predicted = np.zeros(len(useful))
    for k in range(folds):
        model = fit(features[fold != k], useful[fold != k], weights[fold != k], "cross-validation")
        predicted[fold == k] = confidence(features[fold == k], model)
    return predicted


def reliability(
    predicted: np.ndarray, useful: np.ndarray, edges: Sequence[float] = (0, 0.2, 0.4, 0.6, 0.8, 1.0)
) -> list[Bin]:
    """Predicted against observed usefulness per confidence bin; the last bin includes 1.0."""
    bins = []
    for low, high in pairwise(edges):
        inside = (predicted >= low) & ((predicted < high) | (high == edges[-1]))
        count = int(inside.sum())
        bins.append(
            Bin(
                low,
                high,
                count,
                float(predicted[inside].mean()) if count else 0.0,
                float(useful[inside].mean()) if count else 0.0,
            )
        )
    return bins
