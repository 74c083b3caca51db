"""Browsing without a question: a book's week, an author's answers, the date filter, on the real archives."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from assistant.searching.browse import BROWSE_PAGE, week_bound
from assistant.web.api import json_api
from helpers import SEED_ID


def test_a_books_week_reads_in_thread_order_in_pages(fake_seed_searcher):
    searcher = fake_seed_searcher
    first = searcher.browse(book=SEED_ID)
    assert first.total == len(searcher.units) and len(first.answers) == BROWSE_PAGE
    rest = searcher.browse(book="Practical MLOps", offset=BROWSE_PAGE, limit=1000)  # by title too
    order = [(a.thread, a.id) for a in first.answers + rest.answers]
    assert [t for t, _ in order] == sorted(t for t, _ in order)  # the week's threads as they ran
    assert len({i for _, i in order}) == first.total  # every answer once, across the pages


def test_an_authors_answers_and_the_shelves(fake_seed_searcher):
    searcher = fake_seed_searcher
    noah = searcher.browse(author="noah gift", limit=1000)
    assert noah.total > 5 and {a.author for a in noah.answers} == {"Noah Gift"}
    [week] = searcher.book_weeks
    assert (week.id, week.title, week.week, week.answers) == (SEED_ID, "Practical MLOps", "2021-08-30",
                                                              len(searcher.units))  # fmt: skip
    assert {"Noah Gift", "Alfredo Deza"} <= set(week.authors)
    shelves = {shelf.name: shelf for shelf in searcher.author_shelves}
    assert shelves["Noah Gift"].books == (SEED_ID,) and shelves["Noah Gift"].answers == noah.total


def test_weeks_filter_and_bad_bounds_are_named(fake_seed_searcher):
    searcher = fake_seed_searcher
    assert searcher.browse(since="2021-08").total == len(searcher.units)
    assert searcher.browse(until="2021-08-29").total == 0
    assert searcher.browse(since="2021", until="2021").total == len(searcher.units)
    assert week_bound("2024-02", "until", end=True) == "2024-02-29" and week_bound("2024", "since", end=False) == (
        "2024-01-01"
    )
    for bad in ("last week", "2024-13", "2023-02-30"):
        with pytest.raises(ValueError, match="since"):
            searcher.browse(since=bad)
    with pytest.raises(ValueError, match="offset"):
        searcher.browse(offset=-1)


def test_search_within_weeks_keeps_to_them(fake_seed_searcher):
    searcher = fake_seed_searcher
    assert searcher.search("should startups do MLOps?", 3, since="2021", min_score=0.0)
    assert searcher.search("should startups do MLOps?", 3, since="2022", min_score=0.0) == []


@pytest.mark.slow
def test_the_full_archive_browses_by_week_and_author(full_searcher):
    weeks = full_searcher.book_weeks
    assert len(weeks) >= 90 and [w.week for w in weeks] == sorted((w.week for w in weeks), reverse=True)
    ddia = next(w for w in weeks if w.title.startswith("Designing Data-Intensive"))
    assert "Martin Kleppmann" in ddia.authors
    kleppmann = full_searcher.browse(author="Martin Kleppmann", limit=1000)
    assert kleppmann.total == next(s.answers for s in full_searcher.author_shelves if s.name == "Martin Kleppmann")
    in_2024 = full_searcher.browse(since="2024", until="2024", limit=10_000)
    assert in_2024.total and all(a.date.startswith("2024") for a in in_2024.answers)
    dates = [a.date for a in in_2024.answers]
    assert dates == sorted(dates, reverse=True)


def test_the_json_api_lists_books_and_authors_and_browses_in_pages(fake_seed_searcher):
    client = TestClient(_app(fake_seed_searcher))
    [book] = client.get("/api/books").json()["books"]
    assert set(book) == {"id", "title", "authors", "week", "answers"} and book["week"] == "2021-08-30"
    authors = client.get("/api/authors").json()["authors"]
    noah = next(a for a in authors if a["name"] == "Noah Gift")
    assert noah["books"] == [SEED_ID] and noah["answers"] > 5
    first = client.get("/api/browse", params={"book": SEED_ID, "limit": "5"}).json()
    second = client.get("/api/browse", params={"book": SEED_ID, "limit": "5", "offset": "5"}).json()
    assert first["total"] == book["answers"] and len(first["answers"]) == 5 and second["offset"] == 5
    assert not {a["id"] for a in first["answers"]} & {a["id"] for a in second["answers"]}
    assert (
        client.get("/api/search", params={"q": "startups MLOps", "since": "2022", "closest": "true"}).json()["answers"]
        == []
    )
    for params, says in [({"since": "yesterday"}, "since must be a year"), ({"limit": "0"}, "limit must be"),
                         ({"offset": "x"}, "offset must be"), ({"author": "Nobody"}, "has no answers")]:  # fmt: skip
        response = client.get("/api/browse", params=params)
        assert response.status_code == 400 and says in response.json()["error"]
    bad = client.get("/api/search", params={"q": "mlops", "until": "2024-02-30"})
    assert bad.status_code == 400 and "no day 30" in bad.json()["error"]


def _app(searcher) -> FastAPI:
    app = FastAPI()
    app.include_router(json_api(searcher))
    return app


def test_the_page_opens_a_books_week_and_an_authors_answers_by_link_in_pages(fake_seed_searcher):
    from assistant.web.page import open_link

    searcher = fake_seed_searcher
    _, _, book, _, _, _, body, _, link = open_link(searcher, {"book": "practical mlops"})  # by title, any case
    assert book == SEED_ID and link == f"?book={SEED_ID}"
    assert "Practical MLOps, week of 30 Aug 2021: its threads in order" in body
    assert f"Answers 1–{BROWSE_PAGE} of {len(searcher.units)}" in body
    assert f'href="?book={SEED_ID}&amp;offset={BROWSE_PAGE}" data-ata-nav>Next page →' in body
    assert 'href="?author=Noah+Gift" data-ata-nav>All of Noah Gift’s answers' in body  # from every card
    *_, second, _, link = open_link(searcher, {"book": SEED_ID, "offset": str(BROWSE_PAGE)})
    assert link == f"?book={SEED_ID}&offset={BROWSE_PAGE}" and "← Earlier page" in second
    _, author, _, _, _, _, noah, _, link = open_link(searcher, {"author": "noah gift"})
    assert (author, link) == ("Noah Gift", "?author=Noah+Gift") and "Noah Gift’s answers, newest week first" in noah
    *_, ignored, _, _ = open_link(searcher, {"author": "Noah Gift", "since": "soon", "offset": "-3"})
    assert "This link's since, offset could not be used and were ignored." in ignored


def test_a_page_link_searches_within_weeks_and_keeps_them(fake_seed_searcher):
    from assistant.web.page import open_link

    question = "should startups do MLOps?"
    *weeks, body, _, link = open_link(fake_seed_searcher, {"q": question, "since": "2022", "closest": "true"})
    assert link.endswith("&since=2022-01-01") and "ata-card" not in body  # the seed's one week is 2021
    assert weeks[-2:] == ["2022-01-01", ""]  # the page's Since and Until boxes
    *_, body, _, link = open_link(fake_seed_searcher, {"q": question, "until": "2021-12", "closest": "true"})
    assert link.endswith("&until=2021-12-31") and "ata-card" in body
    *_, body, _, _ = open_link(fake_seed_searcher, {"q": question, "since": "someday"})
    assert "This link's since could not be used and was ignored." in body


def test_the_page_searches_within_the_weeks_typed_and_names_a_bad_one(fake_seed_searcher):
    from assistant.web.page import respond

    question = "should startups do MLOps?"
    body, _, link = respond(fake_seed_searcher, question, "", "", 5, closest=True, since="2021", until="2021-08")
    assert "ata-card" in body and link.endswith("&since=2021-01-01&until=2021-08-31")
    body, _, link = respond(fake_seed_searcher, question, "", "", 5, closest=True, since="2022")
    assert "ata-card" not in body and link.endswith("&since=2022-01-01")
    body, _, link = respond(fake_seed_searcher, question, "", "", 5, until="next week")
    assert "until must be a year" in body and link == ""
