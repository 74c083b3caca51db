"""What a Slack message asks: its text as typed (Slack's markup undone) and its `author:` / `book:` / `since:` /
`until:` filters.

`author:"Noah Gift" book:practical-mlops should startups do MLOps?` asks "should startups do MLOps?"
of Noah Gift's answers in the Practical MLOps week. A book is named by its id, its id without the
date (`practical-mlops`) or its title; values with spaces are quoted ("…", '…' or Slack's curly quotes).
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass

from assistant.errors import BadInput
from assistant.searching.searcher import Searcher
from assistant.service.contract import MAX_RESULTS, SearchRequest, parse_request, weeks

USAGE = (
    "Ask a question, e.g. `/ask-the-author should startups do MLOps?`, optionally with filters: "
    '`author:"Noah Gift"`, `book:practical-mlops` (a book id or title) or `since:2024` / `until:2023-06`, e.g. '
    '`/ask-the-author author:"Noah Gift" book:practical-mlops should startups do MLOps?`'
)
# Slack sends links, mentions and channels as <target|label>; the label (or target) is what the person typed.
_SLACK_LINK = re.compile(r"<([^<>|]*)(?:\|([^<>]*))?>")
_FILTER = re.compile(
    r"(?<!\S)(author|book|since|until):(?:\"([^\"]*)\"|'([^']*)'|“([^”]*)”|‘([^’]*)’|(\S+))", re.IGNORECASE
)  # a value quoted straight, single, curly (as Slack's clients type quotes), or one word
MAX_VALUE_CHARS = 2000  # Slack's limit on a button's value


class AskError(BadInput, ValueError):
    """A question that cannot be searched; the message says why, in words for the asker."""


def typed_text(slack_text: str) -> str:
    """A message as typed: Slack's links and channels as their labels, mentions dropped, &amp; &lt; &gt; decoded."""

    def label(match: re.Match) -> str:
        target, shown = match.group(1), match.group(2)
        if target.startswith(("@", "!")):  # a person, a group or @here/@channel: not part of the question
            return ""
        return shown if shown is not None else target.removeprefix("#")

    return html.unescape(_SLACK_LINK.sub(label, slack_text)).strip()


def parse_ask(searcher: Searcher, slack_text: str, k: int) -> SearchRequest:
    """The search a Slack message asks for; AskError with the reason and how to ask when it cannot be run."""
    text = typed_text(slack_text)
    filters: dict[str, str] = {}
    for match in _FILTER.finditer(text):
        name = match.group(1).lower()
        if name in filters:
            raise AskError(f"give `{name}:` once. {USAGE}")
        filters[name] = next(value for value in match.groups()[1:] if value is not None).strip()
    question = _FILTER.sub(" ", text).strip()
    if not question:
        raise AskError(f"What would you like to ask the authors? {USAGE}")
    book = filters.get("book")
    if book:
        book = searcher.resolve_book(book)
        if book is None:
            raise AskError(f"No book in the archives is called “{filters['book']}”. {USAGE}")
    try:
        return parse_request(searcher, question, k, filters.get("author"), book, False, filters.get("since"),
                             filters.get("until"))  # fmt: skip
    except ValueError as error:
        raise AskError(f"{_sentence(str(error))} {USAGE}") from error


def _sentence(message: str) -> str:
    """A contract message as a sentence: capitalized, ending with a full stop."""
    message = message[:1].upper() + message[1:]
    return message if message.endswith((".", "?", "!")) else message + "."


