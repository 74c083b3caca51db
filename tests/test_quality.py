"""Regression guard over a full index of data/: dev-set and real-question quality, one card per answer.

The floors are the figures measured 2026-11-27 (docs/research.md, Quality): on dev, 101 and 108 of the 110
answerable questions, MRR@10 0.947; on the 56 general real questions (own book left out, top 3,
judged in ../shared/eval/real-dev.jsonl and, blind, in eval/judgments.jsonl) the floors below.
"""

from __future__ import annotations

import pytest

from assistant.eval import evaluate, read_labelled
from assistant.judged import evaluate_real, read_real
from assistant.recipe import relevance
from helpers import REPO, SHARED

pytestmark = pytest.mark.slow
HIT_AT_1 = 101 / 110
HIT_AT_5 = 108 / 110
MRR_AT_10 = 0.945
USEFUL_AT_1 = 0.44
NDCG_AT_3 = 0.46


@pytest.fixture(scope="module")
def full_report(full_searcher):
    return evaluate(full_searcher, read_labelled(SHARED / "eval" / "dev.jsonl"), k=10)


def test_full_build_reads_every_archive_in_data(full_index):
    summary, _ = full_index
    assert (summary.archives, summary.skipped) == (98, [])


def test_real_questions_get_useful_first_answers(full_searcher):
    questions = read_real(SHARED / "eval" / "real-dev.jsonl", REPO / "eval" / "judgments.jsonl")
    report, _, _ = evaluate_real(full_searcher, questions)
    assert report.questions == 56
    assert report.useful_at_1 >= USEFUL_AT_1
    assert report.ndcg_at_3 >= NDCG_AT_3


def test_mlops_question_shows_both_practical_mlops_authors_one_card_per_answer(full_searcher):
    answers = full_searcher.search("Should startups do MLOps?", 5)
    assert {"Noah Gift", "Alfredo Deza"} <= {a.author for a in answers[:5]}
    cards = [(a.book, a.thread, a.author) for a in answers]
    assert len(set(cards)) == len(cards)


def test_answerable_questions_rank_their_answer_high(full_report):
    assert full_report.answerable == 110
    assert full_report.hit_at_1 >= HIT_AT_1 - 1e-9
    assert full_report.hit_at_5 >= HIT_AT_5 - 1e-9
    assert full_report.mrr_at_10 >= MRR_AT_10


def test_no_answerable_question_is_refused_and_every_unanswerable_one_is(full_report):
    assert full_report.refused == 0
    assert full_report.unanswerable == 10
    assert full_report.correctly_empty == 1.0


def test_confidence_is_the_same_on_the_full_and_the_one_book_index(full_searcher, seed_searcher):
    """Every text is embedded alone, so an answer's vectors and confidence do not depend on the rest of the index."""
    on_full = {a.id: a.confidence for a in full_searcher.search("Should startups do MLOps?", 10, min_score=0)}
    on_seed = {a.id: a.confidence for a in seed_searcher.search("Should startups do MLOps?", 10, min_score=0)}
    both = on_full.keys() & on_seed.keys()
    assert len(both) >= 3
    assert all(abs(on_full[i] - on_seed[i]) < 1e-5 for i in both)


def test_questions_nothing_answers_get_unlikely_answers_even_when_asked_for_the_ranking(full_searcher):
    unanswerable = [q for q in read_labelled(SHARED / "eval" / "dev.jsonl") if not q.targets]
    for question in unanswerable:
        closest = full_searcher.search(question.query, 3, min_score=0)
        assert all(relevance(a.confidence).slug == "unlikely" for a in closest), question.query
