"""The plain JSON API for curl and scripts: `GET /api/search?q=…&k=5&author=…&book=…&closest=false`."""

from __future__ import annotations

import dataclasses
import time

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from assistant.searcher import Searcher
from assistant.web.contract import DEFAULT_RESULTS, RequestError, parse_request, run


def json_api(searcher: Searcher) -> APIRouter:
    """Routes under /api: search answers `{"answers": [...], "took_ms": ...}`, bad input a 400 `{"error": ...}`."""
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
        answers = [dataclasses.asdict(answer) for answer in run(searcher, request)]
        took_ms = round((time.perf_counter() - started) * 1000, 1)
        return JSONResponse({"answers": answers, "took_ms": took_ms})

    return router
