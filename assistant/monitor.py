"""The monitoring dashboard over the query log: `python -m assistant.monitor [--log PATH|URL] [--host H] [--port P]`.

Its own Gradio app on 127.0.0.1:7861, never part of the public one; serving beyond loopback needs
`--password` (user "monitor"). Plots per day (UTC): queries, no-answer rate, helpful share, latency
p50/p95, plus results by source; tables of the most-asked and unanswered questions and the answers
most often marked not helpful (author, book, the question, a link to the answer); every query, searchable and
paged. Logged questions are untrusted text and are escaped everywhere.
"""

from __future__ import annotations

import argparse
import html
import ipaddress
import os
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no calls home, works offline

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from assistant import config  # noqa: E402
from assistant.corpus.text import question_key  # noqa: E402
from assistant.errors import BadInput, Unavailable, command
from assistant.logs import setup_logging
from assistant.service.logdb import LogTarget, is_url, log_target, redact, scrub  # noqa: E402
from assistant.service.querylog import DB_ERRORS, connect_readonly, default_log_path  # noqa: E402
from assistant.web.guard import Guard, Policy, allowed_hosts  # noqa: E402

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7861
USER = "monitor"
PASSWORD_ENV = "ASSISTANT_MONITOR_PASSWORD"
TABLE_ROWS = 10
PAGE_ROWS = 25  # rows per page of every query
DEFAULT_APP = "http://127.0.0.1:7860/"  # where the answers' links open
PER_DAY = {"x": "day", "x_title": "day (UTC)"}
SHARE = {"y_lim": [0, 1], "y_axis_format": ".0%"}


@dataclass(frozen=True)
class Dashboard:
    """Everything the dashboard shows, read from the log in one go."""

    summary: str  # safe HTML
    per_day: pd.DataFrame  # day, queries, no_answer_rate, helpful_share
    latency: pd.DataFrame  # day, latency_ms, percentile ("p50" or "p95")
    by_source: pd.DataFrame  # source, result ("answered" or "no answer"), queries
    most_asked: str  # safe HTML tables from here on
    unanswered: str
    not_helpful: str


class SafeHtml(str):
    """A table cell that is already safe HTML (built here from escaped parts), so `_table` does not escape it."""


def read_dashboard(log: LogTarget, app: str = DEFAULT_APP) -> Dashboard:
    """Read the log (read-only) into the dashboard's plots and tables; an empty one when there is no log yet.

    The database does the counting (SQLite's sorter spills to disk), so a large log costs time, not memory:
    only per-day figures and the top rows of each table reach Python.
    """
    try:
        connection = connect_readonly(log)
    except FileNotFoundError as error:
        return _empty(html.escape(str(error)))
    except DB_ERRORS as error:
        return _empty(html.escape(_cannot_read(log, error)))
    if not is_url(log):
        connection.create_function("question_key", 1, question_key, deterministic=True)
    try:
        queries, first, no_answer = connection.execute(
            "SELECT count(*), min(time), sum(no_answer) FROM queries"
        ).fetchone()
        if not queries:
            return _empty(html.escape(f"The query log {redact(log)} has no queries yet."))
        return Dashboard(
            summary=_summary(connection, log, queries, first, no_answer),
            per_day=_per_day(connection),
            latency=_latency(connection),
            by_source=_by_source(connection),
            most_asked=_most_asked(connection),
            unanswered=_unanswered(connection),
            not_helpful=_not_helpful(connection, app),
        )
    except DB_ERRORS as error:
        return _empty(html.escape(_cannot_read(log, error)))
    finally:
        connection.close()


def _cannot_read(log: LogTarget, error: BaseException) -> str:
    return scrub(f"cannot read the query log {redact(log)}: {' '.join(str(error).split())}", log)


# The dialects' few differences. SQLite: a bare column beside max(time) comes from the row with max(time),
# question_key is the Python function, LIKE ignores ASCII case. PostgreSQL: each said explicitly.


def _postgres(connection) -> bool:
    return getattr(connection, "dialect", "sqlite") == "postgresql"


def _day(connection, time: str = "time") -> str:
    """The UTC day of a row's time, as days since 1970-01-01 (PostgreSQL's CAST rounds, so floor first)."""
    return f"CAST(floor({time} / 86400) AS INTEGER)" if _postgres(connection) else f"CAST({time} / 86400 AS INTEGER)"


