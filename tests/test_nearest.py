"""FAISS candidates rank like scoring every answer, filters included; one estimate orders and labels (fake model)."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.indexing.recipe import tokenize
from assistant.searching.ranking import fuse, substance_penalty

QUESTIONS = ["Should startups do MLOps?", "which tools first", "kubernetes", "how do I cook onions", "book"]


def _every_answer(searcher, question: str) -> np.ndarray:
    """The score of every unit (fused, less the substance prior), computed the slow way."""
    query = searcher.embedder.encode([question])[0]
    dense = {field: index.reconstruct_n(0, index.ntotal) @ query for field, index in searcher.index.vectors.items()}
    tokens = tokenize([question], vocabulary=False)[0]
    lexical = searcher.index.lexical.get_scores(tokens) if tokens else np.zeros(len(searcher.units))
    prior = substance_penalty(np.array(searcher.index.keys.words))
    return np.maximum(fuse(dense, np.asarray(lexical, dtype=np.float32)) - prior, 0.0)


@pytest.mark.parametrize("question", QUESTIONS)
@pytest.mark.parametrize("pool", [3, 5, 50])
def test_candidates_rank_like_every_answer(fake_seed_searcher, question, pool):
    expected = _every_answer(fake_seed_searcher, question)
    scores = fake_seed_searcher.score(question, pool)
    best = np.argsort(-expected, kind="stable")[:pool]
    assert np.allclose(scores[best], expected[best], atol=1e-6)
    assert list(np.argsort(-scores, kind="stable")[:pool]) == list(best)


def test_filter_is_applied_in_the_search(fake_seed_searcher):
    allowed = np.array([unit.author == "Alfredo Deza" for unit in fake_seed_searcher.units])
    scores = fake_seed_searcher.score("Should startups do MLOps?", 5, allowed)
    assert np.isfinite(scores[allowed]).all() and np.isinf(scores[~allowed]).all()


@pytest.mark.parametrize("question", QUESTIONS)
def test_related_questions_rank_like_every_question(fake_seed_searcher, question):
    searcher = fake_seed_searcher
    vectors = searcher.index.vectors["question"]
    similarity = vectors.reconstruct_n(0, vectors.ntotal) @ searcher.embedder.encode([question])[0]
    expected = [searcher.units[i].id for i in np.argsort(-similarity, kind="stable")]
    got = [related.answer_id for related in searcher.related_questions(question, 20)]
    assert got == [i for i in expected if i in set(got)]  # best first, the first-posted answer standing for ties


@pytest.mark.parametrize("question", QUESTIONS)
def test_one_estimate_orders_the_answers_and_is_their_confidence(fake_seed_searcher, question):
    """The confidence never rises down the list and is the usefulness model's estimate of the answer's features (lowered
    only to keep a keyword match's order or to say nothing answers the question)."""
    answers = fake_seed_searcher.search(question, 10, min_score=0)
    found = fake_seed_searcher.candidates(fake_seed_searcher.prepared(question), 12)
    assert [a.id for a in answers] == [a.id for a in found.answers][: len(answers)]
    shown = [answer.confidence for answer in answers]
    assert shown == sorted(shown, reverse=True)
    estimated = fake_seed_searcher.model.predict(found.features)
    assert all(c <= e + 5e-4 for c, e in zip(shown, estimated, strict=False))
