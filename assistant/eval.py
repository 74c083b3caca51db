"""Measure answer quality on labelled questions: `python -m assistant.eval FILE.jsonl [--index DIR] [-k 10]`.

Each line: {"query", "targets": [{"book", "thread", "author"}], "note"}; empty targets mean the
corpus does not answer the question, and the right response is [].
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.store import IndexLoadError, default_index_path
from assistant.searcher import Searcher, load_index


@dataclass(frozen=True)
class LabelledQuestion:
    query: str
    targets: frozenset[tuple[str, int]]  # (book id, thread)


@dataclass(frozen=True)
class EvalReport:
    answerable: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float
    refused: int  # answerable questions that got []
    unanswerable: int
    correctly_empty: float  # share of unanswerable questions that got []
    latency_p50_ms: float
    latency_p95_ms: float
    misses: tuple[str, ...]  # answerable questions with no target in the results

    def __str__(self) -> str:
        return "\n".join(
            [
                f"answerable questions: {self.answerable}",
                f"  hit@1   {self.hit_at_1:.3f}",
                f"  hit@5   {self.hit_at_5:.3f}",
                f"  MRR@10  {self.mrr_at_10:.3f}",
                f"  refused (returned []): {self.refused}",
                f"unanswerable questions: {self.unanswerable}",
                f"  correctly answered with []: {self.correctly_empty:.3f}",
                f"search latency: p50 {self.latency_p50_ms:.1f} ms, p95 {self.latency_p95_ms:.1f} ms",
            ]
        )


def read_labelled(path: Path) -> list[LabelledQuestion]:
    """Read a JSONL file of labelled questions; ValueError names the file and line of a bad row."""
    questions = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            targets = frozenset((t["book"], int(t["thread"])) for t in row["targets"])
            questions.append(LabelledQuestion(row["query"], targets))
        except (ValueError, KeyError, TypeError) as error:
            raise ValueError(f"{path}:{number}: not a labelled question ({error!r})") from None
    return questions


def evaluate(searcher: Searcher, questions: Sequence[LabelledQuestion], k: int = 10) -> EvalReport:
    """Search every question with the default threshold and score the ranking against its targets."""
    ranks: list[int | None] = []
    refused = empty_when_unanswerable = 0
    latencies = []
    misses = []
    for question in questions:
        started = time.perf_counter()
        results = searcher.search(question.query, k)
        latencies.append((time.perf_counter() - started) * 1000)
        if not question.targets:
            empty_when_unanswerable += not results
            continue
        refused += not results
        rank = next((r for r, a in enumerate(results) if (a.book, a.thread) in question.targets), None)
        ranks.append(rank)
        if rank is None:
            misses.append(question.query)
    answerable = len(ranks)
    unanswerable = len(questions) - answerable

    def share(count: float, total: int) -> float:
        return count / total if total else 0.0

    return EvalReport(
        answerable=answerable,
        hit_at_1=share(sum(r == 0 for r in ranks if r is not None), answerable),
        hit_at_5=share(sum(r < 5 for r in ranks if r is not None), answerable),
        mrr_at_10=share(sum(1 / (r + 1) for r in ranks if r is not None and r < 10), answerable),
        refused=refused,
        unanswerable=unanswerable,
        correctly_empty=share(empty_when_unanswerable, unanswerable),
        latency_p50_ms=float(np.percentile(latencies, 50)) if latencies else 0.0,
        latency_p95_ms=float(np.percentile(latencies, 95)) if latencies else 0.0,
        misses=tuple(misses),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.eval", description=__doc__.splitlines()[0])
    parser.add_argument("file", type=Path, help="JSONL file of labelled questions")
    parser.add_argument("--index", type=Path, default=default_index_path(), help="index folder (default: index/)")
    parser.add_argument("-k", type=int, default=10, help="results per question (default: 10)")
    parser.add_argument("--show-misses", action="store_true", help="list answerable questions that were missed")
    args = parser.parse_args(argv)
    try:
        questions = read_labelled(args.file)
        searcher = load_index(args.index)
    except (OSError, ValueError, IndexLoadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    searcher.search("warm up the model", 1, min_score=0)
    report = evaluate(searcher, questions, args.k)
    print(report)
    if args.show_misses:
        print("missed:", *report.misses, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
