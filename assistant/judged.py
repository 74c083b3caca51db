"""Real questions judged by people (`real-dev.jsonl` and our judgments): the protocol, its metrics, calibration samples.

Protocol (eval/REAL.md): search with min_score=0, drop answers from the question's own
book, keep the top 3. An answer is judged when its text matches a judged one on the first 200
word characters; answers nobody judged count as not useful and are counted.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.corpus.jsonl import read_jsonl
from assistant.indexing.usefulness import CANDIDATES
from assistant.search.confidence import Signals
from assistant.search.searcher import Answer, Searcher

TOP = 3
JUDGED = 8  # answers per question judged blind (eval/judgments.jsonl): the depth of the calibration samples
CONFIDENT = 0.7  # the bar: top answers this confident should be useful at least 80% of the time


def answer_key(text: str) -> str:
    """The judged-answer match key: lower-cased word characters, first 200."""
    return " ".join(re.findall(r"\w+", text.lower()))[:200]


@dataclass(frozen=True)
class RealQuestion:
    query: str
    book: str
    thread: int
    general: bool  # another book's author could answer it; metrics are over these
    grades: dict[str, int]  # answer_key -> grade 0 (not useful), 1 (partly), 2 (answers it)


@dataclass(frozen=True)
class Sample:
    """One returned answer with its confidence signals and, when judged, whether it was useful."""

    group: str  # the question it answers
    features: np.ndarray
    useful: bool | None
    top: bool  # first answer shown for a general question
    confidence: float = 0.0  # the estimate shown (assistant.indexing.usefulness)


@dataclass(frozen=True)
class RealReport:
    questions: int  # general questions
    useful_at_1: float  # top answer at least partly useful
    answers_at_1: float  # top answer fully useful
    ndcg_at_3: float
    unjudged_top: int
    unjudged: int  # of the top 3 answers, over general questions
    confident: int  # top answers with confidence >= CONFIDENT
    confident_useful: int

    def __str__(self) -> str:
        share = self.confident_useful / self.confident if self.confident else 0.0
        return "\n".join(
            [
                f"real questions (general, own book left out, top {TOP}): {self.questions}",
                f"  top answer at least partly useful  {self.useful_at_1:.3f}",
                f"  top answer fully useful            {self.answers_at_1:.3f}",
                f"  nDCG@3                             {self.ndcg_at_3:.3f}",
                f"  unjudged answers (counted as not useful): {self.unjudged} of top 3, {self.unjudged_top} top",
                f"  top answers with confidence >= {CONFIDENT}: {self.confident}, judged useful {share:.2f}",
            ]
        )


def read_real(path: Path, judgments: Path | None = None) -> list[RealQuestion]:
    """Real questions with their judged answers, plus the judgments file's grades for the same questions."""
    extra: dict[tuple[str, int], dict[str, int]] = {}

    def judgment(row: dict) -> None:
        extra.setdefault((row["book"], int(row["thread"])), {})[answer_key(row["text"])] = int(row["grade"])

    def question(row: dict) -> RealQuestion:
        grades = {**extra.get((row["book"], int(row["thread"])), {})}
        grades.update({answer_key(j["text"]): int(j["grade"]) for j in row["judged"]})
        return RealQuestion(row["query"], row["book"], int(row["thread"]), bool(row["general"]), grades)

    if judgments:
        read_jsonl(judgments, judgment, "not a judgment")
    return read_jsonl(path, question, "not a judged real question")


def protocol_answers(searcher: Searcher, question: RealQuestion, top: int = TOP) -> list[Answer]:
    """The `top` best answers from other books: the search runs without the question's own book, whose copy of the
    question would otherwise set the gap to the best that the usefulness model reads."""
    other_books = np.array([unit.book != question.book for unit in searcher.units])
    return list(searcher.candidates(searcher.prepared(question.query), max(top, CANDIDATES), other_books).answers)[:top]


def evaluate_real(
    searcher: Searcher, questions: Sequence[RealQuestion]
) -> tuple[RealReport, list[Sample], list[tuple[RealQuestion, Answer]]]:
    """The report over general questions, calibration samples and unjudged answers (top JUDGED of every question)."""
    useful_1 = full_1 = unjudged_top = unjudged = confident = confident_useful = 0
    ndcg = []
    samples: list[Sample] = []
    missing: list[tuple[RealQuestion, Answer]] = []
    for question in questions:
        judged = protocol_answers(searcher, question, JUDGED)
        grades = [question.grades.get(answer_key(a.text)) for a in judged]
        missing += [(question, a) for a, g in zip(judged, grades, strict=False) if g is None]
        for rank, (answer, g) in enumerate(zip(judged, grades, strict=False)):
            useful = None if g is None else g >= 1
            top = rank == 0 and question.general
            samples.append(Sample(question.query, Signals(answer.score).vector(), useful, top, answer.confidence))
        answers, grades = judged[:TOP], grades[:TOP]
        if not question.general:
            continue
        top = (grades[0] or 0) if grades else 0
        useful_1 += top >= 1
        full_1 += top == 2
        unjudged_top += bool(grades) and grades[0] is None
        unjudged += sum(g is None for g in grades)
        if answers and answers[0].confidence >= CONFIDENT:
            confident += 1
            confident_useful += top >= 1
        ideal = sorted(question.grades.values(), reverse=True)[:TOP]
        best = sum((2**g - 1) / np.log2(r + 2) for r, g in enumerate(ideal))
        gained = sum((2 ** (g or 0) - 1) / np.log2(r + 2) for r, g in enumerate(grades))
        ndcg.append(gained / best if best else 0.0)
    n = sum(q.general for q in questions)
    report = RealReport(
        n, useful_1 / n, full_1 / n, float(np.mean(ndcg)), unjudged_top, unjudged, confident, confident_useful
    )
    return report, samples, missing
