"""The monitoring dashboard: its figures from a known log, escaping, binding rules, and a real browser."""

from __future__ import annotations

import dataclasses
import http.client
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from assistant.monitor import answer_source, every_query, is_loopback, main, read_dashboard
from assistant.service.contract import parse_request
from assistant.service.logdb import LogTarget, redact
from assistant.service.querylog import QueryLog
from assistant.service.record import search_and_log
from helpers import screenshot_path
from load import QUESTIONS
from loghelpers import DAY, T0, Clock, logged, serving_dashboard
from pgserver import PASSWORD

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures; log_target: SQLite, then PostgreSQL

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'


@pytest.fixture
def two_days(log_target, questions, unit_ids) -> LogTarget:
    """Day 1: 4 queries (1 unanswered), 3 votes (2 helpful); day 2: 2 queries, the hostile question unanswered twice."""
    path = log_target
    clock = Clock(T0 - DAY)
    log = QueryLog(path, clock=clock)
    day_one = [(questions[0], unit_ids[:3], "page", 10.0), (questions[0], unit_ids[:3], "json", 20.0),
               (questions[1], [], "mcp", 30.0), (questions[2], unit_ids[3:5], "gradio_api", 40.0)]  # fmt: skip
    ids = [log.record(dataclasses.replace(logged(q, a, s), latency_ms=ms)) for q, a, s, ms in day_one]
    log.vote(ids[0], unit_ids[0], helpful=True)
    log.vote(ids[1], unit_ids[0], helpful=False)
    log.vote(ids[3], unit_ids[3], helpful=True)
    clock.now = T0
    for _ in range(2):
        log.vote_none(log.record(logged(XSS, [], "page")))
    log.close()
    return path


def test_figures_per_day_and_by_source(two_days):
    board = read_dashboard(two_days)
    per_day = board.per_day.assign(day=board.per_day["day"].dt.strftime("%Y-%m-%d")).fillna(-1).to_dict("records")
    assert per_day == [
        {"day": "2026-11-17", "queries": 4, "no_answer_rate": 0.25, "helpful_share": pytest.approx(2 / 3)},
        {"day": "2026-11-18", "queries": 2, "no_answer_rate": 1.0, "helpful_share": -1},  # no votes that day
    ]
    latency = {(row.percentile, row.day.day): row.latency_ms for row in board.latency.itertuples()}
    assert latency[("p50", 17)] == 25.0 and latency[("p95", 17)] == pytest.approx(38.5)
    assert latency[("p50", 18)] == 31.5
    by_source = {(row.source, row.result): row.queries for row in board.by_source.itertuples()}
    assert by_source == {("page", "answered"): 1, ("page", "no answer"): 2, ("json", "answered"): 1,
                         ("mcp", "no answer"): 1, ("gradio_api", "answered"): 1}  # fmt: skip
    assert (
        "6 queries since 2026-11-17" in board.summary and "3 answer votes (2 helpful, 1 not helpful)" in board.summary
    )
    assert f"Log: {redact(two_days)}" in board.summary and PASSWORD not in board.summary


def test_a_database_that_cannot_be_reached_shows_one_line_without_the_password(pg_server):
    wrong = pg_server.url("postgres", password="wrong-secret")
    board = read_dashboard(wrong)
    assert "cannot read the query log postgresql://assistant:***@" in board.summary
    assert "password authentication failed" in board.summary and "wrong-secret" not in board.summary
    listed, _ = every_query(pg_server.url("no_such_database"))
    assert "database &quot;no_such_database&quot; does not exist" in listed and PASSWORD not in listed
    board = read_dashboard(pg_server.new_database())  # a database the app has not logged to yet
    assert "no query log in postgresql://assistant:***@" in board.summary


def test_tables_count_questions_and_escape_them(two_days, questions, unit_ids):
    board = read_dashboard(two_days)
    escaped = "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;"
    assert f"<td>{escaped}</td><td>2</td><td>2</td>" in board.most_asked
    assert f"<td>{questions[0]}</td><td>2</td><td>0</td>" in board.most_asked
    assert f"<td>{escaped}</td><td>2</td><td>2</td>" in board.unanswered
    assert f"<td>{questions[1]}</td><td>1</td><td>0</td>" in board.unanswered
    author, book = answer_source(unit_ids[0])
    assert f"<td>{author}</td><td>{book}</td><td>{questions[0]}</td><td>1</td><td>1</td>" in board.not_helpful
    assert unit_ids[3] not in board.not_helpful  # only ever marked helpful
    for table in (board.most_asked, board.unanswered, board.summary):
        assert "<script" not in table and "<img" not in table


def test_no_log_yet_shows_a_message_not_an_error(tmp_path):
    board = read_dashboard(tmp_path / "none.sqlite")
    assert "no query log at" in board.summary and board.per_day.empty and "Nothing yet" in board.most_asked


def test_an_unreadable_log_shows_a_message_not_an_error(tmp_path):
    path = tmp_path / "queries.sqlite"
    path.write_bytes(b"not a database " * 500)
    board = read_dashboard(path)
    assert "cannot read the query log" in board.summary
    assert board.latency.empty and "Nothing yet" in board.unanswered


