"""search() refuses bad input with a clear ValueError, checked on the seed with the fake model (no model load)."""

from __future__ import annotations

import time

import pytest

MLOPS = "should startups do MLOps?"


@pytest.mark.parametrize("question", ["\ud800", "What about \udfff MLOps?"])
def test_lone_surrogate_is_a_clear_value_error(fake_seed_searcher, question):
    with pytest.raises(ValueError, match="not valid text: it holds a lone surrogate"):
        fake_seed_searcher.search(question)


@pytest.mark.parametrize("k", [2.5, "3", True, None])
def test_k_that_is_not_a_whole_number_is_a_clear_error(fake_seed_searcher, k):
    with pytest.raises(ValueError, match="k must be a whole number"):
        fake_seed_searcher.search(MLOPS, k)


def test_ten_megabyte_question_reaches_the_model_cut(fake_seed_searcher, monkeypatch):
    embedder = fake_seed_searcher.embedder
    seen: list[int] = []
    monkeypatch.setattr(embedder, "truncate", lambda text: seen.append(len(text)) or text)
    started = time.perf_counter()
    assert fake_seed_searcher.search("Should startups invest in MLOps automation? " * 240_000, 3, min_score=0)
    assert time.perf_counter() - started < 2.0  # generous for a loaded machine; the cut itself takes milliseconds
    assert seen and max(seen) <= 1_000


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"author": "Nobody"}, "author 'Nobody' has no answers in the index"),
        ({"book": "No Such Book"}, r"book 'No Such Book' is not in the index \(give its title or id\)"),
    ],
)
def test_an_unknown_author_or_book_is_a_clear_error_as_in_the_web_apis(fake_seed_searcher, filters, message):
    with pytest.raises(ValueError, match=message):
        fake_seed_searcher.search("spark", **filters)
    with pytest.raises(ValueError, match=message):
        fake_seed_searcher.related_questions("spark", **filters)
    assert fake_seed_searcher.search(MLOPS, author="noah gift", min_score=0)  # known ones, any case, still filter
