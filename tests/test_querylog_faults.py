"""The query log under an unlucky operator (issue 17): locks, deletion, damage, an immutable -shm, permissions.

A search must never wait on the log, and the log must come back by itself once the file is usable.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from assistant.feedback import main as feedback_main
from assistant.service.querylog import QueryLog
from helpers import REPO, deadline
from loghelpers import logged, rows

pytest_plugins = ["logfixtures"]  # the questions and unit_ids fixtures


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Hold the log's write lock from another connection, as another process writing it would."""
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("ROLLBACK")
        holder.close()


def _count(path: Path) -> int:
    return rows(path, "SELECT count(*) AS n FROM queries")[0]["n"]


def test_searches_never_wait_while_another_process_holds_the_lock(tmp_path, questions, unit_ids):
    """Row 1: six concurrent searches waited 10, 20 ... 59 s each behind the busy timeout."""
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    log.flush()
    ids: list[str | None] = []
    with write_lock(path), deadline(5):  # the old log took 10 s per search here
        threads = [threading.Thread(target=lambda q=q: ids.append(log.record(logged(q, unit_ids[:2]))))
                   for q in questions[:6]]  # fmt: skip
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert len(ids) == 6 and None not in ids
    assert log.flush()
    assert {row["id"] for row in rows(path, "SELECT id FROM queries")} == set(ids)  # written once the lock went
    log.close()


def test_a_lock_held_at_start_delays_nothing_and_logging_works_after(tmp_path, questions, unit_ids):
    """Row 2: start took 14 s, then query_id stayed null for the whole process."""
    path = tmp_path / "queries.sqlite"
    QueryLog(path).close()
    with write_lock(path), deadline(5):
        log = QueryLog(path)
        first = log.record(logged(questions[0], unit_ids[:2]))
    second = log.record(logged(questions[1], unit_ids[:2]))
    assert first is not None and second is not None
    assert log.vote(second, unit_ids[0], helpful=True)
    log.close()
    assert _count(path) == 2


def test_a_log_deleted_while_running_is_started_again(tmp_path, capsys, questions, unit_ids):
    """Row 3: ids and "recorded" kept coming, written to a deleted file."""
    path = tmp_path / "queries.sqlite"
    log = QueryLog(path)
    log.record(logged(questions[0], unit_ids[:2]))
    log.flush()
    for part in tmp_path.iterdir():
        part.unlink()
    query_id = log.record(logged(questions[1], unit_ids[:2]))
    assert log.vote(query_id, unit_ids[1], helpful=False)
    log.close()
    assert [row["id"] for row in rows(path, "SELECT id FROM queries")] == [query_id]
    assert "was deleted or replaced" in capsys.readouterr().err


