"""Clean Slack-exported archive text for display and embedding, keeping its Markdown intact."""

from __future__ import annotations

import html
import re
import unicodedata

import emoji
from bm25s.stopwords import STOPWORDS_EN_PLUS

_CHANNEL_LINK = re.compile(r"<#[A-Z0-9]+\|([^>]+)>")
_USER_LINK = re.compile(r"<@[A-Z0-9]+\|([^>]+)>")
_BARE_USER_LINK = re.compile(r"<@[A-Z0-9]+>")
_LABELLED_URL = re.compile(r"<(https?://[^|>\s]+)\|([^>]+)>")
_BARE_URL = re.compile(r"<(https?://[^|>\s]+)>")
# A shortcode stands alone: not inside a URL, a time (10:30:00) or a Python slice.
_SHORTCODE = re.compile(r"(?<![\w:/]):([a-z0-9_+'-]+):(?![\w/])")
_WORD = re.compile(r"[a-z0-9]{3,}")
_QUESTION_WORD = re.compile(r"\w+")
_STOPWORDS = frozenset(STOPWORDS_EN_PLUS)
_ACCENT_FREE = str.maketrans({"ı": "i", "ł": "l", "Ł": "L", "ø": "o", "Ø": "O", "đ": "d", "ß": "ss"})


def _shortcode_to_emoji(match: re.Match[str]) -> str:
    """Slack writes `:woman-shrugging:` where the emoji table says `:woman_shrugging:`."""
    code = match.group(1)
    for candidate in (code, code.replace("-", "_")):
        rendered = emoji.emojize(f":{candidate}:", language="alias")
        if rendered != f":{candidate}:":
            return rendered
    return ""  # a workspace-only emoji (`:matrix-parrot:`) has no Unicode form


def clean_text(text: str) -> str:
    """Unescape HTML entities, resolve Slack links and shortcodes; leave Markdown as it is."""
    text = html.unescape(text)
    text = _CHANNEL_LINK.sub(r"#\1", text)
    text = _USER_LINK.sub(r"@\1", text)
    text = _BARE_USER_LINK.sub("@someone", text)
    text = _LABELLED_URL.sub(r"[\2](\1)", text)
    text = _BARE_URL.sub(r"\1", text)
    text = _SHORTCODE.sub(_shortcode_to_emoji, text)
    text = re.sub(r"[ \t]+\n", "\n", text)
    return text.strip()


def question_key(question: str) -> str:
    """The one question normaliser: words with case, accents, punctuation and spacing folded, so a question asked
    again (`Should startups do MLOps?`, `should  startups do mlops`) is the same question everywhere."""
    return " ".join(_QUESTION_WORD.findall(fold(question)))


def fold(text: str) -> str:
    """Lower-case, accent-free form for comparing names: `Savaş Yıldırım` -> `savas yildirim`."""
    if text.isascii():
        return text.lower()  # the same as below for ASCII, many times faster
    decomposed = unicodedata.normalize("NFKD", text.translate(_ACCENT_FREE))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def word_count(text: str) -> int:
    """Number of words with at least one letter; emoji, numbers and punctuation do not count."""
    return sum(1 for token in text.split() if any(c.isalpha() for c in token))


def content_words(text: str) -> set[str]:
    """Folded words of three or more characters that are not English stopwords."""
    return set(_WORD.findall(fold(text))) - _STOPWORDS


def invalid_text(text: str, what: str) -> str | None:
    """Why `text` is not valid text, naming it as `what`; None when it is (a lone surrogate has no UTF-8 form)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        return f"{what} is not valid text: it holds a lone surrogate at character {error.start}"
    return None


def duplicate_key(text: str) -> str:
    """Texts equal up to case, accents, spacing and punctuation are the same answer posted twice."""
    return " ".join(re.findall(r"\w+", fold(text)))
