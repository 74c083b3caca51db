"""Author matching on the real corpus: pinned totals, the tricky spellings, and names that must not match."""

from __future__ import annotations

import pytest

from assistant.corpus.archive import Book
from assistant.corpus.authors import AuthorMatcher, display_names, unresolved_slugs
from helpers import HOST, HOST_BOOK

# Pinned on the corpus in data/ (98 archives). A change here is a change in matching: check it, then re-pin.
AUTHOR_REPLIES = 2_377
AUTHOR_REPLIES_FLOOR = 2_370
AUTHOR_TOP_LEVEL = 236


def matcher_for(book: Book, people: dict[str, str]) -> AuthorMatcher:
    return AuthorMatcher(display_names(book.authors, people), book.participants, book.authors)


@pytest.fixture(scope="module")
def matchers(corpus, people) -> dict[str, AuthorMatcher]:
    return {book.id: matcher_for(book, people) for book in corpus.books}


def test_author_replies_pinned(corpus, matchers):
    count = sum(
        1
        for book in corpus.books
        for message in book.messages
        for reply in message.replies
        if matchers[book.id].author_of(reply.name) is not None
    )
    assert count >= AUTHOR_REPLIES_FLOOR
    assert count == AUTHOR_REPLIES


def test_author_top_level_messages_pinned(corpus, matchers):
    count = sum(
        1 for book in corpus.books for message in book.messages if matchers[book.id].author_of(message.name) is not None
    )
    assert count == AUTHOR_TOP_LEVEL


def test_host_is_an_author_only_of_his_own_book(corpus, matchers):
    weeks_hosted = [book.id for book in corpus.books if HOST in book.participants]
    assert len(weeks_hosted) > 20
    assert {book_id: matchers[book_id].author_of(HOST) for book_id in weeks_hosted} == {
        book_id: (HOST if book_id == HOST_BOOK else None) for book_id in weeks_hosted
    }


# (book id, name as written in the archive, author display name)
TRICKY_AUTHORS = [
    ("20210830-practical-mlops", "Noah Gift", "Noah Gift"),  # authors: [noahgift, ...]
    ("20220328-serverless-analytics-with-amazon-athena", "Anthony Virtuoso (Author)", "Anthony Virtuoso"),
    ("20221121-reliable-machine-learning", "Cathy Chen (she/her)", "Cathy Chen"),
    ("20210726-applied-natural-language-processing-in-the-enterprise", "Ankur Patel", "Ankur A. Patel"),
    ("20210726-applied-natural-language-processing-in-the-enterprise", "Ajay Arasanipalai", "Ajay Uppili Arasanipalai"),
    ("20220523-practical-fairness", "Aileen Nielsen", "Nielsen Aileen"),
    ("20210208-ml-design-patterns", "Mike Munn", "Michael Munn"),
    (
        "20241118-why-data-science-projects-fail-harsh-realities-of-implementing-ai-and-analytics-without-hype"
        "-chapman-hall-crc-data-science-series",
        "Doug Gray",
        "Douglas Gray",
    ),
    ("20220815-fundamentals-of-data-engineering", "Joseph Reis", "Joe Reis"),
    ("20240701-prompt-engineering-for-generative-ai", "Mike Taylor", "Michael Taylor"),
    ("20210329-learning-tensorflow-js", "Gant", "Gant Laborde"),
    ("20211115-ace-the-data-science-interview", "Kevin", "Kevin Huo"),
    ("20220516-everyday-ml-questions", "Santiago", "Santiago Valdarrama"),
    ("20210510-the-coding-career-handbook", "swyx", "Shawn Swyx Wang"),
    ("20210614-graph-databases-in-action", "bechbd", "Dave Bechberger"),
    ("20210719-interpretable-machine-learning-with-python", "Serg Masís", "Serg Masis"),
    ("20211011-mastering-transformers", "Savas Yıldırım", "Savaş Yıldırım"),
    ("20211011-mastering-transformers", "Meysam Asgari-chenaghlu", "Meysam Asgari-Chenaghlu"),
    ("20220801-data-analytics-initiatives", "Ondrej Kubera", "Ondřej Kubera"),
    ("20220801-data-analytics-initiatives", "Ondrej Bothe", "Ondřej Bothe"),
    ("20220425-natural-language-processing-with-transformers", "leandro von werra", "Leandro von Werra"),
]


@pytest.mark.parametrize("book_id, written, author", TRICKY_AUTHORS, ids=[f"{w}->{a}" for _, w, a in TRICKY_AUTHORS])
def test_tricky_author_spelling_is_matched(books_by_id, people, matchers, book_id, written, author):
    book = books_by_id[book_id]
    assert written in book.participants, f"{written!r} does not write in {book_id}"
    assert author in display_names(book.authors, people)
    assert matchers[book_id].author_of(written) == author


# (book id, participant who is not an author although a name part matches one)
NOT_AUTHORS = [
    ("20210621-cleaning-data-for-effective-data-science", "David Cox"),  # author David Mertz
    ("20210614-graph-databases-in-action", "David Cox"),  # author Dave Bechberger
    ("20210308-designing-data-intensive-applications", "Martin Mihal"),  # author Martin Kleppmann
    (HOST_BOOK, "Alexey Shvets"),  # author Alexey Grigorev
    ("20210412-ai-and-machine-learning-for-coders", "Gant"),  # Gant Laborde wrote another book
    ("20220829-essential-math-for-data-science", "Kevin"),  # Kevin Huo wrote another book
]


@pytest.mark.parametrize("book_id, written", NOT_AUTHORS, ids=[w for _, w in NOT_AUTHORS])
def test_participant_sharing_a_name_part_is_not_an_author(books_by_id, matchers, book_id, written):
    assert written in books_by_id[book_id].participants, f"{written!r} does not write in {book_id}"
    assert matchers[book_id].author_of(written) is None


@pytest.mark.parametrize(
    "author, first_name, namesake",
    [
        ("Gant Laborde", "Gant", "Gant Smith"),
        ("Michael Munn", "Mike", "Mike Smith"),  # a nickname is a first name too
        ("Kevin Huo", "Kevin", "Kevin Lee"),
    ],
)
def test_first_name_alone_matches_only_when_nobody_else_has_it(author, first_name, namesake):
    week = [first_name, author, "Ann Reader"]
    assert AuthorMatcher([author], week).author_of(first_name) == author
    assert AuthorMatcher([author], week + [namesake]).author_of(first_name) is None
    assert AuthorMatcher([author], week + [namesake]).author_of(namesake) is None


def test_data_people_file_resolves_every_authors_slug(corpus, people):
    assert [(b.id, slug) for b in corpus.books for slug in unresolved_slugs(b.authors, people, b.participants)] == []


def test_slugs_that_resolve_to_no_name_are_listed(books_by_id):
    book = books_by_id["20210208-ml-design-patterns"]
    assert "michaelmunn" in unresolved_slugs(book.authors, {}, book.participants)
    assert unresolved_slugs(["Ann Author", "noahgift"], {}, ["Noah Gift"]) == []
