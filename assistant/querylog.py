"""The query log: every search the app answers and every vote on its answers, in one SQLite file.

It stores the question, its filters, k, the answers shown with their scores, whether nothing answered,
the latency and where the query came from; never an IP address, a user agent or a cookie. A vote may
name its voter (Slack, where many people see one answer) only as a keyed hash the caller computes. Writing
to it never stops a search: an unwritable or full location warns once and the app goes on without
(or with fewer) log rows; a corrupt file is moved aside, its new name printed, and a fresh log started.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

DEFAULT_LOG = Path("state") / "queries.sqlite"
LOG_ENV = "ASSISTANT_LOG"
DEFAULT_DAYS = 90
# link: an answer opened by its link (?answer=id), logged so that its card takes votes.
SOURCES = ("page", "json", "gradio_api", "mcp", "slack", "link")
BUSY_TIMEOUT_MS = 10_000  # how long a writer waits for another process's write before giving up
PRUNE_EVERY_S = 3600.0  # old rows are pruned on open and then at most once an hour
_CORRUPT = {sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB}

VOTES_TABLE = """
CREATE TABLE IF NOT EXISTS votes (
    query_id TEXT NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    answer_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    time REAL NOT NULL,
    voter TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (query_id, answer_id, voter)
);
"""
SCHEMA = VOTES_TABLE + """
CREATE TABLE IF NOT EXISTS queries (
    id TEXT PRIMARY KEY,
    time REAL NOT NULL,
    question TEXT NOT NULL,
    filters TEXT NOT NULL,
    k INTEGER NOT NULL,
    no_answer INTEGER NOT NULL,
    latency_ms REAL NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_time ON queries (time);
CREATE TABLE IF NOT EXISTS shown (
    query_id TEXT NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    answer_id TEXT NOT NULL,
    score REAL NOT NULL,
    confidence TEXT NOT NULL,
    PRIMARY KEY (query_id, answer_id)
);
CREATE TABLE IF NOT EXISTS none_votes (
    query_id TEXT PRIMARY KEY REFERENCES queries (id) ON DELETE CASCADE,
    time REAL NOT NULL
);
"""


class UnknownIdError(LookupError):
    """A vote named a query the log does not hold, or an answer that query did not show."""


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


def default_log_path() -> Path:
    """$ASSISTANT_LOG, else state/queries.sqlite."""
    return Path(os.environ.get(LOG_ENV) or DEFAULT_LOG)


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing log; FileNotFoundError names the path when there is none."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no query log at {path}: run `python app.py --log {path}` and ask something first")
    connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    connection.row_factory = sqlite3.Row
    return connection


class QueryLog:
    """A query log file, safe to share between threads; several processes may write the same file."""

    def __init__(self, path: Path, days: int = DEFAULT_DAYS, clock: Callable[[], float] = time.time):
        if days < 1:
            raise ValueError(f"log retention must be at least 1 day, got {days}")
        self.path = Path(path)
        self.days = days
        self._clock = clock
        self._lock = threading.Lock()
        self._warned = False
        self._pruned_at = -float("inf")
        self._connection = self._open()
        if self._connection is not None:
            self.prune()

    def _open(self) -> sqlite3.Connection | None:
        """Connect and create the tables; a corrupt file is moved aside once; None when the log cannot be written."""
        for attempt in range(2):
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, check_same_thread=False)
                try:
                    connection.isolation_level = None  # transactions are explicit: BEGIN IMMEDIATE ... COMMIT
                    connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
                    connection.execute("PRAGMA journal_mode = WAL")
                    connection.execute("PRAGMA synchronous = NORMAL")
                    connection.execute("PRAGMA foreign_keys = ON")
                    connection.executescript(SCHEMA)
                    _add_voters(connection)
                except BaseException:
                    connection.close()
                    raise
                return connection
            except sqlite3.Error as error:
                if attempt == 0 and _is_corrupt(error) and self._move_aside(error):
                    continue
                self._warn(f"cannot open it ({error})")
                return None
            except OSError as error:
                self._warn(f"cannot create it ({error})")
                return None
        return None

    def _move_aside(self, error: sqlite3.Error) -> bool:
        """Rename a corrupt log (and its WAL files) out of the way, printing where it went; False if it cannot."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self._clock()))
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        while aside.exists():
            aside = aside.with_name(aside.name + "+")
        try:
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    part.replace(f"{aside}{suffix}")
        except OSError as move_error:
            self._warn(f"it is corrupt ({error}) and cannot be moved aside ({move_error})")
            return False
        print(f"warning: query log {self.path} is corrupt ({error}); moved it to {aside}, starting a new one",
              file=sys.stderr, flush=True)  # fmt: skip
        return True

    def _warn(self, problem: str) -> None:
        """Print one warning per log: answers go on, the log loses rows."""
        if not self._warned:
            self._warned = True
            print(f"warning: query log {self.path}: {problem}; searches go on, but are not all logged",
                  file=sys.stderr, flush=True)  # fmt: skip

    @property
    def available(self) -> bool:
        """Whether the log file is open for writing."""
        return self._connection is not None

    def _guarded(self, action: Callable[[sqlite3.Connection], object]) -> object | None:
        """Run `action` in one write transaction; on any SQLite failure warn once and return None.

        BEGIN IMMEDIATE takes the file's write lock up front, so writers in other processes queue
        (for up to the busy timeout) instead of failing; a corrupt file is moved aside on next open.
        """
        with self._lock:
            connection = self._connection
            if connection is None:
                return None
            try:
                connection.execute("BEGIN IMMEDIATE")
                result = action(connection)
                connection.execute("COMMIT")
                return result
            except BaseException as error:
                if connection.in_transaction:
                    with suppress(sqlite3.Error):
                        connection.execute("ROLLBACK")
                if not isinstance(error, sqlite3.Error):
                    raise
                self._warn(f"cannot write to it ({error})")
                return None

    def record(self, query: LoggedQuery) -> str | None:
        """Log one search; returns its query id, or None when the log could not take it."""
        now = self._clock()
        query_id = secrets.token_hex(8)

        def insert(connection: sqlite3.Connection) -> str:
            connection.execute(
                "INSERT INTO queries (id, time, question, filters, k, no_answer, latency_ms, source)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (query_id, now, query.question, json.dumps(query.filters), query.k, int(query.no_answer),
                 round(query.latency_ms, 2), query.source),
            )  # fmt: skip
            connection.executemany(
                "INSERT OR IGNORE INTO shown (query_id, rank, answer_id, score, confidence) VALUES (?, ?, ?, ?, ?)",
                [(query_id, rank, a.answer_id, a.score, a.confidence) for rank, a in enumerate(query.answers)],
            )
            return query_id

        logged = self._guarded(insert)
        if logged is not None and now - self._pruned_at >= PRUNE_EVERY_S:
            self.prune()
        return logged

    def vote(self, query_id: str, answer_id: str, helpful: bool, voter: str = "") -> bool:
        """Record whether an answer helped; a second vote on the same answer (by the same voter) replaces the first.

        `voter` tells apart people voting on one shown answer: a keyed hash, never a user id in clear.

        UnknownIdError when the query is not in the log or did not show that answer; False when the
        log could not take the vote.
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

        return self._guarded(upsert) is not None

    def vote_none(self, query_id: str) -> bool:
        """Record that none of a query's answers answers it (once per query); UnknownIdError for an unknown id."""

        def insert(connection: sqlite3.Connection) -> bool:
            _require_shown(connection, query_id, None)
            connection.execute(
                "INSERT OR IGNORE INTO none_votes (query_id, time) VALUES (?, ?)", (query_id, self._clock())
            )
            return True

        return self._guarded(insert) is not None

    def prune(self) -> int:
        """Delete queries (and their answers and votes) older than the retention; returns how many went."""
        self._pruned_at = self._clock()
        cutoff = self._pruned_at - self.days * 86400
        deleted = self._guarded(lambda c: c.execute("DELETE FROM queries WHERE time < ?", (cutoff,)).rowcount)
        return int(deleted or 0)

    def close(self) -> None:
        """Close the file; later writes are ignored."""
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


def _add_voters(connection: sqlite3.Connection) -> None:
    """Give a log written before votes named their voter the voter column, keeping its votes (as voter '')."""
    if any(column[1] == "voter" for column in connection.execute("PRAGMA table_info(votes)")):
        return
    connection.executescript(
        "BEGIN IMMEDIATE;"
        "ALTER TABLE votes RENAME TO votes_without_voter;"
        + VOTES_TABLE
        + "INSERT INTO votes (query_id, answer_id, helpful, time) SELECT query_id, answer_id, helpful, time"
        " FROM votes_without_voter;"
        "DROP TABLE votes_without_voter;"
        "COMMIT;"
    )


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
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) in _CORRUPT
