"""Turn logged failures into eval rows: `python -m assistant.feedback export [--log PATH|URL] --out FILE.jsonl`.

Exports every logged question that got no answer, a "none of these answer" vote or a "Not helpful"
vote, once per question (case and spacing ignored), in the dev.jsonl format with empty `targets`
and a `note`, plus what was shown (`shown`: answer ids, best score, vote counts) to label from.
`python -m assistant.feedback copy --from queries.sqlite --to postgresql://...` moves an SQLite log
into a PostgreSQL database (rows it already holds are kept, so a second run adds nothing).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant import config
from assistant.corpus.text import question_key
from assistant.errors import command
from assistant.eval import read_labelled
from assistant.logs import setup_logging
from assistant.service import logdb
from assistant.service.logdb import LogTarget, is_url, log_target, scrub
from assistant.service.querylog import DB_ERRORS, connect_readonly, default_log_path


@dataclass
class ShownTally:
    """One answer shown for a question, over every time the question was asked."""

    answer_id: str
    score: float
    helpful: int = 0
    not_helpful: int = 0


@dataclass
class Failure:
    """One logged question (all its phrasings folded together) and how it failed."""

    question: str  # the latest phrasing
    last_asked: float = 0.0
    asked: int = 0
    no_answer: int = 0
    none_votes: int = 0
    shown: dict[str, ShownTally] = field(default_factory=dict)

    @property
    def not_helpful(self) -> int:
        return sum(tally.not_helpful for tally in self.shown.values())

    @property
    def failed(self) -> bool:
        return bool(self.no_answer or self.none_votes or self.not_helpful)

    def row(self) -> dict:
        """The dev.jsonl row: query, empty targets, a note saying why it is here, and what was shown."""
        shown = sorted(self.shown.values(), key=lambda tally: -tally.score)
        return {
            "query": self.question,
            "targets": [],
            "note": self.note(),
            "shown": [
                {"id": t.answer_id, "score": t.score, "helpful": t.helpful, "not_helpful": t.not_helpful} for t in shown
            ],
        }

    def note(self) -> str:
        """Why the question was exported, e.g. 'query log: asked 3 times; no answer 2 times'."""
        reasons = [f"asked {_times(self.asked)}"]
        if self.no_answer:
            reasons.append(f"no answer {_times(self.no_answer)}")
        if self.none_votes:
            reasons.append(f"'none of these answer' {_times(self.none_votes)}")
        if self.not_helpful:
            reasons.append(f"'not helpful' {_times(self.not_helpful)}")
        return "query log: " + "; ".join(reasons) + " (to label: add targets, or keep [] if nothing answers it)"


def _times(n: int) -> str:
    return "once" if n == 1 else f"{n} times"


def read_failures(connection) -> list[Failure]:
    """Every failed question in the log, most asked first (then most recent)."""
    groups: dict[str, Failure] = {}
    key_of: dict[str, str] = {}
    queries = connection.execute(
        "SELECT q.id, q.time, q.question, q.no_answer,"
        " EXISTS (SELECT 1 FROM none_votes n WHERE n.query_id = q.id) AS none FROM queries q ORDER BY q.time"
    )
    for query in queries:
        key = key_of[query["id"]] = question_key(query["question"])
        group = groups.setdefault(key, Failure(query["question"]))
        group.question, group.last_asked = query["question"], query["time"]
        group.asked += 1
        group.no_answer += query["no_answer"]
        group.none_votes += query["none"]
    for shown in connection.execute("SELECT query_id, answer_id, score FROM shown"):
        tallies = groups[key_of[shown["query_id"]]].shown
        tally = tallies.setdefault(shown["answer_id"], ShownTally(shown["answer_id"], shown["score"]))
        tally.score = max(tally.score, shown["score"])
    for vote in connection.execute("SELECT query_id, answer_id, helpful FROM votes"):
        tally = groups[key_of[vote["query_id"]]].shown[vote["answer_id"]]
        if vote["helpful"]:
            tally.helpful += 1
        else:
            tally.not_helpful += 1
    return sorted((g for g in groups.values() if g.failed), key=lambda g: (-g.asked, -g.last_asked))


def export(log: Path | str, out: Path, skip: Sequence[Path] = ()) -> int:
    """Write the failed questions not already in the `skip` eval files to `out`; returns how many.

    ValueError when `out` is the log or a `skip` file: an export never writes over what it reads.
    """
    for source, what in [(Path(log), "is the query log"), *((Path(path), "is also read by --skip") for path in skip)]:
        if _same_file(out, source):
            raise ValueError(f"--out {out} {what}: write the export to another file")
    known = {question_key(labelled.query) for path in skip for labelled in read_labelled(path)}
    connection = connect_readonly(log)
    try:
        failures = [f for f in read_failures(connection) if question_key(f.question) not in known]
    finally:
        connection.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as file:
        for failure in failures:
            file.write(_jsonl_line(failure.row()))
    return len(failures)


def copy_log(source: Path, target: LogTarget) -> dict[str, int]:
    """Copy every row of an SQLite log into a PostgreSQL one, in one transaction; returns the rows added per table.

    Rows the target already holds are left as they are, so running it twice copies nothing twice.
    """
    if not is_url(target):
        raise ValueError(f"--to {target}: copy to a postgresql:// URL (an SQLite log is copied with its backup)")
    reader = connect_readonly(source)
    added = {}
    try:
        writer = logdb.connect(target)
        try:
            writer.execute("BEGIN")
            for table in logdb.TABLES:
                names = ", ".join(logdb.columns(reader, table))
                rows = [tuple(row) for row in reader.execute(f"SELECT {names} FROM {table}")]
                before = writer.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                places = ", ".join("?" * len(rows[0])) if rows else ""
                writer.executemany(f"INSERT INTO {table} ({names}) VALUES ({places}) ON CONFLICT DO NOTHING", rows)
                added[table] = writer.execute(f"SELECT count(*) FROM {table}").fetchone()[0] - before
            writer.execute("COMMIT")
        finally:
            if writer.in_transaction:
                writer.execute("ROLLBACK")
            writer.close()
    finally:
        reader.close()
    return added


def _jsonl_line(row: dict) -> str:
    """One JSONL line; U+2028 and U+2029 escaped, since readers that split lines on them (str.splitlines) would
    cut the row in two."""
    return json.dumps(row, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029") + "\n"


def _same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through links and `..`); False when either does not exist."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.feedback", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    export_command = commands.add_parser("export", help="write failed questions as eval rows to label")
    export_command.add_argument(
        "--log", type=log_target, default=default_log_path(), metavar="PATH|URL",
        help="query log, an SQLite file or a postgresql:// URL (default: state/queries.sqlite, $ASSISTANT_LOG)",
    )  # fmt: skip
    export_command.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help="where to write")
    export_command.add_argument(
        "--skip", type=Path, action="append", default=[], metavar="FILE.jsonl",
        help="leave out questions already in this eval file (repeatable)",
    )  # fmt: skip
    copy_command = commands.add_parser("copy", help="copy an SQLite query log into a PostgreSQL one")
    copy_command.add_argument("--from", dest="source", type=Path, required=True, metavar="PATH", help="SQLite log")
    copy_command.add_argument("--to", dest="target", type=log_target, required=True, metavar="URL",
                              help="postgresql://user:password@host:port/database")  # fmt: skip
    config.add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(config.verbosity(args))
    try:
        if args.command == "copy":
            added = copy_log(args.source, args.target)
            print(", ".join(f"{count:,} {table}" for table, count in added.items()) + " rows added")
            return 0
        count = export(args.log, args.out, args.skip)
    except (OSError, ValueError, *DB_ERRORS) as error:
        secret = args.target if args.command == "copy" else args.log
        print(scrub(f"error: {' '.join(str(error).split())}", secret), file=sys.stderr)
        return 2
    print(f"{count} question{'' if count == 1 else 's'} to label written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