def _damage(path: Path) -> None:
    """Overwrite the middle of the file's pages, keeping its valid header (page 1) intact."""
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(4096 * 2)
        file.write(os.urandom(size // 2))


def _filled(path: Path, questions: list[str], unit_ids: list[str]) -> QueryLog:
    """A log of 300 padded searches, enough pages that overwriting half of them hits its tables."""
    log = QueryLog(path)
    for i in range(300):
        log.record(logged(f"{questions[i % len(questions)]} {'padding ' * 40}", unit_ids[:3]))
    log.flush()
    return log


def test_a_log_damaged_inside_is_moved_aside_and_export_and_retention_work(tmp_path, capsys, questions, unit_ids):
    """Row 4: a valid header over overwritten pages was not moved aside; inserts went on, export failed."""
    path = tmp_path / "queries.sqlite"
    _filled(path, questions, unit_ids).close()
    _damage(path)
    log = QueryLog(path)
    query_id = log.record(logged(questions[0], []))
    assert log.vote_none(query_id)
    assert log.prune() == 0
    log.close()
    [aside] = tmp_path.glob("queries.sqlite.corrupt-*")
    assert str(aside) in capsys.readouterr().err
    assert [row["id"] for row in rows(path, "SELECT id FROM queries")] == [query_id]
    assert feedback_main(["export", "--log", str(path), "--out", str(tmp_path / "out.jsonl")]) == 0


def test_a_log_damaged_while_running_is_moved_aside_at_the_next_write(tmp_path, capsys, questions, unit_ids):
    path = tmp_path / "queries.sqlite"
    log = _filled(path, questions, unit_ids)
    _damage(path)
    with pytest.raises(Exception):  # noqa: B017 - any reader error: the file really is damaged
        rows(path, "SELECT count(*), sum(length(question)) FROM queries")
    for question in questions[:50]:  # writes reach the damaged pages
        log.record(logged(question, unit_ids[:3]))
    log.prune()
    survivor = log.record(logged(questions[0], []))
    log.close()
    assert list(tmp_path.glob("queries.sqlite.corrupt-*")) and "is corrupt" in capsys.readouterr().err
    assert survivor in {row["id"] for row in rows(path, "SELECT id FROM queries")}


# Row 5, run in a child process because the old log died of SIGBUS: WAL mapped `-shm`, and a `-shm` made
# immutable while the app ran could not grow once a reader kept the WAL from being reset.
IMMUTABLE_SHM = """
import glob, sqlite3, subprocess, sys
from assistant.service.querylog import QueryLog
from loghelpers import logged
path = sys.argv[1]
log = QueryLog(path)
log.record(logged("first", ["a"]))
log.flush()
reader = sqlite3.connect(path, isolation_level=None)
reader.execute("BEGIN")
reader.execute("SELECT count(*) FROM queries").fetchall()
for shm in glob.glob(path + "-shm"):
    subprocess.run(["chattr", "+i", shm], check=True)
for i in range(6000):  # with a rollback journal most wait for the reader or are dropped: the log lives on
    log.record(logged(f"question {i} " + "x" * 2000, ["a"]))
reader.execute("COMMIT")
log.flush()
last = log.record(logged("after the reader let go", ["a"]))
log.close()
print("alive", last)
"""


def test_an_immutable_shm_does_not_kill_the_app(tmp_path):
    """Row 5: `chattr +i` on the log's -shm while the app ran: Bus error."""
    if os.geteuid() != 0:
        pytest.skip("chattr +i needs root")
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    if subprocess.run(["chattr", "+i", str(probe)], capture_output=True).returncode != 0:
        pytest.skip(f"the file system under {tmp_path} has no immutable flag")
    subprocess.run(["chattr", "-i", str(probe)], check=True)
    path = tmp_path / "queries.sqlite"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")])}
    try:
        done = subprocess.run([sys.executable, "-c", IMMUTABLE_SHM, str(path)], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=600)  # fmt: skip
    finally:
        for part in tmp_path.iterdir():
            subprocess.run(["chattr", "-i", str(part)], capture_output=True)
    assert done.returncode == 0 and "alive" in done.stdout, (done.returncode, done.stderr[-2000:])
    last = done.stdout.split()[-1]
    assert rows(path, "SELECT question FROM queries WHERE id = ?".replace("?", repr(last))) == [
        {"question": "after the reader let go"}
    ]


def test_the_log_is_private_to_its_owner(tmp_path, questions, unit_ids):
    """Row 13: log, -wal and -shm were 0644, the folder 0755: anyone on the machine could read the questions."""
    path = tmp_path / "state" / "queries.sqlite"
    log = QueryLog(path)
    log.record(logged(questions[0], unit_ids[:2]))
    log.flush()
    parts = [part for part in path.parent.iterdir() if part.name.startswith(path.name)]
    modes = {part.name: stat.S_IMODE(part.stat().st_mode) for part in parts}
    log.close()
    assert modes and set(modes.values()) == {0o600}, modes
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_an_old_world_readable_log_is_made_private(tmp_path, questions, unit_ids):
    folder = tmp_path / "state"
    folder.mkdir(mode=0o755)
    path = folder / "queries.sqlite"
    sqlite3.connect(path).close()
    os.chmod(path, 0o644)
    os.chmod(folder, 0o755)
    QueryLog(path).close()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_retention_gives_the_space_back(tmp_path, questions, unit_ids):
    """Row 12: pruning deleted rows but the file never shrank."""
    from loghelpers import DAY, T0, Clock

    path = tmp_path / "queries.sqlite"
    clock = Clock(T0 - 100 * DAY)
    log = QueryLog(path, days=90, clock=clock)
    for i in range(400):
        log.record(logged(f"{questions[i % len(questions)]} {'padding ' * 100}", unit_ids[:3]))
    log.flush()
    full = path.stat().st_size
    clock.now = T0
    assert log.prune() == 400
    log.close()
    assert path.stat().st_size < full / 4
