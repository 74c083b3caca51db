"""Collect answer units from archive folders, and the texts each unit is matched as."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.archive import ArchiveError, Book, read_archives
from assistant.units import AnswerUnit, build_units

# Each answer is embedded three ways: the new question may echo the original question, the
# answer's wording, or both; scoring all three beats any one of them (see README, Quality).
FIELDS = ("question", "answer", "both")


@dataclass
class Corpus:
    books: list[Book]
    units: list[AnswerUnit]
    errors: list[ArchiveError]


def load_corpus(folders: Iterable[Path], people: Mapping[str, str]) -> Corpus:
    """Read every archive in the folders and build its answer units; bad files land in `errors`."""
    result = read_archives(folders)
    units = [unit for book in result.books for unit in build_units(book, people)]
    return Corpus(result.books, units, result.errors)


def field_texts(unit: AnswerUnit) -> dict[str, str]:
    """The texts a unit is embedded as; the book title gives short answers their context."""
    question = unit.question or unit.text
    return {
        "question": f"{unit.book_title}: {question}",
        "answer": unit.text,
        "both": f"{unit.book_title}\n{unit.question}\n\n{unit.text}".strip(),
    }


def lexical_text(unit: AnswerUnit) -> str:
    """What BM25 matches: title, author, question and answer."""
    return f"{unit.book_title}\n{unit.author}\n{unit.question}\n\n{unit.text}"
