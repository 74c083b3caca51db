"""Pick real member questions for `real-more.jsonl` and lay out their answers for blind judging.

    python eval/pick_questions.py pick [--count 190] [--out eval/real-more.jsonl]
    python eval/pick_questions.py pairs --index DIR [--out blind]
    python eval/pick_questions.py collect --blind blind --grades GRADES

`collect` reads the readers' grades (`GRADES/A-*.jsonl` first readers, `GRADES/B-*.jsonl` second
readers, `{"pair", "grade"}` a line), writes the first readers' into each row's `judged` and the pairs
both read into eval/second-reader.jsonl, and prints the readers' agreement and Cohen's kappa.

`pick` draws the questions (see eval/README.md for the filters); rerun with a larger --count to
draw more: the draw order is fixed, so the rows already there stay, with their `general` and `judged`.
New rows get `general: null` until a reader sets it. `pairs` runs REAL.md's search for every row
(own book left out) and writes the top answers as blind pairs (question and answer text only), a key
from pair id to the answer, and chunks of at most CHUNK pairs for the readers.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import defaultdict
from pathlib import Path

from assistant.corpus.archive import Book, read_archives
from assistant.corpus.units import answered_threads, build_units, thread_key
from assistant.indexing.build import people_for

EVAL = Path(__file__).resolve().parent
SEED = 28
PER_BOOK = 3
MIN_CHARS, MAX_CHARS = 40, 1500
HOST = "Alexey Grigorev"  # opens every week and asks on behalf of the community: not a member question
DEPTH = 15  # answers per question laid out for judging: deeper than the 8 judged per ranking
ANSWER_CHARS = 1500
CHUNK = 250
_QUESTION_START = re.compile(
    r"(what|how|why|when|where|which|who|is|are|do|does|did|can|could|should|would|will|have|has)\b", re.IGNORECASE
)


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")


def used_threads() -> set[tuple[str, int]]:
    """(book, thread) of every thread an evaluation already uses: the holdout list, real-dev's rows, dev's targets."""
    used = {(r["book"], int(r["thread"])) for r in _jsonl(EVAL / "holdout-threads.jsonl")}
    used |= {(r["book"], int(r["thread"])) for r in _jsonl(EVAL / "real-dev.jsonl")}
    used |= {(t["book"], int(t["thread"])) for r in _jsonl(EVAL / "dev.jsonl") for t in r["targets"]}
    return used


def asks(text: str) -> bool:
    return "?" in text or _QUESTION_START.match(text) is not None


def candidates(book: Book, people: dict[str, str], used: set[tuple[str, int]]) -> list[dict]:
    """The book's threads opened by a member's question that an author answered, as real-dev rows."""
    threads = answered_threads(book, people, build_units(book, people))  # threads with a substantive author answer
    rows = []
    for position, message in enumerate(book.messages):
        posts = threads.get(thread_key(book.id, position))
        query = " ".join(message.text.split())  # as real-dev.jsonl holds it: the archive's text, spaces collapsed
        if (
            posts
            and not posts[0].is_author
            and message.name != HOST
            and (book.id, position) not in used
            and MIN_CHARS <= len(query) <= MAX_CHARS
            and asks(query)
        ):
            rows.append({"query": query, "book": book.id, "thread": position, "general": None, "judged": []})
    return rows


def draw(pool: list[dict], count: int, seed: int = SEED) -> list[dict]:
    """`count` rows spread over books: one per book a round, books and threads in a seeded order, PER_BOOK at most."""
    rng = random.Random(seed)
    by_book: dict[str, list[dict]] = defaultdict(list)
    for row in pool:
        by_book[row["book"]].append(row)
    books = sorted(by_book)
    rng.shuffle(books)
    for book in books:
        rng.shuffle(by_book[book])
    order = [by_book[book][r] for r in range(PER_BOOK) for book in books if r < len(by_book[book])]
    if count > len(order):
        raise SystemExit(f"only {len(order)} questions can be drawn ({len(pool)} candidates), not {count}")
    return order[:count]


def pick(args: argparse.Namespace) -> None:
    result = read_archives(args.data)
    people = people_for(args.data, None)
    kept = {(r["book"], r["thread"]): r for r in _jsonl(args.out)} if args.out.exists() else {}
    used = used_threads() - set(kept)  # the holdout list names this file's own threads too: they stay candidates
    pool = [row for book in result.books for row in candidates(book, people, used)]
    picked = draw(pool, args.count)
    rows = [kept.get((r["book"], r["thread"]), r) for r in picked]
    _write_jsonl(args.out, rows)
    general = sum(r["general"] is True for r in rows)
    unset = sum(r["general"] is None for r in rows)
    books = len({r["book"] for r in rows})
    print(f"{len(pool)} candidates in {len({r['book'] for r in pool})} books; {len(rows)} picked from {books} books")
    print(f"general: {general} true, {len(rows) - general - unset} false, {unset} unset -> {args.out}")


def pairs(args: argparse.Namespace) -> None:
    from assistant.searching.searcher import load_index  # loads the model: only this command needs it

    rows = _jsonl(args.questions)
    if any(r["general"] is None for r in rows):
        raise SystemExit(f"{args.questions}: set `general` of every row first")
    searcher = load_index(args.index)
    seen: dict[tuple[str, int, str], dict] = {}
    for row in rows:
        found = [a for a in searcher.search(row["query"], DEPTH + 10, min_score=0) if a.book != row["book"]]
        for rank, answer in enumerate(found[:DEPTH], start=1):
            seen.setdefault(
                (row["book"], row["thread"], answer.id),
                {
                    "question": row["query"],
                    "answer": answer.text[:ANSWER_CHARS],
                    "key": {
                        "book": row["book"],
                        "thread": row["thread"],
                        "unit": answer.id,
                        "author": answer.author,
                        "book_title": answer.book_title,
                        "rank": rank,
                    },
                },
            )
    laid = list(seen.values())
    random.Random(SEED).shuffle(laid)  # the reader must not see rank or question order
    blind = [{"pair": i, "question": p["question"], "answer": p["answer"]} for i, p in enumerate(laid, start=1)]
    _write_jsonl(args.out / "pairs.jsonl", blind)
    _write_jsonl(args.out / "key.jsonl", [{"pair": i, **p["key"]} for i, p in enumerate(laid, start=1)])
    chunks = [blind[i : i + CHUNK] for i in range(0, len(blind), CHUNK)]
    for number, chunk in enumerate(chunks, start=1):
        _write_jsonl(args.out / f"chunk-{number:02d}.jsonl", chunk)
    print(f"{len(blind)} pairs for {len(rows)} questions, {len(chunks)} chunks -> {args.out}")


def _grades(paths: list[Path]) -> dict[int, int]:
    grades: dict[int, int] = {}
    for path in paths:
        for row in _jsonl(path):
            if row.get("grade") not in (0, 1, 2):
                raise SystemExit(f"{path}: pair {row.get('pair')}: grade must be 0, 1 or 2, got {row.get('grade')!r}")
            grades[int(row["pair"])] = row["grade"]
    return grades


def kappa(first: list[int], second: list[int]) -> float:
    """Cohen's kappa of two readers' labels of the same items."""
    labels = sorted(set(first) | set(second))
    observed = sum(a == b for a, b in zip(first, second, strict=True)) / len(first)
    expected = sum((first.count(label) / len(first)) * (second.count(label) / len(second)) for label in labels)
    return (observed - expected) / (1 - expected) if expected < 1 else 1.0


def collect(args: argparse.Namespace) -> None:
    key = {row["pair"]: row for row in _jsonl(args.blind / "key.jsonl")}
    texts = {row["pair"]: row["answer"] for row in _jsonl(args.blind / "pairs.jsonl")}
    first = _grades(sorted(args.grades.glob("A-*.jsonl")))
    second = _grades(sorted(args.grades.glob("B-*.jsonl")))
    judged: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for pair, grade in sorted(first.items(), key=lambda item: (key[item[0]]["book"], key[item[0]]["thread"],
                                                              key[item[0]]["rank"])):  # fmt: skip
        k = key[pair]
        judged[(k["book"], k["thread"])].append(
            {
                "unit": k["unit"],
                "author": k["author"],
                "book_title": k["book_title"],
                "text": texts[pair],
                "grade": grade,
            }  # fmt: skip
        )
    rows = _jsonl(args.questions)
    for row in rows:
        row["judged"] = judged.get((row["book"], row["thread"]), row["judged"])
    _write_jsonl(args.questions, rows)
    both = sorted(set(first) & set(second))
    _write_jsonl(
        args.second,
        [
            {
                "book": key[p]["book"],
                "thread": key[p]["thread"],
                "unit": key[p]["unit"],
                "first": first[p],
                "second": second[p],
            }
            for p in both
        ],  # fmt: skip
    )
    a, b = [first[p] for p in both], [second[p] for p in both]
    useful_a, useful_b = [int(g >= 1) for g in a], [int(g >= 1) for g in b]
    agree = sum(x == y for x, y in zip(a, b, strict=True)) / len(both)
    agree_useful = sum(x == y for x, y in zip(useful_a, useful_b, strict=True)) / len(both)
    print(f"{len(first)} pairs judged over {len(judged)} questions -> {args.questions}")
    print(f"second reader: {len(both)} pairs ({len(both) / len(first):.0%}) -> {args.second}")
    print(f"  grade 0/1/2 agreement {agree:.3f}, Cohen's kappa {kappa(a, b):.3f}")
    print(f"  useful (grade >= 1) agreement {agree_useful:.3f}, Cohen's kappa {kappa(useful_a, useful_b):.3f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python eval/pick_questions.py", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    picking = commands.add_parser("pick", help="draw the questions")
    picking.add_argument("--data", action="append", type=Path, metavar="DIR", help="archive folder (default: data/)")
    picking.add_argument("--count", type=int, default=190)
    picking.add_argument("--out", type=Path, default=EVAL / "real-more.jsonl")
    laying = commands.add_parser("pairs", help="lay out the top answers of every question for blind judging")
    laying.add_argument("--questions", type=Path, default=EVAL / "real-more.jsonl")
    laying.add_argument("--index", type=Path, required=True, metavar="DIR")
    laying.add_argument("--out", type=Path, default=Path("blind"), metavar="DIR")
    collecting = commands.add_parser("collect", help="write the readers' grades into the questions")
    collecting.add_argument("--questions", type=Path, default=EVAL / "real-more.jsonl")
    collecting.add_argument("--blind", type=Path, default=Path("blind"), metavar="DIR")
    collecting.add_argument("--grades", type=Path, required=True, metavar="DIR")
    collecting.add_argument("--second", type=Path, default=EVAL / "second-reader.jsonl")
    args = parser.parse_args(argv)
    if args.command == "pick":
        args.data = args.data or [EVAL.parent / "data"]
        pick(args)
    else:
        {"pairs": pairs, "collect": collect}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
