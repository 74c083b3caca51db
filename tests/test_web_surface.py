"""The served app's surface as a client sees it, over loopback: Gradio API types, raw JSON, uploads, MCP.

The server runs in this process on the seed index built with the fake model (no model load).
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from gradio_client import Client

from assistant.web.serve import MAX_UPLOAD_BYTES, start

QUESTION = "Should startups do MLOps?"
UNANSWERED = "How do I train my puppy?"


@pytest.fixture(scope="module")
def app_url(fake_seed_searcher):
    server = start(fake_seed_searcher, "127.0.0.1")
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def client(app_url) -> Client:
    return Client(app_url, verbose=False)


def _search(client: Client, question: str, k: object = 5, author: object = "", book: object = "", closest=False):
    return client.predict(question, k, author, book, closest, api_name="/search")


def test_closest_false_as_text_is_false(client):
    """`closest="false"` counted as true and returned unrelated answers to the puppy question."""
    assert _search(client, UNANSWERED, closest=True)
    assert _search(client, UNANSWERED, closest="false") == []
    assert _search(client, UNANSWERED, closest="true") == _search(client, UNANSWERED, closest=True)


def test_k_that_is_not_a_whole_number_is_refused(client):
    """`k=2.5` returned 3 answers."""
    with pytest.raises(Exception, match=r"k must be a whole number from 1 to 20, got 2\.5"):
        _search(client, QUESTION, 2.5)


def test_whitespace_author_is_no_filter_and_unknown_names_are_errors(client):
    """A whitespace-only author returned [], which reads as "no answer"."""
    assert _search(client, QUESTION, 3, author="   ", closest=True) == _search(client, QUESTION, 3, closest=True)
    with pytest.raises(Exception, match="author 'Nobody' has no answers"):
        _search(client, QUESTION, author="Nobody")
    with pytest.raises(Exception, match="book 'Cooking' is not in the index"):
        _search(client, QUESTION, book="Cooking")


def test_lone_surrogate_over_http_is_a_json_error_saying_so(app_url):
    """A lone surrogate came back as `{"error": null}`."""
    body = b'{"data": ["\\ud800", 5, "", "", false]}'  # JSON may escape what UTF-8 cannot encode
    posted = httpx.post(f"{app_url}gradio_api/call/search", content=body, headers={"content-type": "application/json"})
    events = httpx.get(f"{app_url}gradio_api/call/search/{posted.json()['event_id']}", timeout=30).text
    assert "event: error" in events
    error = json.loads(events.split("data: ", 1)[1].splitlines()[0])["error"]
    assert error == "question is not valid text: it holds a lone surrogate at character 0"


def test_uploads_are_refused_beyond_a_small_limit(app_url):
    """The app takes no files, yet /gradio_api/upload accepted any size."""
    big = httpx.post(f"{app_url}gradio_api/upload", files={"files": ("a.txt", b"x" * (MAX_UPLOAD_BYTES + 1))})
    assert big.status_code == 413


def test_mcp_tool_answers_in_json(app_url):
    """MCP results came back as a Python repr (single quotes), which a client cannot parse as JSON."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call() -> str:
        async with (
            streamable_http_client(f"{app_url}gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            result = await session.call_tool("search", {"question": QUESTION, "k": 2, "closest": True})
            return result.content[0].text

    answers = json.loads(asyncio.run(asyncio.wait_for(call(), timeout=60)))
    assert len(answers) == 2 and {"author", "text", "book_title", "score"} <= set(answers[0])
