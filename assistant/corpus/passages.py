"""Split a long answer into the passages that answer separate questions, so the matching one can be shown first.

Authors often answer several questions in one reply: quoted questions (```…```, > … or Slack's copy of a
message, "[10:04 AM] …"), numbered lists, "Q:" lines, or a question restated on a line of its own. Each starts a
passage, and a passage that opens with the question it answers is shown as answering that question.
"""

from __future__ import annotations

import re

from assistant.corpus.text import content_words, fold

_MIN_WORDS_TO_SPLIT = 40  # shorter answers are read at a glance
_MIN_PASSAGE_WORDS = 8  # a shorter piece (a greeting, a lone quoted question) joins the next one
_QUESTION_LINE_CHARS = 250
_SLACK_COPY = r"\[\d{1,2}:\d{2}(?:\s?[AP]M)?\]"  # "[10:04 AM] …": a message copied from Slack, time first
_STARTS_PASSAGE = re.compile(
    rf"^(?:```|>|{_SLACK_COPY}|\*{{0,2}}(?:\d{{1,2}}[.)]|Q\d*\s*[:.)]|Question\s*\d*\s*[:.)]))", re.IGNORECASE
)
_QUOTE_MARKS = re.compile(rf"^\s*(?:{_SLACK_COPY}|>|```|Q\d*\s*[:.)]|Question\s*\d*\s*[:.)])\s*", re.IGNORECASE)
_LIST_MARKS = re.compile(r"^\s*(?:\*\*|[-•◦]\s|\d{1,2}[.)]\s)\s*")  # a list item quotes only what was asked
_MIN_QUESTION_WORDS = 3  # "Why?" alone is not the question a passage answers


def _starts_passage(line: str) -> bool:
    line = line.strip()
    if not line:
        return False
    restated_question = line.rstrip("*_ ").endswith("?") and len(line) < _QUESTION_LINE_CHARS
    return bool(_STARTS_PASSAGE.match(line)) or restated_question


def split_passages(text: str) -> list[str]:
    """The answer's passages in order; a one-item list [text] when it does not split."""
    if len(content_words(text)) < _MIN_WORDS_TO_SPLIT:
        return [text]
    lines = text.split("\n")
    starts = sorted({0} | {i for i, line in enumerate(lines) if _starts_passage(line)})
    pieces = ["\n".join(lines[a:b]).strip() for a, b in zip(starts, starts[1:] + [len(lines)], strict=False)]
    passages: list[str] = []
    for piece in filter(None, pieces):
        if passages and len(content_words(passages[-1])) < _MIN_PASSAGE_WORDS:
            passages[-1] += "\n" + piece
        else:
            passages.append(piece)
    if len(passages) >= 2 and len(content_words(passages[-1])) < _MIN_PASSAGE_WORDS:
        last = passages.pop()
        passages[-1] += "\n" + last
    return passages if len(passages) >= 2 else [text]


def quoted_question(passage: str, asked: str) -> str:
    """The question a passage opens with when the reply quotes it ("[10:04 AM] …", "> …", ```…```, "Q:") or repeats
    a line of `asked`, the thread's question, without its marks; "" when it opens with none."""
    first = passage.strip().split("\n", 1)[0]
    question, quoted = first, False
    while (stripped := _LIST_MARKS.sub("", _QUOTE_MARKS.sub("", question, count=1), count=1)) != question:
        quoted |= bool(_QUOTE_MARKS.match(question))
        question = stripped
    question = question.strip().strip("`*_ ").strip()
    if len(content_words(question)) < _MIN_QUESTION_WORDS or len(question) >= _QUESTION_LINE_CHARS:
        return ""
    repeated = fold(question) in fold(asked)  # an author's own question ("can you elaborate?") is not quoted
    return question if question.endswith("?") and (quoted or repeated) else ""
