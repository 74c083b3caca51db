"""The Gradio page and its `/search` API (also an MCP tool), over the live searcher's current index.

The address bar follows the page: every search writes its link (`?q=…`) as a new history entry, so
Back and Forward re-run earlier searches, and opening a link (`?q=…` or `?answer=<id>`) runs it. With a query log,
every search is logged and each result card gets vote buttons.
"""

from __future__ import annotations

import html
import inspect
from pathlib import Path
from urllib.parse import parse_qsl

import gradio as gr

from assistant.searching.live import LiveSearcher, as_live
from assistant.searching.searcher import MAX_QUESTION_CHARS, Searcher
from assistant.service.contract import (
    DEFAULT_RESULTS,
    MAX_REQUEST_CHARS,
    MAX_RESULTS,
    BrowseRequest,
    RequestError,
    SearchRequest,
    answer_link,
    browse_link,
    gone_answer_search,
    is_unit_id,
    parse_request,
    parse_vote,
    read_link,
    related,
    request_link,
    week_of,
)
from assistant.service.health import Metrics
from assistant.service.querylog import LogUnavailableError, QueryLog, UnknownIdError
from assistant.service.record import log_opened_answer, record_vote, search_and_log
from assistant.web.render import (
    browse_html,
    corpus_line,
    header,
    missing_answer_html,
    named_authors_note,
    notice,
    related_html,
    results_html,
    single_answer_html,
    unknown_answer_html,
)

EXAMPLES = [
    "Should startups do MLOps?",
    "Which MLOps tools should I start with?",
    "How do I get my first job in data science?",
    "How do you deploy a model to production?",
]
# Page and API searches share one queue; two run at once, one per core (the model is CPU-bound).
SEARCH_QUEUE = {"concurrency_id": "search", "concurrency_limit": 2}
VOTE_SCRIPT = Path(__file__).with_name("feedback.js").read_text(encoding="utf-8")
# API parameters added after callers were written: a call may leave them out (last first) and gets their defaults.
OPTIONAL = {"since", "until"}
LOGGED_LINE = "Questions are logged, with no IP address or cookie, to improve the answers."
# Runs once in the hidden #ata-nav element (gr.HTML js_on_load, which provides `trigger`): an address
# with a query, links marked data-ata-nav and Back/Forward open their address in place, sending it to
# `open_link` as {query}; the Copy link button copies the address bar.
NAV_JS = """
const results = () => document.getElementById('results');
if (location.search) trigger('click', {query: location.search});
// A filter showing "All authors" / "All books" has its text selected when focused, so typing replaces it: typing
// "Kleppmann" filters by it, never by "All authorsKleppmann".
document.addEventListener('focusin', (event) => {
  const filter = event.target;
  if (filter.matches('input[role=combobox]') && /^All (authors|books)$/.test(filter.value)) filter.select();
});
document.addEventListener('keydown', (event) => {
  // Tab out of a filter leaves its options open (Gradio reopens them on any key but Escape): once the focus
  // has moved on, close them, as Escape does.
  if (event.key === 'Tab' && event.target.matches('input[role=combobox]')) {
    const filter = event.target;
    setTimeout(() => filter.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape', bubbles: true})));
    return;
  }
  if (event.key !== 'Enter') return;
  // Enter in the "Number of results" box runs the search with that number, as in the question box.
  if (event.target.matches('#k input[type=number]')) {
    event.target.dispatchEvent(new Event('change', {bubbles: true}));
    document.getElementById('ask').click();
    return;
  }
  // Choosing an option with Enter blurs a filter to <body>; keep the focus just after its box (the box itself
  // would open its options again), so Tab goes on to the next control.
  const filter = event.target.closest('input[role=combobox]');
  if (!filter) return;
  const after = filter.nextElementSibling || filter.closest('.block');
  setTimeout(() => {
    if (document.activeElement !== document.body) return;
    after.setAttribute('tabindex', '-1');
    after.focus({preventScroll: true});
  });
}, true);
window.addEventListener('popstate', () => trigger('click', {query: location.search}));
document.addEventListener('click', (event) => {
  const copy = event.target.closest('[data-ata-copy]');
  if (copy) {
    const status = copy.parentElement.querySelector('[role=status]');
    navigator.clipboard.writeText(location.href).then(
      () => { status.textContent = 'Link copied'; },
      () => { status.textContent = 'Copying failed: copy the address bar instead'; });
    return;
  }
  const link = event.target.closest('a[data-ata-nav]');
  if (!link || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey || event.altKey) return;
  event.preventDefault();
  const query = new URL(link.href).search;
  if (query !== location.search) history.pushState(null, '', location.pathname + query);
  window.scrollTo({top: 0});
  results().setAttribute('tabindex', '-1');
  results().focus({preventScroll: true});
  trigger('click', {query});
});
"""
# After a search: its link becomes a new history entry (PUSH) or, for a link just opened, the address (REPLACE);
# on a narrow screen the results scroll to the top, so the first answer shows without scrolling past the filters.
_AFTER_SEARCH = (
    "(link) => {{ if (link && link !== location.search) history.{}(null, '', location.pathname + link);"
    " if (link && matchMedia('(max-width: 640px)').matches)"
    " document.getElementById('results').scrollIntoView({{block: 'start', behavior: 'instant'}}); }}"
)
PUSH_JS = _AFTER_SEARCH.format("pushState")
REPLACE_JS = _AFTER_SEARCH.format("replaceState")


