"""The query log: every search the app answers and every vote on its answers, in SQLite or PostgreSQL.

It stores the question, its filters, k, the answers shown with their scores, whether nothing answered,
the latency and where the query came from; never an IP address, a user agent or a cookie. A vote may
name its voter (Slack, where many people see one answer) only as a keyed hash the caller computes. The file is
the owner's alone (0600, in a 0700 folder when the folder holds nothing else).

A search never waits on the log: rows go through a bounded queue to one writer thread, which writes
them in batches; when the queue is full a row is dropped and counted. The writer outlasts another
process holding the write lock (it keeps the rows and tries again), reopens the log when the file is
deleted or replaced, and moves a damaged or non-SQLite file aside (its new name printed) to start a
new one. An unwritable or full location warns once per outage; the app goes on with fewer log rows.
A vote waits for the writer (at most VOTE_WAIT_S) and says whether it was recorded. The log uses a
rollback journal, never WAL: WAL maps the `-shm` file into memory, and a `-shm` that cannot grow
killed the app with SIGBUS.

The same log can live in a PostgreSQL database (`--log postgresql://...`, see assistant/service/logdb.py), which
several app processes on several hosts write at once. There the writer holds one connection; while the
server is down, restarting or refusing it, rows wait in the queue (dropped and counted only when it is
full), the writer reconnects once a second and one line per outage says so. A batch cut off by a lost
connection is written again on the next: every insert is idempotent, so nothing is written twice. A
server that turns the login away (a wrong password or database name) is one warning, and rows are
refused (counted) at once until it lets the writer in.
"""

from __future__ import annotations

import json
import os
import queue
import secrets
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from assistant.errors import NotFound, Unavailable
from assistant.logs import get_logger
from assistant.service import logdb
from assistant.service.logdb import LogTarget, is_url, log_target, redact, scrub

logger = get_logger(__name__)

if TYPE_CHECKING:
    from assistant.indexing.tuning import Vote

DEFAULT_LOG = Path("state") / "queries.sqlite"
LOG_ENV = "ASSISTANT_LOG"
DEFAULT_DAYS = 90
# link: an answer opened by its link (?answer=id), logged so that its card takes votes.
SOURCES = ("page", "json", "gradio_api", "mcp", "slack", "link")
BUSY_TIMEOUT_MS = 2_000  # how long the writer waits for another process's lock before trying again
PRUNE_EVERY_S = 3600.0  # old rows are pruned on open and then at most once an hour
QUEUE_ROWS = 1_000  # rows waiting for the writer; beyond that a row is dropped and counted
BATCH_ROWS = 200  # rows written in one transaction
VOTE_WAIT_S = 10.0  # a vote waits this long for the writer before the client is told it was not recorded
LOCK_WARN_S = 10.0  # contention shorter than this is normal between processes sharing the log
RETRY_S = 1.0  # while the log is down, the writer tries to open it again this often
MAX_DROPPED_IDS = 10_000  # ids of dropped searches remembered, so votes on them say why they fail
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}
DB_ERRORS = (sqlite3.Error, psycopg.Error)  # what either backend raises


class UnknownIdError(NotFound, LookupError):
    """A vote named a query the log does not hold, or an answer that query did not show."""


# A job's own row is wrong (an unknown id, text the database cannot store): undo that job alone, keep the others.
_ROW_ERRORS = (UnknownIdError, ValueError, sqlite3.IntegrityError, sqlite3.ProgrammingError, psycopg.IntegrityError,
               psycopg.DataError)  # fmt: skip


@dataclass(frozen=True)
class Shown:
    """One answer as a logged query showed it."""

    answer_id: str
    score: float
    confidence: str  # the relevance label shown beside the answer, e.g. "Answers this"


@dataclass(frozen=True)
class LoggedQuery:
    """One search to log: what was asked, with which settings, what came back and how fast."""

    question: str
    k: int
    source: str
    answers: tuple[Shown, ...]
    no_answer: bool  # nothing in the corpus passed the no-answer threshold
    latency_ms: float
    author: str = ""
    book: str = ""
    closest: bool = False

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, got {self.source!r}")

    @property
    def filters(self) -> dict[str, str | bool]:
        """The filters that were set, e.g. {"author": "Noah Gift"}; {} for none."""
        given = {"author": self.author, "book": self.book, "closest": self.closest}
        return {name: value for name, value in given.items() if value}


