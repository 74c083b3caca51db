"""The usefulness model: its file, its features, and how it orders and labels a search's answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from assistant.indexing.recipe import relevance
from assistant.indexing.usefulness import FEATURES, MODEL_FILE, feature_rows, load_model, shown
from assistant.labels import (
    ANSWERS_USEFUL,
    UNLIKELY_USEFUL,
    choose_floors,
    collect,
    cross_validated,
    dev_samples,
    figures,
    score_only,
    vote_samples,
)
from assistant.searching.confidence import confidence
from assistant.service.querylog import QueryLog
from loghelpers import logged


def test_the_committed_model_loads_with_the_features_search_computes():
    model = load_model()
    assert model.features == FEATURES and len(model.coefficients) == len(FEATURES)
    assert 0.0 <= model.related_floor <= model.answers_floor <= 1.0


def test_a_model_fitted_on_other_features_or_not_json_is_refused_naming_the_file(tmp_path):
    row = json.loads(MODEL_FILE.read_text())
    other = tmp_path / "other.json"
    other.write_text(json.dumps({**row, "features": list(FEATURES[:-1])}))
    with pytest.raises(ValueError, match="other.json: fitted on features"):
        load_model(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(ValueError, match="broken.json: not a usefulness model"):
        load_model(broken)


def test_feature_rows_hold_the_gap_to_the_best_and_the_rank():
    rows = feature_rows(
        scores=[0.6, 0.5, 0.2],
        both=[0.7, -0.1, 0.3],
        question=[0.5, 0.4, 0.1],
        lexical=[0.5, 0.3, 0.0],
        term_match=[1.0, 0.5, 0.0],
        passage=[0.8, 0.2, 0.3],
        words=[40, 3, 0],
        author_named=[True, False, False],
        query_terms=4,
        asked_words=[10, 0, 250],
    )
    column = dict(zip(FEATURES, rows.T, strict=False))
    assert rows.shape == (3, len(FEATURES))
    assert column["gap"].tolist() == pytest.approx([0.0, -0.1, -0.4])
    assert column["rank"].tolist() == pytest.approx(np.log1p([0, 1, 2]).tolist())
    assert column["both"][1] == 0.0 and column["author_named"].tolist() == [1.0, 0.0, 0.0]
    assert column["query_terms"].tolist() == pytest.approx([np.log1p(4)] * 3)


def test_search_orders_answers_by_the_estimate_it_shows(fake_seed_searcher):
    answers = fake_seed_searcher.search("Should startups do MLOps?", 10, min_score=0)
    assert len(answers) > 3
    shown = [answer.confidence for answer in answers]
    assert shown == sorted(shown, reverse=True)
    strength = {"unlikely": 0, "related": 1, "answers": 2}
    labels = [strength[relevance(c).slug] for c in shown]
    assert labels == sorted(labels, reverse=True)  # a stronger label never below a weaker one


def test_candidates_carry_the_features_the_estimate_came_from(fake_seed_searcher):
    found = fake_seed_searcher.candidates("Should startups do MLOps?", 8)
    predicted = fake_seed_searcher.model.predict(found.features)
    shown_as = np.array([a.confidence for a in found.answers])
    assert (shown_as <= predicted + 1e-3).all() and (np.diff(shown_as) <= 0).all()
    assert found.best == pytest.approx(max(a.score for a in found.answers), abs=1e-4)


def test_votes_become_judged_pairs_capped_as_tuning_caps_them(fake_seed_searcher, tmp_path):
    question = "Should startups do MLOps?"
    found = fake_seed_searcher.candidates(question, 12)
    ids = [answer.id for answer in found.answers]
    log = QueryLog(tmp_path / "queries.sqlite")
    for _ in range(5):  # one client re-asking and re-voting counts once
        query = log.record(logged(question, ids[:4]))
        for answer_id in ids[:3]:
            log.vote(query, answer_id, True)
        log.vote(query, ids[3], False)
    log.close()
    pairs = vote_samples(fake_seed_searcher, tmp_path / "queries.sqlite")
    helpful = [pair for pair in pairs if pair.grade == 1]
    assert len(helpful) == 2 and {pair.unit for pair in helpful} <= set(ids[:3])  # VOTES_PER_QUESTION
    assert [pair.unit for pair in pairs if pair.grade == 0] == [ids[3]] * 2  # the hard negative beside each
    rows = dict(zip(ids, found.features, strict=False))
    assert all(np.array_equal(pair.rows, rows[pair.unit]) for pair in pairs)


def test_the_model_orders_answers_by_meaning_and_keyword_matches_keep_the_score_order():
    likely = np.array([0.3, 0.6, 0.5])  # candidates in score order
    order, estimate = shown(likely, answered=True, by_meaning=True, related_floor=0.3)
    assert order.tolist() == [1, 2, 0] and estimate.tolist() == likely.tolist()
    order, estimate = shown(likely, answered=True, by_meaning=False, related_floor=0.3)
    assert order.tolist() == [0, 1, 2] and estimate.tolist() == [0.3, 0.3, 0.3]  # never rising down the list
    _, estimate = shown(likely, answered=False, by_meaning=False, related_floor=0.3)
    assert all(relevance(e).slug == "unlikely" for e in estimate.round(3))  # nothing answers it


@pytest.mark.slow
def test_cross_validated_figures_beat_the_fused_score_and_the_committed_floors_hold(full_searcher, eval_dir):
    """The figures `python -m assistant.labels report` prints (README, Quality), on the full index."""
    real = [eval_dir / "real-dev.jsonl", eval_dir / "real-more.jsonl"]
    asked = collect(full_searcher, real, [eval_dir / "judgments.jsonl"])
    before = figures(asked, [confidence(b[:, None]) for b in score_only(asked)], 0.6, 0.3)
    dev = dev_samples(full_searcher, eval_dir / "dev.jsonl")
    predicted = cross_validated(asked, dev)
    model = load_model()
    after = figures(asked, predicted, model.answers_floor, model.related_floor)
    assert after.questions == before.questions == 235
    assert after.auc_top3 >= before.auc_top3 + 0.01 and after.auc_top3 >= 0.645
    assert after.useful_at_1 >= before.useful_at_1 and after.ndcg_at_3 >= before.ndcg_at_3 + 0.01
    assert choose_floors(asked, predicted) == pytest.approx((model.answers_floor, model.related_floor), abs=0.005)
    tops, useful = after.labels["unlikely"]
    assert tops >= 10 and useful <= UNLIKELY_USEFUL
    assert after.labels["answers"][0] == 0 or after.labels["answers"][1] >= ANSWERS_USEFUL
