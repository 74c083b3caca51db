"""The parse cache: a rebuild parses only the archives that changed, and builds what a fresh build would."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from assistant.indexing import parsed as parsed_module
from assistant.indexing.store import PARSED_DIR, build_index
from fakes import HashedWordsEmbedder
from helpers import SEED_ID

SECOND = "20210906-second-week.md"


@pytest.fixture
def two_weeks(tmp_path, seed_dir) -> Path:
    """A copy of the seed folder with the seed archive twice, under two book ids."""
    folder = Path(shutil.copytree(seed_dir, tmp_path / "data"))
    shutil.copy(folder / f"{SEED_ID}.md", folder / SECOND)
    return folder


@pytest.fixture
def parses(monkeypatch) -> list[str]:
    """The file names the build parses (rather than reads back from the cache), in order."""
    names: list[str] = []
    parse = parsed_module.parse_archive

    def spy(path, people):
        names.append(path.name)
        return parse(path, people)

    monkeypatch.setattr(parsed_module, "parse_archive", spy)
    return names


def _built(index: Path) -> tuple[list, dict]:
    build = index / "current"
    return json.loads((build / "units.json").read_text()), json.loads((build / "keys.json").read_text())


def test_rebuild_parses_only_the_changed_archive_and_builds_what_a_fresh_build_does(tmp_path, two_weeks, parses):
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    assert parses == [f"{SEED_ID}.md", SECOND]
    parses.clear()
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    assert parses == []
    path = two_weeks / SECOND
    path.write_text(path.read_text().replace("Automation is not", "Automation is never", 1))
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    assert parses == [SECOND]
    assert len(list((tmp_path / "index" / PARSED_DIR).iterdir())) == 2  # the edited archive's old entry is gone
    build_index([two_weeks], tmp_path / "fresh", embedder=HashedWordsEmbedder())
    assert _built(tmp_path / "index") == _built(tmp_path / "fresh")


def test_a_changed_people_map_parses_every_archive_again(tmp_path, two_weeks, parses):
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    people = two_weeks / "people.yaml"
    people.write_text(people.read_text().replace("Noah Gift", "Noah A. Gift"))
    parses.clear()
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    assert parses == [f"{SEED_ID}.md", SECOND]
    assert "Noah A. Gift" in {unit["author"] for unit in _built(tmp_path / "index")[0]}


def test_a_damaged_cache_entry_is_parsed_again(tmp_path, two_weeks, parses):
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    before = _built(tmp_path / "index")
    entries = sorted((tmp_path / "index" / PARSED_DIR).iterdir())
    entries[0].write_text('{"units": [')
    entries[1].write_text('{"content_hash": "x", "units": [{"id": 1}], "keys": [], "unresolved": []}')
    parses.clear()
    build_index([two_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
    assert sorted(parses) == [f"{SEED_ID}.md", SECOND]
    assert _built(tmp_path / "index") == before
