"""The web page and API of Ask the Author: `build_app(searcher)` makes the Gradio app, `launch` serves it.

Archive text is untrusted: answers go through a Markdown renderer with raw HTML off and then the nh3
sanitizer; every other field is escaped. The page never shows a string that skipped both.
"""

import dataclasses
import datetime as dt
import html
import math
from functools import partial

import gradio as gr
import nh3
from markdown_it import MarkdownIt

from assistant.ranking import DEFAULT_MIN_SCORE
from assistant.searcher import Answer, Searcher

MAX_RESULTS = 20
DEFAULT_RESULTS = 5
MAX_QUESTION_CHARS = 1000  # longer questions are cut: the model reads ~256 tokens anyway
SUMMARY_CHARS = 160  # the asker's question is shortened to this in the card, the rest behind <details>
EXAMPLES = [
    "Should startups do MLOps?",
    "Which MLOps tools should I start with?",
    "How do I get my first job in data science?",
    "How do you deploy a model to production?",
]
# Page and API searches share one queue; two run at once, one per core (the model is CPU-bound).
SEARCH_QUEUE = {"concurrency_id": "search", "concurrency_limit": 2}
# Labels for a result's score, highest first; answerable dev-set questions score at least 0.43.
RELEVANCE = [(0.5, "Strong match"), (0.43, "Good match"), (DEFAULT_MIN_SCORE, "Related"), (-math.inf, "Weak match")]

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


def _relevance(score: float) -> str:
    """A labelled bar for the score, so people can judge results without reading numbers."""
    label = next(label for floor, label in RELEVANCE if score >= floor)
    width = round(100 * min(max((score - 0.1) / 0.5, 0.0), 1.0))
    slug = label.split()[0].lower()
    return (
        f'<span class="ata-relevance ata-{slug}" title="relevance score {score:.2f}">'
        f'<span class="ata-bar" aria-hidden="true"><span style="width:{width}%"></span></span>{label}</span>'
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
        f'<p class="ata-meta">{meta}</p></div>{_relevance(answer.score)}</header>'
        f'{_asked(answer)}<div class="ata-answer">{safe_markdown(answer.text)}</div>'
        f"<footer>{link}</footer></article>"
    )


def _notice(text: str) -> str:
    """A short message above (or instead of) the results; `text` must already be safe HTML."""
    return f'<div class="ata-notice">{text}</div>'


def results_html(answers: list[Answer], notes: list[str]) -> str:
    """The notices, then one card per answer."""
    cards = "".join(answer_card(answer) for answer in answers)
    return '<div class="ata-results">' + "".join(_notice(note) for note in notes) + cards + "</div>"


def clip_question(question: str | None) -> tuple[str, bool]:
    """The question stripped and cut to MAX_QUESTION_CHARS, and whether it was cut."""
    question = (question or "").strip()
    return question[:MAX_QUESTION_CHARS], len(question) > MAX_QUESTION_CHARS


def corpus_line(searcher: Searcher) -> str:
    """'26 answers by 2 authors from 1 book': what a question is searched against."""

    def count(n: int, noun: str) -> str:
        return f"{n:,} {noun}{'' if n == 1 else 's'}"

    return (
        f"Searching {count(len(searcher.units), 'answer')} by {count(len(searcher.authors), 'author')} "
        f"from {count(len(searcher.books), 'book')}."
    )


def _search(searcher: Searcher, question: str, k: int, author: str, book: str, closest: bool) -> list[Answer]:
    """Search as the page and the API both do: "" means no filter, `closest` drops the no-answer threshold."""
    return searcher.search(question, k, author=author or None, book=book or None, min_score=0 if closest else None)


