"""Benchmark: `python -m assistant.bench` prints every speed figure of the README in one run.

Full build and one-file rebuild; warm search() beside the bare torch `model.encode(question)` it
replaced, interleaved so both see the same machine; then `python app.py` on the built index: process
start to first answer, resident memory, and 20 clients x 25 questions through the JSON endpoint and
through the Gradio API (benchmarks/load.py).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from assistant import config
from assistant.errors import command
from assistant.eval import read_labelled
from assistant.indexing.store import BuildSummary, build_index
from assistant.logs import setup_logging
from assistant.search.searcher import load_index

REPO = Path(__file__).resolve().parents[1]


def _load_harness():
    """benchmarks/load.py, which is a script beside the package rather than part of it."""
    spec = importlib.util.spec_from_file_location("load", REPO / "benchmarks" / "load.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _edit_one_archive(folder: Path) -> Path:
    """Change one answer's wording in the first archive with messages, as an author's edit would."""
    for path in sorted(folder.glob("2*.md")):
        text = path.read_text(encoding="utf-8")
        if "\narchive:" in text and "  text: " in text:
            path.write_text(text.replace("  text: ", "  text: (edited) ", 1), encoding="utf-8")
            return path
    raise ValueError(f"{folder}: no archive with messages to edit")


def time_builds(
    data: Path, people: Path | None, work: Path, built: Path | None
) -> tuple[BuildSummary | None, BuildSummary]:
    """(full build with an empty index, or None when a copy of `built` stands in for it; one-file rebuild).

    A copy is first rebuilt unchanged, so its parse cache is this program's, as after a full build.
    """
    copy = work / "archives"
    shutil.copytree(data, copy)
    if built is None:
        full = build_index([copy], work / "index", people)
    else:
        full = None
        shutil.copytree(built, work / "index", symlinks=True)
        build_index([copy], work / "index", people)
    _edit_one_archive(copy)
    return full, build_index([copy], work / "index", people)


def time_search(index: Path, questions: Sequence[str], repeat: int) -> tuple[float, float]:
    """Median milliseconds of warm search() (each question embedded anew) and of bare torch encode(), interleaved."""
    from assistant.indexing.embedding import Embedder

    searcher = load_index(index)
    encode = Embedder(searcher.index.manifest["model"]).model.encode
    for question in questions[:5]:
        searcher.search(question)
        encode(question)
    search_ms, encode_ms = [], []
    for _ in range(repeat):
        for question in questions:
            started = time.perf_counter()
            encode(question)
            encode_ms.append((time.perf_counter() - started) * 1000)
            searcher.forget_questions()  # time the whole search, question embedding included
            started = time.perf_counter()
            searcher.search(question)
            search_ms.append((time.perf_counter() - started) * 1000)
    return statistics.median(search_ms), statistics.median(encode_ms)


def _children_resident_mb() -> float:
    """Resident memory of this process's children (the app running_app started), from /proc."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) != os.getpid():
                continue
            status = (stat.parent / "status").read_text()
        except (OSError, IndexError, ValueError):
            continue
        total += sum(int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmRSS:"))
    return total


def serve_and_load(index: Path, data: Path) -> tuple[float, float, object, object]:
    """(seconds from `python app.py` to its first answer, resident MB after the loads, JSON load, Gradio load)."""
    load = _load_harness()
    started = time.perf_counter()
    with load.running_app(index, [data]) as url:  # polls the page every 0.5 s until it answers
        httpx.get(f"{url}api/search", params={"q": "Should startups do MLOps?"}, timeout=60).raise_for_status()
        first_answer = time.perf_counter() - started
        json_load = load.run_load(url, 20, load.QUESTIONS, api="json")
        gradio_load = load.run_load(url, 20, load.QUESTIONS, api="gradio")
        resident = _children_resident_mb()
    return first_answer, resident, json_load, gradio_load


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, metavar="DIR", help="archive folder to build from")
    parser.add_argument("--people", type=Path, metavar="FILE", help="YAML map of people slug -> display name")
    parser.add_argument("--questions", type=Path, required=True, metavar="FILE", help="JSONL questions to search")
    parser.add_argument("--repeat", type=int, default=3, help="passes over the questions (default: 3)")
    parser.add_argument(
        "--index", type=Path, metavar="DIR", help="a built index of --data to copy instead of timing a full build"
    )
    config.add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(config.verbosity(args))
    questions = [q.query for q in read_labelled(args.questions)]
    with tempfile.TemporaryDirectory(prefix="assistant-bench-") as work:
        full, incremental = time_builds(args.data, args.people, Path(work), args.index)
        if full is not None:
            print(f"full build ({full.embedded} texts embedded):   {full.seconds:8.1f} s", flush=True)
        reembedded = f"({incremental.embedded} texts re-embedded)"
        print(f"one-file incremental rebuild:        {incremental.seconds:8.1f} s  {reembedded}", flush=True)
        search_ms, encode_ms = time_search(Path(work) / "index", questions, args.repeat)
        print(f"median warm search():                {search_ms:8.2f} ms  ({len(questions) * args.repeat} searches)")
        print(f"median bare torch model.encode():    {encode_ms:8.2f} ms")
        print(f"ratio search / torch encode:         {search_ms / encode_ms:8.2f}", flush=True)
        first_answer, resident, json_load, gradio_load = serve_and_load(Path(work) / "index", Path(work) / "archives")
    print(f"python app.py start -> first answer: {first_answer:8.1f} s")
    print(f"serving app resident memory:         {resident:8.0f} MB (after both loads)")
    print(f"JSON API, 20 clients x 25 questions:   {json_load}")
    print(f"Gradio API, 20 clients x 25 questions: {gradio_load}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