def _key(connection, question: str) -> str:
    """question_key(question) in SQL: words with case, punctuation and spacing folded."""
    if _postgres(connection):
        return f"trim(regexp_replace(lower({question}), '\\W+', ' ', 'g'))"
    return f"question_key({question})"


def _latest(connection, column: str, time: str) -> str:
    """`column` from the group's row with the latest `time`."""
    return f"(array_agg({column} ORDER BY {time} DESC))[1]" if _postgres(connection) else column


def _frame(connection, sql: str, params: Sequence = ()) -> pd.DataFrame:
    """A query's rows as a DataFrame with its column names."""
    cursor = connection.execute(sql, params)
    columns = [column[0] for column in cursor.description]
    return pd.DataFrame([tuple(row) for row in cursor.fetchall()], columns=columns)


def _days(frame: pd.DataFrame) -> pd.DataFrame:
    """The `day` column (days since 1970) as dates."""
    return frame.assign(day=pd.to_datetime(frame["day"] * 86400, unit="s"))


def _empty(message: str) -> Dashboard:
    """A dashboard with no data and a message saying why."""
    return Dashboard(
        summary=f'<p class="mon-summary">{message}</p>',
        per_day=pd.DataFrame({"day": pd.to_datetime([]), "queries": [], "no_answer_rate": [], "helpful_share": []}),
        latency=pd.DataFrame({"day": pd.to_datetime([]), "latency_ms": [], "percentile": []}),
        by_source=pd.DataFrame({"source": [], "result": [], "queries": []}),
        most_asked=_table(["question", "asked"], []),
        unanswered=_table(["question", "asked"], []),
        not_helpful=_table(["answer", "not helpful"], []),
    )


def _summary(connection, log: LogTarget, queries: int, first: float, no_answer: int) -> str:
    """One line: how many queries and votes since when, from which file."""
    votes, helpful = connection.execute(
        "SELECT count(*), coalesce(sum(v.helpful), 0) FROM votes v JOIN queries q ON q.id = v.query_id"
    ).fetchone()
    none_votes = connection.execute("SELECT count(*) FROM none_votes").fetchone()[0]
    day = pd.to_datetime(first, unit="s").date().isoformat()
    return (
        f'<p class="mon-summary">{_count(queries, "query", "queries")} since {day} (UTC days), '
        f"{int(no_answer):,} with no answer; {_count(votes, 'answer vote')} "
        f"({helpful:,} helpful, {votes - helpful:,} not helpful), "
        f"{none_votes:,} 'none of these answer'. Log: {html.escape(redact(log))}</p>"
    )


def _count(n: int, noun: str, nouns: str = "") -> str:
    """'1 query', '2 queries'."""
    return f"{n:,} {noun if n == 1 else nouns or noun + 's'}"


def _per_day(connection) -> pd.DataFrame:
    """Per day: queries, the share with no answer, and the share of answer votes that said helpful."""
    days = _frame(
        connection,
        f"SELECT {_day(connection)} AS day, count(*) AS queries, avg(no_answer) AS no_answer_rate FROM queries"
        " GROUP BY day",
    )
    shares = _frame(
        connection,
        f"SELECT {_day(connection, 'q.time')} AS day, avg(v.helpful) AS helpful_share"
        " FROM votes v JOIN queries q ON q.id = v.query_id GROUP BY day",
    )
    return _days(days.merge(shares, on="day", how="left"))


def _latency(connection) -> pd.DataFrame:
    """Per day: search latency p50 and p95 in milliseconds (linear interpolation), one line per percentile.

    SQL picks the (at most) two ranked latencies around each percentile per day; Python interpolates.
    """
    frames = []
    for q, name in ((0.5, "p50"), (0.95, "p95")):
        day = _day(connection)
        ranked = _frame(
            connection,
            f"SELECT day, i, n, latency_ms FROM (SELECT {day} AS day, latency_ms,"
            f" row_number() OVER (PARTITION BY {day} ORDER BY latency_ms) - 1 AS i,"
            f" count(*) OVER (PARTITION BY {day}) AS n FROM queries) AS ranked"
            f" WHERE i = {_floor(connection, '(n - 1) * ?')} OR i = {_floor(connection, '(n - 1) * ?')} + 1",
            (q, q),
        )
        position = (ranked["n"] - 1) * q
        below = position.astype(int)
        weight = np.where(ranked["i"] == below, 1 - (position - below), position - below)
        latency = (ranked["latency_ms"] * weight).groupby(ranked["day"]).sum()
        frames.append(pd.DataFrame({"day": latency.index, "latency_ms": latency.values, "percentile": name}))
    return _days(pd.concat(frames, ignore_index=True))


