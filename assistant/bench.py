"""Benchmark: `python -m assistant.bench` times a full build, a one-file rebuild, and warm search latency.

Search latency is printed next to the bare `model.encode(question)` it cannot avoid, measured
interleaved in the same run, so the ratio says what search adds beyond embedding the question.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from assistant.eval import read_labelled
from assistant.store import build_index
from assistant.searcher import load_index

def _edit_one_archive(folder: Path) -> Path:
    """Change one answer's wording in the first archive with messages, as an author's edit would."""
    for path in sorted(folder.glob("2*.md")):
        text = path.read_text(encoding="utf-8")
        if "\narchive:" in text and "  text: " in text:
            path.write_text(text.replace("  text: ", "  text: (edited) ", 1), encoding="utf-8")
            return path
    raise ValueError(f"{folder}: no archive with messages to edit")


def time_builds(data: Path, people: Path | None, work: Path) -> tuple[float, float, int]:
    """(full build seconds with an empty cache, one-file rebuild seconds, texts re-embedded by it)."""
    copy = work / "archives"
    shutil.copytree(data, copy)
    full = build_index([copy], work / "index", people)
    _edit_one_archive(copy)
    incremental = build_index([copy], work / "index", people)
    return full.seconds, incremental.seconds, incremental.embedded


def time_search(index: Path, questions: Sequence[str], repeat: int) -> tuple[float, float]:
    """Median milliseconds of warm search() and of bare encode() on the same questions, interleaved."""
    searcher = load_index(index)
    encode = searcher.embedder.model.encode
    for question in questions[:5]:
        searcher.search(question)
        encode(question)
    search_ms, encode_ms = [], []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            encode(question)
            encode_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            searcher.search(question)
            search_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(search_ms), statistics.median(encode_ms)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="archive folder to build from")
    parser.add_argument("--people", type=Path, metavar="FILE", help="YAML map of people slug -> display name")
    parser.add_argument("--questions", type=Path, required=True, metavar="FILE", help="JSONL questions to search")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions (default: 3)")
    args = parser.parse_args(argv)
    questions = [q.query for q in read_labelled(args.questions)]
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as work:
        full, incremental, reembedded = time_builds(args.data, args.people, Path(work))
        search_ms, encode_ms = time_search(Path(work) / "index", questions, args.repeat)
    print(f"full build ({args.data}):          {full:7.1f} s")
    print(f"one-file incremental rebuild:     {incremental:7.1f} s  ({reembedded} texts re-embedded)")
    print(f"median warm search():             {search_ms:7.2f} ms  ({len(questions) * args.repeat} searches)")
    print(f"median bare model.encode():       {encode_ms:7.2f} ms")
    print(f"ratio search / encode:            {search_ms / encode_ms:7.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