def respond(
    searcher: Searcher, question: str, author: str, book: str, k: float, closest: bool = False
) -> tuple[str, dict]:
    """The page's answer to a question: result cards, or a message; plus whether to offer the closest answers."""
    question, cut = clip_question(question)
    if not question:
        example = html.escape(EXAMPLES[0])
        return _notice(f"Type a question above, for example <em>{example}</em>"), gr.update(visible=False)
    notes = (
        [f"Your question was long, so only its first {MAX_QUESTION_CHARS:,} characters were searched."] if cut else []
    )
    answers = _search(searcher, question, int(k), author, book, closest)
    if answers:
        if closest:
            notes.append("None of these is a close match: they are just the nearest answers in the archive.")
        return results_html(answers, notes), gr.update(visible=False)
    filtered = " with these filters" if author or book else ""
    message = f"No author answered anything close to this question{filtered}. Try other words or another filter."
    return results_html([], [*notes, message]), gr.update(visible=not closest)


def _header(searcher: Searcher) -> str:
    """Title, what the app does, and what it searches."""
    return (
        '<div class="ata-header"><h1>Ask the Author</h1>'
        "<p>Ask a question and read the real answers book authors gave during "
        "DataTalks.Club's Book of the Week, with who asked and when.</p>"
        f'<p class="ata-corpus">{html.escape(corpus_line(searcher))}</p></div>'
    )


def _api_search(searcher: Searcher):
    """The `/search` API and MCP tool: plain data, no HTML."""

    def search(
        question: str, k: int = DEFAULT_RESULTS, author: str = "", book: str = "", closest: bool = False
    ) -> list[dict]:
        """Find the real answers DataTalks.Club Book-of-the-Week authors gave to questions like this one.

        Each answer is a dict with author, text (Markdown), question, asker, book, book_title, thread, date,
        url (the book's page), score, author_as_written and id.

        Args:
            question: the question to ask, e.g. "Should startups do MLOps?"
            k: how many answers to return, 1 to 20
            author: only answers by this author (full name, e.g. "Noah Gift"); "" for all authors
            book: only answers from this book (its title or id); "" for all books
            closest: if true, return the closest answers even when none of them is a good match

        Returns:
            the answers, best first; an empty list when no author answered anything close to the question
        """
        question, _ = clip_question(question)
        if not question:
            raise gr.Error("The question is empty: ask something, e.g. 'Should startups do MLOps?'")
        if not 1 <= k <= MAX_RESULTS:
            raise gr.Error(f"k must be between 1 and {MAX_RESULTS}, got {k}")
        return [dataclasses.asdict(answer) for answer in _search(searcher, question, k, author, book, closest)]

    return search


def build_app(searcher: Searcher) -> gr.Blocks:
    """The Ask the Author page, and the `/search` endpoint (also an MCP tool), over one loaded searcher."""
    with gr.Blocks(title="Ask the Author", analytics_enabled=False) as app:
        gr.HTML(_header(searcher), elem_classes="ata-html")
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                placeholder="Ask the authors something, e.g. Should startups do MLOps?",
                show_label=False,
                scale=5,
                elem_id="question",
            )
            ask = gr.Button("Ask", variant="primary", scale=1, min_width=96, elem_id="ask")
        examples = gr.Examples(
            [[q] for q in EXAMPLES], inputs=question, label="Try one of these", api_visibility="private"
        )
        with gr.Row(elem_classes="ata-filters"):
            author = gr.Dropdown(
                [("All authors", ""), *((a, a) for a in searcher.authors)], value="", label="Author", min_width=200
            )
            book = gr.Dropdown(
                [("All books", ""), *((t, i) for i, t in searcher.books)], value="", label="Book", min_width=200
            )
            k = gr.Slider(1, MAX_RESULTS, value=DEFAULT_RESULTS, step=1, label="Number of results", min_width=200)
        results = gr.HTML(elem_id="results", elem_classes="ata-html")
        closest = gr.Button("Show closest answers anyway", visible=False, variant="secondary", elem_id="closest")
        gr.HTML(
            '<p class="ata-footnote">Answers are quoted from the DataTalks.Club Slack archive; '
            "each card links to the book's page.</p>",
            elem_classes="ata-html",
        )

        inputs, outputs = [question, author, book, k], [results, closest]
        listen = {"inputs": inputs, "outputs": outputs, "api_visibility": "private", **SEARCH_QUEUE}
        answer = partial(respond, searcher)
        gr.on([question.submit, ask.click, author.input, book.input, k.release], answer, **listen)
        examples.load_input_event.then(answer, **listen)
        closest.click(partial(respond, searcher, closest=True), **listen)
        gr.api(_api_search(searcher), api_name="search", **SEARCH_QUEUE)
    return app


