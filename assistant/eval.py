"""Measure answer quality: `python -m assistant.eval DEV.jsonl [--real REAL.jsonl --judgments FILE] [--fit]`.

DEV.jsonl lines: {"query", "targets": [{"book", "thread", "author"}], "note"}; empty targets mean
the corpus does not answer the question, and the right response is []. REAL.jsonl holds real
questions with judged answers (assistant.judged); --judgments adds our own judgments, --fit refits
the confidence calibration and prints it, --unjudged writes the answers nobody has judged yet.
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

from assistant import config
from assistant.corpus.jsonl import read_jsonl
from assistant.errors import command
from assistant.indexing.store import default_index_path
from assistant.judged import CONFIDENT, JUDGED, Sample, evaluate_real, read_real
from assistant.logs import setup_logging
from assistant.search.confidence import Bin, Signals, cross_validated, fit, reliability
from assistant.search.searcher import Searcher, load_index

# Dev questions are paraphrases with one known target: they count a quarter in calibration (at a half, the
# judged real answers scoring 0.4-0.8 were over-confident by 0.1-0.2).
EVAL_DIR = Path(__file__).resolve().parents[1] / "eval"  # the eval sets shipped with the repository
DEV_WEIGHT = 0.25


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

    def parse(row: dict) -> LabelledQuestion:
        return LabelledQuestion(row["query"], frozenset((t["book"], int(t["thread"])) for t in row["targets"]))

    return read_jsonl(path, parse, "not a labelled question")


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


def dev_samples(searcher: Searcher, questions: Sequence[LabelledQuestion]) -> list[Sample]:
    """Top 3 answers to every dev question as calibration samples: useful when from a target thread."""
    samples = []
    for question in questions:
        answers = searcher.search(question.query, 3, min_score=0)
        for answer in answers:
            useful = (answer.book, answer.thread) in question.targets
            samples.append(Sample(question.query, Signals(answer.score).vector(), useful, False))
    return samples


def reliability_table(bins: list[Bin]) -> str:
    """Markdown rows: confidence bin, answers, mean predicted, share judged useful."""
    lines = ["| confidence | answers | predicted | judged useful |", "|---|---|---|---|"]
    lines += [f"| {b.low:.1f}–{b.high:.1f} | {b.count} | {b.predicted:.2f} | {b.observed:.2f} |" for b in bins]
    return "\n".join(lines)


def _calibrate(real: list[Sample], dev: list[Sample]) -> str:
    """Refit the calibration on judged real answers plus dev answers; the new constant and its cross-validated table."""
    judged = [s for s in real if s.useful is not None] + dev
    x = np.stack([s.features for s in judged])
    y = np.array([s.useful for s in judged], dtype=float)
    w = np.array([1.0] * (len(judged) - len(dev)) + [DEV_WEIGHT] * len(dev))
    note = f"{len(judged) - len(dev)} judged real answers and {len(dev)} dev answers (weight {DEV_WEIGHT})"
    model = fit(x, y, w, note)
    held_out = cross_validated(x, y, w, [s.group for s in judged])
    is_real = np.arange(len(judged)) < len(judged) - len(dev)
    tops = np.array([s.top for s in judged])
    confident = tops & (held_out >= CONFIDENT)
    return "\n".join(
        [
            f"calibration fitted on {note}:",
            f"CALIBRATION = {model!r}",
            "cross-validated (5 folds by question), judged real answers:",
            reliability_table(reliability(held_out[is_real], y[is_real])),
            (
                f"cross-validated top answers (general questions): mean confidence {held_out[tops].mean():.2f}, "
                f"judged useful {y[tops].mean():.2f}; with confidence >= {CONFIDENT}: {int(confident.sum())}, "
                f"judged useful {y[confident].mean() if confident.any() else 0:.2f}"
            ),
        ]
    )


def _optional_path(value: str) -> Path | None:
    return Path(value) if value else None


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.eval", description=__doc__.splitlines()[0])
    parser.add_argument(
        "file",
        type=Path,
        nargs="?",
        default=EVAL_DIR / "dev.jsonl",
        help="labelled questions (default: eval/dev.jsonl)",
    )
    parser.add_argument(
        "--real",
        type=_optional_path,
        default=EVAL_DIR / "real-dev.jsonl",
        help="real questions with judged answers (default: eval/real-dev.jsonl; --real '' skips them)",
    )
    parser.add_argument(
        "--judgments",
        type=Path,
        default=EVAL_DIR / "judgments.jsonl",
        help="further judgments of answers to them (default: eval/judgments.jsonl)",
    )
    parser.add_argument(
        "--fit",
        action="store_true",
        help="refit the score's calibration, the baseline of `python -m assistant.labels` (needs --real)",
    )
    parser.add_argument("--unjudged", type=Path, metavar="OUT", help="write unjudged top answers for blind judging")
    parser.add_argument("--index", type=Path, default=default_index_path(), help="index folder (default: index/)")
    parser.add_argument("-k", type=int, default=10, help="results per question (default: 10)")
    parser.add_argument("--show-misses", action="store_true", help="list answerable questions that were missed")
    config.add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(config.verbosity(args))
    questions = read_labelled(args.file)
    real = read_real(args.real, args.judgments) if args.real else []
    searcher = load_index(args.index)
    searcher.search("warm up the model", 1, min_score=0)
    report = evaluate(searcher, questions, args.k)
    print(report)
    if args.show_misses:
        print("missed:", *report.misses, sep="\n  ")
    if not real:
        return 0
    real_report, samples, missing = evaluate_real(searcher, real)
    print(real_report)
    judged = [s for s in samples if s.useful is not None]
    predicted = np.array([s.confidence for s in judged])
    print(f"confidence shown for judged real answers (top {JUDGED}, every question; assistant.indexing.usefulness):")
    print(reliability_table(reliability(predicted, np.array([s.useful for s in judged], dtype=float))))
    if args.fit:
        print(_calibrate(samples, dev_samples(searcher, questions)))
    if args.unjudged:
        with open(args.unjudged, "w", encoding="utf-8") as out:
            for question, answer in missing:
                row = {
                    "question": question.query,
                    "book": question.book,
                    "thread": question.thread,
                    "unit": answer.id,
                    "author": answer.author,
                    "book_title": answer.book_title,
                    "text": answer.text[:1500],
                }
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{len(missing)} unjudged answers written to {args.unjudged}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
