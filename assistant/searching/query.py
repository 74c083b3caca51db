"""Clean a member's message before matching: drop greetings, thanks and the names of the people addressed.

Real questions arrive as "Hi Serg Masís, thank you for doing this! ... Thanks!": the salutation,
the pleasantries and the addressee's name carry no meaning, yet they match other greetings and
that person's answers rather than answers to the question.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from assistant.corpus.text import content_words, fold

_GREETING = r"(?:hi|hello|hey|hola|dear|greetings|good (?:morning|afternoon|evening))"
_SLACK_MENTION = re.compile(r"<@[^>]+>")
_NAME_WORD = re.compile(r"\w+")
_LONGEST_NAME = 4
# Words of a sentence that only thanks, greets or praises: "Thanks for doing this!", "Great book!"
_PLEASANTRY = frozenset(
    "thanks thank thx doing great book books awesome nice meet excited super wonderful content writing "
    "interesting taking time answer answering questions question here being amazing appreciate advance "
    "much again lot love first all indeed really work effort reply replying sounds looks like hope fine "
    "well glad having congrats congratulations agreeing kind everyone guys folks gracias muchas".split()
)


def full_names(names: Iterable[str]) -> frozenset[tuple[str, ...]]:
    """The people's full names (two to four words) as accent-free, lower-case word tuples."""
    tuples = (tuple(fold(word) for word in _NAME_WORD.findall(re.sub(r"\(.*?\)", " ", name))) for name in names)
    return frozenset(t for t in tuples if 2 <= len(t) <= _LONGEST_NAME)


def _without_names(text: str, names: frozenset[tuple[str, ...]]) -> str:
    """The text with every occurrence of a full name (and an @ before it) blanked out, in one pass over its words."""
    words = list(_NAME_WORD.finditer(text))
    folded = [fold(word.group()) for word in words]
    spans = []
    i = 0
    while i < len(words):
        longest = min(_LONGEST_NAME, len(words) - i)
        length = next((n for n in range(longest, 1, -1) if tuple(folded[i : i + n]) in names), 0)
        if length:
            start = words[i].start() - (words[i].start() > 0 and text[words[i].start() - 1] == "@")
            spans.append((start, words[i + length - 1].end()))
            i += length
        else:
            i += 1
    for start, end in reversed(spans):
        text = text[:start] + " " + text[end:]
    return text


def clean_question(text: str, names: frozenset[tuple[str, ...]], also_pleasant: frozenset[str] = frozenset()) -> str:
    """The message without mentions, people's full names, greetings and sentences that only thank or praise
    (with `also_pleasant`, more words such sentences may hold).

    Returns the text unchanged when cleaning would leave no content words.
    """
    cleaned = _without_names(_SLACK_MENTION.sub(" ", text), names)
    cleaned = re.sub(r"(^|[\n.!?]\s*)" + _GREETING + r"\b[\s,!.:-]*", r"\1", cleaned, flags=re.IGNORECASE)
    kept = []
    for sentence in re.split(r"(?<=[.!?\n])\s+", cleaned):
        words = content_words(sentence)
        if "?" in sentence or any(word not in _PLEASANTRY and word not in also_pleasant for word in words):
            kept.append(sentence)
    result = " ".join(" ".join(kept).split())
    return result if content_words(result) else " ".join(text.split())


DISPLAY_CHARS = 200  # a past question shown as a link is cut to this, at a sentence boundary when one fits
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(?<!\w)([*_~]{1,3})(?=\S)(.+?)(?<=\S)\1(?!\w)")
_CODE = re.compile(r"`{1,3}([^`]*)`{1,3}")
_LINE_MARKUP = re.compile(r"^\s*(?:#{1,6}\s+|>\s*|[-*+]\s+|\d+[.)]\s+)", re.MULTILINE)
_THANKED_FOR = frozenset("sharing thoughts insights knowledge experience expertise generous".split())
_LEADING_NAME = re.compile(r"^\s*@?(\w+)\s*[,:!-]+\s*")


def _plain(text: str) -> str:
    """Markdown reduced to its words: links to their text, emphasis and code marks, headings, quotes and bullets out."""
    text = _MARKDOWN_LINK.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _LINE_MARKUP.sub("", text)
    for _ in range(2):  # nested emphasis: **_both_**
        text = _EMPHASIS.sub(r"\2", text)
    return text


def cut_at_sentence(text: str, limit: int) -> str:
    """The text cut to at most `limit` characters: after its last whole sentence that fits, else at a word, '…'."""
    if len(text) <= limit:
        return text
    sentences = [m.end() for m in re.finditer(r"[.!?](?=\s)", text[: limit + 1]) if m.end() <= limit]
    if sentences:
        return text[: sentences[-1]]
    return text[: limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def display_question(text: str, names: frozenset[tuple[str, ...]], limit: int = DISPLAY_CHARS) -> str:
    """A past question as a reader sees it in a list: without greetings, thanks, names and Markdown, on one line,
    cut at a sentence boundary to at most `limit` characters."""
    first_names = frozenset(name[0] for name in names)
    # Shown alone, "Thank you, Emmanuel, for sharing your thoughts!" says nothing either.
    pleasant = first_names | _THANKED_FOR
    question = clean_question(_plain(text), names, pleasant)
    addressed = _LEADING_NAME.match(question)
    if addressed and fold(addressed.group(1)) in first_names and content_words(question[addressed.end() :]):
        question = clean_question(question[addressed.end() :], names, pleasant)  # "Hi Alexey, thanks!" was one sentence
    question = " ".join(question.split())
    return cut_at_sentence(question[:1].upper() + question[1:], limit)
