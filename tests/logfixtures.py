"""Fixtures for the query-log tests (a pytest plugin): real dev-set questions and real seed answer ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.authors import load_people
from assistant.eval import read_labelled
from assistant.units import build_units


@pytest.fixture(scope="session")
def questions(eval_dir: Path) -> list[str]:
    return [labelled.query for labelled in read_labelled(eval_dir / "dev.jsonl")]


@pytest.fixture(scope="session")
def unit_ids(seed_book, people_file: Path) -> list[str]:
    return [unit.id for unit in build_units(seed_book, load_people(people_file))]