HOSTS = [("127.0.0.1", True), ("localhost", True), ("::1", True), ("0.0.0.0", False), ("192.168.1.5", False),
         ("example.org", False)]  # fmt: skip


@pytest.mark.parametrize(("host", "loopback"), HOSTS)
def test_only_loopback_counts_as_local(host, loopback):
    assert is_loopback(host) is loopback


def test_serving_beyond_loopback_without_a_password_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ASSISTANT_MONITOR_PASSWORD", raising=False)
    assert main(["--log", str(tmp_path / "q.sqlite"), "--host", "0.0.0.0"]) == 2
    assert "needs --password" in capsys.readouterr().err


@pytest.mark.browser
def test_a_dns_rebinding_host_cannot_read_the_dashboard(two_days):
    """Issue 26, bug 4: on loopback without a password, a request naming another host is refused (403)."""
    with serving_dashboard(two_days) as url:
        port = urlsplit(url).port
        for host, status in [("evil.example", 403), (f"evil.example:{port}", 403), (f"127.0.0.1:{port}", 200)]:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("GET", "/", headers={"Host": host})
            response = connection.getresponse()
            body = response.read()
            connection.close()
            assert response.status == status, (host, body[:200])
        assert b"is not served here" not in body


def test_dashboard_in_a_browser_shows_hostile_questions_as_text(two_days, open_page):
    with serving_dashboard(two_days) as url:
        page, blocked = open_page(url)
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
        expect(page.locator("#unanswered")).to_contain_text(XSS)
        expect(page.locator("#most-asked")).to_contain_text(XSS)
        expect(page.locator("#summary")).to_contain_text("6 queries since")
        assert page.locator("#most-asked, #unanswered, #not-helpful").locator("script, img, [onerror]").count() == 0
        page.get_by_role("button", name="Refresh").click()
        expect(page.locator("#unanswered")).to_contain_text(XSS)
        assert page.evaluate("typeof window.__xss") == "undefined" and dialogs == []
        assert blocked == []


@pytest.fixture
def a_week_of_searches(tmp_path, seed_searcher, questions) -> Path:
    """A week of real searches over the seed from the four ways in, busier each day, some questions far more asked."""
    path = tmp_path / "queries.sqlite"
    clock = Clock()
    log = QueryLog(path, clock=clock)
    asked = QUESTIONS[:20] + questions[:30]
    for n in range(140):
        clock.now = T0 - 7 * DAY * (1 - (n / 140) ** 0.6)
        question = asked[int(len(asked) * ((n * 0.618) % 1) ** 2)]  # early (answerable) questions come up most
        request = parse_request(seed_searcher, question, 5, closest=n % 9 == 0)
        logged = search_and_log(seed_searcher, request, log, ("page", "page", "json", "gradio_api", "mcp")[n % 5])
        if logged.answers and n % 3 == 0:
            log.vote(logged.query_id, logged.answers[n % len(logged.answers)].id, helpful=n % 4 != 0)
        elif not logged.answers and n % 4 == 0:
            log.vote_none(logged.query_id)
    log.close()
    return path


@pytest.mark.browser
@pytest.mark.slow
def test_dashboard_of_a_week_and_a_screenshot(a_week_of_searches, open_page, tmp_path):
    with serving_dashboard(a_week_of_searches) as url:
        page, blocked = open_page(url, {"width": 1280, "height": 1000})
        expect(page.locator("#summary")).to_contain_text("140 queries since")
        for plot in ("Queries per day", "No-answer rate per day", "Helpful share of votes per day",
                     "Search latency per day", "Results by source"):  # fmt: skip
            expect(page.get_by_text(plot, exact=True)).to_be_visible()
        expect(page.locator("#not-helpful tbody tr").first).to_be_visible()
        page.wait_for_function(f"() => ({MARKS})().length === 5 && ({MARKS})().every((marks) => marks > 0)")
        page.screenshot(path=str(screenshot_path(tmp_path, "dashboard.png")), full_page=True)
        assert blocked == []


