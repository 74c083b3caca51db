"""Split a long answer into the passages that answer separate questions, so the matching one can be shown first.

Authors often answer several questions in one reply: quoted questions (```…``` or > …), numbered
lists, "Q:" lines, or a question restated on a line of its own. Each starts a passage.
"""

from __future__ import annotations

import re

from assistant.corpus.text import content_words

_MIN_WORDS_TO_SPLIT = 40  # shorter answers are read at a glance
_MIN_PASSAGE_WORDS = 8  # a shorter piece (a greeting, a lone quoted question) joins the next one
_QUESTION_LINE_CHARS = 250
_STARTS_PASSAGE = re.compile(r"^(?:```|>|\*{0,2}(?:\d{1,2}[.)]|Q\d*\s*[:.)]|Question\s*\d*\s*[:.)]))", re.IGNORECASE)


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