def _floor(connection, value: str) -> str:
    """CAST(value AS INTEGER) rounding down, as SQLite's does for positive numbers."""
    return f"CAST(floor({value}) AS INTEGER)" if _postgres(connection) else f"CAST({value} AS INTEGER)"


def _by_source(connection) -> pd.DataFrame:
    """Queries per source (page, json, gradio_api, mcp, slack, link), split into answered and no answer."""
    return _frame(
        connection,
        "SELECT source, CASE no_answer WHEN 1 THEN 'no answer' ELSE 'answered' END AS result, count(*) AS queries"
        " FROM queries GROUP BY source, result",
    )


def _most_asked(connection) -> str:
    """The questions asked most often (case and spacing folded), with how often nothing answered them."""
    return _top(  # `question` comes from the row with max(time): its latest phrasing
        connection,
        ["question", "asked", "no answer"],
        f"SELECT {_latest(connection, 'question', 'time')}, count(*) AS asked, sum(no_answer), max(time) AS last"
        f" FROM queries GROUP BY {_key(connection, 'question')} ORDER BY asked DESC, last DESC",
    )


def _unanswered(connection) -> str:
    """Questions that got no answer or a 'none of these answer' vote, most frequent first."""
    return _top(
        connection,
        ["question", "times", "'none of these answer'"],
        f"SELECT {_latest(connection, 'q.question', 'q.time')}, count(*) AS times, count(n.query_id),"
        " max(q.time) AS last FROM queries q"
        " LEFT JOIN none_votes n ON n.query_id = q.id WHERE q.no_answer = 1 OR n.query_id IS NOT NULL"
        f" GROUP BY {_key(connection, 'q.question')} ORDER BY times DESC, last DESC",
    )


def _not_helpful(connection, app: str) -> str:
    """The answers most often marked not helpful: whose, from which book, a question they were shown for, a link."""
    rows = connection.execute(  # `question` comes from the row with max(time): the latest it was shown for
        f"SELECT v.answer_id, {_latest(connection, 'q.question', 'q.time')}, sum(1 - v.helpful) AS not_helpful,"
        " sum(v.helpful) AS helpful, max(q.time)"
        " FROM votes v JOIN queries q ON q.id = v.query_id GROUP BY v.answer_id HAVING sum(1 - v.helpful) > 0"
        " ORDER BY not_helpful DESC, helpful ASC, v.answer_id LIMIT ?",
        (TABLE_ROWS,),
    )
    shown = [
        (*answer_source(answer_id), question, not_helpful, helpful, _answer_link(app, answer_id))
        for answer_id, question, not_helpful, helpful, _ in rows
    ]
    return _table(["author", "book", "last asked for", "not helpful", "helpful", "answer"], shown)


def answer_source(answer_id: str) -> tuple[str, str]:
    """(author, book id) read from a stable answer id `book/thread/author-slug/n`; the id itself if it is not one."""
    parts = answer_id.split("/")
    if len(parts) != 4:
        return answer_id, ""
    return parts[2].replace("-", " ").title(), parts[0]


def _answer_link(app: str, answer_id: str) -> SafeHtml:
    href = html.escape(f"{app}?{urlencode({'answer': answer_id}, safe='/')}", quote=True)
    return SafeHtml(f'<a href="{href}" target="_blank" rel="noopener noreferrer">open the answer</a>')


