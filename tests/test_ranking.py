"""Pure ranking functions: score fusion, duplicate keys, diverse selection."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.corpus.text import duplicate_key
from assistant.indexing.recipe import WEIGHTS
from assistant.searching.ranking import (
    answers_question,
    fuse,
    select,
    side_by_side,
    substance_penalty,
    term_match,
    text_match,
    with_term_match,
)


def _dense(both, question, answer):
    return {"both": np.array(both), "question": np.array(question), "answer": np.array(answer)}


def test_fuse_is_a_weighted_mean_in_cosine_range():
    perfect = fuse(_dense([1.0], [1.0], [1.0]), np.array([1e9]))
    assert perfect[0] == pytest.approx(1.0, abs=1e-6)
    nothing = fuse(_dense([0.0], [0.0], [0.0]), np.array([0.0]))
    assert nothing[0] == 0.0


def test_lexical_credit_saturates_instead_of_scaling_to_the_best_hit():
    """A weak word overlap stays weak even when it is the best lexical hit for the question."""
    weak = fuse(_dense([0.0], [0.0], [0.0]), np.array([0.5]))[0]
    strong = fuse(_dense([0.0], [0.0], [0.0]), np.array([WEIGHTS.lexical_half_point]))[0]
    assert weak < 0.05 < strong == pytest.approx(0.5 * WEIGHTS.lexical / WEIGHTS.total)


def test_question_match_counts_more_than_answer_match():
    by_question = fuse(_dense([0.5], [0.9], [0.1]), np.zeros(1))[0]
    by_answer = fuse(_dense([0.5], [0.1], [0.9]), np.zeros(1))[0]
    assert by_question > by_answer


def test_duplicate_key_ignores_case_spacing_punctuation_and_accents():
    assert duplicate_key("Use DVC!  Then   MLflow.") == duplicate_key("use dvc then mlflow")
    assert duplicate_key("Café") == duplicate_key("cafe")
    assert duplicate_key("use dvc") != duplicate_key("use mlflow")


def test_select_returns_best_first_without_duplicates():
    scores = np.array([0.9, 0.8, 0.7, 0.6])
    picked = select(scores, ["A", "B", "C", "D"], ["x", "x", "y", "z"], ["1", "2", "3", "4"], k=3)
    assert [i for i, _ in picked] == [0, 2, 3]
    assert [s for _, s in picked] == pytest.approx([0.9, 0.7, 0.6])


def test_select_lifts_a_close_answer_by_another_author_over_a_repeat():
    scores = np.array([0.60, 0.59, 0.58, 0.57, 0.56, 0.55])
    authors = ["Noah", "Noah", "Noah", "Noah", "Noah", "Alfredo"]
    picked = [i for i, _ in select(scores, authors, [str(i) for i in range(6)], [f"t{i}" for i in range(6)], k=5)]
    assert 5 in picked and picked[0] == 0


def test_select_keeps_one_author_when_the_other_is_far_behind():
    scores = np.array([0.60, 0.59, 0.58, 0.57, 0.56, 0.20])
    authors = ["Noah"] * 5 + ["Alfredo"]
    picked = [i for i, _ in select(scores, authors, [str(i) for i in range(6)], [f"t{i}" for i in range(6)], k=5)]
    assert picked == [0, 1, 2, 3, 4]


def test_select_with_fewer_candidates_than_k():
    assert [i for i, _ in select(np.array([0.1, 0.3]), ["A", "B"], ["a", "b"], ["t1", "t2"], k=5)] == [1, 0]


def test_select_shows_an_authors_answers_in_one_thread_as_one_card():
    """Emmanuel Raj answered one question twice in one thread: one card, then the next author."""
    scores = np.array([0.70, 0.69, 0.60, 0.55])
    authors = ["Emmanuel Raj", "Emmanuel Raj", "Alfredo Deza", "Emmanuel Raj"]
    threads = ["mlops/3/emmanuel", "mlops/3/emmanuel", "practical/5/alfredo", "mlops/9/emmanuel"]
    picked = [i for i, _ in select(scores, authors, ["a", "b", "c", "d"], threads, k=3)]
    assert picked == [0, 2, 3]


def test_substance_penalty_falls_with_content_words():
    penalties = substance_penalty(np.array([0, 5, 20, 200]))
    assert penalties[0] == pytest.approx(0.1)
    assert penalties[0] > penalties[1] > penalties[2] == penalties[3] == 0.0


def test_term_match_counts_terms_and_adjacent_pairs():
    wanted = ("great", "expect")
    phrase = text_match(wanted, ("use", "great", "expect", "check"))
    apart = text_match(wanted, ("great", "question", "expect"))
    assert phrase == 1.0 and apart == pytest.approx(2 / 3)
    assert text_match(wanted, ("great", "answer")) == pytest.approx(1 / 3)
    assert text_match(("spark",), ("pyspark", "spark")) == 1.0 and text_match((), ("spark",)) == 0.0


def test_term_match_of_many_answers_at_once():
    held = np.array([[True, True, True], [True, False, True]])
    pairs = np.array([[True, False], [False, False]])
    assert term_match(held, pairs) == pytest.approx([4 / 5, 2 / 5])
    assert list(side_by_side(("a", "b", "c"), ("a", "b", "x", "c"))) == [True, False]


def test_relevance_stays_in_the_unit_range_and_prefers_the_words_asked():
    scores = with_term_match(np.array([0.0, 1.0, 0.5, 0.5]), np.array([0.0, 1.0, 1.0, 0.0]))
    assert scores[0] == 0.0 and scores[1] == pytest.approx(1.0) and scores[2] > scores[3]


def test_a_question_is_answered_by_a_close_answer_or_one_holding_all_its_words():
    assert answers_question(0.4, 0.0, threshold=0.36)
    assert answers_question(0.2, 1.0, threshold=0.36)  # 'dagster': one answer names it, the cosines are low
    assert not answers_question(0.3, 0.5, threshold=0.36)  # 'how to train my puppy': 'train' is there, 'puppy' not


def test_spreading_across_authors_lowers_the_score_it_lists_so_scores_never_rise():
    """Alfredo's answer comes second: Noah's second answer is listed at the score it was picked on, 0.59 - 0.05."""
    scores = np.array([0.60, 0.59, 0.58, 0.57, 0.56, 0.55])
    authors = ["Noah"] * 5 + ["Alfredo"]
    picked = select(scores, authors, [str(i) for i in range(6)], [f"t{i}" for i in range(6)], k=5)
    assert [i for i, _ in picked] == [0, 5, 1, 2, 3]
    assert [s for _, s in picked] == pytest.approx([0.60, 0.55, 0.54, 0.48, 0.42])
    longer = select(scores, authors, [str(i) for i in range(6)], [f"t{i}" for i in range(6)], k=6)
    assert longer[:5] == picked  # a longer list starts with the shorter one: pages never repeat an answer
    low = select(np.array([0.04, 0.03]), ["Noah", "Noah"], ["a", "b"], ["t1", "t2"], k=2)
    assert [s for _, s in low] == pytest.approx([0.04, 0.0])  # lowered, never below 0
