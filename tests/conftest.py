"""Fixtures over the real Book-of-the-Week archives.

The tests read every archive from `data/` (one of them, Practical MLOps, is the one-book seed) and the
eval sets from `eval/`, both in the repository. When one is missing, every test that needs it fails
with a message saying so; none is skipped.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from assistant.corpus.archive import Book, ReadResult, read_archive, read_archives
from assistant.corpus.authors import load_people
from helpers import DATA, EVAL, PEOPLE, SEED


def _require(path: Path) -> Path:
    if not path.exists():
        where = f"the archives from {DATA}" if path.is_relative_to(DATA) else f"the eval sets from {EVAL}"
        pytest.fail(f"{path} is missing: these tests read {where}, shipped with the repository.", pytrace=False)
    return path


@pytest.fixture(scope="session")
def eval_dir() -> Path:
    return _require(EVAL)


@pytest.fixture(scope="session")
def books_dir(data_dir: Path) -> Path:
    """The folder of every archive: data/."""
    return data_dir


@pytest.fixture(scope="session")
def people_file(data_dir: Path) -> Path:
    return _require(PEOPLE)


@pytest.fixture(scope="session")
def seed_file(data_dir: Path) -> Path:
    return _require(SEED)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return _require(DATA)


@pytest.fixture(scope="session")
def seed_dir(tmp_path_factory, seed_file: Path, people_file: Path) -> Path:
    """A folder holding just the seed archive and data/'s people.yaml: the one-book corpus the fast indexes use."""
    folder = tmp_path_factory.mktemp("seed-data")
    shutil.copy(seed_file, folder)
    shutil.copy(people_file, folder)
    return folder


@pytest.fixture(scope="session")
def people(people_file: Path) -> dict[str, str]:
    return load_people(people_file)


@pytest.fixture(scope="session")
def corpus(books_dir: Path) -> ReadResult:
    """Every archive in data/, read once per session."""
    return read_archives([books_dir])


@pytest.fixture(scope="session")
def books_by_id(corpus: ReadResult) -> dict[str, Book]:
    return {book.id: book for book in corpus.books}


@pytest.fixture(scope="session")
def seed_book(seed_file: Path) -> Book:
    return read_archive(seed_file)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory):
    """The bundled model exported to ONNX once per test session, as a first build exports it."""
    from assistant.indexing.embedding import BUNDLED_MODEL_ID
    from assistant.indexing.encoder import exported_embedder

    return exported_embedder(BUNDLED_MODEL_ID, tmp_path_factory.mktemp("encoder") / "onnx")


@pytest.fixture(scope="session")
def seed_index(tmp_path_factory, seed_dir: Path, embedder) -> Path:
    """An index of the seed folder, built like `python -m assistant.index` does."""
    from assistant.indexing.store import build_index

    out = tmp_path_factory.mktemp("seed") / "index"
    build_index([seed_dir], out, embedder=embedder)
    return out


@pytest.fixture(scope="session")
def seed_searcher(seed_index: Path, embedder):
    from assistant.indexing.store import load_built_index
    from assistant.searching.searcher import Searcher

    return Searcher(load_built_index(seed_index), embedder)


@pytest.fixture(scope="session")
def fake_seed_searcher(tmp_path_factory, seed_dir: Path):
    """A searcher over the seed whose vectors come from the fake model: real units, keys and BM25, no model load."""
    from assistant.indexing.store import build_index, load_built_index
    from assistant.searching.searcher import Searcher
    from fakes import FAKE_MODEL_ID, HashedWordsEmbedder

    out = tmp_path_factory.mktemp("fake-seed") / "index"
    build_index([seed_dir], out, embedder=HashedWordsEmbedder())
    return Searcher(load_built_index(out, model=FAKE_MODEL_ID), HashedWordsEmbedder())


@pytest.fixture(scope="session")
def full_index(tmp_path_factory, data_dir: Path, embedder):
    """(build summary, folder) of an index over data/, as `make run` builds it, once per test session (a minute)."""
    from assistant.indexing.store import build_index

    out = tmp_path_factory.mktemp("full") / "index"
    return build_index([data_dir], out, embedder=embedder), out


@pytest.fixture(scope="session")
def full_searcher(full_index, embedder):
    """A searcher over every archive in data/; use it for every full-corpus test."""
    from assistant.indexing.store import load_built_index
    from assistant.searching.searcher import Searcher

    return Searcher(load_built_index(full_index[1]), embedder)


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
DESKTOP = {"width": 1280, "height": 1500}


@pytest.fixture(scope="session")
def browser():
    """Debian's chromium, headless, driven by Playwright (never a downloaded browser build)."""
    from playwright.sync_api import expect, sync_playwright

    # Every expectation waits for its state up to a minute: on 2 busy cores a page can take far over the default 5 s.
    expect.set_options(timeout=60_000)
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install chromium` (or `make browser`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_page(browser):
    """A function opening a URL in a fresh page that reaches loopback only; it returns (page, blocked requests)."""
    contexts = []

    def open_at(url: str, viewport: dict = DESKTOP):
        context = browser.new_context(viewport=viewport)
        contexts.append(context)
        blocked: list[str] = []

        def loopback_only(route):
            if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
                return route.continue_()
            blocked.append(route.request.url)
            return route.abort()

        context.route("**/*", loopback_only)
        page = context.new_page()
        page.goto(url)
        return page, blocked

    yield open_at
    for context in contexts:
        context.close()
