"""What a search (or a vote on one) from the page, the Gradio API, MCP or the JSON API may hold: one set of rules.

Every way in passes its raw values through `parse_request`; a bad value raises RequestError naming
the parameter, which each way in shows in its own form (a notice, a Gradio error, a 400).
A page address (`?q=…&author=…&book=…&k=…` or `?answer=<id>`) is read by `read_link` under the same
rules, except that a bad value is dropped rather than refused: a shared link always opens the page.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from starlette.responses import Response

from assistant.corpus.authors import name_tokens
from assistant.corpus.text import invalid_text
from assistant.errors import BadInput
from assistant.search.browse import week_bound
from assistant.search.searcher import MAX_QUESTION_CHARS, Answer, RelatedQuestion, Searcher

MAX_RESULTS = 20
DEFAULT_RESULTS = 5
# Longer input is not a question: refuse it rather than read megabytes to cut them to MAX_QUESTION_CHARS.
MAX_REQUEST_CHARS = 20 * MAX_QUESTION_CHARS
MAX_ID_CHARS = 300  # unit ids are `book/thread/author/n`, far shorter; author and book names too
MAX_BODY_BYTES = 16 * 1024  # a JSON API body (a vote is ~150 bytes); a longer one is a 413 before it is read
MAX_JSON_DEPTH = 32  # a vote is 1 deep; deeper nesting is refused before a parser recurses into it
SHOWN_CHARS = 60  # at most this much of a bad value is quoted back in an error
_ID_WORD = re.compile(r"[^\W\d_]+")
_UNIT_ID = re.compile(r"[^/]+/\d+/[^/]+/\d+")
_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,6}")  # ASCII digits only: int() also reads '٣', and fails on '²'
_QUERY_ID = re.compile(r"[0-9a-f]{16}")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off", ""}


class RequestError(BadInput, ValueError):
    """A request value that is missing, of the wrong type or out of range; the message names it."""


def shown(value: object) -> str:
    """A bad value as an error quotes it: its repr, cut to SHOWN_CHARS, so no error echoes unbounded input."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}… ({len(text):,} characters)"


def error_response(message: str, status: int, headers: Mapping[str, str] | None = None) -> Response:
    """`{"error": message}` with its status: the JSON API's one error shape (ASCII, so any text encodes)."""
    body = json.dumps({"error": message}).encode()
    return Response(body, status_code=status, headers=dict(headers or {}), media_type="application/json")


def text_param(value: object, name: str, limit: int = MAX_ID_CHARS) -> str:
    """A short text parameter, stripped: RequestError naming it when it is not text, too long or not valid text."""
    if not isinstance(value, str):
        raise RequestError(f"{name} must be text, got {type(value).__name__}")
    if len(value) > limit:
        raise RequestError(f"{name} is {len(value):,} characters long; the limit is {limit:,}")
    problem = invalid_text(value, name)
    if problem:
        raise RequestError(problem)
    return value.strip()


def parse_json(body: bytes) -> object:
    """A request body as JSON; RequestError when it is not JSON (UTF-8) or nests deeper than MAX_JSON_DEPTH."""
    if json_depth(body) > MAX_JSON_DEPTH:
        raise RequestError(f"the body is nested more than {MAX_JSON_DEPTH} deep")
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        raise RequestError("the body must be JSON") from None


def json_depth(body: bytes) -> int:
    """How deep brackets nest in a JSON text, counting none inside strings; cheap when there are few brackets."""
    if body.count(b"[") + body.count(b"{") <= MAX_JSON_DEPTH:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b"[{":
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b"]}":
            depth -= 1
    return deepest


