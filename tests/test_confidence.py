"""The confidence model: logistic fit, increasing in the score results are ordered by, honest reliability bins."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.searching.confidence import CALIBRATION, SIGNALS, Signals, confidence, cross_validated, fit, reliability


def test_confidence_only_rises_with_the_score_so_labels_follow_the_order():
    scores = np.linspace(0.0, 1.0, 201)
    likely = confidence(np.array([Signals(s).vector() for s in scores]))
    assert np.all(np.diff(likely) > 0)
    assert 0.0 < likely[0] < likely[-1] < 1.0


def test_an_unrelated_answer_is_unlikely_and_a_close_one_is_not():
    """Dev: questions nothing answers score at most 0.32 at the top; a paraphrase's answer around 0.6."""
    assert confidence(Signals(0.25).vector()) < 0.1
    assert confidence(Signals(0.7).vector()) > 0.6


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
    assert len(CALIBRATION.coefficients) == len(CALIBRATION.means) == len(SIGNALS) == len(Signals(0).vector())
