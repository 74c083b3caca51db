"""Logging and votes through every way in: JSON API, page, Gradio API and MCP, on the seed with the fake model.

Includes 20 concurrent HTTP clients x 25 questions, each with votes, against one served app. Tests that take
`log` run once with an SQLite log and once with a PostgreSQL one.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from gradio_client import Client

from app import parse_args
from assistant.indexing.recipe import relevance
from assistant.service.querylog import QueryLog
from assistant.web.api import json_api
from assistant.web.page import LOGGED_LINE, build_page, respond
from assistant.web.serve import start
from helpers import REPO, run_async
from load import HOST, QUESTIONS
from loghelpers import rows

QUESTION = "Should startups do MLOps?"


pytest_plugins = ["logfixtures"]  # log_target: an SQLite file, then a PostgreSQL database


@pytest.fixture
def log(log_target) -> QueryLog:
    log = QueryLog(log_target)
    yield log
    log.close()


def _rows(log: QueryLog, sql: str) -> list[dict]:
    """The log's rows once the writer has written what was queued."""
    assert log.flush()
    return rows(log.path, sql)


def _client(searcher, log: QueryLog | None) -> TestClient:
    app = FastAPI()
    app.include_router(json_api(searcher, log))
    return TestClient(app)


def _search(client: TestClient, q: str = QUESTION, **params) -> dict:
    response = client.get("/api/search", params={"q": q, "closest": "true", **params})
    assert response.status_code == 200, response.text
    return response.json()


def test_json_search_is_logged_and_carries_its_query_id(fake_seed_searcher, log):
    body = _search(_client(fake_seed_searcher, log), k=3, author="Noah Gift")
    [query] = _rows(log, "SELECT * FROM queries")
    assert body["query_id"] == query["id"] and query["source"] == "json" and query["k"] == 3
    assert query["question"] == QUESTION and query["filters"] == '{"author": "Noah Gift", "closest": true}'
    shown = _rows(log, "SELECT answer_id, score FROM shown ORDER BY rank")
    assert [(s["answer_id"], s["score"]) for s in shown] == [(a["id"], a["score"]) for a in body["answers"]]


def test_votes_one_per_answer_and_none_of_these(fake_seed_searcher, log):
    client = _client(fake_seed_searcher, log)
    body = _search(client)
    first, second = body["answers"][0]["id"], body["answers"][1]["id"]

    def vote(answer_id, helpful):
        return client.post("/api/feedback", json={"query_id": body["query_id"], "answer_id": answer_id,
                                                  "helpful": helpful})  # fmt: skip

    assert vote(first, False).json() == {"recorded": True}
    assert vote(first, True).status_code == 200  # changes the first vote
    assert vote(second, False).status_code == 200
    assert vote(None, False).status_code == 200  # none of these answer
    votes = _rows(log, "SELECT answer_id, helpful FROM votes")
    assert sorted((v["answer_id"], v["helpful"]) for v in votes) == sorted([(first, 1), (second, 0)])
    assert len(_rows(log, "SELECT * FROM none_votes")) == 1


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"query_id": "0123456789abcdef", "answer_id": "x", "helpful": True}, 404, "unknown query_id"),
        ({"answer_id": "nope", "helpful": True}, 404, "did not show answer_id 'nope'"),
        ({"helpful": "yes"}, 400, "helpful must be true or false"),
        ({"answer_id": None, "helpful": True}, 400, "helpful must be false when answer_id is null"),
        ({"query_id": ""}, 400, "query_id must be"),
        ([], 400, "feedback must be a JSON object"),
    ],
)
def test_bad_or_unknown_votes_get_a_json_error(fake_seed_searcher, log, body, status, message):
    client = _client(fake_seed_searcher, log)
    if isinstance(body, dict) and "query_id" not in body:
        body = {"query_id": _search(client)["query_id"], **body}
    response = client.post("/api/feedback", json=body)
    assert response.status_code == status and message in response.json()["error"]


def test_a_body_that_is_not_json_is_a_400(fake_seed_searcher, log):
    response = _client(fake_seed_searcher, log).post("/api/feedback", content=b"query_id=1")
    assert response.status_code == 400 and response.json() == {"error": "the body must be JSON"}


