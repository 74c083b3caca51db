"""The retrieval recipe: the texts each answer is embedded and matched as, how the signals fuse, what a score means.

Changing how answers are found is a change in this one module: build, store and search read their
fields, weights and thresholds from here.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import bm25s
import Stemmer
from bm25s.stopwords import STOPWORDS_EN

from assistant.corpus.text import content_words, fold
from assistant.corpus.units import AnswerUnit
from assistant.indexing.usefulness import load_model


def field_texts(unit: AnswerUnit) -> dict[str, str]:
    """The texts a unit is embedded as, one per field; the book title gives short answers their context.

    The new question may echo the original question, the answer's wording, or both; scoring both
    fields beats either one (see docs/research.md, Quality).
    """
    question = unit.question or unit.text
    return {
        "question": f"{unit.book_title}: {question}",
        "both": f"{unit.book_title}\n{unit.question}\n\n{unit.text}".strip(),
    }


def passage_text(unit: AnswerUnit, passage: str) -> str:
    """The text a passage of a long answer is embedded as, to find which part of it matched."""
    return f"{unit.book_title}\n{passage}"


def lexical_text(unit: AnswerUnit) -> str:
    """What BM25 matches: title, author, question and answer."""
    return f"{unit.book_title}\n{unit.author}\n{unit.question}\n\n{unit.text}"


_STEMMER = Stemmer.Stemmer("english")


def tokenize(texts: list[str], vocabulary: bool = True):
    """BM25 tokens: English stopwords out, Snowball-stemmed; ids plus a vocabulary, or plain token lists."""
    return bm25s.tokenize(texts, stopwords="en", stemmer=_STEMMER, return_ids=vocabulary, show_progress=False)


_TERM_STOPWORDS = frozenset(STOPWORDS_EN)
_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern


def term(word: str) -> str | None:
    """One word as BM25 reads it (lower-cased, Snowball-stemmed), or None for a stopword or a one-letter word."""
    word = word.lower()
    return None if len(word) < 2 or word in _TERM_STOPWORDS else _STEMMER.stemWord(word)


def terms(text: str) -> frozenset[str]:
    """The distinct BM25 terms of a text, as `tokenize` makes them."""
    return frozenset(tokenize([text], vocabulary=False)[0])


def content_terms(text: str) -> tuple[str, ...]:
    """The BM25 terms of the text's content words (three letters or more, not a stopword), each once, in order: what
    a question asks about."""
    return tuple(dict.fromkeys(term(word) for word in _TOKEN.findall(text) if fold(word) in content_words(word)))


def term_sequence(text: str) -> tuple[str, ...]:
    """Every BM25 term of the text in order, stopwords left out: what term_match reads of an answer."""
    words = [word for word in _TOKEN.findall(text.lower()) if word not in _TERM_STOPWORDS]
    return tuple(_STEMMER.stemWords(words))


@dataclass(frozen=True)
class Weights:
    """How much each signal counts. Tuned on eval/dev.jsonl; see docs/research.md, Quality."""

    dense: dict[str, float] = field(
        default_factory=lambda: {
            "both": 1.0,  # question + answer embedded together, with the book title
            "question": 0.3,  # the original question alone: users often re-ask it
        }
    )
    lexical: float = 0.8  # BM25 over title, author, question and answer
    lexical_half_point: float = 8.0  # BM25 score that counts as half a lexical match

    @property
    def total(self) -> float:
        return sum(self.dense.values()) + self.lexical


WEIGHTS = Weights()
FIELDS = tuple(WEIGHTS.dense)  # the embedded fields, as field_texts names them
# Questions the corpus does not answer (dev set: puppies, onions, visas) score at most 0.335 on the full
# corpus, answerable ones at least 0.412; the default threshold sits between them, nearer the first:
# on a small index BM25 weighs less, so good answers score lower (the seed's best answer by Alfredo
# Deza to "Should startups do MLOps?" scores 0.37).
MIN_SCORE = 0.36
# An answer's score adds this times its term match (searching.ranking.term_match): a short query embeds far from
# long answers, so the words it shares with them carry what the cosines miss.
TERM_MATCH_WEIGHT = 0.2
# "Questions others asked nearby" must be this similar to the new one (cosine of the question-only
# embeddings). Dev set: the best match of every answerable question is at least 0.387, that of every
# question the corpus does not answer at most 0.26; questions between 0.30 and 0.40 are loosely related.
RELATED_MIN_SCORE = 0.30
# A second answer by the same author must beat another author's answer by this much to rank above it
# (per answer already shown): enough for Alfredo Deza's answer to "Should startups do MLOps?" to join
# Noah Gift's among the top 5 on the full corpus, not enough to bury a clearly better answer.
AUTHOR_REPEAT_PENALTY = 0.05
# Substance prior: an answer with fewer distinct content words than SUBSTANCE_WORDS ("Thanks a lot!", "I agree
# with Ning") loses up to SUBSTANCE_PENALTY, in proportion to the words it lacks.
SUBSTANCE_PENALTY = 0.1
SUBSTANCE_WORDS = 20


@dataclass(frozen=True)
class Relevance:
    """How a confidence reads to a person: a label, a CSS-friendly slug and a bar filled 0–1."""

    label: str
    slug: str
    fill: float


# Confidence is the estimated chance a person finds the answer answers the question (assistant.indexing.usefulness); the
# floors were chosen with the model, on its cross-validated figures (`python -m assistant.labels train`).
_MODEL = load_model()
_LABELS = [
    (_MODEL.answers_floor, "Answers this", "answers"),
    (_MODEL.related_floor, "Related", "related"),
    (-math.inf, "Probably not what you asked", "unlikely"),
]


def relevance(confidence: float) -> Relevance:
    """The label and bar for an answer's confidence."""
    label, slug = next((label, slug) for floor, label, slug in _LABELS if confidence >= floor)
    return Relevance(label, slug, min(max(confidence, 0.0), 1.0))
