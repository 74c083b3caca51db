"""The whole thread of an answer: from the index (Searcher.thread) and as JSON (GET /api/thread)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.web.api import json_api

# Practical MLOps, thread 26: Tim Becker asks, Alfredo Deza answers, his co-author Noah Gift adds to it.
THREAD = "20210830-practical-mlops/26"


def _answer_id(searcher, author: str) -> str:
    return next(u.id for u in searcher.units if f"{u.book}/{u.thread}" == THREAD and u.author == author)


def test_a_thread_holds_every_message_in_archive_order_with_the_co_authors_reply_marked(fake_seed_searcher):
    thread = fake_seed_searcher.thread(_answer_id(fake_seed_searcher, "Alfredo Deza"))
    assert (thread.book, thread.book_title) == ("20210830-practical-mlops", "Practical MLOps")
    assert thread.asker == "Tim Becker"
    assert thread.question.startswith(thread.messages[0].text[:40])
    assert [(m.name, m.is_author) for m in thread.messages] == [
        ("Tim Becker", False),
        ("Alfredo Deza", True),
        ("Noah Gift", True),
        ("Tim Becker", False),
    ]
    assert thread.messages[2].text == "cookbook in particular is a good recipe"
    assert fake_seed_searcher.thread(_answer_id(fake_seed_searcher, "Noah Gift")).messages == thread.messages


def test_no_thread_for_an_unknown_answer(fake_seed_searcher):
    assert fake_seed_searcher.thread("20210830-practical-mlops/999/noah-gift/0") is None


@pytest.fixture(scope="module")
def client(fake_seed_searcher) -> TestClient:
    app = FastAPI()
    app.include_router(json_api(fake_seed_searcher))
    return TestClient(app)


def test_api_returns_the_thread_as_json(client, fake_seed_searcher):
    answer_id = _answer_id(fake_seed_searcher, "Noah Gift")
    response = client.get("/api/thread", params={"id": answer_id})
    assert response.status_code == 200
    body = response.json()
    assert body == json.loads(json.dumps(dataclasses.asdict(fake_seed_searcher.thread(answer_id))))
    assert set(body) >= {"book", "book_title", "question", "asker", "messages"}
    assert [m["is_author"] for m in body["messages"]] == [False, True, True, False]
    assert set(body["messages"][0]) == {"name", "text", "is_author"}


@pytest.mark.parametrize(("params", "status"), [({}, 400), ({"id": "  "}, 400), ({"id": "nope/1/x/0"}, 404)])
def test_api_thread_errors_are_json(client, params, status):
    response = client.get("/api/thread", params=params)
    assert response.status_code == status and response.headers["content-type"] == "application/json"
    assert response.json()["error"]
