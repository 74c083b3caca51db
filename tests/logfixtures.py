"""Fixtures for the query-log tests (a pytest plugin): real questions and answer ids, a log on either backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.corpus.authors import load_people
from assistant.corpus.units import build_units
from assistant.eval import read_labelled
from assistant.service.logdb import LogTarget
from pgserver import PgServer


@pytest.fixture(scope="session")
def questions(eval_dir: Path) -> list[str]:
    return [labelled.query for labelled in read_labelled(eval_dir / "dev.jsonl")]


@pytest.fixture(scope="session")
def unit_ids(seed_book, people_file: Path) -> list[str]:
    return [unit.id for unit in build_units(seed_book, load_people(people_file))]


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """One PostgreSQL server for the session (Debian's, started here); each test makes its own database."""
    server = PgServer()
    yield server
    server.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def log_target(request, tmp_path) -> LogTarget:
    """Where a test's query log lives, once per backend: a new SQLite file, or a new database on the test server."""
    if request.param == "sqlite":
        return tmp_path / "state" / "queries.sqlite"
    return request.getfixturevalue("pg_server").new_database()
