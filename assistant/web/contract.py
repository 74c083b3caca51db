"""What a search request from the page, the Gradio API, MCP or the JSON API may hold: one set of rules for all.

Every way in passes its raw values through `parse_request`; a bad value raises RequestError naming
the parameter, which each way in shows in its own form (a notice, a Gradio error, a 400).
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.searcher import MAX_QUESTION_CHARS, Answer, Searcher
from assistant.text import invalid_text

MAX_RESULTS = 20
DEFAULT_RESULTS = 5
# Longer input is not a question: refuse it rather than read megabytes to cut them to MAX_QUESTION_CHARS.
MAX_REQUEST_CHARS = 20 * MAX_QUESTION_CHARS
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class RequestError(ValueError):
    """A request value that is missing, of the wrong type or out of range; the message names it."""


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: the question (cut to what the model reads), k, optional filters, closest."""

    question: str
    k: int = DEFAULT_RESULTS
    author: str | None = None
    book: str | None = None
    closest: bool = False
    cut: bool = False  # the question was longer than MAX_QUESTION_CHARS and was cut


def _question(value: object) -> tuple[str, bool]:
    if not isinstance(value, str):
        raise RequestError(f"question must be text, got {type(value).__name__}")
    if len(value) > MAX_REQUEST_CHARS:
        raise RequestError(f"question is {len(value):,} characters long; the limit is {MAX_REQUEST_CHARS:,}")
    question = value.strip()
    if not question:
        raise RequestError("question is empty: ask something, e.g. 'Should startups do MLOps?'")
    problem = invalid_text(question[:MAX_QUESTION_CHARS], "question")
    if problem:
        raise RequestError(problem)
    return question[:MAX_QUESTION_CHARS], len(question) > MAX_QUESTION_CHARS


def _k(value: object) -> int:
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"k must be a whole number from 1 to {MAX_RESULTS}, got {value!r}")
    if not 1 <= value <= MAX_RESULTS:
        raise RequestError(f"k must be from 1 to {MAX_RESULTS}, got {value}")
    return value


def _closest(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RequestError(f"closest must be true or false, got {value!r}")


def _filter(value: object, name: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise RequestError(f"{name} must be text, got {type(value).__name__}")
    return value.strip() or None


def parse_request(
    searcher: Searcher,
    question: object,
    k: object = DEFAULT_RESULTS,
    author: object = None,
    book: object = None,
    closest: object = False,
) -> SearchRequest:
    """Check every value as search() would, plus the web's limits; an unknown author or book is an error."""
    text, cut = _question(question)
    request = SearchRequest(text, _k(k), _filter(author, "author"), _filter(book, "book"), _closest(closest), cut)
    if request.author and not searcher.has_author(request.author):
        raise RequestError(f"author {request.author!r} has no answers in the index")
    if request.book and not searcher.has_book(request.book):
        raise RequestError(f"book {request.book!r} is not in the index (give its title or id)")
    return request


def run(searcher: Searcher, request: SearchRequest) -> list[Answer]:
    """The answers for a validated request; `closest` drops the no-answer threshold."""
    return searcher.search(
        request.question,
        request.k,
        author=request.author,
        book=request.book,
        min_score=0 if request.closest else None,
    )
