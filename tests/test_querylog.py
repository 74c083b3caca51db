"""The query log: what a search and a vote store, retention, 20 concurrent writers, faults that must not stop search.

Questions are real ones from eval/dev.jsonl, answer ids real units of the seed archive. Tests taking `log_target`
run twice: on an SQLite file and on a database of a real PostgreSQL server.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path

import pytest

from assistant.service.logdb import MIGRATIONS, is_url, redact, scrub
from assistant.service.querylog import LogUnavailableError, QueryLog, UnknownIdError, connect_readonly
from helpers import deadline
from loghelpers import DAY, T0, Clock, logged, rows

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures


def test_a_search_is_stored_with_filters_answers_and_no_personal_data(log_target, questions, unit_ids):
    path = log_target
    log = QueryLog(path, clock=Clock())
    query_id = log.record(logged(questions[0], unit_ids[:3], "mcp", author="Noah Gift", closest=True))
    log.close()
    [query] = rows(path, "SELECT * FROM queries")
    assert query == {
        "id": query_id, "time": T0, "question": questions[0], "filters": '{"author": "Noah Gift", "closest": true}',
        "k": 5, "no_answer": 0, "latency_ms": 31.5, "source": "mcp",
    }  # fmt: skip
    shown = rows(path, "SELECT rank, answer_id, score, confidence FROM shown ORDER BY rank")
    assert [(s["rank"], s["answer_id"], s["score"]) for s in shown] == [(0, unit_ids[0], 0.6), (1, unit_ids[1], 0.55),
                                                                        (2, unit_ids[2], 0.5)]  # fmt: skip
    reader = connect_readonly(path)
    columns = {c[0] for table in ("queries", "shown", "votes", "none_votes")
               for c in reader.execute(f"SELECT * FROM {table}").description}  # fmt: skip
    reader.close()
    assert "question" in columns and not columns & {"ip", "user_agent", "cookie", "session", "host"}
    assert rows(path, "SELECT version, description FROM schema_version ORDER BY version") == [
        {"version": number, "description": description} for number, description, _ in MIGRATIONS
    ]
    if not is_url(path):
        assert rows(path, "PRAGMA journal_mode") == [{"journal_mode": "delete"}]  # WAL's mapped -shm could kill the app


def test_a_second_vote_changes_the_first_and_unknown_ids_are_refused(log_target, questions, unit_ids):
    path = log_target
    log = QueryLog(path)
    query_id = log.record(logged(questions[0], unit_ids[:2]))
    assert log.vote(query_id, unit_ids[0], helpful=False)
    assert log.vote(query_id, unit_ids[0], helpful=True)
    assert log.vote(query_id, unit_ids[1], helpful=False)
    assert log.vote_none(query_id) and log.vote_none(query_id)
    with pytest.raises(UnknownIdError, match="unknown query_id 'nope'"):
        log.vote("nope", unit_ids[0], helpful=True)
    with pytest.raises(UnknownIdError, match=f"did not show answer_id '{unit_ids[5]}'"):
        log.vote(query_id, unit_ids[5], helpful=True)
    with pytest.raises(UnknownIdError):
        log.vote_none("nope")
    log.close()
    votes = rows(path, "SELECT answer_id, helpful FROM votes ORDER BY answer_id")
    assert sorted((v["answer_id"], v["helpful"]) for v in votes) == sorted([(unit_ids[0], 1), (unit_ids[1], 0)])
    assert len(rows(path, "SELECT * FROM none_votes")) == 1


def test_unknown_source_is_a_clear_error(questions):
    with pytest.raises(ValueError, match="source must be one of page, json, gradio_api, mcp, slack, link, got 'web'"):
        logged(questions[0], [], "web")


def test_retention_prunes_old_queries_with_their_answers_and_votes(log_target, questions, unit_ids):
    path = log_target
    clock = Clock(T0 - 100 * DAY)
    log = QueryLog(path, days=90, clock=clock)
    old = log.record(logged(questions[0], unit_ids[:2]))
    log.vote(old, unit_ids[0], helpful=False)
    log.vote_none(old)
    clock.now = T0 - 89 * DAY
    kept = log.record(logged(questions[1], unit_ids[:2]))
    log.vote(kept, unit_ids[1], helpful=True)
    log.flush()  # written before the clock moves, or the writer's own hourly prune takes them first
    clock.now = T0
    assert log.prune() == 1
    log.close()
    assert [q["id"] for q in rows(path, "SELECT id FROM queries")] == [kept]
    assert {s["query_id"] for s in rows(path, "SELECT query_id FROM shown")} == {kept}
    assert rows(path, "SELECT query_id FROM votes") == [{"query_id": kept}]
    assert rows(path, "SELECT * FROM none_votes") == []


def test_opening_the_log_prunes_with_its_retention(log_target, questions):
    path = log_target
    log = QueryLog(path, clock=Clock(T0 - 10 * DAY))
    log.record(logged(questions[0], []))
    log.close()
    QueryLog(path, days=30, clock=Clock(T0)).close()
    assert len(rows(path, "SELECT id FROM queries")) == 1
    QueryLog(path, days=7, clock=Clock(T0)).close()
    assert rows(path, "SELECT id FROM queries") == []
    with pytest.raises(ValueError, match="at least 1 day, got 0"):
        QueryLog(path, days=0)


@pytest.mark.parametrize("shared_connection", [True, False], ids=["one log", "a log per thread"])
def test_20_threads_x_25_queries_with_votes_lose_nothing(log_target, capsys, questions, unit_ids, shared_connection):
    path = log_target
    shared = QueryLog(path)
    start = threading.Barrier(20)
    failures: list[str] = []

    def client(n: int) -> None:
        log = shared if shared_connection else QueryLog(path)
        start.wait()
        for i in range(25):
            question = questions[(n * 25 + i) % len(questions)]
            ids = [] if i % 5 == 4 else unit_ids[i % 10 : i % 10 + 3]
            query_id = log.record(logged(question, ids, ("page", "json", "gradio_api", "mcp")[n % 4]))
            if query_id is None:
                failures.append(f"client {n} query {i} not logged")
            elif ids:
                votes = [(ids[0], False), (ids[0], True), (ids[1], False)]  # the first vote is changed
                if not all(
                    [log.vote(query_id, answer_id, helpful) for answer_id, helpful in votes]
                ):  # every vote, no short cut
                    failures.append(f"client {n} query {i}: vote lost")
            elif not log.vote_none(query_id):
                failures.append(f"client {n} query {i}: none vote lost")
        if not shared_connection:
            log.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    shared.close()
    assert failures == []
    assert "database is locked" not in capsys.readouterr().err
    assert rows(path, "SELECT count(*) AS n FROM queries") == [{"n": 500}]
    assert rows(path, "SELECT count(*) AS n FROM none_votes") == [{"n": 100}]
    assert rows(path, "SELECT helpful, count(*) AS n FROM votes GROUP BY helpful") == [
        {"helpful": 0, "n": 400}, {"helpful": 1, "n": 400}
    ]  # fmt: skip


def test_an_unwritable_location_warns_once_and_records_nothing(tmp_path, capsys, questions, unit_ids):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the log's folder should be", encoding="utf-8")
    log = QueryLog(blocker / "queries.sqlite")
    log.flush()
    assert not log.available
    assert [log.record(logged(q, unit_ids[:2])) for q in questions[:3]] == [None, None, None]
    assert log.dropped == 3
    err = capsys.readouterr().err
    assert err.count("warning: query log") == 1 and "not-a-folder" in err and "searches go on" in err


def test_a_full_disk_warns_once_and_the_log_goes_on_when_there_is_room(tmp_path, capsys, questions, unit_ids):
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    query_id = log.record(logged(questions[0], unit_ids[:2]))
    log.flush()
    # SQLite itself reports the disk full once the file may not grow past its current pages.
    pages = log._connection.execute("PRAGMA page_count").fetchone()[0]
    log._connection.execute(f"PRAGMA max_page_count = {pages}")
    long_question = "x" * 20_000  # needs new pages
    lost = [log.record(logged(long_question, unit_ids[:3])) for _ in range(3)]
    log.flush()
    assert log.dropped >= 3 and "full" in capsys.readouterr().err
    assert not [row for row in rows(path, "SELECT id FROM queries") if row["id"] in lost]
    with pytest.raises(LogUnavailableError, match="could not be logged"):
        log.vote(next(query_id for query_id in lost if query_id), unit_ids[0], helpful=True)
    # The writer reopens the file (max_page_count is per connection, as room on a disk would come back).
    with deadline(30):
        while not log.available:
            log.flush()
    assert log.record(logged(long_question, unit_ids[:3])) is not None
    assert log.vote(query_id, unit_ids[0], helpful=True)
    log.close()
    assert len(rows(path, "SELECT id FROM queries")) == 2
    assert capsys.readouterr().err.count("warning: query log") == 0  # one warning per outage


def test_a_corrupt_file_is_moved_aside_with_its_name_printed(tmp_path, capsys, questions, unit_ids):
    path = tmp_path / "queries.sqlite"
    garbage = b"this is not an SQLite file\n" * 500
    path.write_bytes(garbage)
    log = QueryLog(path, clock=Clock())
    query_id = log.record(logged(questions[0], unit_ids[:2]))
    assert query_id is not None and log.vote(query_id, unit_ids[0], helpful=False)
    log.close()
    [aside] = tmp_path.glob("queries.sqlite.corrupt-*")
    assert aside.read_bytes() == garbage
    err = capsys.readouterr().err
    assert str(aside) in err and "is corrupt" in err
    assert [q["id"] for q in rows(path, "SELECT id FROM queries")] == [query_id]


def test_the_log_is_plain_sqlite_others_can_read_while_it_is_written(tmp_path, questions, unit_ids):
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    log.flush()
    reader = connect_readonly(path)
    for question in questions[:5]:
        log.record(logged(question, unit_ids[:1]))
        log.flush()
        assert reader.execute("SELECT count(*) FROM queries").fetchone()[0] >= 1
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.execute("DELETE FROM queries")
    reader.close()
    log.close()
    assert json.loads(rows(path, "SELECT filters FROM queries LIMIT 1")[0]["filters"]) == {}


def test_a_missing_log_is_a_clear_error_for_readers(tmp_path):
    with pytest.raises(FileNotFoundError, match="no query log at .*missing.sqlite"):
        connect_readonly(tmp_path / "missing.sqlite")


def test_a_urls_password_is_never_shown():
    url = "postgresql://ask:p%40ss-word@db.example.org:5432/asklog?sslmode=require&password=second-secret"
    assert redact(url) == "postgresql://ask:***@db.example.org:5432/asklog?sslmode=require&password=***"
    message = "failed for ask (p@ss-word, p%40ss-word, second-secret)"
    assert scrub(message, url) == "failed for ask (***, ***, ***)"
    assert redact("postgresql://db.example.org/asklog") == "postgresql://db.example.org/asklog"
    assert redact(Path("state/queries.sqlite")) == "state/queries.sqlite" and scrub("x", Path("x")) == "x"


def test_a_prune_queued_while_the_log_closes_returns_instead_of_waiting_forever(tmp_path):
    """Issue 26, bug 7: the stop lands between prune's check of the log and its put; prune still returns."""
    log = QueryLog(tmp_path / "queries.sqlite")
    assert log.flush()
    put = log._queue.put

    def close_first(item, *args, **kwargs):  # the stop wins the race: the writer has exited when the job lands
        if item is not None and getattr(item, "is_row", True) is False and log._writer.is_alive():
            closing = threading.Thread(target=log.close)
            closing.start()
            log._writer.join()
        return put(item, *args, **kwargs)

    log._queue.put = close_first
    with deadline(30):
        assert log.prune() == 0
