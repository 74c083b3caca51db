"""The Gradio page and its `/search` API (also an MCP tool), over one loaded searcher."""

from __future__ import annotations

import dataclasses
import html
from functools import partial

import gradio as gr

from assistant.recipe import relevance
from assistant.searcher import MAX_QUESTION_CHARS, Searcher
from assistant.web.contract import DEFAULT_RESULTS, MAX_RESULTS, RequestError, parse_request, run
from assistant.web.render import corpus_line, header, notice, results_html

EXAMPLES = [
    "Should startups do MLOps?",
    "Which MLOps tools should I start with?",
    "How do I get my first job in data science?",
    "How do you deploy a model to production?",
]
# Page and API searches share one queue; two run at once, one per core (the model is CPU-bound).
SEARCH_QUEUE = {"concurrency_id": "search", "concurrency_limit": 2}


def respond(
    searcher: Searcher, question: str, author: str, book: str, k: float, closest: bool = False
) -> tuple[str, dict]:
    """The page's answer to a question: result cards, or a message; plus whether to offer the closest answers."""
    if not (question or "").strip():
        example = html.escape(EXAMPLES[0])
        return notice(f"Type a question above, for example <em>{example}</em>"), gr.update(visible=False)
    try:
        request = parse_request(searcher, question, k, author, book, closest)
    except RequestError as error:
        return notice(html.escape(str(error))), gr.update(visible=False)
    notes = (
        [f"Your question was long, so only its first {MAX_QUESTION_CHARS:,} characters were searched."]
        if request.cut
        else []
    )
    answers = run(searcher, request)
    if answers:
        if closest or relevance(answers[0].confidence).slug == "unlikely":
            notes.append("None of these looks like an answer to your question: they are the closest the authors came.")
        return results_html(answers, notes), gr.update(visible=False)
    filtered = " with these filters" if author or book else ""
    message = f"No author answered anything close to this question{filtered}. Try other words or another filter."
    return results_html([], [*notes, message]), gr.update(visible=not closest)


def _api_search(searcher: Searcher):
    """The `/search` API and MCP tool: plain data, no HTML."""

    def search(
        question: str, k: int = DEFAULT_RESULTS, author: str = "", book: str = "", closest: bool = False
    ) -> list[dict]:
        """Find the real answers DataTalks.Club Book-of-the-Week authors gave to questions like this one.

        Each answer is a dict with author, text (Markdown), question, asker, book, book_title, thread, date,
        url (the book's page), score, author_as_written, id, confidence (0–1, the estimated
        chance it answers the question), passage (which part of a long reply matched, -1 for none) and passage_text.

        Args:
            question: the question to ask, e.g. "Should startups do MLOps?"
            k: how many answers to return, 1 to 20
            author: only answers by this author (full name, e.g. "Noah Gift"); "" for all authors
            book: only answers from this book (its title or id); "" for all books
            closest: if true, return the closest answers even when none of them is a good match

        Returns:
            the answers, best first; an empty list when no author answered anything close to the question
        """
        try:
            request = parse_request(searcher, question, k, author, book, closest)
        except RequestError as error:
            raise gr.Error(str(error)) from None
        return [dataclasses.asdict(answer) for answer in run(searcher, request)]

    return search


def build_page(searcher: Searcher) -> gr.Blocks:
    """The Ask the Author page, and the `/search` endpoint (also an MCP tool)."""
    corpus = corpus_line(len(searcher.units), len(searcher.authors), len(searcher.books))
    with gr.Blocks(title="Ask the Author", analytics_enabled=False) as page:
        gr.HTML(header(corpus), elem_classes="ata-html")
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
    return page
