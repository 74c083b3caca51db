"""`python -m assistant.feedback export`: failed questions from the query log as dev.jsonl rows to label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant.eval import read_labelled
from assistant.feedback import main
from assistant.service.logdb import LogTarget
from assistant.service.querylog import QueryLog
from loghelpers import Clock, logged, rows

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures


@pytest.fixture
def log_path(tmp_path, questions, unit_ids) -> Path:
    """An SQLite log of real dev-set questions (see `fill`)."""
    return fill(tmp_path / "queries.sqlite", questions, unit_ids)


def fill(path: LogTarget, questions: list[str], unit_ids: list[str]) -> LogTarget:
    """A log of real dev-set questions: answered and liked, never answered, voted down, re-asked with other spacing."""
    clock = Clock()
    log = QueryLog(path, clock=clock)
    liked = log.record(logged(questions[0], unit_ids[:3]))
    log.vote(liked, unit_ids[0], helpful=True)
    for spelling in (questions[1], "  " + questions[1].upper() + " ", questions[1]):  # one question, three spellings
        clock.now += 60
        log.record(logged(spelling, []))
    clock.now += 60
    disliked = log.record(logged(questions[2], unit_ids[3:6], "json"))
    log.vote(disliked, unit_ids[3], helpful=False)
    log.vote(disliked, unit_ids[4], helpful=True)
    clock.now += 60
    again = log.record(logged(questions[2], unit_ids[3:5], "mcp"))
    log.vote(again, unit_ids[3], helpful=False)
    clock.now += 60
    nothing_fits = log.record(logged(questions[3], unit_ids[6:8], "page", closest=True))
    log.vote_none(nothing_fits)
    log.close()
    return path


def export(log_path: LogTarget, out: Path, *extra: str) -> list[dict]:
    assert main(["export", "--log", str(log_path), "--out", str(out), *extra]) == 0
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def test_export_writes_each_failed_question_once_as_a_dev_row(log_target, tmp_path, questions, unit_ids):
    out = tmp_path / "labels" / "failures.jsonl"
    rows = export(fill(log_target, questions, unit_ids), out)
    assert [row["query"] for row in rows] == [questions[1], questions[2], questions[3]]
    assert all(set(row) == {"query", "targets", "note", "shown"} and row["targets"] == [] for row in rows)
    assert [labelled.query for labelled in read_labelled(out)] == [questions[1], questions[2], questions[3]]
    unanswered, disliked, nothing_fits = rows
    assert unanswered["note"].startswith("query log: asked 3 times; no answer 3 times")
    assert unanswered["shown"] == []
    assert disliked["note"].startswith("query log: asked 2 times; 'not helpful' 2 times")
    assert disliked["shown"] == [
        {"id": unit_ids[3], "score": 0.6, "helpful": 0, "not_helpful": 2},
        {"id": unit_ids[4], "score": 0.55, "helpful": 1, "not_helpful": 0},
        {"id": unit_ids[5], "score": 0.5, "helpful": 0, "not_helpful": 0},
    ]
    assert nothing_fits["note"].startswith("query log: asked once; 'none of these answer' once")
    assert [shown["id"] for shown in nothing_fits["shown"]] == unit_ids[6:8]


def test_questions_already_in_an_eval_file_are_skipped(log_path, tmp_path, questions):
    labelled = tmp_path / "dev.jsonl"
    labelled.write_text(json.dumps({"query": questions[2].upper(), "targets": [], "note": "labelled"}) + "\n")
    rows = export(log_path, tmp_path / "out.jsonl", "--skip", str(labelled))
    assert [row["query"] for row in rows] == [questions[1], questions[3]]


def test_a_missing_log_exits_2_with_one_line(tmp_path, capsys):
    assert main(["export", "--log", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "out.jsonl")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: no query log at ") and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out.jsonl").exists()


def test_export_refuses_to_write_over_its_input(log_path, tmp_path, capsys):
    """Row 14: `--out` naming the log overwrote the log."""
    before = log_path.read_bytes()
    assert main(["export", "--log", str(log_path), "--out", str(log_path)]) == 2
    assert "is the query log" in capsys.readouterr().err and log_path.read_bytes() == before
    skip = tmp_path / "dev.jsonl"
    skip.write_text('{"query": "q", "targets": []}\n', encoding="utf-8")
    over_skip = ["--out", str(tmp_path / "." / "dev.jsonl"), "--skip", str(skip)]
    assert main(["export", "--log", str(log_path), *over_skip]) == 2
    assert "is also read by --skip" in capsys.readouterr().err and skip.read_text() == '{"query": "q", "targets": []}\n'


def test_line_separators_in_questions_are_escaped_so_the_export_reads_back(tmp_path, unit_ids):
    """Row 14: a question with U+2028 broke `--skip` and `assistant.eval` on the export (they split lines on it)."""
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    log.record(logged("first line\u2028second line\u2029third", []))
    log.close()
    out = tmp_path / "out.jsonl"
    assert main(["export", "--log", str(path), "--out", str(out)]) == 0
    assert "\u2028" not in out.read_text(encoding="utf-8") and "\\u2028" in out.read_text(encoding="utf-8")
    assert [labelled.query for labelled in read_labelled(out)] == ["first line\u2028second line\u2029third"]
    assert main(["export", "--log", str(path), "--out", str(tmp_path / "again.jsonl"), "--skip", str(out)]) == 0
    assert (tmp_path / "again.jsonl").read_text(encoding="utf-8") == ""


def test_copy_moves_an_sqlite_log_into_postgresql_once(log_path, pg_server, tmp_path, capsys, questions, unit_ids):
    url = pg_server.new_database()
    assert main(["copy", "--from", str(log_path), "--to", url]) == 0
    assert capsys.readouterr().out.strip() == "7 queries, 10 shown, 4 votes, 1 none_votes rows added"
    for table in ("queries", "shown", "votes", "none_votes"):
        copied, original = (sorted(tuple(row.values()) for row in rows(log, f"SELECT * FROM {table}"))
                            for log in (url, log_path))  # fmt: skip
        assert copied == original, table
    assert export(url, tmp_path / "from-pg.jsonl") == export(log_path, tmp_path / "from-sqlite.jsonl")
    assert main(["copy", "--from", str(log_path), "--to", url]) == 0  # again: nothing twice
    assert capsys.readouterr().out.splitlines()[-1] == "0 queries, 0 shown, 0 votes, 0 none_votes rows added"
    log = QueryLog(url)  # the app goes on logging into the copy; the copied searches still take votes
    query_id = rows(log_path, "SELECT query_id FROM votes WHERE helpful = 0 LIMIT 1")[0]["query_id"]
    [shown] = rows(log_path, f"SELECT answer_id FROM shown WHERE query_id = '{query_id}' AND rank = 2")
    answer_id = shown["answer_id"]
    assert log.vote(query_id, answer_id, helpful=True)
    log.close()


def test_copy_errors_are_one_line_without_the_password(log_path, pg_server, tmp_path, capsys):
    wrong = pg_server.url("postgres", password="not-the-password")
    assert main(["copy", "--from", str(log_path), "--to", wrong]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and "password authentication failed" in err
    assert "not-the-password" not in err
    assert main(["copy", "--from", str(tmp_path / "none.sqlite"), "--to", pg_server.new_database()]) == 2
    assert capsys.readouterr().err.startswith("error: no query log at ")
    assert main(["copy", "--from", str(log_path), "--to", str(tmp_path / "other.sqlite")]) == 2
    assert "copy to a postgresql:// URL" in capsys.readouterr().err