def every_query(log: LogTarget, search: str = "", page: int = 1) -> tuple[str, int]:
    """One page of every logged query, newest first, whose question holds `search`; and the page shown."""
    try:
        connection = connect_readonly(log)
    except FileNotFoundError:
        return '<p class="mon-none">Nothing yet.</p>', 1
    except DB_ERRORS as error:
        return f'<p class="mon-none">{html.escape(_cannot_read(log, error))}</p>', 1
    pattern = "%" + search.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    like = "ILIKE" if _postgres(connection) else "LIKE"  # SQLite's LIKE ignores ASCII case
    where = f" FROM queries WHERE question {like} ? ESCAPE '\\'"
    try:
        total = connection.execute("SELECT COUNT(*)" + where, (pattern,)).fetchone()[0]
        pages = max(1, -(-total // PAGE_ROWS))
        page = min(max(1, int(page or 1)), pages)
        rows = connection.execute(
            "SELECT time, question, source, no_answer" + where + " ORDER BY time DESC LIMIT ? OFFSET ?",
            (pattern, PAGE_ROWS, (page - 1) * PAGE_ROWS),
        ).fetchall()
    except DB_ERRORS as error:
        return f'<p class="mon-none">{html.escape(_cannot_read(log, error))}</p>', 1
    finally:
        connection.close()
    shown = (
        (pd.to_datetime(row["time"], unit="s").strftime("%Y-%m-%d %H:%M"), row["question"], row["source"],
         "no answer" if row["no_answer"] else "answered")
        for row in rows
    )  # fmt: skip
    matching = f" matching “{html.escape(search.strip())}”" if search.strip() else ""
    note = f'<p class="mon-pages">Page {page} of {pages}: {_count(total, "query", "queries")}{matching}.</p>'
    return note + _table(["time (UTC)", "question", "source", "result"], shown), page


def _top(connection, header: Sequence[str], sql: str) -> str:
    """The first TABLE_ROWS rows of a query as a table, with as many columns as `header` names."""
    rows = connection.execute(f"{sql} LIMIT ?", (TABLE_ROWS,))
    return _table(header, [row[: len(header)] for row in rows])


def _table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """An HTML table with every cell escaped (but SafeHtml ones); a note instead when there are no rows."""
    body = "".join("<tr>" + "".join(f"<td>{_cell(cell)}</td>" for cell in row) + "</tr>" for row in rows)
    if not body:
        return '<p class="mon-none">Nothing yet.</p>'
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    return f'<table class="mon-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(value: object) -> str:
    return value if isinstance(value, SafeHtml) else html.escape(str(value))


def build_dashboard(log: LogTarget, app: str = DEFAULT_APP) -> gr.Blocks:
    """The dashboard page; it reads the log when opened and on every Refresh."""
    with gr.Blocks(title="Ask the Author: monitoring", analytics_enabled=False) as dashboard:
        gr.HTML("<h1>Ask the Author: monitoring</h1>")
        summary = gr.HTML(elem_id="summary")
        refresh = gr.Button("Refresh", size="sm", elem_id="refresh")
        # Points, not lines: a line through one day's point draws nothing.
        with gr.Row():
            queries = gr.ScatterPlot(title="Queries per day", y="queries", y_lim=[0, None], **PER_DAY)
            no_answer = gr.ScatterPlot(
                title="No-answer rate per day", y="no_answer_rate", y_title="share with no answer", **SHARE, **PER_DAY
            )
        with gr.Row():
            helpful = gr.ScatterPlot(
                title="Helpful share of votes per day", y="helpful_share", y_title="share helpful", **SHARE, **PER_DAY
            )
            latency = gr.ScatterPlot(
                title="Search latency per day", y="latency_ms", y_title="ms", color="percentile", y_lim=[0, None],
                **PER_DAY,
            )  # fmt: skip
        by_source = gr.BarPlot(x="source", y="queries", color="result", title="Results by source")
        gr.HTML("<h2>Most-asked questions</h2>")
        most_asked = gr.HTML(elem_id="most-asked")
        gr.HTML("<h2>Unanswered questions</h2>")
        unanswered = gr.HTML(elem_id="unanswered")
        gr.HTML("<h2>Answers most often marked not helpful</h2>")
        not_helpful = gr.HTML(elem_id="not-helpful")
        gr.HTML("<h2>Every query</h2>")
        with gr.Row(equal_height=True):
            search = gr.Textbox(label="Search the questions", placeholder="words in the question", scale=4)
            previous = gr.Button("Previous page", size="sm", scale=1)
            page = gr.Number(1, label="Page", precision=0, minimum=1, scale=1, elem_id="page")
            following = gr.Button("Next page", size="sm", scale=1)
        every = gr.HTML(elem_id="every-query")
        paged = {"outputs": [every, page], "api_visibility": "private"}
        search.submit(lambda text: every_query(log, text, 1), search, **paged)
        page.submit(lambda text, n: every_query(log, text, n), [search, page], **paged)
        previous.click(lambda text, n: every_query(log, text, (n or 1) - 1), [search, page], **paged)
        following.click(lambda text, n: every_query(log, text, (n or 1) + 1), [search, page], **paged)

        def show() -> tuple:
            board = read_dashboard(log, app)
            plots = [board.per_day, board.per_day, board.per_day.dropna(), board.latency, board.by_source]
            # No data, no plot (the summary says what is missing): vega would draw an empty one with an unlabelled
            # image role, Gradio's placeholder a prohibited aria-label (axe-core: svg-img-alt, aria-prohibited-attr).
            shown = (gr.update(value=None if frame.empty else frame, visible=not frame.empty) for frame in plots)
            return (board.summary, *shown,
                    board.most_asked, board.unanswered, board.not_helpful)  # fmt: skip

        outputs = [summary, queries, no_answer, helpful, latency, by_source, most_asked, unanswered, not_helpful]
        gr.on([dashboard.load, refresh.click], show, outputs=outputs, api_visibility="private")
        gr.on([dashboard.load, refresh.click], lambda text: every_query(log, text, 1), search, **paged)
    return dashboard


CSS = """
.gradio-container { max-width: 1200px !important; margin: 0 auto !important; }
.mon-table { width: 100%; border-collapse: collapse; font-size: 0.92rem; }
.mon-table th, .mon-table td { text-align: left; padding: 4px 8px;
  border-bottom: 1px solid var(--border-color-primary); }
.mon-table td { overflow-wrap: anywhere; }
.mon-table th { white-space: nowrap; }  /* a long question narrows its own column, never a header */
.mon-summary, .mon-none, .mon-pages { color: #475569; }  /* slate-600: AA contrast on the page's background */
"""


def is_loopback(host: str) -> bool:
    """Whether serving on `host` keeps the dashboard on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def launch(app: gr.Blocks, host: str, port: int, password: str | None, *, block: bool = True) -> str:
    """Serve the dashboard, behind a login when a password is given; never a share link, no API; returns the URL."""
    _, url, _ = app.launch(
        server_name=host,
        server_port=port,
        share=False,
        auth=(USER, password) if password else None,
        prevent_thread_lock=True,
        # The app's guard: only this host and loopback names, so a DNS-rebinding page cannot read the log.
        app_kwargs={"middleware": [Middleware(Guard, policy=Policy(allowed_hosts(host)))]},
        footer_links=[],
        css=CSS,
        quiet=True,
    )
    if block:
        print(f"Ask the Author monitoring is serving on {url}", flush=True)
        app.block_thread()
    return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant.monitor", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--log", type=log_target, default=default_log_path(), metavar="PATH|URL",
        help="query log, an SQLite file or a postgresql:// URL (default: state/queries.sqlite, $ASSISTANT_LOG)",
    )  # fmt: skip
    parser.add_argument("--host", default=DEFAULT_HOST, help="default: 127.0.0.1; beyond loopback needs --password")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"default: {DEFAULT_PORT}")
    parser.add_argument(
        "--password", help=f"login password for user {USER!r}; better given as ${PASSWORD_ENV}, out of `ps`"
    )
    parser.add_argument("--app", default=DEFAULT_APP, help=f"the app's address for links to answers ({DEFAULT_APP})")
    config.add_verbosity_arguments(parser)
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = config.parse(build_parser(), "monitor", argv)
    setup_logging(config.verbosity(args))
    if not is_loopback(args.host) and not args.password:
        raise BadInput(f"serving the dashboard on {args.host} (beyond loopback) needs --password")
    try:
        launch(build_dashboard(args.log, args.app), args.host, args.port, args.password)
    except OSError as error:
        raise Unavailable(f"cannot serve on {args.host}:{args.port}: {error}") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
