"""The index kind by size (assistant.indexing.vectorindex): exact, or IVF above a threshold; filters, mmap, adding."""

from __future__ import annotations

from pathlib import Path

import bm25s
import faiss
import numpy as np
import pytest

from assistant.indexing import vectorindex
from assistant.indexing.recipe import tokenize
from assistant.indexing.store import build_index, load_built_index, load_lexical, write_vectors
from assistant.searching.ranking import top
from assistant.searching.searcher import Searcher
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder


def clustered(n: int, seed: int = 0, dimension: int = 64) -> np.ndarray:
    """Unit-length rows around 50 centres, as answers gather around topics (uniform noise has no neighbourhoods)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(50, dimension))
    rows = centres[rng.integers(50, size=n)] + rng.normal(scale=0.6, size=(n, dimension))
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def exact(rows: np.ndarray, queries: np.ndarray, k: int, allowed: np.ndarray | None = None) -> np.ndarray:
    ids = np.arange(len(rows)) if allowed is None else allowed
    order = np.argsort(-(queries @ rows[ids].T), axis=1)[:, :k]
    return ids[order]


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found.tolist(), truth.tolist(), strict=True)]))


@pytest.fixture(scope="module")
def rows() -> np.ndarray:
    return clustered(4000)


@pytest.fixture(scope="module")
def approximate(rows) -> faiss.Index:
    return vectorindex.vector_index(rows, exact_up_to=1000)


def test_a_small_archive_stays_exact_and_a_large_one_gets_an_ivf_index(rows, approximate):
    assert vectorindex.is_exact(vectorindex.vector_index(rows[:1000], exact_up_to=1000))
    ivf = faiss.extract_index_ivf(approximate)
    assert not vectorindex.is_exact(approximate)
    assert (ivf.nlist, ivf.nprobe, approximate.ntotal) == (vectorindex.list_count(4000), vectorindex.NPROBE, 4000)
    # Fusion rescores candidates with their stored vectors: they come back exactly.
    assert np.array_equal(approximate.reconstruct_batch(np.array([0, 1234, 3999])), rows[[0, 1234, 3999]])


def test_approximate_search_finds_what_exact_search_finds(rows, approximate):
    queries = clustered(100, seed=1)
    _, found = vectorindex.search(approximate, queries, 10)
    assert recall(found, exact(rows, queries, 10)) >= 0.95


def test_filters_on_an_approximate_index_keep_only_allowed_answers_and_find_their_nearest(rows, approximate):
    queries = clustered(100, seed=2)
    few = np.sort(np.random.default_rng(3).choice(len(rows), size=80, replace=False))  # one author's answers
    _, found = vectorindex.search(approximate, queries, 10, few)
    assert np.array_equal(found, exact(rows, queries, 10, few))  # searched exactly among them
    half = np.arange(0, len(rows), 2)  # a filter keeping 2,000 units: still few enough to search exactly
    _, found = vectorindex.search(approximate, queries, 10, half)
    assert set(found.ravel().tolist()) <= set(half.tolist())
    assert recall(found, exact(rows, queries, 10, half)) >= 0.9
    _, padded = vectorindex.search(approximate, queries[:1], 10, few[:3])  # fewer allowed than asked: -1 pads
    assert padded[0, :3].tolist() == exact(rows, queries[:1], 3, few[:3])[0].tolist() and set(padded[0, 3:]) == {-1}


def test_wide_filters_go_through_the_ivf_lists(rows, approximate, monkeypatch):
    monkeypatch.setattr(vectorindex, "EXACT_SUBSET_UP_TO", 100)
    queries = clustered(50, seed=4)
    half = np.arange(1, len(rows), 2)
    _, found = vectorindex.search(approximate, queries, 10, half)
    assert set(found.ravel().tolist()) - {-1} <= set(half.tolist())
    assert recall(found, exact(rows, queries, 10, half)) >= 0.9


def test_an_approximate_index_loads_memory_mapped_and_searches_as_built(tmp_path: Path, rows, monkeypatch):
    monkeypatch.setattr(vectorindex, "EXACT_UP_TO", 1000)
    write_vectors(tmp_path, {"both": rows})
    mapped = faiss.read_index(str(tmp_path / "both.faiss"), faiss.IO_FLAG_MMAP)
    assert not vectorindex.is_exact(mapped) and mapped.ntotal == len(rows)
    queries = clustered(20, seed=5)
    in_memory = vectorindex.vector_index(rows, exact_up_to=1000)
    assert np.array_equal(vectorindex.search(mapped, queries, 10)[1], vectorindex.search(in_memory, queries, 10)[1])


def test_adding_a_week_appends_to_the_ivf_index_without_moving_the_rest(rows):
    index = vectorindex.vector_index(rows[:3000], exact_up_to=1000)
    queries = clustered(20, seed=6)
    before = vectorindex.search(index, queries, 10)[1]
    week = rows[3000:3025]
    vectorindex.add(index, week)
    assert index.ntotal == 3025
    _, nearest = vectorindex.search(index, week, 1)
    assert nearest[:, 0].tolist() == list(range(3000, 3025))  # each new answer is found, under its new id
    after = vectorindex.search(index, queries, 10)[1]
    assert recall(after, before) >= 0.9  # the old answers keep their ids


def test_search_with_filters_on_an_approximate_index_answers_as_the_exact_one(tmp_path: Path, seed_dir, monkeypatch):
    exact_searcher = _fake_searcher(seed_dir, tmp_path / "exact")
    monkeypatch.setattr(vectorindex, "EXACT_UP_TO", 5)
    approximate_searcher = _fake_searcher(seed_dir, tmp_path / "ivf")
    assert not vectorindex.is_exact(approximate_searcher.index.vectors["both"])
    author = exact_searcher.authors[0]
    for question, filters in [
        ("should startups do MLOps?", {}),
        ("monitoring models in production", {"author": author}),
    ]:
        assert approximate_searcher.search(question, 5, **filters) == exact_searcher.search(question, 5, **filters)
        related = approximate_searcher.related_questions(question, 3, **filters)
        assert related == exact_searcher.related_questions(question, 3, **filters)


def _fake_searcher(data: Path, out: Path) -> Searcher:
    build_index([data], out, embedder=HashedWordsEmbedder())
    return Searcher(load_built_index(out, model=FAKE_MODEL_ID), HashedWordsEmbedder())


def test_the_top_scores_come_in_the_order_a_stable_full_sort_gives():
    rng = np.random.default_rng(8)
    scores = np.round(rng.random(5000), 2).astype(np.float32)  # many ties
    scores[rng.integers(5000, size=500)] = -np.inf
    for k in (1, 10, 50, 4999, 5000, 6000):
        assert top(scores, k).tolist() == np.argsort(-scores, kind="stable")[:k].tolist()


def test_a_rebuild_with_a_new_week_adds_it_to_the_previous_ivf_index(tmp_path: Path, rows, monkeypatch):
    monkeypatch.setattr(vectorindex, "EXACT_UP_TO", 1000)
    (tmp_path / "old").mkdir(), (tmp_path / "new").mkdir(), (tmp_path / "edited").mkdir()
    write_vectors(tmp_path / "old", {"both": rows[:3000]})
    old = faiss.read_index(str(tmp_path / "old" / "both.faiss"))
    write_vectors(tmp_path / "new", {"both": rows[:3025]}, previous=tmp_path / "old")
    new = faiss.read_index(str(tmp_path / "new" / "both.faiss"))
    centroids = [
        faiss.extract_index_ivf(i).quantizer.reconstruct_n(0, faiss.extract_index_ivf(i).nlist) for i in (old, new)
    ]
    assert np.array_equal(*centroids)  # not retrained: the week went into the trained lists
    assert new.ntotal == 3025 and vectorindex.search(new, rows[3000:3025], 1)[1][:, 0].tolist() == list(
        range(3000, 3025)
    )
    edited = rows[:3025].copy()
    edited[10] = rows[11]  # an answer changed in an old week: the rows are not a prefix any more, so retrain
    assert vectorindex.extended(tmp_path / "old" / "both.faiss", edited) is None
    assert vectorindex.extended(tmp_path / "missing.faiss", edited) is None
    assert vectorindex.extended(tmp_path / "old" / "both.faiss", np.concatenate([rows] * 4)) is None  # outgrown


def test_bm25_scores_through_the_mapped_index_are_bm25s_own(tmp_path: Path):
    texts = [f"spark kafka airflow {'dagster ' * (i % 4)}streaming number{i % 7}" for i in range(300)]
    lexical = bm25s.BM25()
    lexical.index(tokenize(texts), show_progress=False)
    lexical.save(str(tmp_path / "lexical"))
    loaded = load_lexical(tmp_path / "lexical")
    for question in (["spark", "dagster", "dagster"], ["number3", "stream"], ["nothing"]):
        ids = lexical.get_tokens_ids(question)
        assert np.array_equal(loaded.get_scores_from_ids(ids), lexical.get_scores_from_ids(ids))
    assert isinstance(loaded.scores["data"], np.memmap)