def test_without_a_log_search_has_no_query_id_and_votes_are_a_503(fake_seed_searcher):
    client = _client(fake_seed_searcher, None)
    assert _search(client)["query_id"] is None
    response = client.post("/api/feedback", json={"query_id": "x", "answer_id": None, "helpful": False})
    assert response.status_code == 503 and "--no-log" in response.json()["error"]


def test_the_page_logs_its_searches_and_puts_vote_buttons_on_cards(fake_seed_searcher, log):
    html, *_ = respond(fake_seed_searcher, QUESTION, "", "", 3, closest=True, log=log)
    [query] = _rows(log, "SELECT id, source FROM queries")
    assert query["source"] == "page" and f'data-query-id="{query["id"]}"' in html
    assert html.count(">Helpful</button>") == 3 and html.count(">Not helpful</button>") == 3
    assert html.count("None of these answer my question") == 1
    plain, *_ = respond(fake_seed_searcher, QUESTION, "", "", 3, closest=True)
    assert "ata-vote" not in plain and "data-query-id" not in plain


@pytest.mark.parametrize(("confidences", "noted"), [((0.1, 0.25, 0.1), True), ((0.1, 0.65, 0.35), False)])
def test_the_page_notes_no_close_match_only_when_every_card_is_unlikely_and_logs_its_labels(
    fake_seed_searcher, log, monkeypatch, confidences, noted
):
    answers = fake_seed_searcher.search(QUESTION, 3, min_score=0)
    shown = [dataclasses.replace(answer, confidence=c) for answer, c in zip(answers, confidences, strict=False)]
    monkeypatch.setattr(fake_seed_searcher, "search", lambda *args, **kwargs: shown)
    html, *_ = respond(fake_seed_searcher, QUESTION, "", "", 3, log=log)
    assert ("None of these is a close match" in html) is noted
    labels = [row["confidence"] for row in _rows(log, "SELECT confidence FROM shown ORDER BY rank")]
    assert labels == [relevance(c).label for c in confidences]


def test_the_page_says_questions_are_logged_only_when_they_are(fake_seed_searcher, log):
    assert LOGGED_LINE in str(build_page(fake_seed_searcher, log).config)
    assert LOGGED_LINE not in str(build_page(fake_seed_searcher).config)