def default_log_path() -> LogTarget:
    """$ASSISTANT_LOG (a path or a postgresql:// URL), else state/queries.sqlite."""
    return log_target(os.environ.get(LOG_ENV) or str(DEFAULT_LOG))


def connect_readonly(path: LogTarget) -> sqlite3.Connection | logdb.PgConnection:
    """A read-only connection to an existing log; FileNotFoundError names the path when there is none."""
    if is_url(path):
        return logdb.connect_readonly_url(path)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no query log at {path}: run `python app.py --log {path}` and ask something first")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.row_factory = sqlite3.Row
    return connection


class LogUnavailableError(Unavailable, RuntimeError):
    """The log could not take a vote (or never logged the search it names); the message says which."""


@dataclass(eq=False)
class _Job:
    """One write for the writer thread; `claimed` once a transaction holds it, after which no waiter may drop it."""

    run: Callable[[sqlite3.Connection], object]
    query_id: str | None = None  # the search a record job logs, remembered if the row is dropped
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None
    claimed: bool = False
    abandoned: bool = False  # its waiter gave up before a transaction took it: skip it
    is_row: bool = True  # a search or a vote, counted when dropped (not a flush or a prune)


_STOP = object()


class QueryLog:
    """A query log (a file or a PostgreSQL URL) written by one background thread; safe from any thread or process."""

    def __init__(self, path: LogTarget, days: int = DEFAULT_DAYS, clock: Callable[[], float] = time.time):
        if days < 1:
            raise ValueError(f"log retention must be at least 1 day, got {days}")
        self.postgres = is_url(path)
        self.path = path if self.postgres else Path(path)
        self.name = redact(path)  # how messages name the log: never a URL's password
        self.days = days
        self.dropped = 0  # rows (searches and votes) the log could not take
        self._clock = clock
        self._queue: queue.Queue = queue.Queue(QUEUE_ROWS)
        self._state = threading.Lock()  # guards the counters, the dropped ids and the jobs' claims
        self._dropped_ids: OrderedDict[str, None] = OrderedDict()
        self._connection: sqlite3.Connection | logdb.PgConnection | None = None
        self._identity: tuple[int, int] | None = None  # (device, inode) of the file the connection writes
        self._down = False  # the last attempt to open or write failed; records are refused until one works
        self._locked = False  # the last attempt to open met another process's lock, or no server: rows wait
        self._locked_since = 0.0  # monotonic time the writer first met a lock it is still waiting for
        self._warned = False
        self._stopping = False
        self._pruned_at = -float("inf")
        self._writer = threading.Thread(target=self._write_loop, name=f"query log {self.name}", daemon=True)
        self._writer.start()

    # The request side: never blocks on the file.

    @property
    def available(self) -> bool:
        """Whether the log is taking rows: the file is open (or about to be) and the last write worked."""
        return not self._down and not self._stopping

    def record(self, query: LoggedQuery) -> str | None:
        """Queue one search for the log; returns its query id, or None when the log cannot take it."""
        now = self._clock()
        query_id = secrets.token_hex(8)

        def insert(connection: sqlite3.Connection) -> str:
            connection.execute(
                "INSERT INTO queries (id, time, question, filters, k, no_answer, latency_ms, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",  # a batch written again: no second row
                (query_id, now, query.question, json.dumps(query.filters), query.k, int(query.no_answer),
                 round(query.latency_ms, 2), query.source),
            )  # fmt: skip
            connection.executemany(
                "INSERT INTO shown (query_id, rank, answer_id, score, confidence) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                [(query_id, rank, a.answer_id, a.score, a.confidence) for rank, a in enumerate(query.answers)],
            )
            return query_id

        return query_id if self._submit(_Job(insert, query_id)) else None

    def vote(self, query_id: str, answer_id: str, helpful: bool, voter: str = "") -> bool:
        """Record whether an answer helped; a second vote on the same answer (by the same voter) replaces the first.

        `voter` tells apart people voting on one shown answer: a keyed hash, never a user id in clear.

        UnknownIdError when the query is not in the log or did not show that answer; False when the
        log could not take the vote in time (LogUnavailableError when it never logged that search).
        """

        def upsert(connection: sqlite3.Connection) -> bool:
            _require_shown(connection, query_id, answer_id)
            connection.execute(
                "INSERT INTO votes (query_id, answer_id, helpful, time, voter) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (query_id, answer_id, voter)"
                " DO UPDATE SET helpful = excluded.helpful, time = excluded.time",
                (query_id, answer_id, int(bool(helpful)), self._clock(), voter),
            )
            return True

        return self._wait(query_id, upsert)

    def vote_none(self, query_id: str) -> bool:
        """Record that none of a query's answers answers it (once per query); UnknownIdError for an unknown id."""

        def insert(connection: sqlite3.Connection) -> bool:
            _require_shown(connection, query_id, None)
            connection.execute(
                "INSERT INTO none_votes (query_id, time) VALUES (?, ?) ON CONFLICT DO NOTHING",
                (query_id, self._clock()),
            )
            return True

        return self._wait(query_id, insert)

    def prune(self) -> int:
        """Delete queries (and their answers and votes) older than the retention, reclaiming the space."""
        job = _Job(self._prune, is_row=False)
        if not self._submit(job, block=True):
            return 0
        job.done.wait()
        return int(job.result or 0)

    def flush(self, timeout: float = 60.0) -> bool:
        """Wait until every row queued so far is written (or dropped); False if that took longer than `timeout`."""
        job = _Job(lambda connection: None, is_row=False)
        return self._submit(job, block=True) and job.done.wait(timeout)

    def close(self) -> None:
        """Write what is queued, then close the file; later rows are refused."""
        if self._stopping:
            return
        self._stopping = True
        self._queue.put(_STOP)
        self._writer.join()
        self._drop_queued()  # jobs queued by a submitter that checked before the stop; later ones drop themselves

    def _drop_queued(self) -> None:
        """Release every job still queued after the writer stopped, uncounted (the log is closed)."""
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not _STOP:
                self._drop([item], count=False)

    def _submit(self, job: _Job, block: bool = False) -> bool:
        """Queue a job; False (the row dropped and counted) when the log is closed, down or its queue full."""
        if self._stopping or (self._down and not block):
            return self._drop([job], count=not self._stopping)
        try:
            self._queue.put(job, block=block, timeout=VOTE_WAIT_S if block else None)
        except queue.Full:
            self._warn(f"its queue of {QUEUE_ROWS:,} rows is full (the file is slow or locked)")
            return self._drop([job])
        if self._stopping and not self._writer.is_alive():  # closed between the check and the put: nobody takes it
            self._drop_queued()
        return True

    def _wait(self, query_id: str, action: Callable[[sqlite3.Connection], bool]) -> bool:
        """Queue a vote and wait for the writer: True once written, False if it could not be written in time."""
        with self._state:
            if query_id in self._dropped_ids:
                raise LogUnavailableError(f"query {query_id!r} could not be logged, so it cannot take votes")
        job = _Job(action)
        if not self._submit(job):
            return False
        if not job.done.wait(VOTE_WAIT_S):
            with self._state:
                if not job.claimed:
                    job.abandoned = True
                    self.dropped += 1
                    return False
            job.done.wait()
        if job.error is not None:
            raise job.error
        return bool(job.result)

    def _drop(self, jobs: list[_Job], count: bool = True) -> bool:
        """Give up on jobs: count them, remember their query ids, release their waiters; returns False."""
        with self._state:
            for job in jobs:
                if job.abandoned:
                    continue
                self.dropped += count and job.is_row
                if job.query_id is not None:
                    self._dropped_ids[job.query_id] = None
                    while len(self._dropped_ids) > MAX_DROPPED_IDS:
                        self._dropped_ids.popitem(last=False)
                job.done.set()
        return False

    # The writer thread: the only code that touches the file.

    def _write_loop(self) -> None:
        self._reopen()
        stopping = False
        while not stopping:
            batch, stopping = self._next_batch()
            try:
                if batch:
                    self._write(batch)
                elif self._down and not stopping:
                    self._reopen()
            except Exception as error:  # noqa: BLE001 - a bug must cost rows, never the writer thread
                self._fail(f"failed unexpectedly ({type(error).__name__}: {error})")
                self._drop(batch)
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _next_batch(self) -> tuple[list[_Job], bool]:
        """Up to BATCH_ROWS queued jobs, waiting for the first (RETRY_S at most while the log is down)."""
        try:
            first = self._queue.get(timeout=RETRY_S if self._down or self._connection is None else None)
        except queue.Empty:
            return [], False
        batch: list[_Job] = []
        item = first
        while True:
            if item is _STOP:
                return batch, True
            batch.append(item)
            if len(batch) >= BATCH_ROWS:
                return batch, False
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return batch, False

    def _write(self, batch: list[_Job]) -> None:
        """Write a batch in one transaction, waiting out another process's lock; drop it when the log fails."""
        moved_aside = False
        while True:
            connection = self._ready()
            if connection is None:
                if self._locked and not self._stopping:
                    time.sleep(RETRY_S if self.postgres else RETRY_S / 10)  # a busy timeout has waited already
                    continue
                self._drop(batch)
                return
            try:
                self._commit(connection, batch)
            except psycopg.Error as error:
                if _is_unreachable(error) and not self._stopping:
                    self._unreachable(error)  # the batch is written again once the writer reconnects
                    continue
                self._fail(f"cannot write to it ({_first_line(error)})")
                self._drop(batch)
                return
            except sqlite3.Error as error:
                if _is_locked(error) and not self._stopping:
                    self._wait_for_lock(error)
                    continue
                if _is_corrupt(error) and not moved_aside:
                    moved_aside = True
                    self._close_connection()
                    if self._move_aside(error):
                        continue
                self._fail(f"cannot write to it ({error})")
                self._drop(batch)
                return
            self._recovered()
            self._drop([job for job in batch if job.error is not None and job.query_id is not None])
            if self._clock() - self._pruned_at >= PRUNE_EVERY_S:
                self._write([_Job(self._prune, is_row=False)])
            return

    def _commit(self, connection: sqlite3.Connection | logdb.PgConnection, batch: list[_Job]) -> None:
        """Run the batch's jobs in one write transaction; a job's UnknownIdError undoes that job alone."""
        connection.execute("BEGIN" if self.postgres else "BEGIN IMMEDIATE")
        claimed = []
        try:
            for job in batch:
                with self._state:
                    if job.abandoned:
                        continue
                    job.claimed = True
                claimed.append(job)
                connection.execute("SAVEPOINT job")
                try:
                    job.result, job.error = job.run(connection), None
                except _ROW_ERRORS as error:
                    job.error = error
                    connection.execute("ROLLBACK TO SAVEPOINT job")
                connection.execute("RELEASE SAVEPOINT job")
            connection.execute("COMMIT")
        except BaseException:
            if connection.in_transaction:
                with suppress(*DB_ERRORS):
                    connection.execute("ROLLBACK")
            with self._state:
                for job in claimed:
                    job.claimed = False
            raise
        for job in claimed:
            job.done.set()

    def _prune(self, connection: sqlite3.Connection | logdb.PgConnection) -> int:
        """Check the file is undamaged, delete rows past the retention and give their pages back to the file system."""
        if self.postgres:  # the server checks its pages and vacuums by itself
            self._pruned_at = self._clock()
            cutoff = self._pruned_at - self.days * 86400
            return connection.execute("DELETE FROM queries WHERE time < ?", (cutoff,)).rowcount
        fresh = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000)  # its cache cannot hide damage on disk
        try:
            _check_undamaged(fresh)
        finally:
            fresh.close()
        self._pruned_at = self._clock()
        cutoff = self._pruned_at - self.days * 86400
        deleted = connection.execute("DELETE FROM queries WHERE time < ?", (cutoff,)).rowcount
        for _ in range(connection.execute("PRAGMA freelist_count").fetchone()[0]):
            connection.execute("PRAGMA incremental_vacuum(1)")  # Python steps a pragma once: one page per call
        return deleted

    def _ready(self) -> sqlite3.Connection | logdb.PgConnection | None:
        """The open connection, reopened when the file at the path was deleted or replaced; None when it cannot open."""
        if self._connection is not None and not self.postgres and self._identity != _identity(self.path):
            self._close_connection()
            logger.warning("query log %s was deleted or replaced while the app ran; starting a new one", self.path)
        if self._connection is None:
            self._reopen()
        return self._connection

    def _reopen(self) -> None:
        """Open the log; a damaged or non-SQLite file is moved aside once; on failure the log is down for now."""
        self._locked = False
        for attempt in range(2):
            try:
                self._connection = logdb.connect(self.path) if self.postgres else self._open()
                self._down = False
                if self._clock() - self._pruned_at >= PRUNE_EVERY_S:
                    self._write([_Job(self._prune, is_row=False)])
                return
            except sqlite3.Error as error:
                if _is_locked(error):
                    self._locked = True  # rows wait in the queue until the other process lets go
                    self._wait_for_lock(error)
                    return
                if attempt == 0 and _is_corrupt(error) and self._move_aside(error):
                    continue
                self._fail(f"cannot open it ({error})")
                return
            except OSError as error:
                self._fail(f"cannot create it ({error})")
                return
            except psycopg.Error as error:
                if _is_unreachable(error) and not _is_refused(error):
                    self._unreachable(error)
                else:  # a wrong password or database name: rows are refused at once until it works
                    self._fail(f"cannot open it ({_first_line(error)})")
                return

    def _open(self) -> sqlite3.Connection:
        """Connect, private to the owner, in rollback-journal mode with incremental vacuum; check it is undamaged."""
        _private_folder(self.path.parent)
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        for part in _parts(self.path):
            with suppress(FileNotFoundError):
                os.chmod(part, 0o600)
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
        try:
            connection.isolation_level = None  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
            connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if connection.execute("PRAGMA page_count").fetchone()[0] == 0:
                connection.execute("PRAGMA auto_vacuum = INCREMENTAL")  # before the first table, so prunes shrink it
            with suppress(sqlite3.OperationalError):  # a WAL log another process has open stays WAL
                connection.execute("PRAGMA journal_mode = DELETE")
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            _check_undamaged(connection)
            logdb.migrate(connection)
            if connection.execute("PRAGMA auto_vacuum").fetchone()[0] == 0:
                connection.execute("PRAGMA auto_vacuum = INCREMENTAL")  # a log from before: VACUUM converts it once
                connection.execute("VACUUM")
        except BaseException:
            connection.close()
            raise
        self._identity = _identity(self.path)
        return connection

    def _close_connection(self) -> None:
        if self._connection is not None:
            with suppress(*DB_ERRORS):
                self._connection.close()
            self._connection = None

    def _move_aside(self, error: sqlite3.Error) -> bool:
        """Rename a damaged log (and its journal files) out of the way, printing where it went; False if it cannot."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._clock()))
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        while aside.exists():
            aside = aside.with_name(aside.name + "+")
        try:
            for part in _parts(self.path):
                if part.exists():
                    part.replace(f"{aside}{str(part).removeprefix(str(self.path))}")
        except OSError as move_error:
            self._fail(f"it is corrupt ({error}) and cannot be moved aside ({move_error})")
            return False
        logger.warning("query log %s is corrupt (%s); moved it to %s, starting a new one", self.path, error, aside)
        return True

    def _fail(self, problem: str) -> None:
        """The log cannot be written now: warn once, refuse rows until the writer gets it working again."""
        self._warn(problem)
        self._fail_quietly()

    def _fail_quietly(self) -> None:
        self._close_connection()
        self._down = True

    def _warn(self, problem: str) -> None:
        """Print one warning per outage: answers go on, the log loses rows."""
        if not self._warned:
            self._warned = True
            message = f"query log {self.name}: {problem}; searches go on, but are not all logged"
            logger.warning(scrub(message, self.path))

    def _unreachable(self, error: psycopg.Error) -> None:
        """The server is down, restarting or refusing the connection: rows wait in the queue; warn once."""
        self._close_connection()
        self._locked = True
        self._warn(f"cannot reach its server ({_first_line(error)}); rows wait while the queue has room")

    def _wait_for_lock(self, error: sqlite3.Error) -> None:
        """Another process held the lock past the busy timeout: rows wait; warn once it has lasted LOCK_WARN_S."""
        now = time.monotonic()
        self._locked_since = self._locked_since or now
        if now - self._locked_since >= LOCK_WARN_S:
            self._warn(f"another process has held its lock for {now - self._locked_since:.0f} s ({error}); rows wait")

    def _recovered(self) -> None:
        """A write worked: after an outage, say so with what was lost."""
        self._down = False
        self._locked_since = 0.0
        if self._warned:
            self._warned = False
            logger.info(
                "query log %s: writing again (%s row(s) could not be logged so far)", self.name, f"{self.dropped:,}"
            )


def _check_undamaged(connection: sqlite3.Connection) -> None:
    """DatabaseError when SQLite's quick check finds damaged pages (a valid header does not make a valid file)."""
    problems = [row[0] for row in connection.execute("PRAGMA quick_check")]
    if problems != ["ok"]:
        raise sqlite3.DatabaseError(f"database disk image is malformed: {problems[0]}")


