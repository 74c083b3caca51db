"""HTML for the page: answer cards, notices, and untrusted Markdown made safe. Pure functions of their input.

Archive text is untrusted: answers go through a Markdown renderer with raw HTML off and then the nh3
sanitizer; every other field is escaped. The page never shows a string that skipped both.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

import nh3
from markdown_it import MarkdownIt

from assistant.corpus.units import AnswerUnit
from assistant.indexing.recipe import relevance, term
from assistant.searching.browse import BROWSE_PAGE, Browsed
from assistant.searching.searcher import Answer, RelatedQuestion, Thread
from assistant.service.contract import (
    SUMMARY_CHARS,
    BrowseRequest,
    SearchRequest,
    answer_link,
    browse_link,
    request_link,
    search_link,
    shorten,
    week_of,
)

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "breaks": True}).disable("image")  # no remote images
_SAFE_TAGS = {
    "a", "p", "br", "hr", "em", "strong", "code", "pre", "blockquote",
    "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6",
}  # fmt: skip


# A tag of sanitized HTML (quoted attribute values may hold '>'), or the text between tags.
_TAG = re.compile(r"""(<(?:[^>"']|"[^"]*"|'[^']*')*>)""")
_WORD_OR_ENTITY = re.compile(r"&#?\w+;|\w\w+")  # an entity first, so '&amp;' is never read as the word 'amp'


def safe_markdown(text: str, marked: frozenset[str] = frozenset()) -> str:
    """Untrusted Markdown as HTML that cannot run script: raw HTML shows as text, links are http(s)/mailto only.

    Words whose BM25 term is in `marked` are wrapped in <mark>: only in the text between the sanitized
    HTML's tags, and the result is sanitized again, so marking cannot add anything but <mark>.
    """
    safe = _sanitized(_MARKDOWN.render(text))
    return _sanitized(_marked(safe, marked), {"mark"}) if marked else safe


def _marked(safe_html: str, marked: frozenset[str]) -> str:
    """Every word of the text between tags whose BM25 term is in `marked`, wrapped in <mark>."""

    def mark(word: re.Match[str]) -> str:
        found = word.group()
        return f"<mark>{found}</mark>" if not found.startswith("&") and term(found) in marked else found

    parts = _TAG.split(safe_html)
    parts[::2] = [_WORD_OR_ENTITY.sub(mark, text) for text in parts[::2]]  # split puts the tags at odd positions
    return "".join(parts)


def _sanitized(rendered: str, extra_tags: frozenset[str] | set[str] = frozenset()) -> str:
    """Rendered HTML cleaned by nh3 down to the safe tags (plus `extra_tags`), attributes and link schemes."""
    return nh3.clean(
        rendered,
        tags=_SAFE_TAGS | extra_tags,
        attributes={"a": {"href", "title"}, "ol": {"start"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
        set_tag_attribute_values={"a": {"target": "_blank"}},
    )


def _safe_url(url: str) -> str | None:
    """The URL escaped for an attribute, or None when it is not a plain web link."""
    return html.escape(url, quote=True) if url.startswith(("https://", "http://")) else None


LEGEND = (
    "The bar and percentage beside each answer: the estimated chance it answers your question, "
    "learned from people's judgments of answers to past questions."
)


def _relevance(confidence: float) -> str:
    """A labelled bar with its percentage for the answer's confidence; LEGEND under the list says what it means."""
    shown = relevance(confidence)
    percent = round(100 * confidence)
    chance = f"about {percent}% likely to answer your question (estimated from judged past questions)"
    return (
        f'<span class="ata-relevance ata-{shown.slug}" title="{chance}">'
        f'<span class="ata-bar" aria-hidden="true"><span style="width:{round(100 * shown.fill)}%"></span></span>'
        f'{shown.label} <span class="ata-percent">{percent}%</span></span>'
    )


def _asked(answer: Answer | AnswerUnit, in_full: bool = False) -> str:
    """'asked by X:' and the question, shortened with the full text one click away (or all of it, `in_full`)."""
    if not answer.question.strip():
        return '<p class="ata-asked ata-muted">Said in the discussion (not a reply to a single question)</p>'
    asker = f"asked by {html.escape(answer.asker)}:" if answer.asker else "asked:"
    if in_full:
        return (
            f'<div class="ata-asked"><span class="ata-asker">{asker}</span>'
            f'<div class="ata-full-question">{html.escape(answer.question.strip())}</div></div>'
        )
    short = shorten(answer.question, SUMMARY_CHARS)
    if short == " ".join(answer.question.split()):
        return f'<p class="ata-asked"><span class="ata-asker">{asker}</span> {html.escape(short)}</p>'
    return (
        f'<details class="ata-asked"><summary><span class="ata-asker">{asker}</span> '
        f'<span class="ata-short">{html.escape(short)}</span></summary>'
        f'<div class="ata-full-question">{html.escape(answer.question.strip())}</div></details>'
    )


def _answer_body(answer: Answer | AnswerUnit, marked: frozenset[str] = frozenset()) -> str:
    """The answer, matched words marked; when one passage of a long reply matched, that passage first, the whole
    reply one click away."""
    if not isinstance(answer, Answer) or answer.passage < 0:
        return f'<div class="ata-answer">{safe_markdown(answer.text, marked)}</div>'
    return (
        f'<div class="ata-answer"><div class="ata-passage">{safe_markdown(answer.passage_text, marked)}</div>'
        '<details class="ata-whole"><summary>Show the whole reply</summary>'
        f"{safe_markdown(answer.text)}</details></div>"
    )


_AUTHOR_ROLE = ' <span class="ata-role">author</span>'


def thread_html(thread: Thread, open_: bool = False) -> str:
    """The whole thread an answer came from, in archive order, the book's authors' messages marked; folded unless
    `open_`."""
    # The speaker's name is a line of its own, also in the page's text (copied, read aloud): never "Agrita GaDo you…".
    messages = "".join(
        f'<li class="ata-message{" ata-by-author" if message.is_author else ""}">'
        f'<p class="ata-speaker"><strong>{html.escape(message.name)}</strong>'
        f'{_AUTHOR_ROLE if message.is_author else ""}<span class="ata-said">:</span></p>\n'
        f"{safe_markdown(message.text)}</li>\n"
        for message in thread.messages
    )
    return (
        f'<details class="ata-thread"{" open" if open_ else ""}><summary>Show the whole thread '
        f'({_count(len(thread.messages), "message")})</summary><ol class="ata-messages">{messages}</ol></details>'
    )


def _link(href: str, text: str, css: str) -> str:
    """A link to another page address of this app, opened in place (see NAV_JS in page.py); `text` is escaped."""
    return f'<a class="{css}" href="{html.escape(href, quote=True)}" data-ata-nav>{html.escape(text)}</a>'


def answer_card(
    answer: Answer | AnswerUnit, votes: bool = False, thread: Thread | None = None, marked: frozenset[str] = frozenset()
) -> str:
    """An answer as an HTML card: who answered, in which book and week, to what, the answer with the words in
    `marked` (BM25 terms) marked, its whole thread one click away, links, votes if asked.

    A search result (an Answer) shows its relevance and a shortened question; an answer opened by its
    link (an AnswerUnit) shows the question in full and its thread open.
    """
    url = _safe_url(answer.url)
    title = html.escape(answer.book_title)
    book = f'<a href="{url}" target="_blank" rel="noopener noreferrer">{title}</a>' if url else title
    week = week_of(answer.date)
    meta = f"{book} · {week}" if week else book
    link = (
        f'<a class="ata-source" href="{url}" target="_blank" rel="noopener noreferrer">'
        "Book page on DataTalks.Club →</a>"
        if url
        else ""
    )
    ranked = isinstance(answer, Answer)
    permalink = _link(answer_link(answer.id), "Link to this answer", "ata-permalink") if ranked else ""
    shelves = _link(browse_link(author=answer.author), f"All of {answer.author}’s answers", "ata-browse") + _link(
        browse_link(book=answer.book), f"The {answer.book_title} week", "ata-browse"
    )
    return (
        f'<article class="ata-card{"" if ranked else " ata-single"}">'
        f'<header><div><h3 class="ata-author">{html.escape(answer.author)}</h3>'
        f'<p class="ata-meta">{meta}</p></div>{_relevance(answer.confidence) if ranked else ""}</header>'
        f"{_asked(answer, in_full=not ranked)}{_answer_body(answer, marked)}"
        f"{thread_html(thread, open_=not ranked) if thread else ''}"
        f"<footer>{link}{permalink}{shelves}{_vote_buttons(answer.id) if votes else ''}</footer></article>"
    )


def browse_html(browsed: Browsed, request: BrowseRequest, title: str) -> str:
    """A page of a book's week or an author's answers: what it is, which answers of how many, the cards, and
    links to the pages before and after (shareable, opened in place)."""
    if not browsed.total:
        return results_html([], [f"No answers in {html.escape(title)} within these weeks."])
    first, last = browsed.offset + 1, browsed.offset + len(browsed.answers)
    heading = f'<h2 class="ata-browse-title">{html.escape(title)}</h2>'
    where = f'<p class="ata-muted">Answers {first}–{last} of {browsed.total}</p>'

    def page(offset: int, text: str) -> str:
        return _link(browse_link(request.author, request.book, offset, request.since, request.until), text, "ata-page")

    pages = [page(max(browsed.offset - BROWSE_PAGE, 0), "← Earlier page") if browsed.offset else "",
             page(last, "Next page →") if last < browsed.total else ""]  # fmt: skip
    pager = f'<nav class="ata-pager" aria-label="Pages">{"".join(pages)}</nav>' if any(pages) else ""
    cards = "".join(answer_card(unit) for unit in browsed.answers)
    return f'<div class="ata-results ata-browsing">{_SHARE}{heading}{where}{cards}{pager}</div>'


def notice(text: str) -> str:
    """A short message above (or instead of) the results; `text` must already be safe HTML."""
    return f'<div class="ata-notice">{text}</div>'


def named_authors_note(request: SearchRequest, named: Sequence[str]) -> str:
    """Says that the authors the question names rank higher, with a link to only their answers for each."""
    only = " · ".join(
        _link(search_link(request.question, request.k, name, request.book), f"Only {name}’s answers", "ata-ask")
        for name in named
    )
    names = html.escape(" and ".join(named))
    return f"Your question names {names}: their answers are ranked higher. {only}"


def _vote_buttons(answer_id: str | None) -> str:
    """'Helpful' / 'Not helpful' for one answer, or (answer_id None) 'None of these answer my question'."""
    if answer_id is None:
        buttons = (
            '<button type="button" class="ata-vote" data-helpful="false">None of these answer my question</button>'
        )
    else:
        answer = html.escape(answer_id, quote=True)
        buttons = "".join(
            f'<button type="button" class="ata-vote" data-answer-id="{answer}" data-helpful="{value}"'
            f' aria-pressed="false">{label}</button>'
            for value, label in (("true", "Helpful"), ("false", "Not helpful"))
        )
    return f'<span class="ata-votes">{buttons}<span class="ata-vote-status" aria-live="polite"></span></span>'


_SHARE = (
    '<div class="ata-share"><button type="button" class="ata-copy" data-ata-copy>Copy link</button>'
    '<span class="ata-copied" role="status" aria-live="polite"></span></div>'
)


def results_html(
    answers: list[Answer],
    notes: list[str],
    related: str = "",
    shareable: bool = False,
    query_id: str | None = None,
    threads: Sequence[Thread | None] = (),
    marked: frozenset[str] = frozenset(),
) -> str:
    """The notices, a Copy link button when the address is worth sharing, one card per answer, then `related`.

    With the query's log id, each card gets vote buttons and the list a 'None of these answer' button;
    `threads` (one per answer) and `marked` go to each card (see answer_card).
    """
    votes = query_id is not None and bool(answers)
    threads = list(threads) or [None] * len(answers)
    cards = "".join(
        answer_card(answer, votes, thread, marked) for answer, thread in zip(answers, threads, strict=False)
    )
    share = _SHARE if shareable else ""
    query = f' data-query-id="{html.escape(query_id, quote=True)}"' if query_id is not None else ""
    under = f'<div class="ata-none">{_vote_buttons(None)}</div>' if votes else ""
    legend = f'<p class="ata-legend">{LEGEND}</p>' if answers else ""
    notes_html = "".join(notice(n) for n in notes)
    return f'<div class="ata-results"{query}>{share}{notes_html}{cards}{under}{legend}{related}</div>'


def related_html(questions: list[RelatedQuestion], k: int, author: str | None, book: str | None) -> str:
    """'Questions others asked nearby': each (as RelatedQuestion cleans it) a link searching it, same filters and k."""
    if not questions:
        return ""
    items = "".join(
        f"<li>{_link(search_link(q.question, k, author, book), q.question, 'ata-ask')}"
        f'<span class="ata-muted">{"asked by " + html.escape(q.asker) + " · " if q.asker else ""}'
        f"{html.escape(q.book_title)}</span></li>"
        for q in questions
    )
    return (
        '<section class="ata-nearby" aria-labelledby="ata-nearby-title">'
        f'<h2 id="ata-nearby-title">Questions others asked nearby</h2><ul>{items}</ul></section>'
    )


def single_answer_html(
    unit: AnswerUnit, related: str, thread: Thread | None = None, query_id: str | None = None
) -> str:
    """One answer opened by its link: the card with its full question and thread (and votes, given the log's query
    id), a search for that question, then `related`."""
    more = (
        " " + _link(search_link(unit.question), "See every answer to this question", "ata-ask")
        if unit.question.strip()
        else ""
    )
    card = answer_card(unit, votes=query_id is not None, thread=thread)
    return results_html([], [f"One answer, opened by its link.{more}"], card + related, True, query_id)


def missing_answer_html(answer_id: str, offer: SearchRequest | None) -> str:
    """A link to an answer the index no longer has: say so, and offer a search for the words of its id."""
    by = f" by {offer.author}" if offer and offer.author else ""
    search = f" {_link(request_link(offer), f'Search for “{offer.question}”{by}', 'ata-ask')}" if offer else ""
    return results_html(
        [],
        [
            f"There is no answer <code>{html.escape(answer_id)}</code> any more: the archive has changed since "
            f"this link was made.{search}"
        ],
    )


def unknown_answer_html(answer_id: str) -> str:
    """A link whose id was never an answer's: say so, and what answer ids look like."""
    return results_html(
        [],
        [
            f"No answer has the id <code>{html.escape(answer_id)}</code>: answer links end in "
            "<code>?answer=book/thread/author/n</code>, as each card's <em>Link to this answer</em> gives them."
        ],
    )


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