def test_gradio_api_and_mcp_searches_are_logged_with_their_source_and_can_vote(fake_seed_searcher, log):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    server = start(fake_seed_searcher, HOST, log=log)
    try:
        client = Client(server.url, verbose=False)
        answers = client.predict(QUESTION, 2, "", "", True, api_name="/search")
        assert client.predict(answers[0]["query_id"], answers[0]["id"], False, api_name="/feedback") == "recorded"

        async def call() -> list[str]:
            async with (
                streamable_http_client(f"{server.url}gradio_api/mcp/") as (read, write, _),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                tools = [tool.name for tool in (await session.list_tools()).tools]
                await session.call_tool("search", {"question": QUESTION, "k": 2, "closest": True})
                return tools

        tools = run_async(asyncio.wait_for(call(), timeout=60))
    finally:
        server.stop()
    assert sorted(tools) == ["feedback", "search"]
    sources = [q["source"] for q in _rows(log, "SELECT source FROM queries ORDER BY time")]
    assert sources == ["gradio_api", "mcp"]
    assert _rows(log, "SELECT answer_id, helpful FROM votes") == [{"answer_id": answers[0]["id"], "helpful": 0}]


def test_20_clients_x_25_questions_with_votes_over_http(fake_seed_searcher, log, capsys):
    server = start(fake_seed_searcher, HOST, log=log, rate_limit=None)  # 20 clients on one address

    def client(n: int) -> list[str]:
        errors = []
        with httpx.Client(base_url=server.url, timeout=60) as http:
            for i in range(25):
                question = QUESTIONS[(n + i) % len(QUESTIONS)]
                body = http.get("api/search", params={"q": question, "k": 3, "closest": "true"}).json()
                first = body["answers"][0]["id"]
                for answer_id, helpful in ((first, False), (first, True), (None, False)):
                    vote = {"query_id": body["query_id"], "answer_id": answer_id, "helpful": helpful}
                    response = http.post("api/feedback", json=vote)
                    if response.status_code != 200:
                        errors.append(f"client {n} question {i}: {response.status_code} {response.text}")
        return errors

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(20) as pool:
            errors = [error for errors in pool.map(client, range(20)) for error in errors]
    finally:
        server.stop()
    seconds = time.perf_counter() - started
    assert errors == []
    assert "database is locked" not in capsys.readouterr().err
    assert _rows(log, "SELECT count(*) AS n FROM queries") == [{"n": 500}]
    assert _rows(log, "SELECT count(*) AS n, sum(helpful) AS helpful FROM votes") == [{"n": 500, "helpful": 500}]
    assert _rows(log, "SELECT count(*) AS n FROM none_votes") == [{"n": 500}]
    print(f"500 searches and 1,500 votes from 20 clients in {seconds:.1f} s")


def test_an_unwritable_log_warns_once_and_searches_still_answer(fake_seed_searcher, tmp_path, capsys):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be", encoding="utf-8")
    client = _client(fake_seed_searcher, QueryLog(blocker / "queries.sqlite"))
    bodies = [_search(client) for _ in range(3)]
    assert all(body["answers"] and body["query_id"] is None for body in bodies)
    vote = client.post("/api/feedback", json={"query_id": "0123456789abcdef", "answer_id": None, "helpful": False})
    assert vote.status_code == 503 and "could not record this vote" in vote.json()["error"]
    assert capsys.readouterr().err.count("warning: query log") == 1


def test_a_corrupt_log_is_moved_aside_and_the_app_logs_to_a_new_one(fake_seed_searcher, tmp_path, capsys):
    path = tmp_path / "queries.sqlite"
    path.write_bytes(b"not a database " * 1000)
    log = QueryLog(path)
    body = _search(_client(fake_seed_searcher, log))
    log.close()
    [aside] = tmp_path.glob("queries.sqlite.corrupt-*")
    assert str(aside) in capsys.readouterr().err
    assert rows(path, "SELECT id FROM queries") == [{"id": body["query_id"]}]


def test_search_from_python_logs_nothing(fake_seed_searcher, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert fake_seed_searcher.search(QUESTION, 3, min_score=0)
    assert list(tmp_path.iterdir()) == []


def test_app_log_options(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSISTANT_LOG", raising=False)
    args = parse_args([])
    assert (args.log, args.no_log, args.log_days) == (Path("state/queries.sqlite"), False, 90)
    args = parse_args(["--log", str(tmp_path / "q.sqlite"), "--log-days", "7"])
    assert (args.log, args.log_days) == (tmp_path / "q.sqlite", 7)
    assert parse_args(["--no-log"]).no_log
    url = "postgresql://ask:pw@db.internal:5432/asklog"
    assert parse_args(["--log", url]).log == url
    monkeypatch.setenv("ASSISTANT_LOG", url)
    assert parse_args([]).log == url
    from assistant.slack.__main__ import default_voter_key
    from assistant.slack.__main__ import parse_args as slack_args

    assert slack_args(["--log", url]).log == url
    settings = tmp_path / "ask.toml"
    settings.write_text(f'[common]\nlog = "{url}"\n', encoding="utf-8")
    monkeypatch.delenv("ASSISTANT_LOG")
    assert parse_args(["--config", str(settings)]).log == url and slack_args(["--config", str(settings)]).log == url
    monkeypatch.chdir(tmp_path)
    assert default_voter_key(url) == Path("state/slack.voter-key") and (tmp_path / "state").is_dir()
    assert default_voter_key(tmp_path / "q.sqlite") == tmp_path / "q.sqlite.voter-key"


@pytest.mark.parametrize("argv", [["--log-days", "0"], ["--no-log", "--log", "x.sqlite"]])
def test_bad_log_options_exit_2(argv):
    done = subprocess.run([sys.executable, "app.py", *argv], cwd=REPO, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"})  # fmt: skip
    assert done.returncode == 2 and ("--log-days must be at least 1" in done.stderr or "not allowed" in done.stderr)