def _searched(
    searcher: Searcher, request: SearchRequest, notes: list[str], log: QueryLog | None, metrics: Metrics | None = None
) -> tuple[str, dict]:
    """Result cards and nearby questions for a valid request, or a message; plus whether to offer the closest."""
    if request.cut:
        notes = [*notes, f"Your question was long, so only its first {MAX_QUESTION_CHARS:,} characters were searched."]
    logged = search_and_log(searcher, request, log, "page", metrics)
    answers = logged.answers
    nearby = related_html(related(searcher, request, answers), request.k, request.author, request.book)
    if answers:
        named = [] if request.author else searcher.named_authors(request.question)
        if named:
            notes = [*notes, named_authors_note(request, named)]
        if logged.none_close:
            notes = [*notes, "None of these is a close match: they are just the nearest answers in the archive."]
        threads, marked = [searcher.thread(answer.id) for answer in answers], searcher.query_terms(request.question)
        return results_html(answers, notes, nearby, True, logged.query_id, threads, marked), gr.update(visible=False)
    filtered = " with these filters" if request.author or request.book else ""
    message = f"No author answered anything close to this question{filtered}. Try other words or another filter."
    return results_html([], [*notes, message], nearby, shareable=True), gr.update(visible=not request.closest)


def respond(
    searcher: Searcher,
    question: str,
    author: str,
    book: str,
    k: float,
    closest: bool = False,
    *,
    since: str = "",
    until: str = "",
    log: QueryLog | None = None,
    metrics: Metrics | None = None,
) -> tuple[str, dict, str]:
    """The page's answer to a typed question: results or a message, whether to offer the closest, and its link."""
    if not (question or "").strip():
        example = html.escape(EXAMPLES[0])
        return notice(f"Type a question above, for example <em>{example}</em>"), gr.update(visible=False), ""
    try:
        request = parse_request(searcher, question, k, author, book, closest, since, until)
    except RequestError as error:
        return notice(html.escape(str(error))), gr.update(visible=False), ""
    return *_searched(searcher, request, [], log, metrics), request_link(request)


