"""Rebuild the search index: `python -m assistant.index [--data DIR]... [--people FILE] [--index DIR] [--model M]`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from assistant import config
from assistant.config import add_data_argument, add_people_argument
from assistant.errors import command
from assistant.indexing.store import build_index, build_inputs, default_index_path
from assistant.indexing.tuning import TuneRequest, read_excluded
from assistant.logs import get_logger, setup_logging
from assistant.service.logdb import log_target
from assistant.service.querylog import log_name, read_votes

logger = get_logger(__name__)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.index",
        description="Build the Ask the Author search index from Book-of-the-Week archives. "
        "Only answers whose text changed since the last build are embedded again.",
    )
    add_data_argument(parser)
    add_people_argument(parser)
    parser.add_argument(
        "--index",
        "--out",
        dest="out",
        type=Path,
        default=default_index_path(),
        metavar="DIR",
        help="index folder to build (default: this project's index/, $ASSISTANT_INDEX)",
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="sentence-transformers model name or local folder (default: the bundled all-MiniLM-L6-v2, offline)",
    )
    parser.add_argument(
        "--tune", action="store_true", help="tune the model on the corpus's question-answer pairs first (minutes)"
    )
    parser.add_argument(
        "--tune-exclude",
        action="append",
        type=Path,
        metavar="FILE",
        help="JSONL of threads kept out of tuning: rows with book and thread, or with targets of them; repeatable",
    )
    parser.add_argument(
        "--tune-log", type=log_target, metavar="PATH|URL",
        help="query log whose votes tuning learns from (an SQLite file or a postgresql:// URL)",
    )  # fmt: skip
    config.add_verbosity_arguments(parser)
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = config.parse(parser, "index", argv)
    setup_logging(config.verbosity(args))
    if (args.tune_exclude or args.tune_log) and not args.tune:
        parser.error("--tune-exclude and --tune-log need --tune")
    inputs = build_inputs(args.out, args.data, args.people, args.model)  # a rebuild reads what the last build read
    if not args.data:
        logger.info("Reading %s (give --data to read other folders)", ", ".join(map(str, inputs.data)))
    excluded = frozenset().union(*(read_excluded(path) for path in args.tune_exclude or []))
    votes = (tuple(read_votes(args.tune_log)), log_name(args.tune_log)) if args.tune_log else ((), None)
    tuning = TuneRequest(excluded=excluded, votes=votes[0], votes_log=votes[1]) if args.tune else None
    summary = build_index(inputs.data, args.out, inputs.people, inputs.model, progress=True, tuning=tuning)
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
