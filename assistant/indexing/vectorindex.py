"""Which FAISS index a field's vectors go in, and how search and filters read it, by the number of vectors.

Up to EXACT_UP_TO vectors: the exact flat inner-product index (every archive today). Above: an inverted-file
index (IVF-Flat) with about sqrt(n) lists, of which NPROBE are scanned per question; it trains in seconds,
takes new vectors without a rebuild (a week's answers go to their nearest lists) and stores the vectors
themselves, so fused scores stay exact cosines. Chosen and tuned with `make bench-scale` (docs/research.md, Speed).
"""

from __future__ import annotations

import math
from pathlib import Path

import faiss
import numpy as np

EXACT_UP_TO = 50_000  # vectors; above this a flat scan costs more than the whole rest of a search
NPROBE = 24  # lists scanned per question: recall@10 >= 0.95 against exact at 100k-1M (bench-scale)
EXACT_SUBSET_UP_TO = 20_000  # a filter keeping at most this many units is searched exactly among them
_TRAIN_PER_LIST = 40  # training vectors per list: FAISS's k-means asks for at least 39
_SEED = 1234
_CHUNK = 65_536  # rows compared at a time when checking that an index's rows are unchanged


def list_count(n: int) -> int:
    """The IVF lists for n vectors: about sqrt(n), so a list and the list centroids cost about the same to scan."""
    return max(1, round(math.sqrt(n)))


def vector_index(matrix: np.ndarray, exact_up_to: int | None = None) -> faiss.Index:
    """The index for these unit-length rows: flat up to `exact_up_to` (EXACT_UP_TO), IVF-Flat above; rows added."""
    n, dimension = matrix.shape
    if n <= (EXACT_UP_TO if exact_up_to is None else exact_up_to):
        index = faiss.IndexFlatIP(dimension)
    else:
        lists = list_count(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dimension), dimension, lists, faiss.METRIC_INNER_PRODUCT)
        sample = np.random.default_rng(_SEED).choice(n, size=min(n, lists * _TRAIN_PER_LIST), replace=False)
        index.cp.niter = 10  # the lists only route the search: more k-means rounds change recall little
        index.train(np.ascontiguousarray(matrix[np.sort(sample)]))
        index.nprobe = NPROBE
        index.make_direct_map()  # reconstruct by id: fusion rescores candidates with their exact vectors
    add(index, matrix)
    return index


def extended(previous: Path, matrix: np.ndarray) -> faiss.Index | None:
    """The previous build's IVF index with the rows it lacks added, when its rows are the first rows of `matrix`
    (a new week sorts after the others); None when it is not there, exact, changed, or outgrown (retrain).

    Checking the old rows reads them in chunks: seconds at 1M, against a minute to train and fill anew.
    """
    try:
        index = faiss.read_index(str(previous))
    except RuntimeError:  # no such file, or not one FAISS reads: build anew
        return None
    if is_exact(index) or index.d != matrix.shape[1] or not index.ntotal <= len(matrix):
        return None
    if list_count(len(matrix)) > 2 * faiss.extract_index_ivf(index).nlist:
        return None  # lists twice their trained size: retrain for the sqrt(n) lists
    for start in range(0, index.ntotal, _CHUNK):
        rows = index.reconstruct_n(start, min(_CHUNK, index.ntotal - start))
        if not np.array_equal(rows, matrix[start : start + len(rows)]):
            return None
    add(index, matrix[index.ntotal :])
    return index


def add(index: faiss.Index, matrix: np.ndarray) -> None:
    """Append rows, their ids following the existing ones: a week added to an IVF index costs that week only."""
    if len(matrix):
        index.add(np.ascontiguousarray(matrix, dtype=np.float32))


def is_exact(index: faiss.Index) -> bool:
    return isinstance(faiss.downcast_index(index), faiss.IndexFlat)


def search(
    index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(similarities, ids) of the k nearest rows to each query among the `allowed` ids (sorted; None: all).

    A flat index, or a filter that keeps few units (an author's answers), is searched exactly among the
    allowed rows; otherwise the IVF lists nearest the query, keeping only allowed ids.
    """
    if allowed is None:
        return index.search(query, k)
    if is_exact(index):
        return index.search(query, k, params=faiss.SearchParameters(sel=faiss.IDSelectorBatch(allowed)))
    if len(allowed) <= EXACT_SUBSET_UP_TO:
        return _exact_among(index, query, k, allowed)
    # A bitmap, not a batch: a hash set of half a million ids costs 30 ms to build, its bitmap 1 ms.
    bitmap = np.zeros(index.ntotal, dtype=bool)
    bitmap[allowed] = True
    bits = np.packbits(bitmap, bitorder="little")
    selector = faiss.IDSelectorBitmap(index.ntotal, faiss.swig_ptr(bits))
    params = faiss.SearchParametersIVF(sel=selector, nprobe=faiss.extract_index_ivf(index).nprobe)
    return index.search(query, k, params=params)  # `bits` lives until here: the selector reads it


def _exact_among(index: faiss.Index, query: np.ndarray, k: int, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The exact k nearest among a few allowed ids, from their stored vectors; -1 ids pad when fewer."""
    similarities = query @ index.reconstruct_batch(allowed).T
    k_found = min(k, len(allowed))
    top = np.argpartition(-similarities, k_found - 1, axis=1)[:, :k_found]
    order = np.take_along_axis(similarities, top, axis=1).argsort(axis=1)[:, ::-1]
    top = np.take_along_axis(top, order, axis=1)
    distances = np.full((len(query), k), -np.inf, dtype=np.float32)
    ids = np.full((len(query), k), -1, dtype=np.int64)
    distances[:, :k_found] = np.take_along_axis(similarities, top, axis=1)
    ids[:, :k_found] = allowed[top]
    return distances, ids
