"""Tuning's inputs: pairs from the real corpus with held-out threads kept out, batches, and votes capped."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import index
from assistant.corpus.units import build_units
from assistant.indexing.embedding import BUNDLED_MODEL_ID
from assistant.indexing.tuning import (
    VOTES_PER_ANSWER,
    VOTES_PER_QUESTION,
    TuneRequest,
    TuneSettings,
    Vote,
    answer_side,
    batches,
    corpus_pairs,
    read_excluded,
    training_key,
    tuning_record,
    vote_pairs,
)
from assistant.service.logdb import is_url, log_target, redact
from assistant.service.querylog import QueryLog, log_name, read_votes
from helpers import EVAL
from loghelpers import logged
from pgserver import PASSWORD

pytest_plugins = ["logfixtures"]  # log_target: an SQLite file, then a PostgreSQL database

MODEL = BUNDLED_MODEL_ID


@pytest.fixture(scope="module")
def units(corpus, people):
    return [unit for book in corpus.books for unit in build_units(book, people)]


@pytest.fixture(scope="module")
def held_out() -> frozenset[tuple[str, int]]:
    """The threads of every evaluated question: dev targets and real-dev questions."""
    return read_excluded(EVAL / "dev.jsonl") | read_excluded(EVAL / "real-dev.jsonl")


def test_excluded_threads_never_reach_training(units, held_out):
    kept = corpus_pairs(units, held_out)
    in_held_out = [u for u in units if u.question and (u.book, u.thread) in held_out]
    assert len(in_held_out) > 150  # the exclusion has real work to do
    assert not [pair for pair in kept if pair.thread in held_out]
    assert len(kept) == len(corpus_pairs(units)) - len({(u.question, answer_side(u)) for u in in_held_out})


def test_votes_on_excluded_threads_never_reach_training(units, held_out):
    by_id = {unit.id: unit for unit in units}
    excluded_unit = next(u for u in units if (u.book, u.thread) in held_out)
    kept_unit = next(u for u in units if (u.book, u.thread) not in held_out)
    votes = [Vote("how do I start?", excluded_unit.id, True), Vote("how do I begin?", kept_unit.id, True)]
    assert [pair.thread for pair in vote_pairs(votes, by_id, held_out)] == [(kept_unit.book, kept_unit.thread)]


def test_pairs_are_questions_to_answers_without_the_question(units):
    pairs = corpus_pairs(units)
    with_question = [u for u in units if u.question]
    assert 1500 < len(pairs) <= len(with_question)
    first = with_question[0]
    assert pairs[0].question == first.question and pairs[0].answer == f"{first.book_title}\n{first.text}"
    assert all(pair.question not in pair.answer for pair in pairs[:200])


def test_batches_cover_every_pair_once_never_two_of_a_thread_and_follow_the_seed(units):
    pairs = corpus_pairs(units)
    plan = batches(pairs, 32, seed=0)
    assert sorted(i for batch in plan for i in batch) == list(range(len(pairs)))
    assert all(len({pairs[i].thread for i in batch}) == len(batch) <= 32 for batch in plan)
    assert plan == batches(pairs, 32, seed=0) and plan != batches(pairs, 32, seed=1)


def test_read_excluded_reads_both_row_shapes_and_names_a_bad_line(tmp_path: Path):
    rows = tmp_path / "held.jsonl"
    rows.write_text('{"book": "a", "thread": 3}\n\n{"query": "q", "targets": [{"book": "b", "thread": "4"}]}\n')
    assert read_excluded(rows) == {("a", 3), ("b", 4)}
    rows.write_text('{"book": "a", "thread": 3}\n{"book": "a"}\n')
    with pytest.raises(ValueError, match=r"held.jsonl:2: needs `book` and `thread`"):
        read_excluded(rows)


def test_one_client_repeating_a_vote_counts_once(units):
    by_id = {unit.id: unit for unit in units}
    answer = units[5]
    votes = [Vote(f"  How do I START with MLOps?{' ' * n}", answer.id, True) for n in range(50)]
    pairs = vote_pairs(votes, by_id)
    assert len(pairs) == 1 and pairs[0].answer == answer_side(answer)


def test_a_question_adds_at_most_its_cap_of_positives_and_negatives(units):
    by_id = {unit.id: unit for unit in units}
    votes = [Vote("which book first?", unit.id, True) for unit in units[:6]]
    votes += [Vote("which book first?", unit.id, False) for unit in units[10:16]]
    pairs = vote_pairs(votes, by_id)
    assert len(pairs) == VOTES_PER_QUESTION
    assert {pair.negative for pair in pairs} <= {answer_side(unit) for unit in units[10:16]}
    assert all(pair.negative for pair in pairs)


def test_an_answer_is_promoted_by_at_most_its_cap_of_questions(units):
    by_id = {unit.id: unit for unit in units}
    votes = [Vote(f"question number {n}", units[7].id, True) for n in range(20)]
    assert len(vote_pairs(votes, by_id)) == VOTES_PER_ANSWER


def test_net_votes_decide_and_unknown_answers_are_dropped(units):
    by_id = {unit.id: unit for unit in units}
    good, bad = units[1], units[2]
    votes = [Vote("q", good.id, True)] * 3 + [Vote("q", good.id, False)] * 2
    votes += [Vote("q", bad.id, True)] + [Vote("q", bad.id, False)] * 4 + [Vote("q", "gone/1/x/0", True)]
    pairs = vote_pairs(votes, by_id)
    assert [(p.answer, p.negative) for p in pairs] == [(answer_side(good), answer_side(bad))]
    shuffled = votes[:]
    random.Random(3).shuffle(shuffled)
    assert vote_pairs(shuffled, by_id) == pairs


def test_votes_are_read_from_a_real_query_log(log_target, units):
    log = QueryLog(log_target)
    ids = [unit.id for unit in units[:3]]
    query = log.record(logged("how to start with MLOps?", ids))
    log.vote(query, ids[0], True)
    log.vote(query, ids[1], False)
    log.close()
    assert read_votes(log_target) == [
        Vote("how to start with MLOps?", ids[0], True),
        Vote("how to start with MLOps?", ids[1], False),
    ]
    record = tuning_record(MODEL, TuneRequest(votes_log=log_name(log_target)), 1, 2, "key", True, 1.0)
    expected = redact(log_target) if is_url(log_target) else str(Path(log_target).resolve())
    assert record["votes_log"] == expected and PASSWORD not in record["votes_log"]  # the manifest keeps no password


def test_tune_log_and_every_log_option_take_a_path_or_a_postgresql_url():
    assert log_target("state/q.sqlite") == Path("state/q.sqlite")
    assert log_target("postgresql://u:p@127.0.0.1/db") == "postgresql://u:p@127.0.0.1/db"


def test_training_key_follows_every_training_input(units):
    pairs = corpus_pairs(units[:50])
    key = training_key(MODEL, TuneSettings(), pairs)
    assert key == training_key(MODEL, TuneSettings(), list(pairs))
    assert key != training_key(MODEL, TuneSettings(seed=1), pairs)
    assert key != training_key(MODEL, TuneSettings(), pairs[1:])
    assert key != training_key(MODEL, TuneSettings(), [replace(pairs[0], negative="no"), *pairs[1:]])
    assert key != training_key("other/model", TuneSettings(), pairs)


def test_tune_options_need_tune(capsys):
    with pytest.raises(SystemExit):
        index.main(["--tune-exclude", str(EVAL / "dev.jsonl")])
    assert "need --tune" in capsys.readouterr().err
