"""Scale benchmark (`make bench-scale`): the index at 100k, 300k and 1M answers made from the real archive.

Units are recombined from the real full build: each synthetic answer is the question and part of one real
answer joined with part of another, its book, author and date drawn from real ones (split into more books
and authors, so filters keep a realistic share); its vectors are the two real answers' vectors mixed
3:1 plus small Gaussian noise, renormalised, so neighbourhoods look like real ones. Only the dev questions
are embedded by the model. Per size: build (the same index-writing code a real build runs: vector indexes
per field, BM25, saved), size on disk, start-up and resident memory of a fresh process that loads it the
way the app does (memory-mapped), search p50/p95 of the index part of a search (BM25 + each field's nearest
neighbours + exact rescoring of the candidates), recall@10 per field against exact search, filtered
searches, and adding a week.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bm25s
import faiss
import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from assistant.eval import read_labelled  # noqa: E402
from assistant.indexing import vectorindex  # noqa: E402
from assistant.indexing.recipe import tokenize  # noqa: E402
from assistant.indexing.store import (  # noqa: E402
    LEXICAL_DIR,
    build_inputs,
    ensure_index,
    load_built_index,
    load_lexical,
    write_vectors,
)
from assistant.indexing.threads import one_thread_per_search  # noqa: E402

NOISE = 0.01  # per dimension: a noise vector of norm ~0.2 beside the unit-length mix
FIELDS = ("question", "both", "passages")
WEEK = 25  # answers in a week: the archive's weeks hold 20 on average
DEPTH = 40  # each field's neighbours a search fetches for k=5 (searcher: 4 x the pool of 10)


def _real(index: Path) -> dict:
    """The real full build's rows, texts and keys, as the synthetic units draw from."""
    loaded = load_built_index(index)
    vectors = {field: flat.reconstruct_n(0, flat.ntotal) for field, flat in loaded.vectors.items()}
    owners = np.array(loaded.keys.passage_owners)
    return {
        "vectors": vectors,
        "passages": loaded.passages.reconstruct_n(0, loaded.passages.ntotal),
        "owners": owners,
        "questions": [u.question for u in loaded.units],
        "texts": [u.text for u in loaded.units],
        "titles": [u.book_title for u in loaded.units],
        "authors": [u.author for u in loaded.units],
        "books": [u.book for u in loaded.units],
    }


def _mix(rng: np.random.Generator, rows: np.ndarray, first: np.ndarray, second: np.ndarray) -> np.ndarray:
    mixed = 0.75 * rows[first] + 0.25 * rows[second]
    mixed += rng.normal(0.0, NOISE, mixed.shape).astype(np.float32)
    mixed /= np.linalg.norm(mixed, axis=1, keepdims=True)
    return mixed.astype(np.float32)


def synthesize(real: dict, n: int, seed: int = 0) -> dict:
    """n synthetic units: vectors per field, passage vectors and owners, lexical texts, author and book keys."""
    rng = np.random.default_rng(seed)
    count = len(real["texts"])
    first, second = rng.integers(count, size=n), rng.integers(count, size=n)
    vectors = {field: _mix(rng, real["vectors"][field], first, second) for field in ("question", "both")}
    # As in the real archive, the share of units whose answer splits into passages, and their passage counts.
    per_unit = np.bincount(real["owners"], minlength=count)
    passage_counts = per_unit[first]
    owners = np.repeat(np.arange(n), passage_counts)
    starts = np.concatenate([[0], np.cumsum(per_unit)[:-1]])
    real_rows = np.concatenate([starts[f] + np.arange(c) for f, c in zip(first, passage_counts, strict=True)]).astype(
        np.int64
    )
    passages = _mix(rng, real["passages"], real_rows, rng.integers(len(real["passages"]), size=len(real_rows)))
    texts = [
        f"{real['titles'][a]}\n{real['authors'][a]}\n{real['questions'][a]}\n\n"
        f"{real['texts'][a][:300]} {real['texts'][b][-200:]}"
        for a, b in zip(first.tolist(), second.tolist(), strict=True)
    ]
    return {
        "vectors": {**vectors, "passages": passages},
        "owners": owners,
        "texts": texts,
        # Real authors and books, each split 64 and 8 ways, so a filter keeps a share like a real one's.
        "authors": np.array([f"{real['authors'][a]}#{i % 64}" for i, a in enumerate(first.tolist())]),
        "books": np.array([f"{real['books'][a]}#{i % 8}" for i, a in enumerate(first.tolist())]),
    }


