"""A question that names an author ranks that author's answers higher, and the page says so with a one-click filter."""

from __future__ import annotations

import pytest

from assistant.web.page import respond


def test_authors_are_found_by_full_name_or_a_surname_only_they_have(fake_seed_searcher):
    searcher = fake_seed_searcher
    assert searcher.named_authors("what does Noah Gift think about Kubernetes?") == ["Noah Gift"]
    assert searcher.named_authors("Deza's take on MLOps") == ["Alfredo Deza"]
    assert searcher.named_authors("what is a gift for a new MLOps engineer?") == []  # a word, not his name


def test_the_named_authors_answers_rank_higher_and_the_page_says_so(fake_seed_searcher):
    searcher = fake_seed_searcher
    question = "what does Alfredo Deza think about Kubernetes?"
    before = searcher.search(question, 5, min_score=0.0, boost=0.0)
    after = searcher.search(question, 5, min_score=0.0)
    assert before[0].author != "Alfredo Deza" and after[0].author == "Alfredo Deza"
    assert searcher.search(question, 5, author="Noah Gift", min_score=0.0)[0].author == "Noah Gift"  # a filter wins
    body, _, _ = respond(searcher, question, "", "", 5, closest=True)
    assert "Your question names Alfredo Deza: their answers are ranked higher." in body
    assert "?q=what+does+Alfredo+Deza+think+about+Kubernetes%3F&amp;author=Alfredo+Deza" in body


@pytest.mark.slow
def test_on_the_full_archive_named_authors_reach_the_top_three(full_searcher):
    """Chip Huyen's answers were not in the top 5 at all without the lift (docs/authors-named.md)."""
    for question, author in [("what does Kleppmann think about stream processing?", "Martin Kleppmann"),
                             ("what would Chip Huyen say about feature stores?", "Chip Huyen")]:  # fmt: skip
        answers = full_searcher.search(question, 5, min_score=0.0)
        assert author in {a.author for a in answers[:3]}, [a.author for a in answers]
