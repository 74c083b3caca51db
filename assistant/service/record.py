"""Search and log, vote and log: the one place the page, the Gradio API, MCP and the JSON API write the query log."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from assistant.corpus.units import AnswerUnit
from assistant.indexing.recipe import relevance
from assistant.searching.searcher import Answer, Searcher
from assistant.service.contract import SearchRequest, VoteRequest, run
from assistant.service.querylog import LoggedQuery, QueryLog, Shown

if TYPE_CHECKING:
    from assistant.service.health import Metrics


@dataclass(frozen=True)
class LoggedSearch:
    """The answers to a request and the id it was logged under (None when the log is off or could not take it)."""

    answers: list[Answer]
    query_id: str | None
    none_close: bool = False  # no answer is a close match (Searcher.none_close): shown, returned and logged alike


def search_and_log(
    searcher: Searcher, request: SearchRequest, log: QueryLog | None, source: str, metrics: Metrics | None = None
) -> LoggedSearch:
    """Run a validated request, timing the search, and log it with its source when there is a log; count it."""
    started = time.perf_counter()
    answers = run(searcher, request)
    latency_ms = (time.perf_counter() - started) * 1000
    no_answer = searcher.none_close(request.question, answers, request.closest)
    if metrics is not None:
        metrics.searched(source, latency_ms / 1000, no_answer)
    if log is None:
        return LoggedSearch(answers, None, no_answer)
    query = LoggedQuery(
        question=request.question,
        k=request.k,
        source=source,
        answers=tuple(Shown(answer.id, answer.score, relevance(answer.confidence).label) for answer in answers),
        no_answer=no_answer,
        latency_ms=latency_ms,
        author=request.author or "",
        book=request.book or "",
        closest=request.closest,
    )
    return LoggedSearch(answers, log.record(query), no_answer)


def log_opened_answer(unit: AnswerUnit, log: QueryLog | None) -> str | None:
    """Log an answer opened by its link as a query (source 'link') that showed it, so its card takes votes."""
    if log is None:
        return None
    shown = (Shown(unit.id, 0.0, ""),)  # not ranked: no score and no relevance label
    return log.record(LoggedQuery(unit.question.strip() or unit.id, 1, "link", shown, False, 0.0))


def record_vote(log: QueryLog, vote: VoteRequest, metrics: Metrics | None = None) -> bool:
    """Record a vote on one answer, or 'none of these answer' when it names none; UnknownIdError for unknown ids."""
    if vote.answer_id is None:
        recorded = log.vote_none(vote.query_id)
    else:
        recorded = log.vote(vote.query_id, vote.answer_id, vote.helpful)
    if recorded and metrics is not None:
        metrics.voted(None if vote.answer_id is None else vote.helpful)
    return recorded