def build(units: dict, folder: Path) -> dict:
    """Write the index files as the store does; seconds per step and bytes on disk."""
    folder.mkdir(parents=True)
    started = time.perf_counter()
    write_vectors(folder, units["vectors"])
    vectors = time.perf_counter() - started
    lexical = bm25s.BM25()
    lexical.index(tokenize(units["texts"]), show_progress=False)
    lexical.save(str(folder / LEXICAL_DIR))
    total = time.perf_counter() - started
    size = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
    return {"build_s": total, "vectors_s": vectors, "lexical_s": total - vectors, "disk_gb": size / 1e9}


def exact_neighbours(units: dict, queries: np.ndarray, k: int = 10) -> dict[str, np.ndarray]:
    """Each field's true k nearest rows for each query, by a full scan."""
    found = {}
    for field, rows in units["vectors"].items():
        similarities = queries @ rows.T
        top = np.argpartition(-similarities, k, axis=1)[:, :k]
        found[field] = top
    return found


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Share of the true neighbours found; -1 pads a filter that keeps fewer than k units."""
    shares = []
    for f, t in zip(found.tolist(), truth.tolist(), strict=True):
        wanted = set(t) - {-1}
        shares.append(len(set(f) & wanted) / len(wanted) if wanted else 1.0)
    return float(np.mean(shares))


def _rss_gb() -> tuple[float, float]:
    status = Path("/proc/self/status").read_text()
    value = {line.split(":")[0]: int(line.split()[1]) for line in status.splitlines() if line.startswith("Vm")}
    return value["VmRSS"] / 1e6, value["VmHWM"] / 1e6


def serve(folder: Path, work: Path) -> dict:
    """In a fresh process (this script with --serve): load as the app does, then time searches."""
    one_thread_per_search()  # as the app's searcher does
    started = time.perf_counter()
    indexes = {f: faiss.read_index(str(folder / f"{f}.faiss"), faiss.IO_FLAG_MMAP) for f in FIELDS}
    lexical = load_lexical(folder / LEXICAL_DIR)
    load_s = time.perf_counter() - started
    load_rss, _ = _rss_gb()
    queries = np.load(work / "queries.npy")
    tokens = json.loads((work / "tokens.json").read_text())
    truth = dict(np.load(work / "truth.npz"))
    filters = dict(np.load(work / "filters.npz"))
    n = indexes["question"].ntotal
    rng = np.random.default_rng(3)

    def one_search(query: np.ndarray, words: list[str]) -> np.ndarray:
        """Seconds of each part of one search: BM25, each field's nearest, rescoring and passages."""
        marks = [time.perf_counter()]
        scores = lexical.get_scores(words) if words else np.zeros(n, np.float32)
        lexical_best = np.argpartition(-scores, DEPTH)[:DEPTH]
        marks.append(time.perf_counter())
        candidates = [lexical_best]
        for field in ("question", "both"):
            _, ids = vectorindex.search(indexes[field], query, DEPTH)
            candidates.append(ids[0])
        marks.append(time.perf_counter())
        union = np.unique(np.concatenate(candidates))
        union = union[union >= 0]
        for field in ("question", "both"):
            indexes[field].reconstruct_batch(union) @ query[0]
        # The passages of the answers shown, read to find which one matched (searcher._passage_cosines).
        indexes["passages"].reconstruct_batch(rng.integers(indexes["passages"].ntotal, size=10)) @ query[0]
        marks.append(time.perf_counter())
        return np.diff(marks)

    # The first pass maps each list and posting page it reads (a fresh process); the second is warm.
    passes = [[one_search(q[None, :], words) for q, words in zip(queries, tokens, strict=True)] for _ in range(2)]
    found = {f: [vectorindex.search(indexes[f], queries, 10)[1]] for f in FIELDS}
    result = {"load_s": load_s, "rss_loaded_gb": load_rss}
    for name, parts in zip(("cold", "warm"), passes, strict=True):
        times = np.sum(parts, axis=1)
        bm25_ms, nearest_ms, rescore_ms = 1000 * np.median(parts, axis=0)
        result |= {
            f"{name}_p50_ms": 1000 * statistics.median(times),
            f"{name}_p95_ms": 1000 * float(np.percentile(times, 95)),
            f"{name}_parts_p50_ms": [round(bm25_ms, 2), round(nearest_ms, 2), round(rescore_ms, 2)],
        }
    result |= {f"recall_{f}": recall(found[f][0], truth[f]) for f in FIELDS}
    filtered_found = {}
    for name, allowed in filters.items():  # filtered searches
        filtered_times, filtered_found[name] = [], []
        for query in queries:
            t0 = time.perf_counter()
            filtered_found[name].append(vectorindex.search(indexes["both"], query[None, :], 10, allowed)[1][0])
            filtered_times.append(time.perf_counter() - t0)
        result[f"{name}_p50_ms"] = 1000 * statistics.median(filtered_times)
    result["rss_gb"], result["peak_rss_gb"] = _rss_gb()  # before the exact searches below, which only check
    for name, allowed in filters.items():  # against an exact search among the allowed rows
        exact = vectorindex._exact_among(indexes["both"], queries, 10, allowed)[1]
        result[f"{name}_recall"] = recall(np.array(filtered_found[name]), exact)
    return result


