"""Build what search needs from archive folders: answer units, their vectors, the BM25 index and filter keys."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from assistant.archive import ArchiveError, Book, read_archives
from assistant.authors import load_people, name_tokens
from assistant.embedding import EmbeddingCache, TextEncoder, embed_with_cache
from assistant.ranking import duplicate_key
from assistant.recipe import FIELDS, field_texts, lexical_text, tokenize
from assistant.text import fold
from assistant.units import AnswerUnit, build_units

PEOPLE_FILE = "people.yaml"


@dataclass
class Corpus:
    books: list[Book]
    units: list[AnswerUnit]
    errors: list[ArchiveError]


@dataclass(frozen=True)
class SearchKeys:
    """Per-unit keys that filters and duplicate removal compare, folded once at build time."""

    authors: list[str]  # folded name tokens, joined by spaces
    books: list[tuple[str, str]]  # folded (book id, book title)
    duplicates: list[str]


@dataclass
class BuiltIndex:
    """Everything search reads, in memory, before the store writes it to a build folder."""

    corpus: Corpus
    vectors: dict[str, np.ndarray]  # field -> (units, dimension) unit-length rows
    lexical: bm25s.BM25
    keys: SearchKeys
    embedded: int  # texts embedded by this build
    reused: int  # texts whose vectors came from the cache


def people_for(data: Sequence[Path], people_file: Path | None) -> dict[str, str]:
    """Each data folder's own `people.yaml`, then the one given with --people, which wins."""
    people: dict[str, str] = {}
    for folder in data:
        if (Path(folder) / PEOPLE_FILE).is_file():
            people.update(load_people(Path(folder) / PEOPLE_FILE))
    people.update(load_people(people_file))
    return people


def load_corpus(folders: Iterable[Path], people: Mapping[str, str]) -> Corpus:
    """Read every archive in the folders and build its answer units; bad files land in `errors`."""
    result = read_archives(folders)
    units = [unit for book in result.books for unit in build_units(book, people)]
    return Corpus(result.books, units, result.errors)


def search_keys(units: Sequence[AnswerUnit]) -> SearchKeys:
    """Filter and duplicate keys for every unit."""
    return SearchKeys(
        authors=[" ".join(name_tokens(unit.author)) for unit in units],
        books=[(fold(unit.book), fold(unit.book_title)) for unit in units],
        duplicates=[duplicate_key(unit.text) for unit in units],
    )


def lexical_index(units: Sequence[AnswerUnit]) -> bm25s.BM25:
    """BM25 over each unit's lexical text."""
    index = bm25s.BM25()
    if units:
        index.index(tokenize([lexical_text(unit) for unit in units]), show_progress=False)
    return index


def embed_fields(
    units: Sequence[AnswerUnit], embedder: TextEncoder, cache: EmbeddingCache, progress: bool = False
) -> tuple[dict[str, np.ndarray], int, int]:
    """(field -> vectors, texts embedded now, texts reused from the cache)."""
    texts = [field_texts(unit) for unit in units]
    flat = [entry[field] for entry in texts for field in FIELDS]
    if not flat:
        empty = np.zeros((0, embedder.dimension), dtype=np.float32)
        return {field: empty for field in FIELDS}, 0, 0
    matrix, embedded = embed_with_cache(flat, embedder, cache, progress=progress)
    by_field = {field: np.ascontiguousarray(matrix[i :: len(FIELDS)]) for i, field in enumerate(FIELDS)}
    return by_field, embedded, len(set(flat)) - embedded


def build(corpus: Corpus, embedder: TextEncoder, cache: EmbeddingCache, progress: bool = False) -> BuiltIndex:
    """Vectors, BM25 and keys for every unit of the corpus."""
    vectors, embedded, reused = embed_fields(corpus.units, embedder, cache, progress)
    return BuiltIndex(corpus, vectors, lexical_index(corpus.units), search_keys(corpus.units), embedded, reused)
