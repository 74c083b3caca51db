"""The running app's `/search` API, its MCP tool, its start-up errors and a small load, over loopback.

The app runs as `python app.py` in a subprocess, as a user starts it, on the seed index that
conftest builds from the seed into a pytest tmp dir.
"""

import asyncio
import json
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest
from gradio_client import Client

from assistant.searching.searcher import Answer
from helpers import run_async
from load import QUESTIONS, REPO, run_load, running_app

pytestmark = pytest.mark.slow
pytest_plugins = ["logfixtures"]  # pg_server: a PostgreSQL server for the log
QUESTION = "Should startups do MLOps?"
AUTHORS = {"Noah Gift", "Alfredo Deza"}


@pytest.fixture(scope="module")
def seed_app(seed_index: Path, seed_dir: Path, tmp_path_factory):
    """The URL of `python app.py` serving the seed index (conftest's session fixture), with a temp query log."""
    with running_app(seed_index, [seed_dir], query_log=tmp_path_factory.mktemp("state") / "queries.sqlite") as url:
        yield url


@pytest.fixture(scope="module")
def client(seed_app: str) -> Client:
    return Client(seed_app, verbose=False)


def search(client: Client, question: str, k: int = 5, author: str = "", book: str = "", closest: bool = False):
    return client.predict(question, k, author, book, closest, api_name="/search")


def test_search_returns_both_authors_with_every_answer_field(client):
    results = search(client, QUESTION)
    assert {r["author"] for r in results} == AUTHORS
    assert all(set(r) == {f.name for f in fields(Answer)} | {"query_id"} for r in results)
    assert all(r["book_title"] == "Practical MLOps" and r["url"].startswith("https://") for r in results)


def test_the_four_positional_arguments_are_enough(client):
    results = client.predict(QUESTION, 3, "", "", api_name="/search")
    assert len(results) == 3


def test_five_values_still_work_and_seven_keep_to_weeks(client):
    """since / until came after callers that send five values: those still get every week."""
    assert len(client.predict(QUESTION, 3, "", "", True, api_name="/search")) == 3
    dated = client.predict(QUESTION, 3, "", "", True, "2021-08", "2021", api_name="/search")
    assert dated and all("2021-08-01" <= r["date"][:10] <= "2021-12-31" for r in dated)
    assert client.predict(QUESTION, 3, "", "", True, "2022", "", api_name="/search") == []
    with pytest.raises(Exception, match="until must be a year"):
        client.predict(QUESTION, 3, "", "", True, "", "next week", api_name="/search")


@pytest.mark.parametrize("author", sorted(AUTHORS))
def test_author_filter_returns_only_that_author(client, author):
    results = search(client, QUESTION, 5, author=author)
    assert results and {r["author"] for r in results} == {author}


@pytest.mark.parametrize("book", ["Practical MLOps", "20210830-practical-mlops"])
def test_book_filter_takes_a_title_or_an_id(client, book):
    assert search(client, QUESTION, 2, book=book)


def test_unknown_book_or_author_is_an_error_naming_it_not_an_empty_list(client):
    with pytest.raises(Exception, match="book 'No Such Book' is not in the index"):
        search(client, QUESTION, 2, book="No Such Book")
    with pytest.raises(Exception, match="author 'Nobody' has no answers"):
        search(client, QUESTION, 2, author="Nobody")


def test_no_answer_is_an_empty_list_and_closest_still_finds_some(client):
    assert search(client, "How do I cook onions?") == []
    assert len(search(client, "How do I cook onions?", 3, closest=True)) == 3


@pytest.mark.parametrize(("question", "k"), [("   ", 5), (QUESTION, 0), (QUESTION, 21)])
def test_bad_arguments_give_a_clear_error(client, question, k):
    with pytest.raises(Exception, match="question is empty|k must be from 1 to 20"):
        search(client, question, k)


def test_search_is_an_mcp_tool(seed_app):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    async def call() -> tuple[list, str]:
        async with (
            streamable_http_client(f"{seed_app}gradio_api/mcp/") as (read, write, _),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = (await session.list_tools()).tools
            result = await session.call_tool("search", {"question": QUESTION, "k": 2})
            return tools, result.content[0].text

    tools, text = run_async(asyncio.wait_for(call(), timeout=60))
    assert [tool.name for tool in tools] == ["search", "feedback"]
    assert "Book-of-the-Week" in tools[0].description
    assert set(tools[0].inputSchema["properties"]) == {"question", "k", "author", "book", "closest", "since", "until"}
    assert "2024-03" in tools[0].inputSchema["properties"]["since"]["description"]
    assert "Noah Gift" in {answer["author"] for answer in json.loads(text)}


@pytest.mark.parametrize("api", ["gradio", "json"])
def test_small_load_has_no_errors(seed_app, api):
    report = run_load(seed_app, clients=5, questions=QUESTIONS[:4], api=api)
    assert report.errors == []
    assert len(report.latencies) == 20


def _garbage_manifest(index: Path) -> None:
    (index / "current" / "manifest.json").write_text("{not json", encoding="utf-8")


def _other_model(index: Path) -> None:
    manifest = index / "current" / "manifest.json"
    manifest.write_text(json.dumps({**json.loads(manifest.read_text()), "model": "some/other-model"}), encoding="utf-8")


# The app uses the model the index was built with, so an index naming a model it cannot load is refused.
@pytest.mark.parametrize(
    ("damage", "reason"), [(_garbage_manifest, "unreadable"), (_other_model, "cannot load embedding model")]
)
def test_a_damaged_or_mismatched_index_exits_2_with_one_line(seed_index, seed_dir, tmp_path, damage, reason):
    index = tmp_path / "index"
    shutil.copytree(seed_index, index, symlinks=True)
    damage(index)
    command = [sys.executable, "app.py", "--index", str(index), "--data", str(seed_dir)]
    done = subprocess.run(command, check=False, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ") and reason in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_two_app_processes_on_one_postgresql_log_keep_every_search_and_vote(seed_index, seed_dir, pg_server):
    """Two `python app.py` on one database, 10 clients split between them, three votes on each search."""
    from log_load import run

    result = run("PostgreSQL, 2 apps", pg_server.new_database(), 2, seed_index, seed_dir, 10, QUESTIONS[:10])
    assert result["errors"] == [] and (result["queries"], result["votes"]) == (100, 300)