def open_link(
    searcher: Searcher, params: dict[str, str], log: QueryLog | None = None, metrics: Metrics | None = None
) -> tuple:
    """What a page address shows: the controls set to its search and the results, or one answer; plus its link.

    Returns the question, author, book, k, since, until, results, closest button and the canonical link, in that
    order.
    An address asking for nothing (Back to the page as first opened) clears it.
    """
    link = read_link(searcher, params)
    notes = []
    if link.ignored:
        names = ", ".join(link.ignored)
        notes.append(
            f"This link's {names} could not be used and {'was' if len(link.ignored) == 1 else 'were'} ignored."
        )
    hidden = gr.update(visible=False)
    if link.answer_id is not None:
        unit = searcher.unit(link.answer_id)
        if unit is None and not is_unit_id(link.answer_id):
            body = unknown_answer_html(link.answer_id)
        elif unit is None:
            body = missing_answer_html(link.answer_id, gone_answer_search(searcher, link.answer_id))
        else:
            nearby = searcher.related_questions(unit.question) if unit.question.strip() else []
            nearby_html = related_html(nearby, DEFAULT_RESULTS, None, None)
            body = single_answer_html(unit, nearby_html, searcher.thread(unit.id), log_opened_answer(unit, log))
        return "", "", "", DEFAULT_RESULTS, "", "", body, hidden, answer_link(link.answer_id)
    if link.browse is not None:
        wanted = link.browse
        browsed = searcher.browse(author=wanted.author, book=wanted.book, since=wanted.since, until=wanted.until,
                                  offset=wanted.offset)  # fmt: skip
        title = _browse_title(searcher, wanted)
        body = "".join(notice(n) for n in notes) + browse_html(browsed, wanted, title)
        address = browse_link(wanted.author, wanted.book, wanted.offset, wanted.since, wanted.until)
        weeks = wanted.since or "", wanted.until or ""
        return "", wanted.author or "", wanted.book or "", DEFAULT_RESULTS, *weeks, body, hidden, address
    if link.search is None:
        return "", "", "", DEFAULT_RESULTS, "", "", results_html([], notes) if notes else "", hidden, ""
    request = link.search
    body, closest = _searched(searcher, request, notes, log, metrics)
    controls = (
        request.question,
        request.author or "",
        request.book or "",
        request.k,
        request.since or "",
        request.until or "",
    )
    return *controls, body, closest, request_link(request)


def _browse_title(searcher: Searcher, wanted: BrowseRequest) -> str:
    """'Noah Gift’s answers, newest week first', 'Practical MLOps, week of 30 Aug 2021', or both."""
    week = next((w for w in searcher.book_weeks if w.id == wanted.book), None)
    book = f"{week.title}, {week_of(week.week) or 'undated week'}" if week else ""
    if wanted.author:
        return f"{wanted.author}’s answers in {book}" if book else f"{wanted.author}’s answers, newest week first"
    return f"{book}: its threads in order"


def _navigated_to(event: gr.EventData) -> dict[str, str]:
    """The query parameters of the address NAV_JS sent, `{query: location.search}`."""
    data = event._data if isinstance(event._data, dict) else {}
    query = str(data.get("query", ""))[: 3 * MAX_REQUEST_CHARS]  # a character is at most 3 once %-encoded
    return dict(parse_qsl(query.removeprefix("?")))


def _source(request: gr.Request | None) -> str:
    """'mcp' for a call through Gradio's MCP server (it marks its calls), else 'gradio_api'."""
    headers = getattr(request, "headers", None) or {}
    return "mcp" if headers.get("x-gradio-user") == "mcp" else "gradio_api"


def _api_search(live: LiveSearcher, log: QueryLog | None, metrics: Metrics | None):
    """The `/search` API and MCP tool: plain data, no HTML."""

    def search(
        question: str,
        k: int = DEFAULT_RESULTS,
        author: str = "",
        book: str = "",
        closest: bool = False,
        since: str = "",
        until: str = "",
        request: gr.Request = None,
    ) -> list[dict]:
        """Find the real answers DataTalks.Club Book-of-the-Week authors gave to questions like this one.

        Each answer is a dict with author, text (Markdown), question, asker, book, book_title, thread, date,
        url (the book's page), score, author_as_written, id, confidence (0–1, the estimated
        chance it answers the question), passage (which part of a long reply matched, -1 for none),
        passage_text, and query_id (to vote with `feedback`; null when the app keeps no log).

        Args:
            question: the question to ask, e.g. "Should startups do MLOps?"
            k: how many answers to return, 1 to 20
            author: only answers by this author (full name, e.g. "Noah Gift"); "" for all authors
            book: only answers from this book (its title or id); "" for all books
            closest: if true, return the closest answers even when none of them is a good match
            since: only weeks from this year, month or date ("2024", "2024-03", "2024-03-05"); "" for no limit
            until: only weeks up to this year, month or date; "" for no limit

        Returns:
            the answers, best first; an empty list when no author answered anything close to the question
        """
        searcher = live.current()
        try:
            parsed = parse_request(searcher, question, k, author, book, closest, since, until)
        except RequestError as error:
            raise gr.Error(str(error), print_exception=False) from None
        logged = search_and_log(searcher, parsed, log, _source(request), metrics)
        return [{**vars(answer), "query_id": logged.query_id} for answer in logged.answers]

    return search


