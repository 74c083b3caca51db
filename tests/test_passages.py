"""Splitting a reply that answers several questions into passages, on real archive replies."""

from __future__ import annotations

from assistant.corpus.passages import quoted_question, split_passages
from assistant.corpus.units import build_units


def _reply(books_by_id, people, book, thread, author):
    units = build_units(books_by_id[book], people)
    return next(u for u in units if u.thread == thread and u.author == author)


def test_quoted_questions_each_start_a_passage(books_by_id, people):
    """Marcello La Rocca quotes each question in ``` and answers it below."""
    reply = _reply(books_by_id, people, "20210531-advanced-algorithms-and-data-structures", 16, "Marcello La Rocca")
    passages = split_passages(reply.text)
    assert len(passages) >= 3
    assert any(p.startswith("```Which algorithms are your favorite") for p in passages)
    assert "".join(passages).replace("\n", "") == reply.text.replace("\n", "")


def test_numbered_answers_to_numbered_questions_are_passages(books_by_id, people):
    reply = _reply(books_by_id, people, "20220815-fundamentals-of-data-engineering", 29, "Joe Reis")
    passages = split_passages(reply.text)
    assert [p[:2] for p in passages] == ["1.", "2.", "3."]


def test_a_short_answer_is_one_passage():
    assert split_passages("Use DVC for data and MLflow for models.") == ["Use DVC for data and MLflow for models."]


def test_a_reply_that_quotes_slack_copies_of_questions_answers_each(books_by_id, people):
    """Noah Gift answers four of Doink's questions in one reply, each pasted as "[10:04 AM] …"."""
    reply = _reply(books_by_id, people, "20210830-practical-mlops", 9, "Noah Gift")
    passages = split_passages(reply.text)
    questions = [quoted_question(p, reply.question) for p in passages]
    assert "Do small startups really need MLOps or is it over engineering?" in questions
    assert any(q.startswith("There are a plethora of tools coming out") for q in questions)  # no "[10:03 AM]"
    startups = passages[questions.index("Do small startups really need MLOps or is it over engineering?")]
    assert "Kaizen" in startups and "Make sure you have CI/CD" not in startups


def test_an_authors_own_question_is_not_a_quoted_one():
    asked = "What is the best way to do fine-tuning?"
    assert quoted_question("Can you elaborate a bit more on your setup, please?\nThen I can say more.", asked) == ""
    assert quoted_question("> Can you elaborate a bit more on your setup?\nSure: it runs on k8s.", asked) == (
        "Can you elaborate a bit more on your setup?"
    )
    assert quoted_question("What is the best way to do fine-tuning?\nFreeze the first layers.", asked) == asked
