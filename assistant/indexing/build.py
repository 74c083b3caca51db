"""Build what search needs from archive folders: answer units, their vectors, the BM25 index and filter keys."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import numpy as np

from assistant.corpus.archive import ArchiveError, read_archives
from assistant.corpus.authors import load_people
from assistant.corpus.units import AnswerUnit, ThreadMessage
from assistant.indexing.embedding import EmbeddingCache, TextEncoder, embed_with_cache
from assistant.indexing.parsed import ParsedArchive, UnitKeys
from assistant.indexing.recipe import FIELDS, field_texts, lexical_text, passage_text, tokenize

PEOPLE_FILE = "people.yaml"


@dataclass(frozen=True)
class UnresolvedSlug:
    """An `authors:` slug no people map resolves to a name: that author's answers are not recognised."""

    path: Path
    slug: str

    def __str__(self) -> str:
        return f"{self.path}: authors: slug {self.slug!r} resolves to no name; add it to a people.yaml"


@dataclass
class Corpus:
    archives: list[ParsedArchive]
    units: list[AnswerUnit]
    keys: list[UnitKeys]  # one per unit
    threads: dict[str, list[ThreadMessage]]  # thread_key -> messages, for every thread with units
    errors: list[ArchiveError]
    unresolved: list[UnresolvedSlug]


@dataclass(frozen=True)
class SearchKeys:
    """Per-unit keys that filters and duplicate removal compare, folded once at build time."""

    authors: list[str]  # folded name tokens, joined by spaces
    books: list[tuple[str, str]]  # folded (book id, book title)
    duplicates: list[str]
    threads: list[str]  # book/thread/author: an author's answers in one thread are one result
    words: list[int]  # distinct content words in the answer, for the substance prior
    passage_owners: list[int]  # for each row of the passage vectors, the unit it belongs to


@dataclass
class BuiltIndex:
    """Everything search reads, in memory, before the store writes it to a build folder."""

    corpus: Corpus
    vectors: dict[str, np.ndarray]  # field -> (units, dimension) unit-length rows
    passages: np.ndarray  # (passages, dimension): the passages of answers that split, see assistant.corpus.passages
    lexical: bm25s.BM25
    keys: SearchKeys
    embedded: int  # texts embedded by this build
    reused: int  # texts whose vectors came from the cache


def people_files(data: Sequence[Path], people_file: Path | None) -> list[Path]:
    """The people maps a build reads: each data folder's own `people.yaml`, then the --people file, which wins."""
    own = [Path(folder) / PEOPLE_FILE for folder in data if (Path(folder) / PEOPLE_FILE).is_file()]
    return own + ([Path(people_file)] if people_file else [])


def people_for(data: Sequence[Path], people_file: Path | None) -> dict[str, str]:
    """Slug -> display name from every people map of `people_files`."""
    people: dict[str, str] = {}
    for path in people_files(data, people_file):
        people.update(load_people(path))
    return people


def load_corpus(folders: Iterable[Path], read: Callable[[Path], ParsedArchive]) -> Corpus:
    """Every archive in the folders as `read` gives it (see assistant.indexing.parsed); bad files land in `errors`."""
    result = read_archives(folders, read)
    units = [unit for archive in result.books for unit in archive.units]
    keys = [keys for archive in result.books for keys in archive.keys]
    threads = {key: thread for archive in result.books for key, thread in archive.threads.items()}
    unresolved = [UnresolvedSlug(archive.path, slug) for archive in result.books for slug in archive.unresolved]
    return Corpus(result.books, units, keys, threads, result.errors, unresolved)


def search_keys(keys: Sequence[UnitKeys]) -> SearchKeys:
    """The keys of every unit as search reads them, and which unit each passage belongs to."""
    return SearchKeys(
        authors=[unit.author for unit in keys],
        books=[unit.book for unit in keys],
        duplicates=[unit.duplicate for unit in keys],
        threads=[unit.thread for unit in keys],
        words=[unit.words for unit in keys],
        passage_owners=[i for i, unit in enumerate(keys) for _ in unit.passages],
    )


def lexical_index(units: Sequence[AnswerUnit]) -> bm25s.BM25:
    """BM25 over each unit's lexical text."""
    index = bm25s.BM25()
    if units:
        index.index(tokenize([lexical_text(unit) for unit in units]), show_progress=False)
    return index


def embed_fields(
    units: Sequence[AnswerUnit],
    keys: Sequence[UnitKeys],
    embedder: TextEncoder,
    cache: EmbeddingCache,
    progress: bool = False,
) -> tuple[dict[str, np.ndarray], np.ndarray, int, int]:
    """(field -> vectors, passage vectors, texts embedded now, texts reused from the cache)."""
    texts = [field_texts(unit) for unit in units]
    flat = [entry[field] for entry in texts for field in FIELDS]
    passages = [passage_text(unit, p) for unit, unit_keys in zip(units, keys, strict=False) for p in unit_keys.passages]
    if not flat:
        empty = np.zeros((0, embedder.dimension), dtype=np.float32)
        return {field: empty for field in FIELDS}, empty, 0, 0
    matrix, embedded = embed_with_cache(flat + passages, embedder, cache, progress=progress)
    by_field = {field: np.ascontiguousarray(matrix[i : len(flat) : len(FIELDS)]) for i, field in enumerate(FIELDS)}
    passage_vectors = np.ascontiguousarray(matrix[len(flat) :]).reshape(len(passages), matrix.shape[1])
    return by_field, passage_vectors, embedded, len(set(flat + passages)) - embedded


def build(corpus: Corpus, embedder: TextEncoder, cache: EmbeddingCache, progress: bool = False) -> BuiltIndex:
    """Vectors, BM25 and keys for every unit of the corpus."""
    vectors, passages, embedded, reused = embed_fields(corpus.units, corpus.keys, embedder, cache, progress)
    lexical = lexical_index(corpus.units)
    return BuiltIndex(corpus, vectors, passages, lexical, search_keys(corpus.keys), embedded, reused)
