"""One request contract for the page, the Gradio API, MCP and the JSON API: types, ranges, filters, length."""

from __future__ import annotations

import pytest

from assistant.searching.searcher import MAX_QUESTION_CHARS
from assistant.service.contract import (
    MAX_REQUEST_CHARS,
    MAX_RESULTS,
    RequestError,
    SearchRequest,
    parse_request,
    read_link,
)
from assistant.slack.ask import parse_ask
from helpers import SEED_ID

QUESTION = "Should startups do MLOps?"


def test_defaults_and_empty_filters(fake_seed_searcher):
    request = parse_request(fake_seed_searcher, f"  {QUESTION} ", author="", book="   ")
    assert request == SearchRequest(QUESTION, 5, None, None, False, False)


@pytest.mark.parametrize(("k", "expected"), [(1, 1), (20, 20), (3.0, 3), ("7", 7)])
def test_k_accepts_whole_numbers_in_range(fake_seed_searcher, k, expected):
    assert parse_request(fake_seed_searcher, QUESTION, k).k == expected


@pytest.mark.parametrize("k", [0, MAX_RESULTS + 1, 2.5, "2.5", "five", True, None, -1])
def test_k_outside_the_range_or_not_whole_is_refused(fake_seed_searcher, k):
    with pytest.raises(RequestError, match="k must be"):
        parse_request(fake_seed_searcher, QUESTION, k)


@pytest.mark.parametrize(
    ("closest", "expected"), [(True, True), (False, False), ("false", False), ("TRUE", True), ("0", False)]
)
def test_closest_reads_booleans_and_their_spellings(fake_seed_searcher, closest, expected):
    assert parse_request(fake_seed_searcher, QUESTION, closest=closest).closest is expected


@pytest.mark.parametrize("closest", ["maybe", 2, None])
def test_closest_that_is_not_a_boolean_is_refused(fake_seed_searcher, closest):
    with pytest.raises(RequestError, match="closest must be true or false"):
        parse_request(fake_seed_searcher, QUESTION, closest=closest)


@pytest.mark.parametrize("question", ["", "   \n", None, 42])
def test_empty_or_non_text_question_is_refused(fake_seed_searcher, question):
    with pytest.raises(RequestError, match="question"):
        parse_request(fake_seed_searcher, question)


def test_long_question_is_cut_and_a_huge_one_refused(fake_seed_searcher):
    request = parse_request(fake_seed_searcher, "word " * MAX_QUESTION_CHARS)
    assert request.cut and len(request.question) == MAX_QUESTION_CHARS
    with pytest.raises(RequestError, match="the limit is"):
        parse_request(fake_seed_searcher, "x" * (MAX_REQUEST_CHARS + 1))


@pytest.mark.parametrize("book", [SEED_ID, "practical-mlops", "Practical-MLOps", "practical mlops"])
def test_a_book_is_named_by_its_id_its_id_without_the_date_or_its_title_in_every_way_in(fake_seed_searcher, book):
    """Issue 26: one book resolver; the web API answered 400 to the id without its date, which Slack accepts."""
    request = parse_request(fake_seed_searcher, QUESTION, book=book)
    assert fake_seed_searcher.resolve_book(book) == SEED_ID
    answers = fake_seed_searcher.search(request.question, 3, book=request.book, min_score=0)
    assert answers and {answer.book for answer in answers} == {SEED_ID}
    assert read_link(fake_seed_searcher, {"q": QUESTION, "book": book}).search.book == SEED_ID
    assert parse_ask(fake_seed_searcher, f"book:{book.replace(' ', '-')} {QUESTION}", 3).book == SEED_ID


def test_filters_match_case_insensitively_and_unknown_ones_are_named(fake_seed_searcher):
    assert parse_request(fake_seed_searcher, QUESTION, author=" noah gift ").author == "noah gift"
    assert parse_request(fake_seed_searcher, QUESTION, book="practical mlops").book == "practical mlops"
    with pytest.raises(RequestError, match="author 'Nobody' has no answers"):
        parse_request(fake_seed_searcher, QUESTION, author="Nobody")
    with pytest.raises(RequestError, match="book 'Cooking' is not in the index"):
        parse_request(fake_seed_searcher, QUESTION, book="Cooking")
