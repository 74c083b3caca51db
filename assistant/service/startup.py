"""The one startup of every server (`app.py`, the Slack app): the index ready and warm, the query log open."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from assistant.indexing.store import build_inputs, ensure_index
from assistant.search.live import LiveSearcher, report_crashes
from assistant.search.searcher import load_index
from assistant.service.querylog import QueryLog


@dataclass(frozen=True)
class Started:
    live: LiveSearcher  # the loaded index, swapped for each rebuild without a restart
    log: QueryLog | None  # None with --no-log


def start(args: argparse.Namespace) -> Started:
    """Crash reports on, the index rebuilt if stale and loaded, the encoder warmed, the query log opened.

    `args` holds the options both servers take: index, data, people, no_log, log, log_days.
    """
    report_crashes()  # a served build's file truncated in place is a SIGBUS: say where, not nothing
    inputs = build_inputs(args.index, args.data, args.people)  # a rebuild reads what the last build read
    ensure_index(inputs, args.index)
    searcher = load_index(args.index, inputs.model)
    searcher.search("warm up", 1, min_score=0)  # load the encoder now, so the first question does not wait for it
    log = None if args.no_log else QueryLog(args.log, args.log_days)
    return Started(LiveSearcher(searcher, args.index), log)