def _parts(path: Path) -> list[Path]:
    """The log file and the journal files SQLite keeps beside it."""
    return [Path(f"{path}{suffix}") for suffix in ("", "-journal", "-wal", "-shm")]


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of the file at `path`, None when there is none: tells a deleted or replaced log."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _private_folder(folder: Path) -> None:
    """Create the log's folder 0700; one that holds only log files is made 0700 too (never a shared folder)."""
    try:
        folder.mkdir(mode=0o700, parents=True)
    except FileExistsError:
        pass  # there already, or another process sharing the log made it a moment ago
    else:
        os.chmod(folder, 0o700)  # mkdir's mode passes through the umask
        return
    if folder.stat().st_mode & 0o077 and all(".sqlite" in entry.name for entry in folder.iterdir()):
        os.chmod(folder, 0o700)


def _require_shown(connection: sqlite3.Connection, query_id: str, answer_id: str | None) -> None:
    """UnknownIdError unless the query is logged and (when answer_id is given) showed that answer."""
    if connection.execute("SELECT 1 FROM queries WHERE id = ?", (query_id,)).fetchone() is None:
        raise UnknownIdError(f"unknown query_id {query_id!r}")
    if answer_id is None:
        return
    if (
        connection.execute("SELECT 1 FROM shown WHERE query_id = ? AND answer_id = ?", (query_id, answer_id)).fetchone()
        is None
    ):
        raise UnknownIdError(f"query {query_id!r} did not show answer_id {answer_id!r}")


