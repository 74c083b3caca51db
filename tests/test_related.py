"""Questions others asked nearby: past questions close to a new one, each once, none already shown."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from assistant.corpus.text import content_words
from assistant.indexing.recipe import RELATED_MIN_SCORE
from assistant.searching.searcher import RelatedQuestion, _question_key
from assistant.service.contract import parse_request, related, run
from helpers import REPO, SEED_ID

MLOPS = "should startups do MLOps?"


def _keys(questions: list[RelatedQuestion]) -> list[str]:
    return [" ".join(q.question.lower().split()) for q in questions]


def test_each_question_once_closest_first_and_never_the_one_asked(fake_seed_searcher):
    asked = next(unit for unit in fake_seed_searcher.units if unit.asker == "Doink")
    related = fake_seed_searcher.related_questions(asked.question, k=20)
    assert 0 < len(related) <= 20 and len(set(_keys(related))) == len(related)
    assert [q.score for q in related] == sorted((q.score for q in related), reverse=True)
    assert all(q.score >= RELATED_MIN_SCORE and q.question.strip() for q in related)
    assert asked.question not in {q.question for q in related}
    assert len(fake_seed_searcher.related_questions(asked.question, k=2)) == 2


def test_questions_of_answers_already_shown_are_left_out(fake_seed_searcher):
    asked = next(unit for unit in fake_seed_searcher.units if unit.asker == "Doink")
    before = fake_seed_searcher.related_questions(asked.question)
    after = fake_seed_searcher.related_questions(asked.question, exclude=[before[0].answer_id, "no/such/id/0"])
    assert before[0].question not in {q.question for q in after} and before[1:] == after[: len(before) - 1]


def test_answer_by_stable_id(fake_seed_searcher):
    unit = fake_seed_searcher.units[3]
    assert fake_seed_searcher.unit(unit.id) is unit
    assert fake_seed_searcher.unit(f"{SEED_ID}/999/noah-gift/0") is None


def test_empty_question_is_a_clear_error(fake_seed_searcher):
    with pytest.raises(ValueError, match="question is empty"):
        fake_seed_searcher.related_questions("  ")


@pytest.mark.slow
def test_mlops_question_gets_five_other_practical_mlops_questions(seed_searcher):
    shown = seed_searcher.search(MLOPS)
    related = seed_searcher.related_questions(MLOPS, exclude=[answer.id for answer in shown])
    assert len(related) == 5 and {q.book for q in related} == {SEED_ID}
    assert not set(_keys(related)) & {" ".join(a.question.lower().split()) for a in shown}
    for question in related:  # shown cleaned: no greeting, thanks or Markdown, at most 200 characters
        assert len(question.question) <= 200
        assert content_words(question.question) <= content_words(seed_searcher.unit(question.answer_id).question)


@pytest.mark.slow
def test_nothing_nearby_for_a_question_the_archive_does_not_answer(seed_searcher):
    assert seed_searcher.related_questions("How do I cook onions?") == []


@pytest.mark.slow
def test_filters_keep_questions_the_author_answered(seed_searcher):
    related = seed_searcher.related_questions(MLOPS, author="alfredo deza")
    assert related and all(seed_searcher.unit(q.answer_id).author == "Alfredo Deza" for q in related)
    with pytest.raises(ValueError, match="book 'Cooking' is not in the index"):
        seed_searcher.related_questions(MLOPS, book="Cooking")


@pytest.mark.slow
def test_python_entry_point(seed_index):
    """`from assistant import related_questions` reads the index named by $ASSISTANT_INDEX."""
    code = "from assistant import related_questions as r; print(len(r('should startups do MLOps?', k=3)))"
    env = {**os.environ, "ASSISTANT_INDEX": str(seed_index)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "3"


RELATED_ASKED = ["Should startups do MLOps?", "How do I monitor models?", "What is a feature store?", "cloud vendors"]


@pytest.mark.parametrize("k", [1, 2, 5, 40])
def test_related_questions_fetched_to_a_growing_depth_are_those_of_a_full_ranking(fake_seed_searcher, k):
    """Issue 26, speed: FAISS fetches a few past questions and more only when needed; the result is the full one's."""
    searcher = fake_seed_searcher
    for question in RELATED_ASKED:
        shown = searcher.search(question, 3, min_score=0)
        exclude = [answer.id for answer in shown]
        fast = searcher.related_questions(question, k, exclude=exclude, answered=True)
        asked = searcher._prepare(question)
        seen = {searcher._question_keys[searcher._index_of[i]] for i in exclude} | {_question_key(asked), ""}
        full, final = searcher._closest_questions(searcher._embed(asked)[None, :], k, len(searcher.units), None, seen)
        assert final or len(full) < k
        assert [r.id for r in fast] == [r.id for r in full]


def test_the_service_s_related_questions_reuse_the_search_s_answer(fake_seed_searcher):
    """Without `closest`, the answers shown say whether the corpus answers: the same questions, no second search."""
    for question in RELATED_ASKED:
        request = parse_request(fake_seed_searcher, question)
        shown = run(fake_seed_searcher, request)
        expected = fake_seed_searcher.related_questions(question, exclude=[answer.id for answer in shown])
        assert related(fake_seed_searcher, request, shown) == expected
