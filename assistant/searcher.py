"""Search the index: a new question in, the authors' real answers out, best first, with attribution."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from assistant.authors import name_tokens
from assistant.confidence import confidence, signals
from assistant.embedding import Embedder
from assistant.passages import split_passages
from assistant.query import clean_question, full_names
from assistant.ranking import fuse, select, substance_penalty
from assistant.recipe import MIN_SCORE, RELATED_MIN_SCORE, tokenize
from assistant.store import LoadedIndex, default_index_path, load_built_index
from assistant.text import fold, invalid_text
from assistant.units import AnswerUnit


# The model reads 256 tokens, fewer than 1,000 characters of text: longer questions are cut unread.
MAX_QUESTION_CHARS = 1000
_FITS_THE_MODEL_CHARS = 500  # shorter text always fits in 256 tokens; longer is cut by the tokenizer


@dataclass(frozen=True)
class Answer:
    """One author's answer to a past question, and how well it matches the new one."""

    author: str
    text: str
    question: str
    asker: str
    book: str
    book_title: str
    thread: int
    date: str
    url: str
    score: float
    author_as_written: str
    id: str
    confidence: float  # estimated chance a person finds this answers the question (assistant.confidence)
    passage: int  # which of split_passages(text) matched best; -1 when the answer is one passage
    passage_text: str  # that passage; "" when the answer is one passage

    @classmethod
    def from_unit(cls, unit: AnswerUnit, score: float, confidence: float, passage: int, passage_text: str) -> Answer:
        return cls(
            **dataclasses.asdict(unit),
            score=round(score, 4),
            confidence=round(float(confidence), 3),
            passage=passage,
            passage_text=passage_text,
        )


@dataclass(frozen=True)
class RelatedQuestion:
    """A past question from the archives close to a new one: what was asked, by whom, in which book."""

    question: str
    asker: str
    book: str
    book_title: str
    answer_id: str  # the first answer to it, for a link to that answer
    score: float  # similarity of the two questions, 0–1


def _question_key(question: str) -> str:
    """A question as compared for 'the same question': case and spacing folded."""
    return " ".join(fold(question).split())


