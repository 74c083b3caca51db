"""Rank answer units for a question: fuse dense and lexical scores, then pick diverse, distinct results.

Pure functions over score arrays, so ranking is tested without the embedding model; the weights
and thresholds they are called with live in `assistant.indexing.recipe`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from assistant.indexing.recipe import (
    AUTHOR_REPEAT_PENALTY,
    MIN_SCORE,
    SUBSTANCE_PENALTY,
    SUBSTANCE_WORDS,
    TERM_MATCH_WEIGHT,
    WEIGHTS,
    Weights,
)


def fuse(dense: Mapping[str, np.ndarray], lexical: np.ndarray, weights: Weights = WEIGHTS) -> np.ndarray:
    """One score per unit in [0, 1]: the weighted mean of cosine similarities and a saturated BM25 score.

    BM25 is squashed with s / (s + half_point) rather than scaled to the best hit, so a question
    with no real word overlap gets no lexical credit and scores stay comparable across questions.
    A negative cosine means unrelated, the same as zero.
    """
    lexical = np.maximum(lexical, 0.0)
    combined = weights.lexical * lexical / (lexical + weights.lexical_half_point)
    for name, weight in weights.dense.items():
        combined = combined + weight * np.maximum(dense[name], 0.0)
    return combined / weights.total


def substance_penalty(content_words: np.ndarray) -> np.ndarray:
    """What an answer loses for saying little: SUBSTANCE_PENALTY with no content words, 0 from SUBSTANCE_WORDS on."""
    return SUBSTANCE_PENALTY * np.clip(1.0 - np.asarray(content_words) / SUBSTANCE_WORDS, 0.0, 1.0)


def term_match(held: np.ndarray, side_by_side: np.ndarray) -> np.ndarray:
    """How much of a question's wording each answer holds, 0–1: the share of the question's n content terms it has
    (`held`, answers × n) and of their n − 1 adjacent pairs it has side by side (`side_by_side`, answers × n − 1):
    "great expectations", not "great question … expectations".

    A one- or two-word query is all wording; a long question's pairs rarely recur, so wording counts for less there.
    """
    slots = held.shape[1] + side_by_side.shape[1]
    if not slots:
        return np.zeros(len(held))
    return (held.sum(axis=1) + side_by_side.sum(axis=1)) / slots


def text_match(wanted: Sequence[str], terms: Sequence[str]) -> float:
    """term_match of one text, given its BM25 terms in order."""
    present = set(terms)
    held = np.array([[term in present for term in wanted]], dtype=bool)
    return float(term_match(held, side_by_side(wanted, terms)[None, :])[0])


def side_by_side(wanted: Sequence[str], terms: Sequence[str]) -> np.ndarray:
    """For each adjacent pair of the wanted terms, whether the term sequence has it side by side."""
    adjacent = set(zip(terms, terms[1:], strict=False))
    return np.array([pair in adjacent for pair in zip(wanted, wanted[1:], strict=False)], dtype=bool)


def with_term_match(scores: np.ndarray, matches: np.ndarray, weight: float = TERM_MATCH_WEIGHT) -> np.ndarray:
    """Relevance in [0, 1]: the fused score and the term match (see term_match), weighted `1 : weight`."""
    return (scores + weight * matches) / (1.0 + weight)


def answers_question(best_score: float, best_match: float, threshold: float = MIN_SCORE) -> bool:
    """Whether the corpus answers a question: its best answer scores at least `threshold`, or one of the best answers
    holds all of its wording (every content term, adjacent pairs side by side), as a keyword search expects."""
    return best_score >= threshold or best_match >= 1.0


def pool_size(k: int) -> int:
    """How many of the best-scored units `select` picks k from."""
    return max(50, 4 * k)


def top(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores, highest first, ties by position (a full sort, without sorting a million)."""
    if k < len(scores):
        kept = np.argpartition(-scores, k - 1)[:k]
        # Ties at the cut-off: the lowest positions win, as in a stable sort of every score.
        cut = scores[kept].min()
        kept = np.union1d(np.flatnonzero(scores > cut), np.flatnonzero(scores == cut)[: k - int((scores > cut).sum())])
        return kept[np.lexsort((kept, -scores[kept]))]
    return np.argsort(-scores, kind="stable")[:k]


def select(
    scores: np.ndarray,
    authors: Sequence[str],
    duplicate_keys: Sequence[str],
    threads: Sequence[str],
    k: int,
    penalty: float = AUTHOR_REPEAT_PENALTY,
) -> list[tuple[int, float]]:
    """Pick k (position, score) pairs, best first: one card per author per thread, no duplicates, spread across authors.

    `threads` holds each unit's (book, thread, author) key: an author's several answers in one
    thread are one result, shown by its best-scoring answer. Greedy: each pick maximizes score
    minus `penalty` per answer already picked from that author, so another author's close answer
    is not buried under five of one author's. The score returned is that lowered score (at least 0),
    the one the pick was made on: picks only lower the scores left, so the scores never rise down
    the list, and the first k picks are the same whatever k.
    """
    pool = [int(i) for i in top(scores, pool_size(k))]
    picked: list[tuple[int, float]] = []
    seen: set[str] = set()
    per_author: dict[str, int] = {}
    while pool and len(picked) < k:
        best = max(pool, key=lambda i: scores[i] - penalty * per_author.get(authors[i], 0))
        pool.remove(best)
        if duplicate_keys[best] in seen or threads[best] in seen:
            continue
        seen |= {duplicate_keys[best], threads[best]}
        per_author.setdefault(authors[best], 0)
        picked.append((best, max(float(scores[best] - penalty * per_author[authors[best]]), 0.0)))
        per_author[authors[best]] += 1
    return picked
