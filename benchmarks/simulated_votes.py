"""Votes for tuning, simulated from the dev set: `python benchmarks/simulated_votes.py --index DIR --out FOLDER`.

Splits eval/dev.jsonl by line into a voting half (odd lines) and an evaluated half (even
lines, written as dev-eval.jsonl, with the unanswerable questions). Each voting question is searched
on the index and logged to FOLDER/queries.sqlite as the app logs it, with "Helpful" on the shown
answers from its target threads and "Not helpful" on the best-ranked other answer, as a person
would vote. Tune with `--tune-log FOLDER/queries.sqlite --tune-exclude FOLDER/dev-eval.jsonl
--tune-exclude eval/real-dev.jsonl` and evaluate on FOLDER/dev-eval.jsonl: the
evaluated questions' threads never reach training, votes included.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from assistant.eval import read_labelled
from assistant.searching.searcher import load_index
from assistant.service.querylog import LoggedQuery, QueryLog, Shown

DEV = Path(__file__).resolve().parents[1] / "eval" / "dev.jsonl"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True, help="index to search (the untuned one)")
    parser.add_argument("--dev", type=Path, default=DEV, help="labelled questions (default: eval/dev.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="folder for queries.sqlite and dev-eval.jsonl")
    args = parser.parse_args()
    lines = [line for line in args.dev.read_text(encoding="utf-8").splitlines() if line.strip()]
    voting = [n for n, line in enumerate(lines) if n % 2 and json.loads(line)["targets"]]
    evaluated = [line for n, line in enumerate(lines) if not n % 2 or not json.loads(line)["targets"]]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "dev-eval.jsonl").write_text("\n".join(evaluated) + "\n", encoding="utf-8")
    questions = read_labelled(args.dev)
    searcher = load_index(args.index)
    log = QueryLog(args.out / "queries.sqlite")
    helpful = unhelpful = 0
    for n in voting:
        question = questions[n]
        answers = searcher.search(question.query, 5, min_score=0)
        shown = tuple(Shown(a.id, a.score, "") for a in answers)
        query_id = log.record(LoggedQuery(question.query, 5, "page", shown, False, 0.0))
        right = [a for a in answers if (a.book, a.thread) in question.targets]
        wrong = [a for a in answers if (a.book, a.thread) not in question.targets][:1]
        for answer in right:
            helpful += log.vote(query_id, answer.id, True)
        for answer in wrong:
            unhelpful += log.vote(query_id, answer.id, False)
    log.close()
    print(
        f"{len(voting)} voting questions: {helpful} helpful and {unhelpful} not-helpful votes in "
        f"{args.out / 'queries.sqlite'}; {len(evaluated)} questions to evaluate in {args.out / 'dev-eval.jsonl'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
