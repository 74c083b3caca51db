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
    assert time.perf_counter() - started < 0.5
    assert seen and max(seen) <= 1_000