CSS = """
.gradio-container { max-width: 980px !important; margin: 0 auto !important; }
.ata-header h1 { font-size: 2rem; margin: 0.2em 0 0.1em; }
.ata-header p { margin: 0.2em 0; color: var(--body-text-color-subdued); }
.ata-header .ata-corpus { font-size: 0.9rem; }
.ata-results { display: flex; flex-direction: column; gap: 14px; }
.ata-card {
  border: 1px solid var(--border-color-primary); border-radius: 12px; padding: 16px 18px;
  background: var(--background-fill-primary); box-shadow: 0 1px 3px rgba(15, 23, 42, 0.06);
  overflow-wrap: anywhere; min-width: 0;
}
.ata-card header { display: flex; justify-content: space-between; align-items: flex-start; gap: 12px; flex-wrap: wrap; }
.ata-card h3.ata-author { margin: 0; font-size: 1.15rem; }
.ata-meta { margin: 2px 0 0; color: var(--body-text-color-subdued); font-size: 0.92rem; }
.ata-card a { padding: 0; }
.ata-meta a { color: inherit; text-decoration: underline; text-decoration-color: var(--border-color-primary); }
.ata-relevance { display: inline-flex; align-items: center; gap: 8px; font-size: 0.85rem; white-space: nowrap;
  color: var(--body-text-color-subdued); }
.ata-bar { display: inline-block; width: 72px; height: 8px; border-radius: 4px; background: var(--border-color-primary);
  overflow: hidden; }
.ata-bar > span { display: block; height: 100%; background: #9ca3af; }
.ata-strong .ata-bar > span { background: #16a34a; }
.ata-good .ata-bar > span { background: #22c55e; }
.ata-related .ata-bar > span { background: #eab308; }
.ata-asked { margin: 12px 0 4px; padding: 8px 12px; border-left: 3px solid var(--color-accent);
  background: var(--background-fill-secondary); border-radius: 0 8px 8px 0; font-size: 0.95rem; }
.ata-asked summary { cursor: pointer; }
.ata-asked[open] .ata-short { display: none; }
.ata-asker { font-weight: 600; }
.ata-full-question { white-space: pre-line; margin-top: 4px; }
.ata-muted { color: var(--body-text-color-subdued); font-style: italic; }
.ata-answer { line-height: 1.55; }
.ata-answer a { color: var(--link-text-color); text-decoration: underline; }
.ata-answer pre { background: var(--background-fill-secondary); padding: 10px 12px; border-radius: 8px;
  overflow-x: auto; white-space: pre; }
.ata-answer code { font-family: var(--font-mono); font-size: 0.9em; background: var(--background-fill-secondary);
  padding: 1px 4px; border-radius: 4px; }
.ata-answer pre code { padding: 0; background: none; }
.ata-answer blockquote { margin: 0.5em 0; padding-left: 12px; border-left: 3px solid var(--border-color-primary); }
.ata-card footer { margin-top: 8px; font-size: 0.9rem; }
.ata-source { color: var(--link-text-color); }
.ata-notice { padding: 12px 16px; border-radius: 10px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); }
.ata-footnote { font-size: 0.8rem; color: var(--body-text-color-subdued); text-align: center; }
.ata-html .html-container { padding: 0; }
.main.app { padding-left: clamp(6px, 3vw, 32px) !important; padding-right: clamp(6px, 3vw, 32px) !important; }
@media (max-width: 640px) {
  .ata-header h1 { font-size: 1.6rem; }
  .ata-card { padding: 12px 12px; border-radius: 10px; }
  .ata-filters > * { min-width: 100% !important; }
}
"""

THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate")


def launch(app: gr.Blocks, host: str, port: int, *, block: bool = True) -> str:
    """Serve the app on host:port with the MCP server on, never through a public share link; returns its URL."""
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        mcp_server=True,
        prevent_thread_lock=not block,
        footer_links=["api"],
        theme=THEME,
        css=CSS,
    )
    return url