def _api_feedback(log: QueryLog, metrics: Metrics | None):
    """The `/feedback` API and MCP tool: a vote on an answer a search returned."""

    def feedback(query_id: str, answer_id: str = "", helpful: bool = False) -> str:
        """Tell the app whether an answer from `search` helped, so its answers improve.

        Args:
            query_id: the query_id of the search's answers
            answer_id: the id of the answer voted on; "" to say none of the answers helped
            helpful: true if the answer helped, false if not; a second vote on an answer replaces the first

        Returns:
            "recorded"
        """
        try:
            recorded = record_vote(log, parse_vote({"query_id": query_id, "answer_id": answer_id or None,
                                                    "helpful": helpful}), metrics)  # fmt: skip
        except (RequestError, UnknownIdError, LogUnavailableError) as error:
            raise gr.Error(str(error), print_exception=False) from None
        if not recorded:
            raise gr.Error("the query log could not record this vote right now; searches still work",
                           print_exception=False)  # fmt: skip
        return "recorded"

    return feedback


def _author_choices(searcher: Searcher) -> list[tuple[str, str]]:
    return [("All authors", ""), *((a, a) for a in searcher.authors)]


def _book_choices(searcher: Searcher) -> list[tuple[str, str]]:
    """Every week, newest first, as its title and date: typing a title, a month or a year finds it."""
    weeks = searcher.book_weeks
    return [("All books", ""), *((f"{w.title} · {week_of(w.week) or 'undated'}", w.id) for w in weeks)]


def _header(searcher: Searcher) -> str:
    return header(corpus_line(len(searcher.units), len(searcher.authors), len(searcher.books)))


def corpus_controls(searcher: Searcher) -> tuple[str, dict, dict]:
    """What a page load refreshes from the current index: the header's counts and the author and book choices."""
    return _header(searcher), gr.update(choices=_author_choices(searcher)), gr.update(choices=_book_choices(searcher))


