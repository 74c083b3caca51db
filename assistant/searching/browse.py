"""Reading the archives like a library, without a question: each book's week, each author's answers, by date."""

from __future__ import annotations

import calendar
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from assistant.corpus.text import fold
from assistant.corpus.units import AnswerUnit

BROWSE_PAGE = 20  # answers a browsing page shows
_WEEK = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?")


@dataclass(frozen=True)
class BookWeek:
    """A book of the week: its id, title, authors who answered, the week's date and how many answers it holds."""

    id: str
    title: str
    authors: tuple[str, ...]
    week: str  # ISO date the week started; "" when the archive has none
    answers: int


@dataclass(frozen=True)
class AuthorShelf:
    """An author: the books (ids, newest first) they answered in and how many answers they gave."""

    name: str
    books: tuple[str, ...]
    answers: int


@dataclass(frozen=True)
class Browsed:
    """One page of answers in reading order, and how many the whole shelf holds."""

    answers: list[AnswerUnit]
    total: int
    offset: int


def week_bound(value: str | None, name: str, *, end: bool) -> str | None:
    """A `since` / `until` value ("2024", "2024-03" or "2024-03-05") as the ISO date it starts (or, `end`, ends)
    at; None for none; ValueError naming the parameter for anything else."""
    if value is None or not value.strip():
        return None
    match = _WEEK.fullmatch(value.strip())
    if not match:
        raise ValueError(f"{name} must be a year, a month or a date (2024, 2024-03 or 2024-03-05), got {value[:40]!r}")
    year, month, day = int(match.group(1)), int(match.group(2) or (12 if end else 1)), match.group(3)
    if not 1 <= month <= 12:
        raise ValueError(f"{name} {value.strip()!r} has no month {month}")
    last = calendar.monthrange(year, month)[1]
    day = int(day) if day else (last if end else 1)
    if not 1 <= day <= last:
        raise ValueError(f"{name} {value.strip()!r} has no day {day}")
    return f"{year:04d}-{month:02d}-{day:02d}"


def in_weeks(date: str, since: str | None, until: str | None) -> bool:
    """Whether a week's ISO date is within the bounds (an undated week is within none)."""
    return (since is None or (bool(date) and date >= since)) and (until is None or (bool(date) and date <= until))


def book_weeks(units: Sequence[AnswerUnit]) -> list[BookWeek]:
    """Every book with answers, newest week first."""
    counts = Counter(unit.book for unit in units)
    authors: dict[str, dict[str, None]] = {}
    first: dict[str, AnswerUnit] = {}
    for unit in units:
        authors.setdefault(unit.book, {})[unit.author] = None
        first.setdefault(unit.book, unit)
    weeks = [BookWeek(b, u.book_title, tuple(authors[b]), u.date, counts[b]) for b, u in first.items()]
    return sorted(weeks, key=lambda week: (week.week, week.id), reverse=True)


def author_shelves(units: Sequence[AnswerUnit]) -> list[AuthorShelf]:
    """Every author with answers, by name, each with their books newest first."""
    counts = Counter(unit.author for unit in units)
    books: dict[str, set[tuple[str, str]]] = {}
    for unit in units:
        books.setdefault(unit.author, set()).add((unit.date, unit.book))
    return [
        AuthorShelf(name, tuple(book for _, book in sorted(books[name], reverse=True)), counts[name])
        for name in sorted(counts, key=fold)
    ]


def reading_order(units: Sequence[AnswerUnit], positions: Sequence[int]) -> list[int]:
    """Positions newest week first; within a week, its threads in archive order and each thread's answers in turn."""
    by_week = sorted(positions, key=lambda i: (units[i].thread, i))
    return sorted(by_week, key=lambda i: (units[i].date, units[i].book), reverse=True)
