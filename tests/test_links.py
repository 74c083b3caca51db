"""Page addresses: search links keep their filters, answer links name a stable id, bad or hostile values are dropped."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl

import pytest

from assistant.service.contract import (
    MAX_ID_CHARS,
    MAX_REQUEST_CHARS,
    PageLink,
    SearchRequest,
    answer_link,
    gone_answer_search,
    read_link,
    request_link,
    search_link,
)
from assistant.web.page import _navigated_to, open_link, respond

QUESTION = "should startups do MLOps?"
SEED = "20210830-practical-mlops"
HOSTILE = '"><script>window.__xss=1</script><img src=x onerror=alert(1)>'


def _params(link: str) -> dict[str, str]:
    return dict(parse_qsl(link.removeprefix("?")))


def test_search_link_keeps_filters_and_k_and_reads_back_to_the_same_request(fake_seed_searcher):
    link = read_link(
        fake_seed_searcher, {"q": f"  {QUESTION} ", "author": "noah gift", "book": "Practical MLOps", "k": "3"}
    )
    assert link == PageLink(SearchRequest(QUESTION, 3, "Noah Gift", SEED))
    assert request_link(link.search) == f"?q=should+startups+do+MLOps%3F&author=Noah+Gift&book={SEED}&k=3"
    assert read_link(fake_seed_searcher, _params(request_link(link.search))) == link


def test_defaults_stay_out_of_the_link():
    assert search_link(QUESTION) == "?q=should+startups+do+MLOps%3F"


@pytest.mark.parametrize(
    ("params", "ignored"),
    [
        ({"k": "0"}, ("k",)),
        ({"k": HOSTILE}, ("k",)),
        ({"author": HOSTILE}, ("author",)),
        ({"book": "x" * 10_000}, ("book",)),
        ({"author": "Nobody", "book": "Cooking", "k": "2.5"}, ("k", "author", "book")),
    ],
)
def test_bad_parameters_are_dropped_and_named_but_the_search_still_runs(fake_seed_searcher, params, ignored):
    link = read_link(fake_seed_searcher, {"q": QUESTION, **params})
    assert link.search == SearchRequest(QUESTION)
    assert link.ignored == ignored


def test_a_question_too_long_to_be_one_is_dropped(fake_seed_searcher):
    assert read_link(fake_seed_searcher, {"q": "x" * (MAX_REQUEST_CHARS + 1)}) == PageLink(ignored=("q",))


@pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"k": "3"}, {"utm_source": "x"}])
def test_an_address_without_a_question_asks_for_nothing(fake_seed_searcher, params):
    assert read_link(fake_seed_searcher, params) == PageLink()


def test_answer_link_names_the_stable_id_and_reads_back():
    assert answer_link(f"{SEED}/3/noah-gift/0") == f"?answer={SEED}/3/noah-gift/0"
    assert _params(answer_link(HOSTILE)) == {"answer": HOSTILE}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f" {SEED}/3/noah-gift/0 ", PageLink(answer_id=f"{SEED}/3/noah-gift/0")),
        ("", PageLink(ignored=("answer",))),
        ("x" * (MAX_ID_CHARS + 1), PageLink(ignored=("answer",))),
    ],
)
def test_answer_parameter(fake_seed_searcher, value, expected):
    assert read_link(fake_seed_searcher, {"answer": value, "q": "ignored when an answer is asked for"}) == expected


def test_links_percent_encode_everything_html_or_a_url_could_misread():
    for link in (search_link(HOSTILE), answer_link(HOSTILE)):
        assert re.fullmatch(r"\?[A-Za-z0-9%+=/._~-]+", link), link


def test_a_gone_answer_is_searched_by_its_book_words_and_author(fake_seed_searcher):
    offer = gone_answer_search(fake_seed_searcher, f"{SEED}/3/noah-gift/0")
    assert offer == SearchRequest("practical mlops", author="Noah Gift")
    assert gone_answer_search(fake_seed_searcher, "old-book/3/ann-other/0") == SearchRequest("old book ann other")
    assert gone_answer_search(fake_seed_searcher, "123/4/5") is None


def test_opening_a_search_link_sets_the_controls_and_shows_results(fake_seed_searcher):
    asked = next(unit.question for unit in fake_seed_searcher.units if unit.asker == "Doink")
    question, author, book, k, since, until, results, _, link = open_link(
        fake_seed_searcher, {"q": asked, "author": "noah gift", "k": "2"}
    )
    assert (question, author, book, k, since, until) == (asked, "Noah Gift", "", 2, "", "")
    assert results.count('class="ata-card"') == 2 and results.count('<h3 class="ata-author">Noah Gift</h3>') == 2
    assert link == search_link(asked, 2, "Noah Gift") and "&author=Noah+Gift&k=2" in link


def test_hostile_parameters_never_reach_the_page_unescaped(fake_seed_searcher):
    for params in ({"q": HOSTILE}, {"q": QUESTION, "author": HOSTILE, "k": HOSTILE}, {"answer": HOSTILE}):
        *_, results, _, link = open_link(fake_seed_searcher, params)
        assert "<script" not in results and "<img" not in results
        assert re.fullmatch(r"(\?[A-Za-z0-9%+=&/._~-]+)?", link), link


def test_an_answer_link_opens_that_answer_alone_with_its_full_question_and_thread(fake_seed_searcher):
    unit = next(u for u in fake_seed_searcher.units if len(u.question) > 300)
    question, *_, results, _, link = open_link(fake_seed_searcher, {"answer": unit.id})
    assert question == "" and link == answer_link(unit.id)
    assert "&lt;script&gt;" in open_link(fake_seed_searcher, {"answer": HOSTILE})[6]
    assert results.count('class="ata-card ata-single"') == 1 and '<details class="ata-asked"' not in results
    assert results.count('<details class="ata-thread" open>') == 1
    assert unit.question.strip()[-40:].replace("'", "&#x27;").replace('"', "&quot;") in results
    assert 'href="https://datatalks.club/books/20210830-practical-mlops.html"' in results


def test_a_gone_answer_says_so_and_offers_a_search_for_its_words(fake_seed_searcher):
    *_, results, _, _ = open_link(fake_seed_searcher, {"answer": f"{SEED}/999/noah-gift/0"})
    assert f"There is no answer <code>{SEED}/999/noah-gift/0</code> any more" in results
    assert (
        'href="?q=practical+mlops&amp;author=Noah+Gift" data-ata-nav>Search for “practical mlops” by Noah Gift'
        in results
    )


def test_navigation_reads_the_address_sent_by_the_page_and_nothing_else():
    class Event:
        def __init__(self, data):
            self._data = data

    assert _navigated_to(Event({"query": "?q=a+b&k=3"})) == {"q": "a b", "k": "3"}
    assert _navigated_to(Event(None)) == {} and _navigated_to(Event({"query": ["x"]})) == {}


def test_back_to_a_plain_address_clears_the_page(fake_seed_searcher):
    assert open_link(fake_seed_searcher, {"utm_source": "x"})[:7] == ("", "", "", 5, "", "", "")


def test_the_closest_answers_anyway_have_a_link_of_their_own(fake_seed_searcher):
    onions = "How do I cook onions?"
    link = read_link(fake_seed_searcher, {"q": onions, "closest": "true"})
    assert link == PageLink(SearchRequest(onions, closest=True))
    assert request_link(link.search) == "?q=How+do+I+cook+onions%3F&closest=true"
    assert read_link(fake_seed_searcher, {"q": onions, "closest": "maybe"}).ignored == ("closest",)
    *_, link_shown = respond(fake_seed_searcher, onions, "", "", 5, closest=True)
    assert link_shown == "?q=How+do+I+cook+onions%3F&closest=true"
