"""Answer units: who answered, which question, stable ids, and what is too small to be an answer."""

from __future__ import annotations

import shutil

import pytest

from assistant.corpus.archive import read_archive, read_archives
from assistant.corpus.units import build_units
from helpers import HOST, HOST_BOOK, SEED_ID, write_archive

CODERS_BOOK = "20210412-ai-and-machine-learning-for-coders"


@pytest.fixture(scope="module")
def seed_units(seed_book, people):
    return build_units(seed_book, people)


@pytest.fixture(scope="module")
def corpus_units(corpus, people):
    return [unit for book in corpus.books for unit in build_units(book, people)]


def _unit_answering(units, answer):
    [unit] = [unit for unit in units if answer in unit.text]
    return unit


# (a phrase of the author's answer, author, asker, a phrase of the question it answers)
SEED_ANSWERS = [
    # Noah's reply under Doink's first question answers Doink's next three top-level questions too,
    # quoting each ("[10:04 AM] Do small startups really need MLOps or is it over engineering?").
    (
        "MLOps is a behavior/methodology",
        "Noah Gift",
        "Doink",
        "Do small startups really need MLOps or is it over engineering?",
    ),
    ("Automation is not a one time thing", "Alfredo Deza", "Livsha Klingman", "I'm a REAL beginner"),
]


@pytest.mark.parametrize("answer, author, asker, question", SEED_ANSWERS)
def test_seed_answer_is_a_unit_by_its_author_for_its_asker(seed_units, answer, author, asker, question):
    unit = _unit_answering(seed_units, answer)
    assert (unit.author, unit.author_as_written, unit.asker) == (author, author, asker)
    assert (unit.book, unit.book_title, unit.date) == (SEED_ID, "Practical MLOps", "2021-08-30")
    assert unit.url == "https://datatalks.club/books/20210830-practical-mlops.html"


@pytest.mark.parametrize("answer, author, asker, question", SEED_ANSWERS)
def test_seed_answer_unit_carries_its_question(seed_units, answer, author, asker, question):
    assert question in _unit_answering(seed_units, answer).question


def test_seed_answer_starts_the_unit(seed_units):
    assert _unit_answering(seed_units, "Automation is not a one time thing").text.startswith(
        "Automation is not a one time thing"
    )


def test_seed_without_people_map_still_finds_noah_gift(seed_book, seed_units):
    """A folder without people.yaml: `authors: [noahgift, ...]` must still match "Noah Gift"."""
    units = build_units(seed_book, {})
    assert [(u.thread, u.author_as_written, u.text) for u in units] == [
        (u.thread, u.author_as_written, u.text) for u in seed_units
    ]
    assert sum(u.author_as_written == "Noah Gift" for u in units) > 10


def test_seed_without_people_map_names_the_author_as_with_it(seed_book, seed_units):
    units = build_units(seed_book, {})
    assert [(u.id, u.author) for u in units] == [(u.id, u.author) for u in seed_units]


@pytest.mark.parametrize("people_map", ["people.yaml", "empty"])
def test_host_never_answers_in_the_seed(seed_book, people, people_map):
    units = build_units(seed_book, people if people_map == "people.yaml" else {})
    assert units
    assert all(HOST not in (u.author, u.author_as_written) for u in units)


def test_host_answers_only_in_his_own_book(corpus_units):
    host_books = {u.book for u in corpus_units if u.author == HOST or u.author_as_written == HOST}
    assert host_books == {HOST_BOOK}


# --- ids -----------------------------------------------------------------------------------------


def test_ids_are_unique_across_the_corpus(corpus_units):
    ids = [u.id for u in corpus_units]
    assert len(ids) == len(set(ids))


def test_ids_are_stable_between_builds(seed_book, seed_file, people, seed_units):
    again = build_units(read_archive(seed_file), people)
    assert [u.id for u in again] == [u.id for u in seed_units]
    assert again == seed_units


def test_ids_do_not_change_when_another_book_is_added(tmp_path, seed_file, books_dir, people, seed_units):
    alone, together = tmp_path / "alone", tmp_path / "together"
    for folder in (alone, together):
        folder.mkdir()
        shutil.copy(seed_file, folder / seed_file.name)
    shutil.copy(books_dir / f"{CODERS_BOOK}.md", together)  # sorts before the seed

    def ids(folder):
        result = read_archives([folder])
        assert result.errors == []
        return {u.id for book in result.books for u in build_units(book, people)}

    seed_ids = {u.id for u in seed_units}
    assert ids(alone) == seed_ids
    assert {i for i in ids(together) if not i.startswith(f"{CODERS_BOOK}/")} == seed_ids


# --- what makes one unit ---------------------------------------------------------------------------


@pytest.mark.parametrize("trivial", ["+1", ":thumbsup:", "🙂", ":tada: :raised_hands:", "Thanks!"])
def test_trivial_author_messages_are_not_units(tmp_path, trivial):
    answer = "Start with chapter two, it sets up the rest."
    archive = [
        {"name": "Bob Reader", "text": "Is it for beginners?", "replies": [{"name": "Ann Author", "text": trivial}]},
        {"name": "Ann Author", "text": trivial},
        {"name": "Cid Reader", "text": "Where do I start?", "replies": [{"name": "Ann Author", "text": answer}]},
    ]
    units = build_units(read_archive(write_archive(tmp_path / "tiny.md", archive)), {})
    assert [(u.thread, u.author, u.asker, u.question, u.text) for u in units] == [
        (2, "Ann Author", "Cid Reader", "Where do I start?", answer)
    ]


@pytest.mark.parametrize(
    "thread, author",
    [(0, "Noah Gift"), (15, "Noah Gift"), (21, "Alfredo Deza")],
)
def test_consecutive_replies_by_the_author_are_one_unit(seed_book, seed_units, thread, author):
    replies = seed_book.messages[thread].replies
    run = [i for i, r in enumerate(replies) if r.name == author]
    assert len(run) > 1 and run == list(range(run[0], run[-1] + 1)), "the seed has a run of replies here"
    [unit] = [u for u in seed_units if u.thread == thread and u.author == author]
    positions = [unit.text.index(replies[i].text) for i in run]
    assert positions == sorted(positions)
    assert unit.text.startswith(replies[run[0]].text)


# --- top-level answers linked to the asker they name ----------------------------------------------


@pytest.mark.parametrize(
    "thread, asker, question",
    [(7, "Krzysztof Ograbek", "Is this a book for all coders"), (9, "Matthew Emerick", "how much math")],
)
def test_top_level_answer_naming_its_asker_is_linked_to_the_question(books_by_id, people, thread, asker, question):
    book = books_by_id[CODERS_BOOK]
    [unit] = [u for u in build_units(book, people) if u.thread == thread]
    assert book.messages[thread].name == unit.author_as_written == unit.author == "Laurence Moroney"
    assert unit.text.startswith(asker)
    assert unit.asker == asker
    assert question in unit.question
