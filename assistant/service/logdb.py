"""Where the query log lives: an SQLite file (the default, for one machine) or a PostgreSQL database (a URL).

`--log` takes either: a path, or `postgresql://user:password@host:port/database` for several processes on
several hosts writing one log. One SQL text serves both: statements use SQLite's `?` placeholders, which
the PostgreSQL connection turns into psycopg's; the schema is built by one versioned list of migrations
recorded in a `schema_version` table. A URL's password is never shown: `redact` and `scrub` replace it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import psycopg
from psycopg.types.numeric import FloatLoader
from psycopg_pool import ConnectionPool, PoolTimeout

SCHEMES = ("postgresql://", "postgres://")
CONNECT_TIMEOUT_S = 5  # a server that does not answer costs the writer this long per try, never a search
READ_POOL_SIZE = 4  # connections a dashboard keeps open to read the log
POOL_WAIT_S = 1.0  # how long a reader waits for the pool before connecting by itself
MIGRATION_LOCK = 0x41534B4C  # one process migrates at a time (a PostgreSQL advisory lock's key)
# The pool's own reconnect warnings would print a line per try; the log prints one line per outage itself.
logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
logging.getLogger("psycopg.pool").propagate = False

LogTarget = Path | str  # a file's path, or a postgresql:// URL

SCHEMA = """
CREATE TABLE IF NOT EXISTS queries (
    id TEXT PRIMARY KEY,
    time DOUBLE PRECISION NOT NULL,
    question TEXT NOT NULL,
    filters TEXT NOT NULL,
    k INTEGER NOT NULL,
    no_answer INTEGER NOT NULL,
    latency_ms DOUBLE PRECISION NOT NULL,
    source TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS queries_time ON queries (time);
CREATE TABLE IF NOT EXISTS shown (
    query_id TEXT NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    answer_id TEXT NOT NULL,
    score DOUBLE PRECISION NOT NULL,
    confidence TEXT NOT NULL,
    PRIMARY KEY (query_id, answer_id)
);
CREATE TABLE IF NOT EXISTS votes (
    query_id TEXT NOT NULL REFERENCES queries (id) ON DELETE CASCADE,
    answer_id TEXT NOT NULL,
    helpful INTEGER NOT NULL,
    time DOUBLE PRECISION NOT NULL,
    voter TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (query_id, answer_id, voter)
);
CREATE TABLE IF NOT EXISTS none_votes (
    query_id TEXT PRIMARY KEY REFERENCES queries (id) ON DELETE CASCADE,
    time DOUBLE PRECISION NOT NULL
);
"""
TABLES = ("queries", "shown", "votes", "none_votes")  # in the order rows may be inserted


def is_url(target: LogTarget) -> bool:
    """Whether `--log` names a PostgreSQL database rather than an SQLite file."""
    return isinstance(target, str) and target.startswith(SCHEMES)


def log_target(value: str) -> LogTarget:
    """`--log`'s type: a postgresql:// URL stays a string, anything else is a path."""
    return value if is_url(value) else Path(value)


def redact(target: LogTarget) -> str:
    """The target as it may be shown: a URL's password (after the user, or as ?password=) replaced by ***."""
    if not is_url(target):
        return str(target)
    parts = urlsplit(target)
    if parts.password is not None:
        user, _, host = parts.netloc.rpartition("@")
        parts = parts._replace(netloc=f"{user.partition(':')[0]}:***@{host}")
    query = [(key, "***" if key == "password" else value) for key, value in parse_qsl(parts.query, True)]
    return parts._replace(query=urlencode(query, safe="*")).geturl()


def scrub(text: str, target: LogTarget) -> str:
    """`text` (say, an error message) with the target's passwords, raw or decoded, replaced by ***."""
    if not is_url(target):
        return text
    parts = urlsplit(target)
    passwords = [parts.password or ""] + [value for key, value in parse_qsl(parts.query, True) if key == "password"]
    for secret in sorted({*passwords, *map(unquote, passwords)} - {""}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


# One SQL text for both: the PostgreSQL connection takes `?` placeholders and gives rows read by name or place.


class Row(tuple):
    """A row read by position or by column name, as sqlite3.Row is."""

    names: tuple[str, ...] = ()

    def __getitem__(self, key):
        return super().__getitem__(self.names.index(key) if isinstance(key, str) else key)

    def keys(self) -> tuple[str, ...]:
        return self.names


def _row_factory(cursor: psycopg.Cursor) -> Callable[[Sequence], Row]:
    names = tuple(column.name for column in cursor.description or ())

    def make(values: Sequence) -> Row:
        row = Row(values)
        row.names = names
        return row

    return make


def _placeholders(sql: str) -> str:
    """SQLite's `?` placeholders as psycopg's `%s` (a literal % doubled)."""
    return sql.replace("%", "%%").replace("?", "%s")


class PgConnection:
    """A psycopg connection that runs the log's SQLite-style SQL; `release` hands it back to its pool if it has one."""

    dialect = "postgresql"

    def __init__(self, connection: psycopg.Connection, release: Callable[[psycopg.Connection], None] | None = None):
        self.raw = connection
        self._release = release
        connection.row_factory = _row_factory
        connection.adapters.register_loader("numeric", FloatLoader)  # avg() and friends as floats, as in SQLite

    def execute(self, sql: str, params: Sequence | None = None) -> psycopg.Cursor:
        return self.raw.execute(_placeholders(sql) if params else sql, params or None)

    def executemany(self, sql: str, rows: Sequence[Sequence]) -> psycopg.Cursor:
        cursor = self.raw.cursor()
        if rows:
            cursor.executemany(_placeholders(sql), rows)
        return cursor

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE

    def close(self) -> None:
        if self._release is not None:
            self._release(self.raw)
        else:
            self.raw.close()


def connect(url: str) -> PgConnection:
    """A writing connection (autocommit: transactions are explicit, BEGIN ... COMMIT) with the schema migrated."""
    connection = PgConnection(psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S))
    try:
        migrate(connection)
    except BaseException:
        connection.raw.close()
        raise
    return connection


READER = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "options": "-c default_transaction_read_only=on"}
_read_pools: dict[str, ConnectionPool] = {}
_read_pools_lock = threading.Lock()


