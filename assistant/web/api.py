"""The plain JSON API for curl and scripts: `GET /api/search?q=…&k=5&author=…&book=…&closest=false`, `/api/answer`."""

from __future__ import annotations

import dataclasses
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.searcher import Searcher
from assistant.web.contract import DEFAULT_RESULTS, MAX_ID_CHARS, RequestError, parse_request, related, run


def json_api(searcher: Searcher) -> APIRouter:
    """Routes under /api: search answers `{"answers": [...], "related": [...], "took_ms": ...}`, bad input a 400.

    `related` holds the questions others asked nearby (RelatedQuestion fields), none of those answered in
    `answers`; /api/answer gives one answer by its stable id, or a 404. Errors are `{"error": ...}`.
    """
    router = APIRouter(prefix="/api")

    @router.get("/search")
    def search(
        q: str = "", k: str = str(DEFAULT_RESULTS), author: str = "", book: str = "", closest: str = "false"
    ) -> JSONResponse:
        started = time.perf_counter()
        try:
            request = parse_request(searcher, q, k, author, book, closest)
        except RequestError as error:
            return JSONResponse({"error": str(error)}, status_code=400)
        answers = run(searcher, request)
        nearby = related(searcher, request, answers)
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse(
            {
                "answers": [dataclasses.asdict(answer) for answer in answers],
                "related": [dataclasses.asdict(question) for question in nearby],
                "took_ms": took_ms,
            }
        )

    @router.get("/answer")
    def answer(id: str = "") -> JSONResponse:
        unit = searcher.unit(id.strip()) if len(id) <= MAX_ID_CHARS else None
        if unit is None:
            return JSONResponse({"error": f"no answer has the id {id[:MAX_ID_CHARS]!r}"}, status_code=404)
        return JSONResponse(dataclasses.asdict(unit))

    return router