@dataclass(frozen=True)
class Asked:
    """A search as a button under its answers carries it: the request, its logged id and how many answers were seen."""

    request: SearchRequest
    query_id: str | None  # None when the log is off or could not take the search
    seen: int  # answers shown so far; "More answers" shows the next ones
    voted: tuple[tuple[str, bool], ...] = ()  # the clicker's votes on this message's answers, marked on its cards

    def encode(self, room: int = MAX_VALUE_CHARS) -> str:
        """The button value: compact JSON within `room` characters (a very long question is cut to fit)."""
        request = self.request
        state = {"q": request.question, "a": request.author, "b": request.book, "c": request.closest,
                 "n": self.seen, "id": self.query_id}  # fmt: skip
        state |= {key: value for key, value in (("s", request.since), ("u", request.until)) if value}
        state |= {"v": [list(vote) for vote in self.voted]} if self.voted else {}
        value = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        while len(value) > room:
            state["q"] = state["q"][: len(state["q"]) - (len(value) - room)]
            value = json.dumps(state, ensure_ascii=False, separators=(",", ":"))
        return value

    @classmethod
    def decode(cls, value: object) -> Asked:
        """The search a button value carries; ValueError when it is not one this app made (a value is user input)."""
        return cls.from_state(_json(value))

    @classmethod
    def from_state(cls, state: object) -> Asked:
        """The search in a decoded button value's JSON object; ValueError when it is not one this app made."""
        state = _checked(state, {"q", "a", "b", "c", "n", "id"}, {"s", "u", "v"})
        question, seen, query_id = state["q"], state["n"], state["id"]
        if not isinstance(question, str) or not question.strip():
            raise ValueError("not a search: its question is not text")
        if type(seen) is not int or not 0 <= seen < MAX_RESULTS:  # type(): True is an int too
            raise ValueError(f"not a search: {str(seen)[:20]!r} is not a count of answers seen")
        if not all(v is None or isinstance(v, str) for v in (state["a"], state["b"], query_id)):
            raise ValueError("not a search: its filters or id are not text")
        if type(state["c"]) is not bool:
            raise ValueError("not a search: closest is not true or false")
        since, until = weeks(state.get("s"), state.get("u"))
        voted = state.get("v", [])
        if not (
            isinstance(voted, list)
            and len(voted) <= MAX_RESULTS
            and all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and type(v[1]) is bool for v in voted)
        ):
            raise ValueError("not a search: its votes are not answer ids with true or false")
        request = SearchRequest(question, author=state["a"], book=state["b"], closest=state["c"], since=since,
                                until=until)  # fmt: skip
        return cls(request, query_id, seen, tuple((v[0], v[1]) for v in voted))


@dataclass(frozen=True)
class Vote:
    """What a Helpful / Not helpful button carries: the logged search, the answer and the verdict, and the page of
    answers it was under (to show that page again with the vote marked, in place)."""

    query_id: str
    answer_id: str
    helpful: bool
    asked: Asked | None = None  # None in buttons made before votes updated their message

    def encode(self) -> str:
        """The button value: the vote, then the page's search cut to fit Slack's 2,000 characters."""
        vote = json.dumps({"id": self.query_id, "a": self.answer_id, "h": self.helpful}, ensure_ascii=False,
                          separators=(",", ":"))  # fmt: skip
        if self.asked is None:
            return vote
        head = vote[:-1] + ',"s":'
        return head + self.asked.encode(MAX_VALUE_CHARS - len(head) - 1) + "}"

    @classmethod
    def decode(cls, value: object) -> Vote:
        """The vote a button value carries; ValueError when it is not one this app made."""
        state = _json_object(value, {"id", "a", "h"}, {"s"})
        if not (isinstance(state["id"], str) and isinstance(state["a"], str) and type(state["h"]) is bool):
            raise ValueError("not a vote: it needs a search id, an answer id and true or false")
        asked = Asked.from_state(state["s"]) if "s" in state else None
        return cls(state["id"], state["a"], state["h"], asked)


def _json_object(value: object, keys: set[str], optional: frozenset[str] | set[str] = frozenset()) -> dict:
    """A button value as the JSON object with exactly `keys` (and any of `optional`); ValueError otherwise."""
    return _checked(_json(value), keys, optional)


def _json(value: object) -> object:
    """A button value's JSON; ValueError when it is not JSON within Slack's limit."""
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
        raise ValueError("not a value this app made")
    try:
        return json.loads(value)
    except (ValueError, RecursionError):
        raise ValueError("not a value this app made: not JSON") from None


def _checked(state: object, keys: set[str], optional: frozenset[str] | set[str] = frozenset()) -> dict:
    """`state` when it is a JSON object with exactly `keys` (and any of `optional`); ValueError otherwise."""
    if not isinstance(state, dict) or not keys <= set(state) <= keys | optional:
        raise ValueError("not a value this app made: other fields")
    return state