@dataclass(frozen=True)
class SearchRequest:
    """A validated search: the question (cut to what the model reads), k, optional filters, closest."""

    question: str
    k: int = DEFAULT_RESULTS
    author: str | None = None
    book: str | None = None
    closest: bool = False
    cut: bool = False  # the question was longer than MAX_QUESTION_CHARS and was cut
    since: str | None = None  # ISO date: only weeks from it (see assistant.search.browse.week_bound)
    until: str | None = None  # ISO date: only weeks to it


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
    if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
        value = int(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RequestError(f"k must be a whole number from 1 to {MAX_RESULTS}, got {shown(value)}")
    if not 1 <= value <= MAX_RESULTS:
        raise RequestError(f"k must be from 1 to {MAX_RESULTS}, got {shown(value)}")
    return value


def whole(value: object, name: str, least: int, most: int) -> int:
    """A whole-number parameter from `least` to `most`; RequestError naming it otherwise."""
    text = str(value).strip()
    if not _WHOLE_NUMBER.fullmatch(text) or not least <= int(text) <= most:
        raise RequestError(f"{name} must be a whole number from {least} to {most:,}, got {shown(value)}")
    return int(text)


def _closest(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise RequestError(f"closest must be true or false, got {shown(value)}")


def _filter(value: object, name: str) -> str | None:
    return None if value is None else text_param(value, name) or None


def parse_request(
    searcher: Searcher,
    question: object,
    k: object = DEFAULT_RESULTS,
    author: object = None,
    book: object = None,
    closest: object = False,
    since: object = None,
    until: object = None,
) -> SearchRequest:
    """Check every value as search() would, plus the web's limits; an unknown author or book is an error."""
    text, cut = _question(question)
    request = SearchRequest(text, _k(k), _filter(author, "author"), _filter(book, "book"), _closest(closest), cut,
                            *weeks(since, until))  # fmt: skip
    try:
        searcher.check_filters(request.author, request.book)
    except ValueError as error:
        raise RequestError(str(error)) from None
    return request


def weeks(since: object, until: object) -> tuple[str | None, str | None]:
    """`since` / `until` parameters (a year, month or date) as ISO dates; RequestError naming a bad one."""
    try:
        return (week_bound(_filter(since, "since"), "since", end=False),
                week_bound(_filter(until, "until"), "until", end=True))  # fmt: skip
    except ValueError as error:
        raise RequestError(str(error)) from None


@dataclass(frozen=True)
class VoteRequest:
    """A vote on a logged search: one answer helpful or not, or (answer_id None) none of the answers helped."""

    query_id: str
    answer_id: str | None
    helpful: bool


def parse_vote(body: object) -> VoteRequest:
    """Check a feedback body `{"query_id", "answer_id", "helpful"}`; answer_id null means none of these answer."""
    if not isinstance(body, dict):
        raise RequestError('feedback must be a JSON object {"query_id": ..., "answer_id": ..., "helpful": true|false}')
    query_id, answer_id, helpful = body.get("query_id"), body.get("answer_id"), body.get("helpful")
    if not isinstance(query_id, str) or not query_id.strip():
        raise RequestError("query_id must be the query_id a search returned")
    query_id = text_param(query_id, "query_id")
    if not _QUERY_ID.fullmatch(query_id):
        raise RequestError(f"query_id must be the query_id a search returned (16 hex digits), got {shown(query_id)}")
    if answer_id is not None and (not isinstance(answer_id, str) or not answer_id.strip()):
        raise RequestError("answer_id must be the id of an answer that search showed, or null for none of them")
    answer_id = text_param(answer_id, "answer_id") if answer_id is not None else None
    if not isinstance(helpful, bool):
        raise RequestError(f"helpful must be true or false, got {shown(helpful)}")
    if answer_id is None and helpful:
        raise RequestError("helpful must be false when answer_id is null: that vote says none of the answers helped")
    return VoteRequest(query_id, answer_id, helpful)


def parse_answer_id(value: object) -> str:
    """Check an answer id parameter `id`: RequestError naming it when missing, too long or not valid text."""
    answer_id = text_param(value, "id")
    if not answer_id:
        raise RequestError("id is required: the stable id of an answer, book/thread/author/n")
    return answer_id


def is_unit_id(answer_id: str) -> bool:
    """Whether an id has the shape of an answer's stable id, `book/thread/author/n`."""
    return bool(_UNIT_ID.fullmatch(answer_id))


def run(searcher: Searcher, request: SearchRequest) -> list[Answer]:
    """The answers for a validated request; `closest` drops the no-answer threshold."""
    return searcher.search(
        request.question,
        request.k,
        author=request.author,
        book=request.book,
        min_score=0 if request.closest else None,
        since=request.since,
        until=request.until,
    )


def related(searcher: Searcher, request: SearchRequest, shown: list[Answer]) -> list[RelatedQuestion]:
    """Past questions near the request's, within its filters, other than those of the answers shown.

    Without `closest`, the answers shown say whether the corpus answers the question: no second search for that.
    """
    return searcher.related_questions(
        request.question,
        author=request.author,
        book=request.book,
        exclude=[answer.id for answer in shown],
        since=request.since,
        until=request.until,
        answered=None if request.closest else bool(shown),
    )


@dataclass(frozen=True)
class BrowseRequest:
    """Reading without a question: a book's week or an author's answers (or both), within weeks, from `offset`."""

    author: str | None = None
    book: str | None = None
    since: str | None = None
    until: str | None = None
    offset: int = 0


@dataclass(frozen=True)
class PageLink:
    """What a page address asks for: a search, one answer by id, a book's or author's answers to browse, or none;
    and the parameters it dropped."""

    search: SearchRequest | None = None
    answer_id: str | None = None
    ignored: tuple[str, ...] = ()  # parameter names, never their values
    browse: BrowseRequest | None = None


def _book_named(searcher: Searcher, book: str) -> str | None:
    """The id of the book a link names (see Searcher.resolve_book), or None."""
    return searcher.resolve_book(book)


def _canonical_author(searcher: Searcher, author: str) -> str | None:
    """The author's name as the index spells it, or None when no answer is theirs."""
    wanted = name_tokens(author)
    return next((name for name in searcher.authors if name_tokens(name) == wanted), None)


def read_link(searcher: Searcher, params: Mapping[str, str]) -> PageLink:
    """The search or answer a page address asks for; a bad or unknown value is dropped and named in `ignored`."""
    if "answer" in params:
        answer_id = str(params["answer"]).strip()
        if 0 < len(answer_id) <= MAX_ID_CHARS:
            return PageLink(answer_id=answer_id)
        return PageLink(ignored=("answer",))
    if not str(params.get("q", "")).strip():
        return _browse_link(searcher, params) if params.get("author") or params.get("book") else PageLink()
    ignored = []
    try:
        question, cut = _question(str(params["q"]))
    except RequestError:
        return PageLink(ignored=("q",))
    try:
        k = _k(str(params.get("k", DEFAULT_RESULTS)))
    except RequestError:
        k = DEFAULT_RESULTS
        ignored.append("k")
    filters = {}
    for name, canonical in (
        ("author", _canonical_author),
        ("book", _book_named),
    ):
        value = str(params.get(name, "")).strip()
        filters[name] = canonical(searcher, value) if value and len(value) <= MAX_ID_CHARS else None
        if value and filters[name] is None:
            ignored.append(name)
    try:
        closest = _closest(str(params.get("closest", "false")))
    except RequestError:
        closest = False
        ignored.append("closest")
    bounds = []
    for name, end in (("since", False), ("until", True)):
        try:
            bounds.append(week_bound(str(params.get(name, "")), name, end=end))
        except ValueError:
            bounds.append(None)
            ignored.append(name)
    request = SearchRequest(question, k, filters["author"], filters["book"], closest, cut, *bounds)
    return PageLink(request, ignored=tuple(ignored))


def _browse_link(searcher: Searcher, params: Mapping[str, str]) -> PageLink:
    """`?book=ID` or `?author=Name` without a question: that week's or author's answers; bad values ignored."""
    ignored, found = [], {}
    for name, canonical in (("author", _canonical_author), ("book", _book_named)):
        value = str(params.get(name, "")).strip()
        found[name] = canonical(searcher, value) if value and len(value) <= MAX_ID_CHARS else None
        if value and found[name] is None:
            ignored.append(name)
    for name, end in (("since", False), ("until", True)):
        try:
            found[name] = week_bound(str(params.get(name, "")), name, end=end)
        except ValueError:
            found[name] = None
            ignored.append(name)
    try:
        offset = whole(params.get("offset", "0"), "offset", 0, 10**6)
    except RequestError:
        offset = 0
        ignored.append("offset")
    if not (found["author"] or found["book"]):
        return PageLink(ignored=tuple(ignored))
    return PageLink(browse=BrowseRequest(offset=offset, **found), ignored=tuple(ignored))


def browse_link(
    author: str | None = None,
    book: str | None = None,
    offset: int = 0,
    since: str | None = None,
    until: str | None = None,
) -> str:
    """The page address of a book's week or an author's answers, '?book=…' or '?author=…', from `offset`."""
    params = {"author": author, "book": book, "since": since, "until": until, "offset": str(offset) if offset else None}
    return "?" + urlencode({name: value for name, value in params.items() if value}, safe="/")


def search_link(
    question: str, k: int = DEFAULT_RESULTS, author: str | None = None, book: str | None = None, closest: bool = False
) -> str:
    """The page address of a search, '?q=…', with the filters, a k other than the default and closest=true if set."""
    params = {"q": question.strip()[:MAX_QUESTION_CHARS], "author": author, "book": book}
    params["k"] = str(k) if k != DEFAULT_RESULTS else None
    params["closest"] = "true" if closest else None
    return "?" + urlencode({name: value for name, value in params.items() if value}, safe="/")


def request_link(request: SearchRequest) -> str:
    """The page address that runs this request again, its weeks too."""
    link = search_link(request.question, request.k, request.author, request.book, request.closest)
    weeks = {name: value for name, value in (("since", request.since), ("until", request.until)) if value}
    return link + ("&" + urlencode(weeks) if weeks else "")


def answer_link(answer_id: str) -> str:
    """The page address of one answer: '?answer=<stable unit id>'."""
    return "?" + urlencode({"answer": answer_id}, safe="/")


def gone_answer_search(searcher: Searcher, answer_id: str) -> SearchRequest | None:
    """What to search when a linked answer is gone: its id's book words, by its author while the index has them.

    `20210830-practical-mlops/3/noah-gift/0` -> 'practical mlops' by Noah Gift; None when the id has no words.
    """
    parts = answer_id[:MAX_ID_CHARS].split("/")
    author = _canonical_author(searcher, parts[2].replace("-", " ")) if len(parts) == 4 else None
    words = " ".join(_ID_WORD.findall(parts[0] if author else answer_id[:MAX_ID_CHARS]))
    return SearchRequest(words, author=author) if words else None


# How an answer is shown, on the page and in Slack.
SUMMARY_CHARS = 160  # the asker's question is shortened to this in the card, the rest behind <details>


def week_of(date: str) -> str:
    """'2021-08-30' -> 'week of 30 Aug 2021'; '' when the archive has no date."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return ""
    return f"week of {day.day} {day:%b %Y}"


def shorten(text: str, limit: int) -> str:
    """The text on one line, cut at a word boundary to at most `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"