def build_page(
    searcher: Searcher | LiveSearcher, log: QueryLog | None = None, metrics: Metrics | None = None
) -> gr.Blocks:
    """The Ask the Author page and the `/search` endpoint (also an MCP tool); with a log, votes and `/feedback`.

    Every event searches the live searcher's current index; each page load shows that index's counts and filters.
    """
    live = as_live(searcher)
    shown = live.current()  # the index the page is first built with; each load refreshes from the current one
    with gr.Blocks(title="Ask the Author", analytics_enabled=False) as page:
        heading = gr.HTML(_header(shown), elem_classes="ata-html")
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                placeholder="Ask the authors something",
                show_label=False,
                max_lines=1,  # a long question scrolls in the box, which keeps its size (and the Ask button's)
                scale=5,
                elem_id="question",
            )
            ask = gr.Button("Ask", variant="primary", scale=1, min_width=96, elem_id="ask")
        examples = gr.Examples(
            [[q] for q in EXAMPLES], inputs=question, label="Try one of these", api_visibility="private"
        )
        with gr.Row(elem_classes="ata-filters"):
            author = gr.Dropdown(_author_choices(shown), value="", label="Author", min_width=200)
            book = gr.Dropdown(_book_choices(shown), value="", label="Book", min_width=200)
            # Weeks from / to a year, month or date, as `since` / `until` in links; Enter searches with them.
            since = gr.Textbox(label="Since", placeholder="2024, 2024-03 or a date", max_lines=1, min_width=140,
                               elem_id="since")  # fmt: skip
            until = gr.Textbox(label="Until", placeholder="2024, 2024-03 or a date", max_lines=1, min_width=140,
                               elem_id="until")  # fmt: skip
            k = gr.Slider(
                1, MAX_RESULTS, value=DEFAULT_RESULTS, step=1, label="Number of results", min_width=200, elem_id="k"
            )
        results = gr.HTML(
            elem_id="results", elem_classes="ata-html", js_on_load=VOTE_SCRIPT if log is not None else None
        )
        closest = gr.Button("Show closest answers anyway", visible=False, variant="secondary", elem_id="closest")
        gr.HTML(
            '<p class="ata-footnote">Answers are quoted from the DataTalks.Club Slack archive; '
            f"each card links to the book's page.{' ' + LOGGED_LINE if log is not None else ''}</p>",
            elem_classes="ata-html",
        )

        nav = gr.HTML("", js_on_load=NAV_JS, visible="hidden", elem_id="ata-nav")
        link = gr.Textbox(visible=False)

        inputs, outputs = [question, author, book, k, since, until], [results, closest, link]
        listen = {"inputs": inputs, "outputs": outputs, "api_visibility": "private", **SEARCH_QUEUE}
        push = {"fn": None, "inputs": link, "js": PUSH_JS}

        def answer(asked: str, by: str, in_book: str, count: float, start: str, end: str) -> tuple[str, dict, str]:
            """The page's question, author, book, k and weeks, answered from the current index."""
            return respond(live.current(), asked, by, in_book, count, since=start, until=end, log=log, metrics=metrics)

        def answer_closest(asked: str, by: str, in_book: str, count: float, start: str, end: str) -> tuple:
            return respond(live.current(), asked, by, in_book, count, closest=True, since=start, until=end, log=log,
                           metrics=metrics)  # fmt: skip

        searches = [question.submit, ask.click, author.input, book.input, k.release, since.submit, until.submit]
        gr.on(searches, answer, **listen).then(**push)
        examples.load_input_event.then(answer, **listen).then(**push)
        closest.click(answer_closest, **listen).then(**push)
        opened = {"outputs": [question, author, book, k, since, until, results, closest, link],
                  "api_visibility": "private"}  # fmt: skip
        replace = {"fn": None, "inputs": link, "js": REPLACE_JS}

        def on_navigate(event: gr.EventData) -> tuple:
            """The page opened at an address with a query, an in-page link, Back or Forward: run what it asks for."""
            return open_link(live.current(), _navigated_to(event), log, metrics)

        nav.click(on_navigate, **opened, **SEARCH_QUEUE).then(**replace)
        page.load(  # no progress shown: a refresh of the counts and filters should not dim them on every load
            lambda: corpus_controls(live.current()),
            outputs=[heading, author, book],
            api_visibility="private",
            show_progress="hidden",
        )
        gr.api(_api_search(live, log, metrics), api_name="search", **SEARCH_QUEUE)
        if log is not None:
            gr.api(_api_feedback(log, metrics), api_name="feedback")
    _short_input_errors(page)
    return page


def _short_input_errors(page: gr.Blocks) -> None:
    """An API call with too few values gets one line naming them, not Gradio's component dump and traceback.

    The OPTIONAL trailing values a call leaves out take their defaults, so callers written before them keep working.
    """
    check = page.validate_inputs

    def validate_inputs(block_fn, inputs: list) -> None:
        parameters = [p for p in inspect.signature(block_fn.fn).parameters.values() if p.name != "request"]
        optional = 0
        while optional < len(parameters) and parameters[len(parameters) - 1 - optional].name in OPTIONAL:
            optional += 1
        required = len(block_fn.inputs) - optional
        if required <= len(inputs) < len(block_fn.inputs):
            inputs.extend(p.default for p in parameters[len(inputs) : len(block_fn.inputs)])
        try:
            check(block_fn, inputs)
        except ValueError:
            names = ", ".join(p.name for p in parameters)
            counts = f"{required} to {len(block_fn.inputs)}" if optional else str(len(block_fn.inputs))
            name = block_fn.api_name or block_fn.name
            message = f"{name} takes {counts} values ({names}), got {len(inputs)}"
            raise gr.Error(message, print_exception=False) from None

    page.validate_inputs = validate_inputs