def _default_priority() -> None:
    """Searches are timed at the default priority, even when the builds run under `nice` (root may raise it back)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, 0)
    except PermissionError:
        pass


def add_a_week(folder: Path, units: dict) -> float:
    """Seconds for the store to write a build holding one more week, the previous build beside it (the same
    call a rebuild makes; the vectors and BM25 of the week's answers are counted apart)."""
    rng = np.random.default_rng(7)
    grown = {}
    for field, rows in units["vectors"].items():
        grown[field] = np.concatenate([rows, rows[rng.integers(len(rows), size=WEEK)]])
        units["vectors"][field] = None  # the old rows live on in `grown`: keep one copy in memory
    following = folder.with_name("next")
    following.mkdir()
    started = time.perf_counter()
    write_vectors(following, grown, previous=folder)
    return time.perf_counter() - started


def sweep(units: dict, queries: np.ndarray, truth: dict) -> dict[int, dict[str, float]]:
    """Recall@10 per field and ms per query for several nprobe values, on the built IVF indexes."""
    indexes = {f: vectorindex.vector_index(units["vectors"][f]) for f in FIELDS}
    result = {}
    for nprobe in (8, 16, 24, 32, 48):
        row = {}
        for field, index in indexes.items():
            if vectorindex.is_exact(index):
                continue
            faiss.extract_index_ivf(index).nprobe = nprobe
            t0 = time.perf_counter()
            _, ids = index.search(queries, 10)
            row[f"ms_{field}"] = 1000 * (time.perf_counter() - t0) / len(queries)
            row[f"recall_{field}"] = recall(ids, truth[field])
        result[nprobe] = row
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=REPO / "index", help="a full build of the archive")
    parser.add_argument("--questions", type=Path, default=REPO / "eval" / "dev.jsonl")
    parser.add_argument("--sizes", default="100000,300000,1000000")
    parser.add_argument("--sweep", action="store_true", help="also measure recall and time over nprobe")
    parser.add_argument("--serve", type=Path, nargs=2, metavar=("BUILD", "WORK"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        print(json.dumps(serve(*args.serve)))
        return
    ensure_index(build_inputs(args.index, data=[REPO / "data"]), args.index)
    real = _real(args.index)
    from assistant.searching.searcher import query_embedder

    embedder = query_embedder(load_built_index(args.index))
    questions = [case.query for case in read_labelled(args.questions)]
    queries = np.asarray(embedder.encode(questions), dtype=np.float32)
    tokens = tokenize(questions, vocabulary=False)
    rows = []
    for n in map(int, args.sizes.split(",")):
        with tempfile.TemporaryDirectory(prefix="bench-scale-") as temporary:
            work = Path(temporary)
            units = synthesize(real, n)
            truth = exact_neighbours(units, queries)
            np.save(work / "queries.npy", queries)
            (work / "tokens.json").write_text(json.dumps(tokens))
            np.savez(work / "truth.npz", **truth)
            first_author, first_book = units["authors"][0], units["books"][0]
            np.savez(
                work / "filters.npz",
                author=np.flatnonzero(units["authors"] == first_author),
                book=np.flatnonzero(units["books"] == first_book),
                half=np.arange(0, n, 2),  # a wide filter, e.g. a date range keeping half the answers
            )
            if args.sweep:
                for nprobe, figures in sweep(units, queries, truth).items():
                    print(f"n={n} nprobe={nprobe} " + " ".join(f"{k}={v:.3f}" for k, v in figures.items()), flush=True)
            row = {"answers": n, "passages": len(units["owners"]), **build(units, work / "build")}
            del units["texts"]
            served = subprocess.run(
                [sys.executable, __file__, "--serve", str(work / "build"), str(work)],
                capture_output=True,
                text=True,
                check=True,
                preexec_fn=_default_priority,
            )
            row |= json.loads(served.stdout.splitlines()[-1])
            row["add_week_s"] = add_a_week(work / "build", units)
            for finished in ("build", "next"):
                shutil.rmtree(work / finished)
            print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}), flush=True)
            rows.append(row)


if __name__ == "__main__":
    main()
