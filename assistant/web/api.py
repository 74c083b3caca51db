"""The plain JSON API for curl and scripts: `GET /api/search`, `GET /api/answer`, `POST /api/feedback`."""

from __future__ import annotations

import dataclasses
import os
import time

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from assistant.querylog import QueryLog, UnknownIdError
from assistant.searcher import Searcher
from assistant.web.contract import DEFAULT_RESULTS, MAX_ID_CHARS, RequestError, parse_request, parse_vote, related
from assistant.web.record import record_vote, search_and_log


def _error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def json_api(searcher: Searcher, log: QueryLog | None = None) -> APIRouter:
    """Routes under /api: search answers `{"answers", "related", "query_id", "took_ms"}`; bad input a 400.

    `related` holds the questions others asked nearby (RelatedQuestion fields), none of those answered in
    `answers`; /api/answer gives one answer by its stable id, or a 404; /api/feedback records a vote on a
    logged search (404 for an unknown query or answer, 503 with no log). Errors are `{"error": ...}`.
    """
    router = APIRouter(prefix="/api")
    # Searches run one per core, the rest wait in arrival order (anyio's limiter is first come, first
    # served): 20 searches at once sharing the GIL all finished late, queued ones finish in turn; it
    # roughly halved the 95th-percentile latency of `benchmarks/load.py --api json` (docs/research.md, Speed).
    searches = anyio.CapacityLimiter(os.cpu_count() or 1)

    @router.get("/search")
    async def search(
        q: str = "", k: str = str(DEFAULT_RESULTS), author: str = "", book: str = "", closest: str = "false"
    ) -> JSONResponse:
        return await anyio.to_thread.run_sync(run_search, q, k, author, book, closest, limiter=searches)

    def run_search(q: str, k: str, author: str, book: str, closest: str) -> JSONResponse:
        started = time.perf_counter()
        try:
            request = parse_request(searcher, q, k, author, book, closest)
        except RequestError as error:
            return _error(str(error), 400)
        logged = search_and_log(searcher, request, log, "json")
        nearby = related(searcher, request, logged.answers)
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(
            {
                "answers": [vars(answer) for answer in logged.answers],  # flat dataclasses: vars is asdict
                "related": [vars(question) for question in nearby],
                "query_id": logged.query_id,
                "took_ms": took_ms,
            }
        )

    @router.get("/answer")
    def answer(id: str = "") -> JSONResponse:
        unit = searcher.unit(id.strip()) if len(id) <= MAX_ID_CHARS else None
        if unit is None:
            return _error(f"no answer has the id {id[:MAX_ID_CHARS]!r}", 404)
        return JSONResponse(dataclasses.asdict(unit))

    @router.post("/feedback")
    async def feedback(request: Request) -> JSONResponse:
        if log is None:
            return _error("feedback is off: this app runs without a query log (--no-log)", 503)
        try:
            vote = parse_vote(await request.json())
        except ValueError as error:  # RequestError, or a body that is not JSON
            return _error(str(error) if isinstance(error, RequestError) else "the body must be JSON", 400)
        try:
            recorded = await run_in_threadpool(record_vote, log, vote)
        except UnknownIdError as error:
            return _error(str(error), 404)
        if not recorded:
            return _error("the query log cannot take votes right now; searches still work", 503)
        return JSONResponse({"recorded": True})

    return router
