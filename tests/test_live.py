"""A running app serves each new build of its index: swapped between requests, none failing, counts updated."""

from __future__ import annotations

import gc
import http.client
import json
import shutil
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect

from assistant.indexing.store import build_index, load_built_index
from assistant.searching.live import LiveSearcher
from assistant.searching.searcher import Searcher
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import SEED_ID, write_archive
from load import HOST, running_app

NEW_WEEK = "20230529-modeling-mindsets"
NEW_QUESTION = "benefits of conformal prediction sets over single predictions in classification"  # dev.jsonl
SWAP_SECONDS = 120  # bound on waiting for a swap on a busy machine; the loops end as soon as it happens
START_SECONDS = 300  # bound on the app starting on a busy machine (2 shared cores)


def wait_for(condition, what: str, seconds: float = SWAP_SECONDS):
    """Poll `condition` until it returns something truthy; fail naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.05)
    pytest.fail(f"{what} did not happen within {seconds} s")


@pytest.fixture
def fake_index(tmp_path, seed_dir) -> tuple[Path, Path]:
    """(data folder, index folder): a private copy of the seed folder indexed with the fake model."""
    data = Path(shutil.copytree(seed_dir, tmp_path / "data"))
    build_index([data], tmp_path / "index", embedder=HashedWordsEmbedder())
    return data, tmp_path / "index"


def fake_live(index: Path) -> LiveSearcher:
    return LiveSearcher(Searcher(load_built_index(index, FAKE_MODEL_ID), HashedWordsEmbedder()), index, check_every=0)


def add_tiny_week(data: Path) -> None:
    answer = {"name": "Ann Author", "text": "Feed the sourdough starter twice a day at room heat."}
    thread = {"name": "Bo Reader", "text": "How do I keep a sourdough starter?", "replies": [answer]}
    write_archive(data / "20240101-tiny-book.md", [thread])


def test_a_new_build_is_swapped_in_and_the_old_searcher_still_answers(fake_index):
    data, index = fake_index
    live = fake_live(index)
    old = live.current()
    assert live.current() is old  # nothing new: the same searcher
    add_tiny_week(data)
    build_index([data], index, embedder=HashedWordsEmbedder())
    new = wait_for(lambda: live.current() if live.current() is not old else None, "the swap")
    assert len(new.books) == len(old.books) + 1
    assert new.search("sourdough starter", 1, min_score=0)[0].book == "20240101-tiny-book"
    # A request that got the old searcher finishes on it, though its build folder is gone.
    assert not old.index.build.exists()
    assert old.search("sourdough starter", 1, min_score=0)[0].book == SEED_ID


def test_a_build_that_does_not_load_is_reported_and_the_old_one_kept(fake_index, capsys):
    data, index = fake_index
    live = fake_live(index)
    old = live.current()
    broken = shutil.copytree(old.index.build, index / "builds" / "broken")
    (broken / "units.json").write_text("[", encoding="utf-8")
    (index / "current").unlink()
    (index / "current").symlink_to(Path("builds") / "broken")
    printed = []

    def warned() -> bool:
        live.current()
        printed.append(capsys.readouterr().err)
        return "warning: kept serving" in "".join(printed)

    wait_for(warned, "the warning")
    assert "units.json" in "".join(printed)
    assert live.current() is old


def test_a_swapped_out_searcher_is_freed_without_the_cyclic_collector(fake_seed_searcher):
    """Issue 26, bug 8: the question cache keeps no reference to its searcher, so dropping it frees the index."""
    searcher = Searcher(fake_seed_searcher.index, HashedWordsEmbedder())
    searcher.search("Should startups do MLOps?", 3)
    assert searcher._embed.cache_info().currsize == 1  # the question is cached
    freed = weakref.ref(searcher)
    gc.disable()
    try:
        del searcher
        assert freed() is None
    finally:
        gc.enable()


def test_a_searcher_without_a_folder_never_changes(fake_seed_searcher):
    live = LiveSearcher(fake_seed_searcher)
    assert live.current() is fake_seed_searcher


class SearchingClient(threading.Thread):
    """Searches the JSON API over and over on one connection, counting answers and failures, until stopped."""

    def __init__(self, url: str, question: str):
        super().__init__(daemon=True)
        self.address, self.question = urlsplit(url), question
        self.done, self.failures, self.stop = 0, [], threading.Event()

    def run(self) -> None:
        connection = http.client.HTTPConnection(self.address.hostname, self.address.port, timeout=60)
        while not self.stop.is_set():
            try:
                connection.request("GET", f"/api/search?{urlencode({'q': self.question, 'k': 3})}")
                response = connection.getresponse()
                body = response.read()
                if response.status != 200 or not json.loads(body)["answers"]:
                    self.failures.append(f"{response.status}: {body[:200]!r}")
            except (OSError, http.client.HTTPException, ValueError) as error:
                self.failures.append(repr(error))
                connection.close()
            self.done += 1


def books_answering(url: str, question: str) -> set[str]:
    connection = http.client.HTTPConnection(HOST, urlsplit(url).port, timeout=60)
    try:
        connection.request("GET", f"/api/search?{urlencode({'q': question, 'k': 5})}")
        response = connection.getresponse()
        assert response.status == 200
        return {answer["book"] for answer in json.loads(response.read())["answers"]}
    finally:
        connection.close()


@pytest.mark.slow
def test_running_app_serves_a_new_week_after_a_rebuild_with_no_failed_request(
    tmp_path, seed_dir, seed_index, data_dir, embedder
):
    data = Path(shutil.copytree(seed_dir, tmp_path / "data"))
    index = Path(shutil.copytree(seed_index, tmp_path / "index", symlinks=True))
    build_index([data], index, embedder=embedder)  # records this data folder; every text from the cache
    with running_app(index, [data], timeout=START_SECONDS) as url:
        assert NEW_WEEK not in books_answering(url, NEW_QUESTION)
        client = SearchingClient(url, "Should startups do MLOps?")
        client.start()
        wait_for(lambda: client.done >= 3, "the client's first searches")
        shutil.copy(data_dir / f"{NEW_WEEK}.md", data)
        build_index([data], index, embedder=embedder)
        wait_for(lambda: NEW_WEEK in books_answering(url, NEW_QUESTION), "the new week's answer")
        searched_after = client.done
        wait_for(lambda: client.done > searched_after + 3, "the client's searches on the new build")
        client.stop.set()
        client.join(60)
    assert client.failures == []
    assert client.done > 6


@pytest.mark.browser
def test_the_page_shows_the_new_counts_after_a_swap(fake_index, open_page):
    from assistant.web.serve import start

    data, index = fake_index
    live = fake_live(index)
    old = live.current()
    server = start(live, HOST)
    try:
        page, blocked = open_page(server.url)
        corpus = page.locator(".ata-corpus")
        expect(corpus).to_have_text(f"Searching {len(old.units)} answers by 2 authors from 1 book.", timeout=60_000)
        add_tiny_week(data)
        build_index([data], index, embedder=HashedWordsEmbedder())
        wait_for(lambda: live.current() is not old, "the swap")
        page.reload()
        expect(corpus).to_have_text(f"Searching {len(old.units) + 1} answers by 3 authors from 2 books.",
                                    timeout=60_000)  # fmt: skip
        page.get_by_label("Book").click()
        expect(page.get_by_role("option", name="Tiny Book")).to_be_visible(timeout=60_000)
        assert blocked == []
    finally:
        server.stop()
