"""The confidence model: logistic fit, monotone in its signals, honest reliability bins."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.confidence import CALIBRATION, SIGNALS, Signals, confidence, cross_validated, fit, reliability


def test_confidence_rises_with_the_match_and_with_substance():
    base = confidence(Signals(0.5, 0.5, 30).vector())
    assert 0.0 < base < 1.0
    assert confidence(Signals(0.7, 0.5, 30).vector()) > base
    assert confidence(Signals(0.7, 0.7, 30).vector()) > base
    assert confidence(Signals(0.5, 0.5, 3).vector()) < base


def test_an_unrelated_answer_is_unlikely_and_a_close_full_one_is_not():
    assert confidence(Signals(0.15, 0.15, 40).vector()) < 0.05
    assert confidence(Signals(0.84, 0.62, 64).vector()) > 0.6


def test_fit_recovers_a_known_logistic_relation():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 3))
    truth = 1 / (1 + np.exp(-(2.0 * x[:, 0] - 1.0 * x[:, 2])))
    y = (rng.random(4000) < truth).astype(float)
    model = fit(x, y, np.ones(4000), "synthetic", l2=0.1)
    assert model.coefficients[0] == pytest.approx(2.0 * x[:, 0].std(), rel=0.15)
    assert abs(model.coefficients[1]) < 0.15
    held_out = cross_validated(x, y, np.ones(4000), [str(i % 97) for i in range(4000)])
    table = reliability(held_out, y)
    assert sum(b.count for b in table) == 4000
    assert all(abs(b.predicted - b.observed) < 0.08 for b in table if b.count > 200)


def test_the_stored_calibration_says_how_it_was_fitted():
    assert "judged real answers" in CALIBRATION.fitted_on
    assert len(CALIBRATION.coefficients) == len(CALIBRATION.means) == len(SIGNALS) == len(Signals(0, 0, 0).vector())
