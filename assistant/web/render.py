"""HTML for the page: answer cards, notices, and untrusted Markdown made safe. Pure functions of their input.

Archive text is untrusted: answers go through a Markdown renderer with raw HTML off and then the nh3
sanitizer; every other field is escaped. The page never shows a string that skipped both.
"""

from __future__ import annotations

import datetime as dt
import html

import nh3
from markdown_it import MarkdownIt

from assistant.recipe import relevance
from assistant.searcher import Answer

SUMMARY_CHARS = 160  # the asker's question is shortened to this in the card, the rest behind <details>

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable("image")  # no remote images
_SAFE_TAGS = {
    "a", "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


def safe_markdown(text: str) -> str:
    """Untrusted Markdown as HTML that cannot run script: raw HTML shows as text, links are http(s)/mailto only."""
    return nh3.clean(
        _MARKDOWN.render(text),
        tags=_SAFE_TAGS,
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


def _safe_url(url: str) -> str | None:
    """The URL escaped for an attribute, or None when it is not a plain web link."""
    return html.escape(url, quote=True) if url.startswith(("https://", "http://")) else None


def _week(date: str) -> str:
    """'2021-08-30' -> 'week of 30 Aug 2021'; '' when the archive has no date."""
    try:
        day = dt.date.fromisoformat(date)
    except ValueError:
        return ""
    return f"week of {day.day} {day:%b %Y}"


def _shorten(text: str, limit: int) -> str:
    """The text on one line, cut at a word boundary to at most `limit` characters."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    return flat[:limit].rsplit(" ", 1)[0] + "…"


def _relevance(confidence: float) -> str:
    """A labelled bar for the answer's confidence, so people can judge results without reading numbers."""
    shown = relevance(confidence)
    chance = f"about {round(100 * confidence)}% likely to answer your question (judged on past questions)"
    return (
        f'<span class="ata-relevance ata-{shown.slug}" title="{chance}">'
        f'<span class="ata-bar" aria-hidden="true"><span style="width:{round(100 * shown.fill)}%"></span></span>'
        f"{shown.label}</span>"
    )


def _asked(answer: Answer) -> str:
    """'asked by X:' and the question, shortened with the full text one click away."""
    if not answer.question.strip():
        return '<p class="ata-asked ata-muted">Said in the discussion (not a reply to a single question)</p>'
    asker = f"asked by {html.escape(answer.asker)}:" if answer.asker else "asked:"
    short = _shorten(answer.question, SUMMARY_CHARS)
    if short == " ".join(answer.question.split()):
        return f'<p class="ata-asked"><span class="ata-asker">{asker}</span> {html.escape(short)}</p>'
    return (
        f'<details class="ata-asked"><summary><span class="ata-asker">{asker}</span> '
        f'<span class="ata-short">{html.escape(short)}</span></summary>'
        f'<div class="ata-full-question">{html.escape(answer.question.strip())}</div></details>'
    )


def _answer_body(answer: Answer) -> str:
    """The answer; when one passage of a long reply matched, that passage first, highlighted, the whole reply one click away."""
    if answer.passage < 0:
        return f'<div class="ata-answer">{safe_markdown(answer.text)}</div>'
    return (
        f'<div class="ata-answer"><div class="ata-passage">{safe_markdown(answer.passage_text)}</div>'
        f'<details class="ata-whole"><summary>Show the whole reply</summary>{safe_markdown(answer.text)}</details></div>'
    )


def answer_card(answer: Answer) -> str:
    """One result as an HTML card: who answered, in which book and week, to what, the answer and a link."""
    url = _safe_url(answer.url)
    title = html.escape(answer.book_title)
    book = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    week = _week(answer.date)
    meta = f"{book} · {week}" if week else book
    link = (
        f'<a class="ata-source" href="{url}" target="_blank" rel="noopener noreferrer">Book page on DataTalks.Club →</a>'
        if url
        else ""
    )
    return (
        '<article class="ata-card">'
        f'<header><div><h3 class="ata-author">{html.escape(answer.author)}</h3>'
        f'<p class="ata-meta">{meta}</p></div>{_relevance(answer.confidence)}</header>'
        f"{_asked(answer)}{_answer_body(answer)}"
        f"<footer>{link}</footer></article>"
    )


def notice(text: str) -> str:
    """A short message above (or instead of) the results; `text` must already be safe HTML."""
    return f'<div class="ata-notice">{text}</div>'


def results_html(answers: list[Answer], notes: list[str]) -> str:
    """The notices, then one card per answer."""
    cards = "".join(answer_card(answer) for answer in answers)
    return '<div class="ata-results">' + "".join(notice(note) for note in notes) + cards + "</div>"


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def corpus_line(answers: int, authors: int, books: int) -> str:
    """'26 answers by 2 authors from 1 book': what a question is searched against."""
    return f"Searching {_count(answers, 'answer')} by {_count(authors, 'author')} from {_count(books, 'book')}."


def header(corpus: str) -> str:
    """Title, what the app does, and what it searches."""
    return (
        '<div class="ata-header"><h1>Ask the Author</h1>'
        "<p>Ask a question and read the real answers book authors gave during "
        "DataTalks.Club's Book of the Week, with who asked and when.</p>"
        f'<p class="ata-corpus">{html.escape(corpus)}</p></div>'
    )
