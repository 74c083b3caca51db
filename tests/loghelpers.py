"""Helpers for the query-log tests: a settable clock, a logged search, reading rows back, serving the dashboard."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from assistant.monitor import build_dashboard, launch
from assistant.service.querylog import LoggedQuery, Shown, connect_readonly
from load import HOST, free_port

DAY = 86400.0
T0 = 1_795_000_000.0  # a fixed "now" for tests that move the clock


class Clock:
    """A settable clock for the log."""

    def __init__(self, now: float = T0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def logged(question: str, ids: list[str], source: str = "page", **changes) -> LoggedQuery:
    """A search that showed `ids` with falling scores; no answer when `ids` is empty."""
    answers = tuple(Shown(answer_id, round(0.6 - 0.05 * rank, 4), "Good match") for rank, answer_id in enumerate(ids))
    return LoggedQuery(question, 5, source, answers, no_answer=not ids, latency_ms=31.5, **changes)


def rows(path: Path, sql: str) -> list[dict]:
    connection = connect_readonly(path)
    try:
        return [dict(row) for row in connection.execute(sql)]
    finally:
        connection.close()


@contextmanager
def serving_dashboard(log: Path) -> Iterator[str]:
    """The dashboard over `log`, in-process on a free loopback port."""
    app = build_dashboard(log)
    try:
        yield launch(app, HOST, free_port(), None, block=False)
    finally:
        app.close()
