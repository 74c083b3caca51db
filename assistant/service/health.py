"""Health and metrics for the web app and the Slack app: `GET /healthz` and `GET /metrics` (Prometheus' text format).

/healthz answers 200 with the served index's build, build time and answer count and whether the query log
writes, or 503 with the reason. /metrics answers a connection from loopback that no proxy forwarded, or any
request bearing the token in $ASSISTANT_METRICS_TOKEN (`Authorization: Bearer …`); else a 403. Each app keeps
its metrics in its own registry, so several apps in one process count apart. Neither route is logged or
rate limited.
"""

from __future__ import annotations

import datetime as dt
import hmac
import ipaddress
import os

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from assistant.searching.live import LiveSearcher
from assistant.service.contract import error_response
from assistant.service.querylog import QueryLog

TOKEN_ENV = "ASSISTANT_METRICS_TOKEN"
# Searches take milliseconds; the buckets reach the seconds a search takes on a busy machine.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One app's counters and histogram, in its own registry; `watch` adds the index's and the log's state."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.searches = Counter("ask_searches", "Searches, by way in", ["source"], registry=registry)
        self.no_answer = Counter("ask_no_answer", "Searches no answer was close to, by way in", ["source"],
                                 registry=registry)  # fmt: skip
        self.latency = Histogram("ask_search_seconds", "Search latency in seconds", buckets=LATENCY_BUCKETS,
                                 registry=registry)  # fmt: skip
        self.votes = Counter("ask_votes", "Votes recorded, by vote (helpful, not_helpful, none)", ["vote"],
                             registry=registry)  # fmt: skip
        self.rate_limited = Counter("ask_rate_limited", "Requests the rate limit refused", registry=registry)

    def searched(self, source: str, seconds: float, no_answer: bool) -> None:
        self.searches.labels(source).inc()
        self.latency.observe(seconds)
        if no_answer:
            self.no_answer.labels(source).inc()

    def voted(self, helpful: bool | None) -> None:
        """A recorded vote: helpful, not helpful, or None for 'none of these answer'."""
        self.votes.labels("none" if helpful is None else "helpful" if helpful else "not_helpful").inc()

    def refused(self) -> None:
        self.rate_limited.inc()

    def watch(self, live: LiveSearcher, log: QueryLog | None) -> None:
        """Read the served index's age, size and swaps, and the log's dropped rows, at each scrape."""
        self.registry.register(_StateCollector(live, log))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector:
    """Gauges and counters read from the live searcher and the query log when scraped."""

    def __init__(self, live: LiveSearcher, log: QueryLog | None):
        self.live = live
        self.log = log

    def collect(self):
        index = self.live.current().index
        age = GaugeMetricFamily("ask_index_age_seconds", "Seconds since the served index was built")
        age.add_metric([], _age_seconds(index.manifest.get("built_at")))
        yield age
        answers = GaugeMetricFamily("ask_index_answers", "Answers in the served index")
        answers.add_metric([], len(index.units))
        yield answers
        yield CounterMetricFamily("ask_index_swaps", "New index builds swapped in while serving", value=self.live.swaps)
        if self.log is not None:
            yield CounterMetricFamily("ask_log_rows_dropped", "Searches and votes the query log could not take",
                                      value=self.log.dropped)  # fmt: skip
            yield GaugeMetricFamily("ask_log_writing", "1 while the query log writes, else 0",
                                    value=int(self.log.available))  # fmt: skip


def _age_seconds(built_at: str | None) -> float:
    try:
        built = dt.datetime.fromisoformat(built_at or "")
    except ValueError:
        return float("nan")
    return (dt.datetime.now(dt.UTC) - built).total_seconds()


def health(live: LiveSearcher, log: QueryLog | None) -> tuple[int, dict]:
    """(200 or 503, the body): the served index's build, build time and answers, and whether the log writes."""
    index = live.current().index
    body = {
        "status": "ok",
        "index": {"build": index.build.name, "built_at": index.manifest.get("built_at"), "answers": len(index.units)},
        "log": None if log is None else {"writes": log.available, "rows_dropped": log.dropped},
    }
    problems = []
    if not index.units:
        problems.append("the served index holds no answers")
    if log is not None and not log.available:
        problems.append(f"the query log {log.name} is not writing; searches go on, unlogged")  # no password
    if problems:
        body.update(status="failing", error="; ".join(problems))
        return 503, body
    return 200, body


def health_routes(live: LiveSearcher, log: QueryLog | None, metrics: Metrics, token: str | None = None) -> list[Route]:
    """GET /healthz and GET /metrics, for any Starlette or FastAPI app."""
    token = token or None

    def healthz(request: Request) -> Response:
        status, body = health(live, log)
        return JSONResponse(body, status, headers={"Cache-Control": "no-store"})

    def metrics_page(request: Request) -> Response:
        if not _may_scrape(request, token):
            how = f" or with Authorization: Bearer ${TOKEN_ENV}" if token else f"; set ${TOKEN_ENV} to scrape from afar"
            return error_response(f"/metrics answers loopback connections no proxy forwarded{how}", 403)
        return Response(metrics.exposition(), media_type=CONTENT_TYPE_PLAIN_0_0_4)

    return [Route("/healthz", healthz, methods=["GET"]), Route("/metrics", metrics_page, methods=["GET"])]


def metrics_token() -> str | None:
    """The scrape token from $ASSISTANT_METRICS_TOKEN (kept out of the command line, where `ps` shows it)."""
    return os.environ.get(TOKEN_ENV, "").strip() or None


def _may_scrape(request: Request, token: str | None) -> bool:
    if token:
        given = request.headers.get("authorization", "")
        if hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
            return True
    if forwarded(request.scope):
        return False
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


FORWARDING_HEADERS = ("x-forwarded-for", "x-real-ip", "forwarded")  # any of them: the request came through a proxy


def forwarded(scope: dict) -> bool:
    """Whether a request names a forwarding header, so it came through a proxy (or says it did)."""
    return any(name.decode("latin-1").lower() in FORWARDING_HEADERS for name, _ in scope["headers"])
