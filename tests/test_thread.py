"""The whole thread of an answer: from the index (Searcher.thread) and as JSON (GET /api/thread)."""

from __future__ import annotations

import dataclasses
import json
from html.parser import HTMLParser

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.searching.searcher import Thread
from assistant.web.api import json_api
from assistant.web.render import thread_html

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


class _Text(HTMLParser):
    """An element's text as the browser's textContent has it: the text nodes joined as they are."""

    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def _text_content(html_text: str) -> str:
    parser = _Text()
    parser.feed(html_text)
    return "".join(parser.parts)


def test_the_thread_view_keeps_each_speaker_apart_and_the_replies_line_breaks(fake_seed_searcher, books_by_id, people):
    """Engineering MLOps, Agrita Ga's question; Practical MLOps, Noah Gift's reply answering five quoted questions."""
    from assistant.corpus.units import answered_threads, build_units

    book = books_by_id["20210705-engineering-mlops"]
    threads = answered_threads(book, people, build_units(book, people))
    agrita = next(t for t in threads.values() if t[0].name == "Agrita Ga" and t[0].text.startswith("Do you believe"))
    shown = _text_content(thread_html(Thread(book.id, book.title, 0, book.url, "", "", tuple(agrita))))
    assert "Agrita Ga:\nDo you believe" in shown and "Emmanuel Raj author:\nYes" in shown
    assert "Agrita GaDo" not in shown
    noah = fake_seed_searcher.thread(next(u.id for u in fake_seed_searcher.units if u.id.endswith("/9/noah-gift/0")))
    shown = _text_content(thread_html(noah))
    assert "How to decide which tools to choose?\nwhatever is simple" in shown  # a line break, not a run-on
