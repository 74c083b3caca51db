"""Regression guard: a full index over ../shared/archives/books must keep the dev-set quality reached.

The floors are the figures reached when the ranking was tuned (README, Quality): 101 and 108 of
the 110 answerable questions, MRR@10 0.948. The issue's targets: hit@1 0.90, hit@5 0.98, MRR@10 0.93.
"""

from __future__ import annotations

import pytest

from assistant.eval import evaluate, read_labelled
from helpers import SHARED

pytestmark = pytest.mark.slow
HIT_AT_1 = 101 / 110
HIT_AT_5 = 108 / 110
MRR_AT_10 = 0.945


@pytest.fixture(scope="module")
def full_report(full_searcher):
    return evaluate(full_searcher, read_labelled(SHARED / "eval" / "dev.jsonl"), k=10)


def test_full_build_reads_every_shared_archive(full_index):
    summary, _ = full_index
    assert (summary.books, summary.skipped) == (98, [])


def test_answerable_questions_rank_their_answer_high(full_report):
    assert full_report.answerable == 110
    assert full_report.hit_at_1 >= HIT_AT_1 - 1e-9
    assert full_report.hit_at_5 >= HIT_AT_5 - 1e-9
    assert full_report.mrr_at_10 >= MRR_AT_10


def test_no_answerable_question_is_refused_and_every_unanswerable_one_is(full_report):
    assert full_report.refused == 0
    assert full_report.unanswerable == 10
    assert full_report.correctly_empty == 1.0