def test_a_large_log_is_read_in_bounded_memory(tmp_path):
    """Row 12: a 300k-query log took 1 GB per dashboard load: every row was read into pandas."""
    import sqlite3
    import tracemalloc

    path = tmp_path / "queries.sqlite"
    QueryLog(path).close()
    connection = sqlite3.connect(path)
    questions = [f"{QUESTIONS[n % len(QUESTIONS)]} (asked by client {n % 997}) " + "and more words " * 10
                 for n in range(50_000)]  # fmt: skip
    connection.executemany(
        "INSERT INTO queries (id, time, question, filters, k, no_answer, latency_ms, source)"
        " VALUES (?, ?, ?, '{}', 5, ?, ?, 'json')",
        [(f"{n:016x}", T0 - n % 30 * DAY, question, n % 7 == 0, 5.0 + n % 50) for n, question in enumerate(questions)],
    )
    connection.commit()
    connection.close()
    tracemalloc.start()
    try:
        board = read_dashboard(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "50,000 queries" in board.summary and len(board.per_day) == 30
    assert peak < 4_000_000, f"reading the dashboard took {peak / 1e6:.1f} MB"


def test_answers_marked_not_helpful_show_whose_from_which_book_and_a_link(two_days, unit_ids):
    board = read_dashboard(two_days, "http://app.example/")
    assert answer_source("20210830-practical-mlops/3/noah-gift/0") == ("Noah Gift", "20210830-practical-mlops")
    assert f'href="http://app.example/?answer={unit_ids[0]}"' in board.not_helpful
    assert f"<td>{unit_ids[0]}</td>" not in board.not_helpful


def test_the_same_question_with_other_punctuation_or_case_counts_once(log_target):
    path = log_target
    log = QueryLog(path)
    for question in ("should startups do MLOps?", "Should startups do  MLOps", "…should startups do mlops!"):
        log.record(logged(question, []))
    log.close()
    board = read_dashboard(path)
    assert board.most_asked.count("<tr>") == 2  # the header and one question
    assert "<td>3</td><td>3</td>" in board.most_asked


def test_every_query_is_listed_searchable_and_paged(log_target):
    path = log_target
    clock = Clock(T0)
    log = QueryLog(path, clock=clock)
    for n in range(60):
        clock.now = T0 + n
        log.record(logged(f"question {n} about {'spark' if n % 2 else 'mlops'} 100%_sure", []))
    log.close()
    first, page = every_query(path)
    assert page == 1 and "Page 1 of 3: 60 queries." in first and first.count("<tr>") == 26
    assert "question 59 about spark" in first and "question 34 " not in first  # newest first, 25 a page
    last, page = every_query(path, "", 99)
    assert page == 3 and "question 0 about mlops" in last
    spark, _ = every_query(path, "SPARK", 1)
    assert "30 queries matching “SPARK”" in spark and "mlops" not in spark
    assert "Page 1 of 1: 0 queries matching “s_re”" in every_query(path, "s_re")[0]  # _ is no wildcard: not "sure"
    assert "60 queries matching “100%_”" in every_query(path, "100%_")[0]


MARKS = """() => [...document.querySelectorAll('.vega-embed')]
  .map((plot) => plot.querySelectorAll('.mark-symbol path, .mark-rect path').length)"""


@pytest.mark.browser
def test_one_day_of_data_draws_every_plot_and_long_questions_leave_headers_on_one_line(tmp_path, open_page, unit_ids):
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    long_question = "How should a small startup with no platform team organize its machine learning work? " * 6
    query_id = log.record(logged(long_question, unit_ids[:3]))
    log.vote(query_id, unit_ids[0], helpful=False)
    log.record(logged(long_question, []))
    log.close()
    with serving_dashboard(path) as url:
        page, _ = open_page(url)
        expect(page.locator("#summary")).to_contain_text("2 queries since")
        page.wait_for_function(f"() => ({MARKS})().length === 5 && ({MARKS})().every((marks) => marks > 0)")
        for table in ("#most-asked", "#unanswered", "#not-helpful", "#every-query"):
            expect(page.locator(f"{table} th").first).to_be_visible()
            heights = page.locator(f"{table} th").evaluate_all(
                "(cells) => cells.map((cell) => cell.clientHeight / parseFloat(getComputedStyle(cell).lineHeight))"
            )
            assert max(heights) < 2, f"{table}: a header wraps ({heights})"
        expect(page.locator("#not-helpful a")).to_have_attribute("href", f"http://127.0.0.1:7860/?answer={unit_ids[0]}")


def test_two_web_apps_and_the_slack_app_writing_one_log_at_once_show_on_one_dashboard(log_target, questions, unit_ids):
    """Three processes' logs (three writers, three connections) on one log: nothing lost, votes per voter."""
    writers = {"page": QueryLog(log_target), "json": QueryLog(log_target), "slack": QueryLog(log_target)}
    start = threading.Barrier(len(writers))
    failures: list[str] = []

    def write(source: str) -> None:
        log = writers[source]
        start.wait()
        for n in range(20):
            query_id = log.record(logged(questions[n], unit_ids[:2], source))
            voters = ["a" * 32, "b" * 32] if source == "slack" else [""]  # Slack votes name their (hashed) voter
            for voter in voters:  # the second vote replaces that voter's first
                if not (log.vote(query_id, unit_ids[0], helpful=False, voter=voter)
                        and log.vote(query_id, unit_ids[0], helpful=True, voter=voter)):  # fmt: skip
                    failures.append(f"{source} {n}: a vote was not recorded")

    threads = [threading.Thread(target=write, args=(source,)) for source in writers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for log in writers.values():
        log.close()
    assert failures == []
    board = read_dashboard(log_target)
    by_source = {(row.source, row.result): row.queries for row in board.by_source.itertuples()}
    assert by_source == {("page", "answered"): 20, ("json", "answered"): 20, ("slack", "answered"): 20}
    assert "60 queries since" in board.summary and "80 answer votes (80 helpful, 0 not helpful)" in board.summary
