"""The plain JSON API: GET /api/search answers with the Answer fields and took_ms; bad input is a 400 JSON error."""

from __future__ import annotations

import asyncio
import http.client
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.corpus.units import AnswerUnit
from assistant.searching.searcher import Answer, RelatedQuestion
from assistant.web.api import json_api


def _client(searcher) -> TestClient:
    app = FastAPI()
    app.include_router(json_api(searcher))
    return TestClient(app)


@pytest.fixture(scope="module")
def fake_client(fake_seed_searcher) -> TestClient:
    return _client(fake_seed_searcher)


def test_search_returns_answer_fields_and_timing(fake_client):
    response = fake_client.get("/api/search", params={"q": "startups MLOps", "k": 3, "closest": "true"})
    assert response.status_code == 200
    body = response.json()
    assert len(body["answers"]) == 3 and body["took_ms"] >= 0 and isinstance(body["related"], list)
    assert all(set(answer) == {f.name for f in fields(Answer)} for answer in body["answers"])


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"q": ""}, "question is empty"),
        ({"q": "   "}, "question is empty"),
        ({"q": "mlops", "k": "0"}, "k must be"),
        ({"q": "mlops", "k": "2.5"}, "k must be"),
        ({"q": "mlops", "k": "many"}, "k must be"),
        ({"q": "mlops", "closest": "perhaps"}, "closest must be"),
        ({"q": "mlops", "author": "Nobody"}, "author 'Nobody'"),
        ({"q": "x" * 25_000}, "the limit is"),
    ],
)
def test_bad_input_is_a_400_with_a_json_error(fake_client, params, message):
    response = fake_client.get("/api/search", params=params)
    assert response.status_code == 400
    assert message in response.json()["error"]


def test_missing_q_is_a_400(fake_client):
    response = fake_client.get("/api/search")
    assert response.status_code == 400 and "question is empty" in response.json()["error"]


@pytest.mark.slow
def test_mlops_question_gets_noah_gift_and_alfredo_deza(seed_searcher):
    response = _client(seed_searcher).get("/api/search", params={"q": "should startups do MLOps?"})
    assert response.status_code == 200
    assert {answer["author"] for answer in response.json()["answers"]} == {"Noah Gift", "Alfredo Deza"}
    related = response.json()["related"]
    assert len(related) == 5 and all(set(q) == {f.name for f in fields(RelatedQuestion)} for q in related)
    shown = {answer["question"] for answer in response.json()["answers"]}
    assert not shown & {q["question"] for q in related}


def test_answer_by_id_and_a_404_for_an_unknown_one(fake_client, fake_seed_searcher):
    unit = fake_seed_searcher.units[5]
    response = fake_client.get("/api/answer", params={"id": unit.id})
    assert response.status_code == 200 and response.json()["id"] == unit.id
    assert set(response.json()) == {f.name for f in fields(AnswerUnit)}
    response = fake_client.get("/api/answer", params={"id": "nope/1/x/0"})
    assert response.status_code == 404 and "no answer has the id 'nope/1/x/0'" in response.json()["error"]
    for bad, message in (("", "id is required"), ("x" * 10_000, "id is 10,000 characters long")):
        response = fake_client.get("/api/answer", params={"id": bad})
        assert response.status_code == 400 and message in response.json()["error"]


class _CountingSearcher:
    """A searcher whose searches take 50 ms and count how many run at once."""

    def __init__(self, searcher):
        self._searcher, self._lock = searcher, threading.Lock()
        self.running = self.most = 0

    def __getattr__(self, name: str):
        return getattr(self._searcher, name)

    def search(self, *args, **kwargs):
        with self._lock:
            self.running += 1
            self.most = max(self.most, self.running)
        try:
            time.sleep(0.05)
            return self._searcher.search(*args, **kwargs)
        finally:
            with self._lock:
                self.running -= 1


def test_concurrent_searches_run_one_per_core_and_all_answer(fake_seed_searcher):
    searcher = _CountingSearcher(fake_seed_searcher)
    app = FastAPI()
    app.include_router(json_api(searcher))
    cores = os.cpu_count() or 1

    async def ask_at_once() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
            questions = [{"q": f"startups MLOps {i}", "closest": "true"} for i in range(4 * cores)]
            return await asyncio.gather(*(client.get("/api/search", params=params) for params in questions))

    # A thread of its own: browser tests earlier in the session leave an event loop on this one.
    with ThreadPoolExecutor(max_workers=1) as thread:
        responses = thread.submit(asyncio.run, ask_at_once()).result()
    assert [response.status_code for response in responses] == [200] * 4 * cores
    assert searcher.most == cores


def _get(server_url: str, query: str) -> tuple[int, dict]:
    """GET /api/search?<query> over a plain socket (httpx refuses URLs over 64 KB; curl does not)."""
    host, port = server_url.removeprefix("http://").strip("/").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        connection.request("GET", f"/api/search?{query}")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.slow
def test_running_server_answers_json_and_rejects_bad_input_with_json(seed_searcher):
    from assistant.web.serve import start

    server = start(seed_searcher, "127.0.0.1")
    try:
        status, body = _get(server.url, urlencode({"q": "Should startups do MLOps?"}))
        assert status == 200 and {answer["author"] for answer in body["answers"]} == {"Noah Gift", "Alfredo Deza"}
        for params, message in [
            ({"q": "mlops", "k": "0"}, "k must be"),
            ({"q": ""}, "question is empty"),
            ({"q": "x" * 1_000_000}, "the limit is"),
        ]:
            status, body = _get(server.url, urlencode(params))
            assert status == 400 and message in body["error"]
    finally:
        server.stop()
