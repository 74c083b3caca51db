"""search() over the shipped seed index: attribution, filters, diversity, no-answer, bad input."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest

from assistant.indexing.recipe import MIN_SCORE, relevance
from assistant.indexing.store import build_index, load_built_index
from assistant.searching.searcher import Answer, Searcher
from helpers import REPO, SEED_ID, write_archive

pytestmark = pytest.mark.slow
MLOPS = "should startups do MLOps?"


def test_mlops_question_gets_both_authors_from_practical_mlops(seed_searcher):
    answers = seed_searcher.search(MLOPS)
    assert len(answers) == 5
    assert {"Noah Gift", "Alfredo Deza"} <= {a.author for a in answers}
    assert {(a.book, a.book_title) for a in answers} == {(SEED_ID, "Practical MLOps")}
    for answer in answers:
        assert answer.url == f"https://datatalks.club/books/{SEED_ID}.html"
        assert answer.date == "2021-08-30" and answer.text and answer.score > 0


def test_the_passage_that_answers_is_reported_in_a_multi_question_reply(seed_searcher):
    """Noah Gift answered five questions in one reply (thread 9); the startups one is last, and is the one reported."""
    answers = seed_searcher.search(MLOPS, 10)
    reply = next(a for a in answers if a.id == f"{SEED_ID}/9/noah-gift/0")
    assert reply.passage == 4
    assert "Do small startups really need MLOps" in reply.passage_text
    assert reply.passage_text in reply.text
    one_piece = [a for a in answers if a.passage == -1]
    assert one_piece and all(a.passage_text == "" for a in one_piece)


def test_mlops_answers_on_the_one_book_seed_index_are_listed_by_confidence_and_label(seed_searcher):
    """Both authors answer; the list never shows a higher confidence or label below a lower one."""
    answers = seed_searcher.search(MLOPS, 5)
    assert {"Noah Gift", "Alfredo Deza"} <= {a.author for a in answers}
    assert answers[0].id == f"{SEED_ID}/9/noah-gift/0"  # its last passage asks exactly this
    for above, below in zip(answers, answers[1:], strict=False):
        assert above.confidence >= below.confidence
        assert relevance(above.confidence).fill >= relevance(below.confidence).fill


def test_startup_answer_carries_question_and_asker(seed_searcher):
    """The reply's thread asks "How to decide which tools…" first; the passage that matched answers the startups
    question Noah Gift quoted ("[10:04 AM] Do small startups…"), so the card says it answers that one."""
    answers = seed_searcher.search("Do small startups really need MLOps or is it over engineering?", 3)
    top = answers[0]
    assert (top.author, top.asker) == ("Noah Gift", "Doink")
    assert top.question == "Do small startups really need MLOps or is it over engineering?"
    assert top.question in top.passage_text


def test_python_entry_point_reads_index_from_environment(seed_index):
    """`from assistant import search` loads the index named by $ASSISTANT_INDEX on first use."""
    code = "from assistant import search; print(sorted({a.author for a in search('should startups do MLOps?')}))"
    env = {**os.environ, "ASSISTANT_INDEX": str(seed_index)}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['Alfredo Deza', 'Noah Gift']"


def test_answer_has_the_documented_fields(seed_searcher):
    fields = {f.name for f in dataclasses.fields(Answer)}
    assert {"author", "text", "question", "asker", "book", "book_title", "thread", "date", "url", "score"} <= fields
    assert isinstance(seed_searcher.search(MLOPS, 1)[0].thread, int)


def test_results_are_best_first_within_an_author(seed_searcher):
    answers = seed_searcher.search(MLOPS, 10, min_score=0)
    for author in {a.author for a in answers}:
        scores = [a.score for a in answers if a.author == author]
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("author", ["Alfredo Deza", "alfredo deza", "ALFREDO DEZA"])
def test_author_filter_is_case_insensitive(seed_searcher, author):
    answers = seed_searcher.search(MLOPS, 5, author=author)
    assert answers and {a.author for a in answers} == {"Alfredo Deza"}


@pytest.mark.parametrize("book", [SEED_ID, "practical mlops", "Practical MLOps"])
def test_book_filter_by_id_or_title(seed_searcher, book):
    assert seed_searcher.search(MLOPS, 3, book=book)


def test_a_filter_no_answer_passes_is_an_error_naming_it(seed_searcher):
    with pytest.raises(ValueError, match="book 'No Such Book' is not in the index"):
        seed_searcher.search(MLOPS, 5, book="No Such Book")
    with pytest.raises(ValueError, match="author 'Alexey Grigorev' has no answers"):  # he asks, never answers
        seed_searcher.search(MLOPS, 5, author="Alexey Grigorev")


@pytest.mark.parametrize(
    "question", ["how do I caramelize onions without burning them", "what is the capital of Mongolia"]
)
def test_question_nothing_answers_returns_empty_unless_asked_for_the_ranking(seed_searcher, question):
    assert seed_searcher.search(question) == []
    closest = seed_searcher.search(question, 3, min_score=0)
    assert len(closest) == 3
    assert all(a.score < MIN_SCORE for a in closest)
    assert all(relevance(a.confidence).slug == "unlikely" for a in closest)


@pytest.mark.parametrize("question", ["", "   ", "\n\t"])
def test_empty_question_is_a_clear_error(seed_searcher, question):
    with pytest.raises(ValueError, match="empty"):
        seed_searcher.search(question)


def test_very_long_question_is_truncated_not_an_error(seed_searcher):
    question = "Should startups invest in MLOps automation and CI/CD? " * 400
    answers = seed_searcher.search(question, 3)
    assert answers and answers[0].book == SEED_ID


def test_same_text_posted_twice_appears_once(tmp_path, embedder):
    answer = "Version your data with DVC and your models with MLflow, then automate the retraining."
    threads = [
        {
            "name": asker,
            "text": "How should I version data and models?",
            "replies": [{"name": "Ann Author", "text": answer}],
        }
        for asker in ("Bob", "Carol")
    ]
    (tmp_path / "data").mkdir()
    write_archive(tmp_path / "data" / "2024-versioning.md", threads)
    build_index([tmp_path / "data"], tmp_path / "index", embedder=embedder)
    searcher = Searcher(load_built_index(tmp_path / "index"), embedder)
    answers = searcher.search("how to version data and models", 5, min_score=0)
    assert [a.text for a in answers] == [answer]


def test_ten_megabyte_question_is_cut_before_the_tokenizer_sees_it(seed_searcher):
    question = "Should startups invest in MLOps automation? " * 240_000  # 10.6 MB
    started = time.perf_counter()
    answers = seed_searcher.search(question, 3)
    assert time.perf_counter() - started < 3.0  # it took 11 s when the whole text was tokenized
    assert answers and answers[0].book == SEED_ID
