"""The monitoring dashboard: its figures from a known log, escaping, binding rules, and a real browser."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assistant.monitor import build_dashboard, is_loopback, launch, main, read_dashboard
from assistant.querylog import QueryLog
from loghelpers import DAY, T0, Clock, logged

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures

XSS = '<script>window.__xss=1</script><img src=x onerror="window.__xss=2">'
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture
def two_days(tmp_path, questions, unit_ids) -> Path:
    """Day 1: 4 queries (1 unanswered), 3 votes (2 helpful); day 2: 2 queries, the hostile question unanswered twice."""
    path = tmp_path / "queries.sqlite"
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
    assert "6 queries since 2026-11-17" in board.summary and "3 votes (2 helpful, 1 not helpful)" in board.summary


def test_tables_count_questions_and_escape_them(two_days, questions, unit_ids):
    board = read_dashboard(two_days)
    escaped = "&lt;script&gt;window.__xss=1&lt;/script&gt;&lt;img src=x onerror=&quot;window.__xss=2&quot;&gt;"
    assert f"<td>{escaped}</td><td>2</td><td>2</td>" in board.most_asked
    assert f"<td>{questions[0]}</td><td>2</td><td>0</td>" in board.most_asked
    assert f"<td>{escaped}</td><td>2</td><td>2</td>" in board.unanswered
    assert f"<td>{questions[1]}</td><td>1</td><td>0</td>" in board.unanswered
    assert f"<td>{unit_ids[0]}</td><td>1</td><td>1</td><td>{questions[0]}</td>" in board.not_helpful
    assert unit_ids[3] not in board.not_helpful  # only ever marked helpful
    for table in (board.most_asked, board.unanswered, board.summary):
        assert "<script" not in table and "<img" not in table


def test_no_log_yet_shows_a_message_not_an_error(tmp_path):
    board = read_dashboard(tmp_path / "none.sqlite")
    assert "no query log at" in board.summary and board.per_day.empty and "Nothing yet" in board.most_asked


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
def test_dashboard_in_a_browser_shows_hostile_questions_as_text(two_days):
    from playwright.sync_api import expect, sync_playwright

    from assistant.loadtest import HOST, free_port

    app = build_dashboard(two_days)
    url = launch(app, HOST, free_port(), None, block=False)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            blocked: list[str] = []
            page.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).hostname == HOST
                       else (blocked.append(route.request.url), route.abort()))  # fmt: skip
            dialogs: list[str] = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            page.goto(url)
            expect(page.locator("#unanswered")).to_contain_text(XSS)
            expect(page.locator("#most-asked")).to_contain_text(XSS)
            expect(page.locator("#summary")).to_contain_text("6 queries since")
            assert page.locator("#most-asked, #unanswered, #not-helpful").locator("script, img, [onerror]").count() == 0
            assert page.evaluate("typeof window.__xss") == "undefined" and dialogs == []
            assert blocked == []
            browser.close()
    finally:
        app.close()
