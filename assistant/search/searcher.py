"""Search the index: a new question in, the authors' real answers out, best first, with attribution."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache, partial
from pathlib import Path

import numpy as np

from assistant.corpus.authors import name_tokens
from assistant.corpus.passages import quoted_question, split_passages
from assistant.corpus.text import fold, invalid_text
from assistant.corpus.text import question_key as _question_key
from assistant.corpus.units import AnswerUnit, ThreadMessage, thread_key
from assistant.indexing import vectorindex
from assistant.indexing.embedding import Embedder, TextEncoder
from assistant.indexing.encoder import OnnxEmbedder
from assistant.indexing.recipe import (
    RELATED_MIN_SCORE,
    WEIGHTS,
    content_terms,
    lexical_text,
    relevance,
    term_sequence,
    tokenize,
)
from assistant.indexing.store import LoadedIndex, default_index_path, load_built_index
from assistant.indexing.threads import one_thread_per_search
from assistant.indexing.usefulness import CANDIDATES, Model, feature_rows, load_model, shown
from assistant.search.browse import (
    BROWSE_PAGE,
    AuthorShelf,
    BookWeek,
    Browsed,
    author_shelves,
    book_weeks,
    in_weeks,
    reading_order,
    week_bound,
)
from assistant.search.query import clean_question, display_question, full_names
from assistant.search.ranking import (
    answers_question,
    fuse,
    pool_size,
    select,
    side_by_side,
    substance_penalty,
    term_match,
    text_match,
    top,
    with_term_match,
)

# The model reads 256 tokens, fewer than 1,000 characters of text: longer questions are cut unread.
MAX_QUESTION_CHARS = 1000
AUTHOR_NAMED_BOOST = 1.0  # relevance is at most 1: a named author's best answers always join the candidates
NAMED_PICKS = 3  # that author's best answers lifted into the candidates the usefulness model orders
KEYWORD_TERMS = 3  # a search of at most this many words and no question mark is a keyword search
_WORD = re.compile(r"[\w'’-]+")
_FIRST_DEPTH = 4  # each field's nearest neighbours first fetched, as a multiple of select's pool
_FITS_THE_MODEL_CHARS = 500  # shorter text always fits in 256 tokens; longer is cut by the tokenizer
_DEEPEST = 4096  # an approximate index is searched at most this deep: its bound is not exact anyway
_RELATED_DEPTH = 400  # past questions an approximate index is asked for, nearest first


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
    confidence: float  # estimated chance a person finds this answers the question (assistant.indexing.usefulness)
    passage: int  # which of split_passages(text) matched best; -1 when the answer is one passage
    passage_text: str  # that passage; "" when the answer is one passage

    @classmethod
    def from_unit(cls, unit: AnswerUnit, score: float, confidence: float, passage: int, passage_text: str) -> Answer:
        return cls(
            **vars(unit),  # a flat dataclass: vars is asdict without its deep copy
            score=round(score, 4),
            confidence=round(float(confidence), 3),
            passage=passage,
            passage_text=passage_text,
        )


@dataclass(frozen=True)
class Candidates:
    """A search's answers before the cut to k: ordered by P(useful), with their features (rows in that order)."""

    answers: tuple[Answer, ...]
    features: np.ndarray  # of every candidate, not only the answers made
    best: float  # the best score: whether the corpus answers the question is judged on it (and best_match)
    best_match: float  # the best term match among the ranked units


@dataclass(frozen=True)
class RelatedQuestion:
    """A past question from the archives close to a new one: what was asked, by whom, in which book."""

    question: str  # as a reader sees it: no greetings, thanks, names or Markdown, at most 200 characters
    asker: str
    book: str
    book_title: str
    answer_id: str  # the first answer to it, for a link to that answer
    score: float  # similarity of the two questions, 0–1


@dataclass(frozen=True)
class Thread:
    """The thread an answer came from: the question it answers, then every message in archive order."""

    book: str
    book_title: str
    thread: int  # 0-based position of its top-level message in the archive
    url: str
    question: str  # the question the answer answers, as its Answer has it
    asker: str
    messages: tuple[ThreadMessage, ...]  # the top-level message, then its replies; is_author marks the authors'