class Searcher:
    """A loaded index plus the model that embeds questions; build one per process and reuse it."""

    def __init__(self, index: LoadedIndex, embedder: Embedder | None = None):
        self.index = index
        self.embedder = embedder or Embedder(index.manifest["model"])
        self.units = index.units
        self._authors = [unit.author for unit in self.units]
        self._author_keys = np.array(index.keys.authors)
        self._vectors = np.stack([flat.reconstruct_n(0, flat.ntotal) for flat in index.vectors.values()])
        self._prior = substance_penalty(np.array(index.keys.words))
        self._owners = np.array(index.keys.passage_owners, dtype=int)
        self._names = full_names(
            {name for unit in self.units for name in (unit.author, unit.author_as_written, unit.asker)}
        )
        self._question_row = list(index.vectors).index("question")
        self._question_keys = [_question_key(unit.question) for unit in self.units]
        self._index_of = {unit.id: i for i, unit in enumerate(self.units)}
        # The page asks for answers and related questions to one question, and re-asks it when a filter
        # changes: each distinct question is embedded once.
        self._embed = lru_cache(maxsize=256)(self._embed_uncached)
        self._lock = threading.Lock()  # the tokenizer and the BM25 scorer are not thread-safe

    @property
    def authors(self) -> list[str]:
        return sorted(set(self._authors), key=fold)

    @property
    def books(self) -> list[tuple[str, str]]:
        """(id, title) of every book with answers in the index, oldest first."""
        return sorted({(unit.book, unit.book_title) for unit in self.units})

    def search(
        self,
        question: str,
        k: int = 5,
        *,
        author: str | None = None,
        book: str | None = None,
        min_score: float | None = None,
    ) -> list[Answer]:
        """The k best author answers to `question`, best first, spread across authors.

        min_score=None: [] when even the best answer scores below the calibrated recipe.MIN_SCORE
        (nothing in the corpus answers the question); a number: only answers scoring at least that.
        """
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question is empty: ask something, e.g. 'Should startups do MLOps?'")
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number of at least 1, got {k!r}")
        question = clean_question(self._prepare(question), self._names)
        scores = self.score(question)
        allowed = self._filter(author, book)
        if allowed is not None:
            scores = np.where(allowed, scores, -np.inf)
        keys = self.index.keys
        # One more than shown, so the last shown answer has a next one to lead.
        ranked = [
            (i, s) for i, s in select(scores, self._authors, keys.duplicates, keys.threads, k + 1) if np.isfinite(s)
        ]
        query = self._embed(question)
        answers = [
            self._answer(i, s, ranked[r + 1][1] if r + 1 < len(ranked) else s, query)
            for r, (i, s) in enumerate(ranked[:k])
        ]
        if min_score is None:
            # The calibrated threshold decides whether the corpus answers the question at all;
            # if its best answer does, the k best are shown.
            answered = bool(answers) and answers[0].score >= MIN_SCORE
            return answers if answered else []
        return [answer for answer in answers if answer.score >= min_score]

    def _answer(self, position: int, score: float, next_score: float, query: np.ndarray) -> Answer:
        """The unit as an Answer: its confidence, and the passage that matched when the answer splits."""
        unit = self.units[position]
        features = signals(score, score - next_score, self.index.keys.words[position])
        rows = np.flatnonzero(self._owners == position)
        if not len(rows):
            return Answer.from_unit(unit, score, confidence(features), -1, "")
        best = int(np.argmax(self.index.passages[rows] @ query))
        return Answer.from_unit(unit, score, confidence(features), best, split_passages(unit.text)[best])

    def related_questions(
        self,
        question: str,
        k: int = 5,
        *,
        author: str | None = None,
        book: str | None = None,
        exclude: Iterable[str] = (),
    ) -> list[RelatedQuestion]:
        """Up to k past questions close to `question`, closest first, each once.

        Skips the question itself and the questions of the answers whose ids are in `exclude` (those
        already shown); only questions answered within the author and book filters, scoring at least
        recipe.RELATED_MIN_SCORE.
        """
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question is empty: ask something, e.g. 'Should startups do MLOps?'")
        question = self._prepare(question)
        similarity = self._vectors[self._question_row] @ self._embed(question)
        allowed = self._filter(author, book)
        if allowed is not None:
            similarity = np.where(allowed, similarity, -np.inf)
        shown = {self._question_keys[self._index_of[i]] for i in exclude if i in self._index_of}
        seen = {_question_key(question), ""} | shown  # "": answers not linked to a question
        related: list[RelatedQuestion] = []
        for i in np.argsort(-similarity, kind="stable"):
            if len(related) == k or similarity[i] < RELATED_MIN_SCORE:
                break
            if self._question_keys[i] in seen:
                continue
            seen.add(self._question_keys[i])
            unit = self.units[i]
            score = round(min(float(similarity[i]), 1.0), 4)
            related.append(RelatedQuestion(unit.question, unit.asker, unit.book, unit.book_title, unit.id, score))
        return related

    def unit(self, answer_id: str) -> AnswerUnit | None:
        """The answer with this stable id (`book/thread/author/n`); None when the index has no such answer."""
        i = self._index_of.get(answer_id)
        return None if i is None else self.units[i]

    def _prepare(self, question: str) -> str:
        """The question as the model reads it: one line, cut to what fits in its tokens; ValueError if not text."""
        question = " ".join(question[: 2 * MAX_QUESTION_CHARS].split())[:MAX_QUESTION_CHARS]
        problem = invalid_text(question, "question")
        if problem:
            raise ValueError(problem)
        return self.embedder.truncate(question) if len(question) > _FITS_THE_MODEL_CHARS else question

    def _embed_uncached(self, question: str) -> np.ndarray:
        vector = self.embedder.encode([question])[0]
        vector.flags.writeable = False
        return vector

    def score(self, question: str) -> np.ndarray:
        """Relevance of every unit to the (cleaned) question: fused signals less the substance prior, in [0, 1]."""
        query = self._embed(question)
        n = len(self.units)
        # Every unit is scored (the corpus is thousands, not millions), so exact inner products over
        # the flat FAISS vectors are one matrix product, cheaper than a k=n FAISS search per field.
        similarities = self._vectors @ query
        dense = {field: similarities[i] for i, field in enumerate(self.index.vectors)}
        with self._lock:
            tokens = tokenize([question], vocabulary=False)[0]
            lexical = self.index.lexical.get_scores(tokens) if tokens and self.index.lexical else np.zeros(n)
        return np.maximum(fuse(dense, np.asarray(lexical, dtype=np.float32)) - self._prior, 0.0)

    def has_author(self, author: str) -> bool:
        """Whether the author filter would keep any answer."""
        return bool(self._by_author(author).any())

    def has_book(self, book: str) -> bool:
        """Whether the book filter would keep any answer."""
        return bool(self._by_book(book).any())

    def _by_author(self, author: str) -> np.ndarray:
        return self._author_keys == " ".join(name_tokens(author))

    def _by_book(self, book: str) -> np.ndarray:
        wanted = fold(book.strip())
        return np.array([wanted in keys for keys in self.index.keys.books], dtype=bool)

    def _filter(self, author: str | None, book: str | None) -> np.ndarray | None:
        """Which units pass the author and book filters (case-insensitive; a book by id or title)."""
        if not author and not book:
            return None
        keep = np.ones(len(self.units), dtype=bool)
        if author:
            keep &= self._by_author(author)
        if book:
            keep &= self._by_book(book)
        return keep


_default: Searcher | None = None
_default_lock = threading.Lock()


def load_index(path: str | Path | None = None, model: str | None = None) -> Searcher:
    """Load an index folder (default: $ASSISTANT_INDEX or index/) with the model it was built with."""
    loaded = load_built_index(Path(path) if path else default_index_path(), model)
    return Searcher(loaded)


def default_searcher() -> Searcher:
    """The process-wide searcher, loaded on first use."""
    global _default
    with _default_lock:
        if _default is None:
            _default = load_index()
        return _default


def search(
    question: str,
    k: int = 5,
    *,
    author: str | None = None,
    book: str | None = None,
    min_score: float | None = None,
) -> list[Answer]:
    """Search the default index: `search("should startups do MLOps?")`."""
    return default_searcher().search(question, k, author=author, book=book, min_score=min_score)


def related_questions(
    question: str, k: int = 5, *, author: str | None = None, book: str | None = None, exclude: Iterable[str] = ()
) -> list[RelatedQuestion]:
    """Past questions close to this one, from the default index: `related_questions("should startups do MLOps?")`."""
    return default_searcher().related_questions(question, k, author=author, book=book, exclude=exclude)