def _is_corrupt(error: sqlite3.Error) -> bool:
    """Whether SQLite says the file is not a database or is damaged."""
    code = getattr(error, "sqlite_errorcode", None)
    return (code & 0xFF) in _CORRUPT if code is not None else "malformed" in str(error)


def _is_unreachable(error: psycopg.Error) -> bool:
    """Whether PostgreSQL's connection failed or was lost (down, restarting, refused, a wrong password): try again."""
    return isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError)) and not isinstance(
        error, psycopg.errors.DiskFull
    )


def _is_refused(error: psycopg.Error) -> bool:
    """Whether the server turned the log's login away (its password, user or database), or the URL is malformed."""
    reasons = ("authentication failed", "does not exist", "no pg_hba.conf entry", "connection is bad: invalid")
    return any(reason in str(error) for reason in reasons)


def _first_line(error: BaseException) -> str:
    """An error's message on one line (libpq's run over several)."""
    return " ".join(str(error).split()) or type(error).__name__


def _is_locked(error: sqlite3.Error) -> bool:
    """Whether another connection held the lock for longer than the busy timeout."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def log_name(log: Path | str) -> str:
    """The votes' log as the manifest names it: a file's full path, a database's URL without its password."""
    return redact(log) if is_url(log) else str(Path(log).resolve())


def read_votes(log: Path | str) -> list[Vote]:
    """Every vote on an answer in the query log, with the question it was asked for (what `--tune-log` learns from)."""
    from assistant.indexing.tuning import Vote  # here: the web and Slack apps import the log without the trainer

    connection = connect_readonly(log)
    try:
        rows = connection.execute(
            "SELECT queries.question, votes.answer_id, votes.helpful FROM votes JOIN queries ON queries.id = "
            "votes.query_id ORDER BY votes.time, votes.query_id, votes.answer_id"
        ).fetchall()
    except DB_ERRORS as error:
        raise ValueError(scrub(f"{redact(log)}: not a readable query log ({error})", log)) from None
    finally:
        connection.close()
    return [Vote(row["question"], row["answer_id"], bool(row["helpful"])) for row in rows]