def keyword_terms(question: str) -> tuple[str, ...]:
    """The terms of a keyword search ("kafka", "great expectations": a few words, no question), else ()."""
    terms = content_terms(question)
    few_words = len(question.split()) <= KEYWORD_TERMS and "?" not in question
    return terms if few_words and len(terms) <= KEYWORD_TERMS else ()


_DATED_ID = re.compile(r"^\d{8}-")  # a book id is its week's date, then its name


def query_embedder(index: LoadedIndex) -> TextEncoder:
    """The index's ONNX export of its model; the sentence-transformers model without one (or with another's)."""
    if index.encoder:
        encoder = OnnxEmbedder(index.encoder)
        if (encoder.model_id, encoder.space) == (index.manifest["model"], index.manifest["space"]):
            return encoder
    return Embedder(index.manifest["model"])


def _embed_question(embedder: TextEncoder, question: str) -> np.ndarray:
    vector = embedder.encode([question])[0]
    vector.flags.writeable = False
    return vector


class Searcher:
    """A loaded index plus the model that embeds questions; build one per process and reuse it."""

    def __init__(self, index: LoadedIndex, embedder: TextEncoder | None = None, model: Model | None = None):
        one_thread_per_search()
        self.index = index
        self.embedder = embedder or query_embedder(index)
        self.model = model or load_model()
        self.units = index.units
        self._authors = [unit.author for unit in self.units]
        self._surnames = [(name_tokens(author) or ("",))[-1] for author in self._authors]  # "" is never a name token
        self._author_keys = np.array(index.keys.authors)
        self._author_names = {name: name_tokens(name) for name in set(self._authors)}
        self._surname_counts = Counter(tokens[-1] for tokens in self._author_names.values() if tokens)
        self._words = np.array(index.keys.words)
        self._prior = substance_penalty(self._words)
        owners = np.array(index.keys.passage_owners, dtype=int)
        self._questions = index.vectors["question"]
        self._passage_order = np.argsort(owners, kind="stable")  # each unit's passages: a slice of this order
        self._passage_starts = np.searchsorted(owners[self._passage_order], np.arange(len(index.units) + 1))
        self._names = full_names(
            {name for unit in self.units for name in (unit.author, unit.author_as_written, unit.asker)}
        )
        self._question_keys = [_question_key(unit.question) for unit in self.units]
        self._unit_terms: list[tuple[str, ...] | None] = [None] * len(self.units)
        self._passage_texts: dict[int, tuple[list[str], list[tuple[str, ...]]]] = {}
        self._index_of = {unit.id: i for i, unit in enumerate(self.units)}
        self._unit_books = np.array([unit.book for unit in self.units])
        self._books_named: dict[str, set[str]] = {}  # folded id, id without its date, title -> book ids
        for book, title in {(unit.book, unit.book_title) for unit in self.units}:
            for name in (book, _DATED_ID.sub("", book), title):
                self._books_named.setdefault(fold(name), set()).add(book)
        # The page asks for answers and related questions to one question, and re-asks it when a filter
        # changes: each distinct question is embedded once.
        # The cache holds the embedder, not the searcher: a swapped-out index is freed when its last user lets go.
        self._embed = lru_cache(maxsize=256)(partial(_embed_question, self.embedder))
        self._lock = threading.Lock()  # the tokenizer and the BM25 scorer are not thread-safe

    def forget_questions(self) -> None:
        """Drop the embedded questions kept for re-asking, so the next search embeds its question anew."""
        self._embed.cache_clear()

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
        since: str | None = None,
        until: str | None = None,
        boost: float = AUTHOR_NAMED_BOOST,
    ) -> list[Answer]:
        """The k best author answers to `question`, most likely useful first (see candidates), spread across authors.

        min_score=None: [] when the corpus does not answer the question (ranking.answers_question); a
        number: only answers scoring at least that. `since` / `until`: only weeks from / to that year, month
        or date ("2024", "2024-03", "2024-03-05"). Without an author filter, the answers of the authors the question
        names ("what does Kleppmann think about …") rank `boost` higher (see named_authors).
        """
        asked = self._prepare(question)
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise ValueError(f"k must be a whole number of at least 1, got {k!r}")
        floor = -np.inf if min_score is None else min_score
        allowed = self._filter(author, book, since, until)
        if allowed is not None and not allowed.any():
            return []  # weeks with no answers (the author and book filters name theirs as errors)
        lift = 0.0 if author else boost
        candidates = self.candidates(asked, max(k, CANDIDATES), allowed, keep=k, min_score=floor, boost=lift)
        if min_score is None and not (candidates.answers and answers_question(candidates.best, candidates.best_match)):
            return []
        return list(candidates.answers)

    def candidates(
        self,
        asked: str,
        depth: int,
        allowed: np.ndarray | None = None,
        *,
        keep: int | None = None,
        min_score: float = -np.inf,
        boost: float = 0.0,
    ) -> Candidates:
        """The `depth` best answers by score (after the author spread) among the allowed units, ordered by the
        model's P(useful), each with that estimate as its confidence, and the features of all `depth`.

        Answers are made for the first `keep` (default: all) scoring at least `min_score`. `asked` is the question
        as prepared (names still in: the author named is a feature); offline training and evaluation call this
        with their own `allowed` (a question's own book left out). With a `boost`, the answers of the authors the
        question names (named_authors) are picked among their own, `boost` higher, so they reach the candidates.
        """
        question = clean_question(asked, self._names)
        keys = self.index.keys
        scores, matches, lexical = self._relevance(question, pool_size(depth), allowed)
        picking = scores
        named_authors = self.named_authors(asked) if boost else []
        if named_authors:  # their best answers among their own join the candidates, picked `boost` higher
            theirs = np.isin(self._author_keys, [" ".join(name_tokens(name)) for name in named_authors])
            theirs &= np.ones(len(self.units), dtype=bool) if allowed is None else allowed
            if theirs.any():
                own, own_matches, _ = self._relevance(question, pool_size(depth), theirs)
                best_own = np.argsort(-own, kind="stable")[:NAMED_PICKS]
                best_own = best_own[np.isfinite(own[best_own])]
                scores = np.where(np.isfinite(own), own, scores)
                picking = scores.copy()
                picking[best_own] += boost
                matches |= own_matches
        picked = select(picking, self._authors, keys.duplicates, keys.threads, depth)
        # select lifts an unranked -inf to 0; a named author's pick is scored as it is, without the lift
        ranked = [
            (i, max(s - (boost if picking[i] > scores[i] else 0.0), 0.0)) for i, s in picked if np.isfinite(scores[i])
        ]
        best_match = max(matches.values(), default=0.0)
        if not ranked:
            return Candidates((), np.zeros((0, len(self.model.features))), 0.0, best_match)
        query = self._embed(question)
        positions = np.array([i for i, _ in ranked], dtype=np.int64)
        passages = [self._passage_cosines(int(i), query) for i in positions]
        dense = {field: index.reconstruct_batch(positions) @ query for field, index in self.index.vectors.items()}
        named = set(name_tokens(asked))
        wanted = content_terms(question)
        rows = feature_rows(
            scores=[s for _, s in ranked],
            both=dense["both"],
            question=dense["question"],
            lexical=lexical[positions] / (lexical[positions] + WEIGHTS.lexical_half_point),
            term_match=[matches.get(int(i), 0.0) for i in positions],
            passage=[c.max() if len(c) else b for c, b in zip(passages, dense["both"], strict=False)],
            words=self._words[positions],
            author_named=[self._surnames[i] in named for i in positions],
            query_terms=len(wanted),
            asked_words=[len(self.units[i].question.split()) for i in positions],
        )
        best = round(ranked[0][1], 4)  # as the first Answer.score has it
        answered, by_meaning = answers_question(best, best_match), answers_question(best, 0.0)
        order, likely = shown(self.model.predict(rows), answered, by_meaning, self.model.related_floor)
        made = [j for j in order.tolist() if ranked[j][1] >= min_score][:keep]
        answers = tuple(self._answer(ranked[j][0], ranked[j][1], likely[j], passages[j], wanted) for j in made)
        return Candidates(answers, rows[order], best, best_match)

    def named_authors(self, question: str) -> list[str]:
        """The authors the question names by full name or by a capitalized surname no other author has ("Kleppmann's";
        "a gift" names nobody)."""
        words = {word.removesuffix("'s").removesuffix("’s") for word in name_tokens(question)}
        typed = [word for word in _WORD.findall(question) if word[0].isupper()]
        capitalized = {fold(word).removesuffix("'s").removesuffix("’s") for word in typed}

        def named(tokens: tuple[str, ...]) -> bool:
            surname = tokens[-1]
            alone = len(surname) >= 4 and self._surname_counts[surname] == 1 and surname in capitalized
            return set(tokens) <= words or alone

        return sorted(name for name, tokens in self._author_names.items() if len(tokens) > 1 and named(tokens))

    def none_close(self, question: str, answers: Sequence[Answer], closest: bool = False) -> bool:
        """Whether no answer is a close match: the one flag the page, the APIs, Slack and the log show.

        None is close when every answer is labelled unlikely (or the reader asked for the closest anyway), unless
        the search is a keyword search and an answer holds its words (side by side): "kafka" answered about Kafka is
        what the reader asked for, however low its confidence reads.
        """
        if not answers:
            return True
        if any(relevance(answer.confidence).slug != "unlikely" for answer in answers):
            return False
        keywords = keyword_terms(self._cleaned(question))
        held = bool(keywords) and any(text_match(keywords, self._terms(self._index_of[a.id])) >= 1.0 for a in answers)
        return closest or not held

    def answers_anything(self, question: str, *, author: str | None = None, book: str | None = None) -> bool:
        """Whether the corpus (within the filters) answers the question: whether `search` returns any answer."""
        return bool(self.search(question, 1, author=author, book=book))

    def _relevance(
        self, question: str, pool: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, dict[int, float], np.ndarray]:
        """Each ranked unit's relevance (see ranking.with_term_match), -inf for the rest, the term match of each, and
        every unit's BM25 score.

        Ranked: the `pool` best by `score`, and every scored unit that holds all the question's content terms
        (a keyword query's best answers can score low: the cosines of one word with long answers are low).
        """
        fused, lexical = self._scores(question, pool, allowed)
        wanted = content_terms(question)
        held = np.zeros((len(fused), len(wanted)), dtype=bool)
        for column, wanted_term in enumerate(wanted):
            held[self._holders(wanted_term), column] = True
        best = top(fused, pool)
        every_term = np.flatnonzero(held.all(axis=1) & np.isfinite(fused)) if wanted else np.zeros(0, dtype=np.int64)
        every_term = every_term[np.argsort(-fused[every_term], kind="stable")[:pool]]
        ranked = np.union1d(best[np.isfinite(fused[best])], every_term).astype(np.int64)
        pairs = np.zeros((len(ranked), max(len(wanted) - 1, 0)), dtype=bool)
        for row, i in enumerate(ranked):
            if (held[i, :-1] & held[i, 1:]).any():  # a pair can be side by side only when both terms are there
                pairs[row] = side_by_side(wanted, self._terms(int(i)))
        matches = term_match(held[ranked], pairs)
        relevance = np.full(len(fused), -np.inf, dtype=np.float32)
        relevance[ranked] = with_term_match(fused[ranked], matches)
        return relevance, dict(zip(ranked.tolist(), matches.tolist(), strict=False)), lexical

    def _holders(self, wanted_term: str) -> np.ndarray:
        """The units whose lexical text holds the BM25 term: its postings in the BM25 index (a sparse column)."""
        lexical = self.index.lexical
        token = lexical.vocab_dict.get(wanted_term) if lexical else None
        if token is None:
            return np.zeros(0, dtype=np.int64)
        start, end = lexical.scores["indptr"][token : token + 2]
        return lexical.scores["indices"][start:end]

    def _terms(self, position: int) -> tuple[str, ...]:
        """The unit's BM25 terms in order, read from its text on first use (reading all would slow the start)."""
        terms = self._unit_terms[position]
        if terms is None:
            terms = self._unit_terms[position] = term_sequence(lexical_text(self.units[position]))
        return terms

    def _answer(
        self, position: int, score: float, likely: float, passages: np.ndarray, wanted: Sequence[str]
    ) -> Answer:
        """The unit as an Answer with its confidence, and when the answer splits, the passage that matched best
        (closest, with its term match as in the score: a keyword query's passage is the one that holds its words)."""
        unit = self.units[position]
        if not len(passages):
            return Answer.from_unit(unit, score, likely, -1, "")
        texts, terms = self._passages(position)
        matches = np.array([text_match(wanted, passage_terms) for passage_terms in terms])
        best = int(np.argmax(with_term_match(passages, matches)))
        answer = Answer.from_unit(unit, score, likely, best, texts[best])
        # The first passage answers the thread's question; a later one may quote the question it answers.
        quoted = quoted_question(texts[best], unit.question) if best > 0 else ""
        if not quoted:
            return answer
        # Its asker is known only when the thread asked it too.
        asker = unit.asker if fold(quoted) in fold(unit.question) else ""
        return replace(answer, question=quoted, asker=asker)

    def _passages(self, position: int) -> tuple[list[str], list[tuple[str, ...]]]:
        """The passages of the unit's answer and the BM25 terms of each, split on first use."""
        found = self._passage_texts.get(position)
        if found is None:
            texts = split_passages(self.units[position].text)
            found = self._passage_texts[position] = (texts, [term_sequence(text) for text in texts])
        return found

    def _passage_cosines(self, position: int, query: np.ndarray) -> np.ndarray:
        """Cosine of the question with each passage of the unit's answer; empty when it does not split."""
        start, end = self._passage_starts[position : position + 2]
        if start == end:
            return np.zeros(0, dtype=np.float32)
        # Read from the memory-mapped file: only the passages of the answers shown.
        return self.index.passages.reconstruct_batch(self._passage_order[start:end].astype(np.int64)) @ query

    def related_questions(
        self,
        question: str,
        k: int = 5,
        *,
        author: str | None = None,
        book: str | None = None,
        exclude: Iterable[str] = (),
        since: str | None = None,
        until: str | None = None,
        answered: bool | None = None,
    ) -> list[RelatedQuestion]:
        """Up to k past questions close to `question`, closest first, each once.

        Skips the question itself and the questions of the answers whose ids are in `exclude` (those
        already shown); only questions answered within the author and book filters, scoring at least
        recipe.RELATED_MIN_SCORE; none when nothing there answers the question (`search` returns []).
        `answered`: whether `search` answers it, from a caller that just searched (None: searched here).
        """
        question = self._prepare(question)
        allowed = self._filter(author, book, since, until)
        count = len(self.units) if allowed is None else int(allowed.sum())
        if answered is None:
            answered = count > 0 and bool(self.search(question, 1, author=author, book=book, since=since, until=until))
        if not count or not answered:
            return []
        query = self._embed(question)[None, :]
        shown = {self._question_keys[self._index_of[i]] for i in exclude if i in self._index_of}
        seen = {_question_key(question), ""} | shown  # "": answers not linked to a question
        # FAISS ranks the past questions closest first, to a depth that grows until the k found are final.
        depth = min(count, 4 * (k + len(shown)) + 32)
        while True:
            related, final = self._closest_questions(query, k, depth, allowed, seen, keyword_terms(question))
            # An approximate index ranks only the lists it scans: a few hundred nearest are plenty for k questions.
            if final or depth == count or (depth >= _RELATED_DEPTH and not vectorindex.is_exact(self._questions)):
                return related
            depth = min(count, depth * 4)

    def _closest_questions(
        self,
        query: np.ndarray,
        k: int,
        depth: int,
        allowed: np.ndarray | None,
        seen: set[str],
        keywords: tuple[str, ...] = (),
    ) -> tuple[list[RelatedQuestion], bool]:
        """Up to k past questions among the `depth` nearest, and whether they are final: a question beyond the depth
        scores at most the last one fetched, so it cannot come before one that scores more, or below the floor."""
        allowed_ids = None if allowed is None else np.flatnonzero(allowed)
        similarities, ids = vectorindex.search(self._questions, query, depth, allowed_ids)
        first_of_ties = np.lexsort((ids[0], -similarities[0]))  # an answer posted first stands for its question
        similarities, ids = similarities[0, first_of_ties], ids[0, first_of_ties]
        beyond = similarities[-1] if len(similarities) else -np.inf  # the most a question not fetched scores
        seen = set(seen)
        related: list[RelatedQuestion] = []
        for similarity, i in zip(similarities, ids, strict=True):
            if i < 0 or similarity < RELATED_MIN_SCORE:
                return related, True
            off_keyword = bool(keywords) and text_match(keywords, term_sequence(self.units[i].question)) < 1.0
            if self._question_keys[i] in seen or off_keyword:
                continue  # a question near a keyword search holds its keywords: "kafka" is never near "Kaggle"
            seen.add(self._question_keys[i])
            unit = self.units[i]
            score = round(min(float(similarity), 1.0), 4)
            shown_as = display_question(unit.question, self._names)
            related.append(RelatedQuestion(shown_as, unit.asker, unit.book, unit.book_title, unit.id, score))
            if len(related) == k:
                return related, bool(similarity > beyond)
        return related, False

    def unit(self, answer_id: str) -> AnswerUnit | None:
        """The answer with this stable id (`book/thread/author/n`); None when the index has no such answer."""
        i = self._index_of.get(answer_id)
        return None if i is None else self.units[i]

    def thread(self, answer_id: str) -> Thread | None:
        """The whole thread of the answer with this stable id; None when the index has no such answer."""
        unit = self.unit(answer_id)
        if unit is None:
            return None
        messages = tuple(self.index.threads[thread_key(unit.book, unit.thread)])
        return Thread(unit.book, unit.book_title, unit.thread, unit.url, unit.question, unit.asker, messages)

    def query_terms(self, question: str) -> frozenset[str]:
        """The BM25 terms of the question's content words, as matched (no greetings, thanks, names): what to mark."""
        return frozenset(content_terms(self._cleaned(question)))

    def prepared(self, question: str) -> str:
        """The question as `candidates` takes it (see _prepare)."""
        return self._prepare(question)

    def _cleaned(self, question: str) -> str:
        """The question as matched: prepared, without greetings, thanks and the names of people addressed."""
        return clean_question(self._prepare(question), self._names)

    def _prepare(self, question: str) -> str:
        """The question as the model reads it, one line cut to fit its tokens; ValueError if empty or not text."""
        if not isinstance(question, str) or not question.strip():
            raise ValueError("question is empty: ask something, e.g. 'Should startups do MLOps?'")
        question = " ".join(question[: 2 * MAX_QUESTION_CHARS].split())[:MAX_QUESTION_CHARS]
        problem = invalid_text(question, "question")
        if problem:
            raise ValueError(problem)
        return self.embedder.truncate(question) if len(question) > _FITS_THE_MODEL_CHARS else question

    def score(self, question: str, pool: int, allowed: np.ndarray | None = None) -> np.ndarray:
        """Relevance per unit: see _scores."""
        return self._scores(question, pool, allowed)[0]

    def _scores(self, question: str, pool: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Relevance per unit (fused signals less the substance prior, in [0, 1]), exact for every unit that
        can be among the `pool` best; -inf for the rest. Also every unit's BM25 score.

        FAISS finds each field's nearest neighbours among the allowed units, BM25 its best matches;
        their union is fused exactly. No unit outside it can beat the fused bound of the last
        neighbours fetched, so once `pool` units score above that bound the ranking is final;
        otherwise the search goes deeper.
        """
        query = self._embed(question)[None, :]
        n = len(self.units)
        scores = np.full(n, -np.inf, dtype=np.float32)
        ids = np.arange(n, dtype=np.int64) if allowed is None else np.flatnonzero(allowed).astype(np.int64)
        if not len(ids):
            return scores, np.zeros(n, dtype=np.float32)
        with self._lock:
            tokens = tokenize([question], vocabulary=False)[0]
            lexical = self.index.lexical.get_scores(tokens) if tokens and self.index.lexical else np.zeros(n)
        lexical = np.asarray(lexical, dtype=np.float32)
        allowed_ids = None if allowed is None else ids
        exact = all(vectorindex.is_exact(index) for index in self.index.vectors.values())
        depth = _FIRST_DEPTH * pool
        while True:
            depth = min(depth, len(ids))
            nearest = {
                field: vectorindex.search(index, query, depth, allowed_ids)
                for field, index in self.index.vectors.items()
            }
            lexical_best = ids[top(lexical[ids], depth)]
            candidates = np.unique(np.concatenate([lexical_best, *(found_ids[0] for _, found_ids in nearest.values())]))
            candidates = candidates[candidates >= 0]
            dense = {
                field: index.reconstruct_batch(candidates) @ query[0] for field, index in self.index.vectors.items()
            }
            # The prior only lowers scores, so the bound below, computed without it, stays an upper bound.
            fused = np.maximum(fuse(dense, lexical[candidates]) - self._prior[candidates], 0.0)
            if depth == len(ids) or (not exact and depth >= _DEEPEST):
                break
            bound = fuse(
                {field: distances[0, -1:] for field, (distances, _) in nearest.items()},
                lexical[lexical_best[-1:]],
            )[0]
            if len(fused) >= pool and np.partition(fused, -pool)[-pool] > bound:
                break
            depth *= 4
        scores[candidates] = fused
        return scores, lexical

    def check_filters(self, author: str | None, book: str | None) -> None:
        """ValueError naming the author or book filter that would keep no answer."""
        if author and not self._by_author(author).any():
            raise ValueError(f"author {author!r} has no answers in the index")
        if book and not self._by_book(book).any():
            raise ValueError(f"book {book!r} is not in the index (give its title or id)")

    def _by_weeks(self, since: str | None, until: str | None) -> np.ndarray:
        first, last = week_bound(since, "since", end=False), week_bound(until, "until", end=True)
        return np.array([in_weeks(unit.date, first, last) for unit in self.units], dtype=bool)

    def _by_author(self, author: str) -> np.ndarray:
        return self._author_keys == " ".join(name_tokens(author))

    def resolve_book(self, name: str) -> str | None:
        """The id of the book named by its id, its id without the date or its title (any case); None when no book or
        several are. The one way every way in (page, JSON API, MCP, Slack) reads a book filter."""
        books = self._books_named.get(fold(name.strip()), set())
        return next(iter(books)) if len(books) == 1 else None

    def _by_book(self, book: str) -> np.ndarray:
        return self._unit_books == self.resolve_book(book)

    def _filter(
        self, author: str | None, book: str | None, since: str | None = None, until: str | None = None
    ) -> np.ndarray | None:
        """Which units pass the author, book and week filters (case-insensitive; a book by id or title)."""
        if not (author or book or since or until):
            return None
        self.check_filters(author, book)
        keep = np.ones(len(self.units), dtype=bool)
        if author:
            keep &= self._by_author(author)
        if book:
            keep &= self._by_book(book)
        if since or until:
            keep &= self._by_weeks(since, until)
        return keep

    @property
    def book_weeks(self) -> list[BookWeek]:
        """Every book with answers, newest week first: id, title, authors, week and number of answers."""
        return book_weeks(self.units)

    @property
    def author_shelves(self) -> list[AuthorShelf]:
        """Every author with answers, by name: their books newest first and number of answers."""
        return author_shelves(self.units)

    def browse(
        self,
        *,
        author: str | None = None,
        book: str | None = None,
        since: str | None = None,
        until: str | None = None,
        offset: int = 0,
        limit: int = BROWSE_PAGE,
    ) -> Browsed:
        """Answers without a question: a book's week in thread order, an author's answers newest week first, or
        every answer within the weeks; `limit` of them from `offset`. ValueError for a filter that keeps none."""
        for value, name, least in ((offset, "offset", 0), (limit, "limit", 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise ValueError(f"{name} must be a whole number of at least {least}, got {value!r}")
        keep = self._filter(author, book, since, until)
        positions = reading_order(self.units, range(len(self.units)) if keep is None else np.flatnonzero(keep))
        return Browsed([self.units[i] for i in positions[offset : offset + limit]], len(positions), offset)


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