def connect_readonly_url(url: str) -> PgConnection:
    """A read-only connection from the URL's pool; FileNotFoundError when the database holds no log yet."""
    with _read_pools_lock:
        pool = _read_pools.get(url)
        if pool is None:
            pool = _read_pools[url] = ConnectionPool(
                url, min_size=0, max_size=READ_POOL_SIZE, kwargs=READER, open=True, num_workers=1, max_idle=60,
                reconnect_timeout=CONNECT_TIMEOUT_S, check=ConnectionPool.check_connection,  # none left from a restart
            )  # fmt: skip
    try:
        connection = PgConnection(pool.getconn(timeout=POOL_WAIT_S), pool.putconn)
    except PoolTimeout:  # busy, or no server: a connection of its own, or the reason it cannot have one
        connection = PgConnection(psycopg.connect(url, **READER))
    try:
        if connection.execute("SELECT to_regclass('queries')").fetchone()[0] is None:
            raise FileNotFoundError(f"no query log in {redact(url)}: run `python app.py --log URL` and ask something")
    except BaseException:
        connection.close()
        raise
    return connection


# Migrations: numbered steps, applied in order once per log, the same way for both backends.


def _create_tables(connection) -> None:
    for statement in filter(str.strip, SCHEMA.split(";")):
        connection.execute(statement)


def _add_voters(connection) -> None:
    """Give a log written before votes named their voter the voter column, keeping its votes (as voter '')."""
    if "voter" in columns(connection, "votes"):
        return
    connection.execute("ALTER TABLE votes RENAME TO votes_without_voter")
    votes_table = SCHEMA[SCHEMA.index("CREATE TABLE IF NOT EXISTS votes") :]
    connection.execute(votes_table[: votes_table.index(";")])
    connection.execute(
        "INSERT INTO votes (query_id, answer_id, helpful, time) SELECT query_id, answer_id, helpful, time"
        " FROM votes_without_voter"
    )
    connection.execute("DROP TABLE votes_without_voter")


def columns(connection, table: str) -> set[str]:
    """The names of a table's columns, in either database."""
    if isinstance(connection, PgConnection):
        rows = connection.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", (table,))
        return {row[0] for row in rows}
    return {row[1] for row in connection.execute(f"PRAGMA table_info({table})")}


MIGRATIONS: list[tuple[int, str, Callable]] = [
    (1, "queries, answers shown, votes and 'none of these' votes", _create_tables),
    (2, "votes name their voter (logs from before keep their votes as voter '')", _add_voters),
]


def migrate(connection) -> int:
    """Apply the migrations this log has not had, in one transaction (one process at a time); returns its version."""
    postgres = isinstance(connection, PgConnection)
    connection.execute("BEGIN" if postgres else "BEGIN IMMEDIATE")
    try:
        if postgres:
            connection.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        connection.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied DOUBLE PRECISION NOT NULL,"
            " description TEXT NOT NULL)"
        )
        version = connection.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        for number, description, step in MIGRATIONS:
            if number > version:
                step(connection)
                connection.execute(
                    "INSERT INTO schema_version (version, applied, description) VALUES (?, ?, ?)",
                    (number, time.time(), description),
                )
                version = number
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise
    return version
