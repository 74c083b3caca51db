"""The query log on a real PostgreSQL server that fails: stopped under load, a connection killed mid-batch, a bad login.

Each test runs its own server (it stops or breaks it). A search must never fail or wait on the log; rows are
lost only when counted as dropped; nothing is written twice; the URL's password is never printed.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.monitor import read_dashboard
from assistant.searching.live import LiveSearcher
from assistant.service import querylog
from assistant.service.health import Metrics, health
from assistant.service.querylog import QueryLog
from assistant.web.api import json_api
from assistant.web.serve import start
from helpers import deadline
from load import HOST, QUESTIONS
from loghelpers import logged, rows
from pgserver import PASSWORD, PgServer

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures


@pytest.fixture
def server() -> Iterator[PgServer]:
    server = PgServer()
    yield server
    server.close()


def _client(searcher, log: QueryLog) -> TestClient:
    app = FastAPI()
    app.include_router(json_api(searcher, log))
    return TestClient(app)


def _count(url: str, table: str = "queries") -> int:
    return rows(url, f"SELECT count(*) AS n FROM {table}")[0]["n"]


def test_a_server_stopped_under_20_clients_costs_no_search_and_rows_after_it_returns_are_written(
    fake_seed_searcher, server, capsys, monkeypatch
):
    monkeypatch.setattr(querylog, "VOTE_WAIT_S", 1.0)  # a vote during the outage is refused sooner
    url = server.new_database()
    log = QueryLog(url)
    served = start(fake_seed_searcher, HOST, log=log, rate_limit=None)  # 20 clients on one address
    done = threading.Condition()
    searches: list[int] = [0]
    stopped, back = threading.Event(), threading.Event()
    after: list[str] = []  # query ids of searches made once the server was back
    failures: list[str] = []

    def user(n: int) -> None:
        with httpx.Client(base_url=served.url, timeout=60) as http:
            for i in range(25):
                if i == 15:
                    stopped.wait(60)
                if i == 20:
                    back.wait(60)
                question = QUESTIONS[(n + i) % len(QUESTIONS)]
                response = http.get("api/search", params={"q": question, "closest": "true"})
                if response.status_code != 200 or not response.json()["answers"]:
                    failures.append(f"client {n} search {i}: {response.status_code}")
                elif i >= 20:
                    after.append(response.json()["query_id"])
                with done:
                    searches[0] += 1
                    done.notify_all()

    def reached(count: int) -> None:
        with done:
            assert done.wait_for(lambda: searches[0] >= count, timeout=120), f"{searches[0]} searches"

    clients = [threading.Thread(target=user, args=(n,)) for n in range(20)]
    for thread in clients:
        thread.start()
    reached(100)
    server.stop()  # while the others search on
    stopped.set()
    reached(400)  # every client has searched with the server down
    vote = httpx.post(f"{served.url}api/feedback", json={"query_id": "0" * 16, "answer_id": None, "helpful": False},
                      timeout=60)  # fmt: skip
    server.start()
    back.set()
    for thread in clients:
        thread.join()
    served.stop()
    assert failures == [] and len(after) == 100
    assert log.flush(60)
    assert log.available
    log.close()
    assert vote.status_code == 503  # a vote that cannot be written in time is refused, and counted
    assert set(after) <= {row["id"] for row in rows(url, "SELECT id FROM queries")}
    assert log.dropped == 1 and _count(url) == 500  # the queue had room: every search's row waited and was written
    err = capsys.readouterr().err
    assert err.count("warning: query log") == 1 and "cannot reach its server" in err and "writing again" in err
    assert PASSWORD not in err and "postgresql://assistant:***@" in err


def test_a_connection_killed_mid_batch_writes_every_row_once(server, capsys, questions, unit_ids):
    url = server.new_database()
    log = QueryLog(url)
    first = log.record(logged(questions[0], unit_ids[:3]))
    log.flush()
    blocker = psycopg.connect(url, autocommit=True)
    blocker.execute("BEGIN")
    blocker.execute("LOCK TABLE none_votes IN ACCESS EXCLUSIVE MODE")  # the writer's batch stops at its none vote
    ids = [log.record(logged(question, unit_ids[:3])) for question in questions[1:41]]
    none_vote = threading.Thread(target=lambda: results.append(log.vote_none(first)))
    results: list[bool] = []
    none_vote.start()
    ids += [log.record(logged(question, unit_ids[3:5])) for question in questions[41:81]]
    with deadline(60):
        while not (waiting := blocker.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).fetchall()):  # fmt: skip
            pass
    [[writer]] = waiting
    with psycopg.connect(server.url(), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (writer,)).fetchone() == (True,)
    blocker.execute("ROLLBACK")
    blocker.close()
    none_vote.join()
    assert log.flush(60) and results == [True]
    log.close()
    assert None not in ids and log.dropped == 0
    assert _count(url) == 81 and _count(url, "none_votes") == 1
    assert rows(url, "SELECT count(*) AS n, count(DISTINCT query_id) AS queries FROM shown") == [
        {"n": 3 + 40 * 3 + 40 * 2, "queries": 81}
    ]
    assert "cannot reach its server" in capsys.readouterr().err


def test_a_malformed_url_is_one_line_without_its_password(capsys, questions):
    log = QueryLog("postgresql://ask:top%40secret@127.0.0.1:notaport/asklog")
    log.flush()
    assert log.record(logged(questions[0], [])) is None and not log.available
    log.close()
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("warning: query log postgresql://ask:***@127.0.0.1:notaport/asklog: cannot open it (")
    assert 'invalid integer value "notaport"' in line and "secret" not in line


@pytest.mark.parametrize("wrong", ["password", "database"])
def test_a_wrong_password_or_database_at_start_is_one_line_and_the_app_still_serves(
    fake_seed_searcher, server, capsys, wrong
):
    url = server.url(password="not-the-password") if wrong == "password" else server.url("no_such_log")
    log = QueryLog(url)
    client = _client(fake_seed_searcher, log)
    log.flush()
    bodies = [client.get("/api/search", params={"q": q, "closest": "true"}).json() for q in QUESTIONS[:3]]
    assert all(body["answers"] and body["query_id"] is None for body in bodies)  # answered, not logged
    vote = client.post("/api/feedback", json={"query_id": "0123456789abcdef", "answer_id": None, "helpful": False})
    assert vote.status_code == 503
    metrics = Metrics()
    metrics.watch(LiveSearcher(fake_seed_searcher), log)
    status, body = health(LiveSearcher(fake_seed_searcher), log)
    exposition = metrics.exposition().decode()
    assert status == 503 and "the query log postgresql://assistant:***@" in body["error"]
    assert "ask_log_writing 0.0" in exposition and "ask_log_rows_dropped_total 4.0" in exposition
    assert "not-the-password" not in str(body) + exposition and PASSWORD not in str(body) + exposition
    log.close()
    assert log.dropped == 4  # the three searches and the vote
    [line] = capsys.readouterr().err.strip().splitlines()
    expected = "password authentication failed" if wrong == "password" else 'database "no_such_log" does not exist'
    assert line.startswith("warning: query log postgresql://assistant:***@127.0.0.1:") and expected in line
    assert "not-the-password" not in line and PASSWORD not in line


def test_the_dashboard_reads_on_after_the_server_restarts(server, questions):
    url = server.new_database()
    log = QueryLog(url)
    log.record(logged(questions[0], []))
    log.close()
    assert "1 query since" in read_dashboard(url).summary  # its pool now holds a connection, which a restart ends
    server.stop()
    server.start()
    assert "1 query since" in read_dashboard(url).summary
    server.stop()
    assert "cannot read the query log postgresql://assistant:***@" in read_dashboard(url).summary
