"""The plain JSON API for curl and scripts: `GET /api/search`, `/api/answer`, `/api/thread`, `/api/books`,
`/api/authors`, `/api/browse`, `POST /api/feedback`."""

from __future__ import annotations

import dataclasses
import os
import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from assistant.errors import AssistantError
from assistant.search.live import LiveSearcher, as_live
from assistant.search.searcher import Searcher
from assistant.service.contract import (
    DEFAULT_RESULTS,
    error_response,
    parse_answer_id,
    parse_json,
    parse_request,
    parse_vote,
    related,
    shown,
    weeks,
    whole,
)
from assistant.service.health import Metrics
from assistant.service.querylog import QueryLog
from assistant.service.record import record_vote, search_and_log


def json_api(
    searcher: Searcher | LiveSearcher, log: QueryLog | None = None, metrics: Metrics | None = None
) -> APIRouter:
    """Routes under /api: search answers `{"answers", "related", "query_id", "took_ms"}`; bad input a 400.

    `related` holds the questions others asked nearby (RelatedQuestion fields), none of those answered in
    `answers`; /api/answer gives one answer by its stable id, or a 404; /api/thread its whole thread (400 without
    an id, 404 for an unknown one); /api/feedback records a vote on a logged search (404 for an unknown query or
    answer, 503 with no log). Errors are `{"error": ...}`; the rules every route shares (hosts, methods, sizes,
    rate) are the guard's (assistant/web/guard.py). Each request reads the live searcher's current index.
    """
    live = as_live(searcher)
    router = APIRouter(prefix="/api")
    # Searches run one per core, the rest wait in arrival order (anyio's limiter is first come, first
    # served): 20 searches at once sharing the GIL all finished late, queued ones finish in turn; it
    # roughly halved the 95th-percentile latency of `benchmarks/load.py --api json` (docs/research.md, Speed).
    searches = anyio.CapacityLimiter(os.cpu_count() or 1)

    @router.get("/search")
    async def search(
        q: str = "",
        k: str = str(DEFAULT_RESULTS),
        author: str = "",
        book: str = "",
        closest: str = "false",
        since: str = "",
        until: str = "",
    ) -> Response:
        return await anyio.to_thread.run_sync(run_search, q, k, author, book, closest, since, until, limiter=searches)

    def run_search(q: str, k: str, author: str, book: str, closest: str, since: str, until: str) -> Response:
        started = time.perf_counter()
        searcher = live.current()
        try:
            request = parse_request(searcher, q, k, author, book, closest, since, until)
        except AssistantError as error:
            return error_response(str(error), error.http_status)
        logged = search_and_log(searcher, request, log, "json", metrics)
        nearby = related(searcher, request, logged.answers)
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(
            {
                "answers": [vars(answer) for answer in logged.answers],  # flat dataclasses: vars is asdict
                "related": [vars(question) for question in nearby],
                "none_close": logged.none_close,  # the page's "None of these is a close match", the log's no answer
                "query_id": logged.query_id,
                "took_ms": took_ms,
            }
        )

    def by_id(id: str, lookup) -> Response:
        """What `lookup` finds for an answer id, as JSON; 400 for a missing or bad id, 404 when there is none."""
        try:
            found = lookup(parse_answer_id(id))
        except AssistantError as error:
            return error_response(str(error), error.http_status)
        if found is None:
            return error_response(f"no answer has the id {shown(id.strip())}", 404)
        return JSONResponse(dataclasses.asdict(found))

    @router.get("/books")
    def books() -> Response:
        return JSONResponse({"books": [vars(week) for week in live.current().book_weeks]})

    @router.get("/authors")
    def authors() -> Response:
        return JSONResponse({"authors": [vars(shelf) for shelf in live.current().author_shelves]})

    @router.get("/browse")
    def browse(
        author: str = "", book: str = "", since: str = "", until: str = "", offset: str = "0", limit: str = "20"
    ) -> Response:
        searcher = live.current()
        try:
            first, last = weeks(since, until)
            shelf = searcher.browse(
                author=author.strip() or None,
                book=book.strip() or None,
                since=first,
                until=last,
                offset=whole(offset, "offset", 0, 10**6),
                limit=whole(limit, "limit", 1, 100),
            )
        except ValueError as error:  # RequestError is one; so is a filter that keeps no answer
            return error_response(str(error), 400)
        found = {"answers": [vars(unit) for unit in shelf.answers], "total": shelf.total, "offset": shelf.offset}
        return JSONResponse(found)  # fmt: skip

    @router.get("/answer")
    def answer(id: str = "") -> Response:
        return by_id(id, live.current().unit)

    @router.get("/thread")
    def thread(id: str = "") -> Response:
        return by_id(id, live.current().thread)

    @router.post("/feedback")
    async def feedback(request: Request) -> Response:
        if log is None:
            return error_response("feedback is off: this app runs without a query log (--no-log)", 503)
        try:
            vote = parse_vote(parse_json(await request.body()))
            recorded = await run_in_threadpool(record_vote, log, vote, metrics)
        except AssistantError as error:  # a bad vote 400, an unknown id 404, the log down 503: errors.py says which
            return error_response(str(error), error.http_status)
        if not recorded:
            return error_response("the query log could not record this vote right now; searches still work", 503)
        return JSONResponse({"recorded": True})

    return router


def api_routes(router: APIRouter) -> dict[str, frozenset[str]]:
    """Each route's path and methods, for the guard's 404 and 405 on every /api/ route, present and future."""
    return {route.path: frozenset(route.methods) for route in router.routes}
