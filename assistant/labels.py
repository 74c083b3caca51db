"""Train and evaluate the usefulness model: `python -m assistant.labels {train,report} [--log QUERYLOG]`.

Judged pairs are the real questions of eval/ (real-dev.jsonl with judgments.jsonl, real-more.jsonl, and any
further --judgments file), each searched as eval/REAL.md does (own book left out, CANDIDATES deep), plus the
query log's votes, capped as tuning caps them (assistant.indexing.tuning.vote_pairs). The figures are cross-validated
with every question's pairs in one fold (5 folds), before (the fused score alone) and after (the model); an
answer nobody judged counts as not useful and is counted. `train` also writes the model fitted on everything,
with the label floors chosen on the cross-validated top answers, to assistant/indexing/usefulness.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from assistant import config
from assistant.corpus.jsonl import read_jsonl
from assistant.errors import command
from assistant.eval import EVAL_DIR, read_labelled, reliability_table
from assistant.indexing.store import default_index_path
from assistant.indexing.tuning import answer_side, vote_pairs
from assistant.indexing.usefulness import CANDIDATES, FEATURES, MODEL_FILE, Model, shown
from assistant.judged import TOP, answer_key, read_real
from assistant.logs import setup_logging
from assistant.search.confidence import Calibration, confidence, fit, reliability
from assistant.search.ranking import answers_question
from assistant.search.searcher import Searcher, load_index
from assistant.service.querylog import read_votes

FOLDS = 5
JUDGED = 8  # depth of the blind pairs written for judging
ANSWERS_USEFUL = 0.8  # "Answers this": at least this share of top answers useful (cross-validated)
UNLIKELY_USEFUL = 0.25  # "Probably not what you asked": at most this share useful
MARGIN = 0.0  # the floors are chosen this much inside the targets: an unseen set varies
MIN_LABELLED = 10  # a floor is set on at least this many top answers
DEV_WEIGHT = 2.0  # a paraphrase's pair counts this much in training: one known target, the rest unjudged
DEV_DEPTH = 3


@dataclass(frozen=True)
class Pair:
    """One candidate answer to a question, its features, and its grade when judged (None: nobody has)."""

    question: str  # the group: a question's pairs are all in one fold
    unit: str
    rows: np.ndarray  # FEATURES
    grade: int | None
    rank: int  # position by the fused score (the order before the model)
    weight: float = 1.0  # in training


@dataclass(frozen=True)
class Asked:
    """A judged real question and its candidates."""

    query: str
    book: str
    thread: int
    general: bool
    pairs: tuple[Pair, ...]
    ideal: tuple[int, ...]  # its judged grades, best first (nDCG's ideal)
    answered: bool  # ranking.answers_question of its candidates
    by_meaning: bool  # its best answer scores at least recipe.MIN_SCORE


def _judgment_rows(path: Path) -> list[dict]:
    def parse(row: dict) -> dict:
        return {
            "book": row["book"],
            "thread": int(row["thread"]),
            "grade": int(row["grade"]),
            "unit": row.get("unit", ""),
            "text": row.get("text", ""),
        }

    return read_jsonl(path, parse, "not a judgment")


def collect(searcher: Searcher, real: Sequence[Path], judgments: Sequence[Path]) -> list[Asked]:
    """Every real question searched with its own book left out, each candidate with its grade if judged."""
    extra: dict[tuple[str, int], dict[str, int]] = {}
    for path in judgments:
        for row in _judgment_rows(path):
            unit = searcher.unit(row["unit"]) if row["unit"] else None
            text = row["text"] or (unit.text if unit else "")
            extra.setdefault((row["book"], row["thread"]), {})[answer_key(text)] = row["grade"]
    books = np.array([unit.book for unit in searcher.units])
    asked = []
    seen = set()
    for path in real:
        for question in read_real(path):
            if (question.book, question.thread) in seen:
                continue
            seen.add((question.book, question.thread))
            grades = {**extra.get((question.book, question.thread), {}), **question.grades}
            found = searcher.candidates(searcher.prepared(question.query), CANDIDATES, books != question.book)
            by_score = sorted(range(len(found.answers)), key=lambda j: found.features[j][FEATURES.index("rank")])
            pairs = tuple(
                Pair(
                    question.query,
                    found.answers[j].id,
                    found.features[j],
                    grades.get(answer_key(found.answers[j].text)),
                    rank,
                )
                for rank, j in enumerate(by_score)
            )
            ideal = tuple(sorted(grades.values(), reverse=True))
            answered = answers_question(found.best, found.best_match)
            by_meaning = answers_question(found.best, 0.0)
            asked.append(
                Asked(
                    question.query,
                    question.book,
                    question.thread,
                    question.general,
                    pairs,
                    ideal,
                    answered,
                    by_meaning,
                )
            )
    return asked


def vote_samples(searcher: Searcher, log: Path) -> list[Pair]:
    """The query log's votes as judged pairs (helpful: grade 1, not helpful: 0), capped as tuning caps them; a vote
    counts when its answer is among the question's candidates today."""
    units = {unit.id: unit for unit in searcher.units}
    by_side = {answer_side(unit): unit.id for unit in searcher.units}
    samples = []
    for pair in vote_pairs(read_votes(log), units):
        found = searcher.candidates(searcher.prepared(pair.question), CANDIDATES)
        rows = {answer.id: row for answer, row in zip(found.answers, found.features, strict=False)}
        for side, grade in ((pair.answer, 1), (pair.negative, 0)):
            unit = by_side.get(side)
            if unit in rows:
                samples.append(Pair(pair.question, unit, rows[unit], grade, -1))
    return samples


def dev_samples(searcher: Searcher, path: Path) -> list[Pair]:
    """The paraphrases' top DEV_DEPTH candidates as pairs (useful: from a target thread), weighted DEV_WEIGHT: they
    keep the order that finds a paraphrase's thread."""
    samples = []
    for question in read_labelled(path):
        if question.targets:
            found = searcher.candidates(searcher.prepared(question.query), CANDIDATES)
            by_score = sorted(
                zip(found.answers, found.features, strict=False), key=lambda pair: pair[1][FEATURES.index("rank")]
            )
            for answer, row in by_score[:DEV_DEPTH]:  # by score: the samples do not depend on the model in use
                grade = int((answer.book, answer.thread) in question.targets)
                samples.append(Pair(question.query, answer.id, row, grade, -1, DEV_WEIGHT))
    return samples


def _fold(group: str) -> int:
    return int(hashlib.sha256(group.encode()).hexdigest(), 16) % FOLDS


def _model(calibration: Calibration, answers_floor: float = 0.6, related_floor: float = 0.3) -> Model:
    return Model(
        FEATURES,
        calibration.means,
        calibration.scales,
        calibration.coefficients,
        calibration.intercept,
        answers_floor,
        related_floor,
        calibration.fitted_on,
    )


def _fit(pairs: Sequence[Pair], note: str) -> Model:
    judged = [p for p in pairs if p.grade is not None]
    x = np.stack([p.rows for p in judged])
    y = np.array([p.grade >= 1 for p in judged], dtype=float)
    return _model(fit(x, y, np.array([p.weight for p in judged]), note))


def cross_validated(asked: Sequence[Asked], votes: Sequence[Pair]) -> list[np.ndarray]:
    """Each question's candidates' P(useful) from a model fitted without its fold's questions (votes always in)."""
    predicted: list[np.ndarray] = [np.zeros(0)] * len(asked)
    for k in range(FOLDS):
        train = [p for a in asked if _fold(a.query) != k for p in a.pairs] + list(votes)
        model = _fit(train, "cross-validation")
        for n, a in enumerate(asked):
            if _fold(a.query) == k:
                predicted[n] = model.predict(np.stack([p.rows for p in a.pairs]))
    return predicted


def _auc(scores: np.ndarray, useful: np.ndarray) -> float:
    """The chance a useful answer outscores a useless one (ties count half)."""
    good, bad = scores[useful], scores[~useful]
    if not len(good) or not len(bad):
        return 0.0
    return float(
        ((good[:, None] > bad[None, :]).sum() + 0.5 * (good[:, None] == bad[None, :]).sum()) / (len(good) * len(bad))
    )


@dataclass(frozen=True)
class Figures:
    """A ranking's figures over general questions: ordered by `predicted`, labelled by the floors."""

    questions: int
    auc_top3: float
    useful_at_1: float
    answers_at_1: float
    ndcg_at_3: float
    unjudged_top: int
    unjudged_top3: int
    labels: dict[str, tuple[int, float]]  # label slug -> (top answers with it, share useful)
    table: str  # reliability of the estimate over the judged top 8

    def __str__(self) -> str:
        shares = ", ".join(
            f"{slug} {n} ({n / self.questions:.0%} of tops, {useful:.2f} useful)"
            for slug, (n, useful) in self.labels.items()
        )
        return "\n".join(
            [
                f"general questions: {self.questions}",
                f"  AUC of the confidence, useful among the top {TOP}  {self.auc_top3:.3f}",
                f"  top answer at least partly useful  {self.useful_at_1:.3f}",
                f"  top answer fully useful            {self.answers_at_1:.3f}",
                f"  nDCG@3                             {self.ndcg_at_3:.3f}",
                f"  unjudged (counted as not useful): {self.unjudged_top3} of top 3, {self.unjudged_top} top",
                f"  labels on top answers: {shares}",
                "reliability (judged answers of the top 8):",
                self.table,
            ]
        )


def figures(
    asked: Sequence[Asked], predicted: Sequence[np.ndarray], answers_floor: float, related_floor: float
) -> Figures:
    """The figures of ordering each question's candidates by its predictions."""
    top3_p, top3_y, top_p, top_y, all_p, all_y, ndcg = [], [], [], [], [], [], []
    useful_1 = full_1 = unjudged_top = unjudged_top3 = 0
    general = [(a, p) for a, p in zip(asked, predicted, strict=False) if a.general]
    for a, p in general:
        order, p = shown(p, a.answered, a.by_meaning, related_floor)
        grades = [a.pairs[j].grade for j in order]
        first = grades[0] if grades else None
        useful_1 += (first or 0) >= 1
        full_1 += first == 2
        unjudged_top += first is None
        unjudged_top3 += sum(g is None for g in grades[:TOP])
        top_p.append(p[order[0]] if len(order) else 0.0)
        top_y.append((first or 0) >= 1)
        for rank, (j, g) in enumerate(zip(order[:JUDGED], grades[:JUDGED], strict=False)):
            if g is not None:
                all_p.append(p[j])
                all_y.append(g >= 1)
                if rank < TOP:
                    top3_p.append(p[j])
                    top3_y.append(g >= 1)
        best = sum((2**g - 1) / np.log2(r + 2) for r, g in enumerate(a.ideal[:TOP]))
        gained = sum((2 ** (g or 0) - 1) / np.log2(r + 2) for r, g in enumerate(grades[:TOP]))
        ndcg.append(gained / best if best else 0.0)
    top_p_, top_y_ = np.array(top_p), np.array(top_y, dtype=bool)
    labels = {}
    for slug, inside in (
        ("answers", top_p_ >= answers_floor),
        ("related", (top_p_ >= related_floor) & (top_p_ < answers_floor)),
        ("unlikely", top_p_ < related_floor),
    ):
        labels[slug] = (int(inside.sum()), float(top_y_[inside].mean()) if inside.any() else 0.0)
    n = len(general)
    table = reliability_table(reliability(np.array(all_p), np.array(all_y, dtype=float)))
    return Figures(
        n,
        _auc(np.array(top3_p), np.array(top3_y, dtype=bool)),
        useful_1 / n,
        full_1 / n,
        float(np.mean(ndcg)),
        unjudged_top,
        unjudged_top3,
        labels,
        table,
    )


def choose_floors(asked: Sequence[Asked], predicted: Sequence[np.ndarray]) -> tuple[float, float]:
    """The lowest "Answers this" floor whose top answers are ANSWERS_USEFUL useful, and the highest "Probably not"
    floor below which at most UNLIKELY_USEFUL are (each MARGIN inside its target, on at least MIN_LABELLED tops)."""
    tops = []
    for a, p in zip(asked, predicted, strict=False):
        if a.general and len(p):
            order, p = shown(p, True, a.by_meaning, 1.0)  # the no-answer cap only lowers: left out here
            tops.append((float(p[order[0]]), (a.pairs[order[0]].grade or 0) >= 1))
    p = np.array([t[0] for t in tops])
    y = np.array([t[1] for t in tops], dtype=float)
    values = np.unique(np.round(p, 3))
    answers = next(
        (
            t
            for t in values
            if (p >= t).sum() >= MIN_LABELLED
            and y[p >= t].mean() >= ANSWERS_USEFUL + MARGIN
            and all(y[p >= u].mean() >= ANSWERS_USEFUL for u in values if u > t and (p >= u).any())
        ),
        1.0,
    )
    related = next(
        (t for t in values[::-1] if (p < t).sum() >= MIN_LABELLED and y[p < t].mean() <= UNLIKELY_USEFUL - MARGIN), 0.0
    )
    return float(answers), float(min(related, answers))


def score_only(asked: Sequence[Asked]) -> list[np.ndarray]:
    """The order before the model: the fused score itself (today's confidence is an increasing function of it)."""
    return [np.array([p.rows[0] for p in a.pairs]) for a in asked]


def write_blind(
    asked: Sequence[Asked], model: Model, predicted: Sequence[np.ndarray], searcher: Searcher, folder: Path
) -> int:
    """The unjudged top-JUDGED answers of general questions as shuffled blind pairs: those of the model's order and
    of the cross-validated order (`predicted`) the report measures; rank is the answer's place in the model's."""
    rows = []
    for a, held_out in zip(asked, predicted, strict=False):
        if not a.general:
            continue
        order, _ = shown(
            model.predict(np.stack([pair.rows for pair in a.pairs])), a.answered, a.by_meaning, model.related_floor
        )
        cross, _ = shown(held_out, a.answered, a.by_meaning, model.related_floor)
        ranks = {int(j): rank for rank, j in enumerate(order)}
        for j in sorted({int(j) for j in [*order[:JUDGED], *cross[:JUDGED]]}, key=ranks.__getitem__):
            if a.pairs[j].grade is None:
                rows.append((a, searcher.unit(a.pairs[j].unit), ranks[j]))
    random.Random(28).shuffle(rows)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "pairs.jsonl", "w", encoding="utf-8") as pairs, open(folder / "key.jsonl", "w") as key:
        for n, (a, unit, rank) in enumerate(rows, start=1):
            pairs.write(
                json.dumps({"pair": n, "question": a.query, "answer": unit.text[:1500]}, ensure_ascii=False) + "\n"
            )
            key.write(
                json.dumps(
                    {
                        "pair": n,
                        "book": a.book,
                        "thread": a.thread,
                        "unit": unit.id,
                        "author": unit.author,
                        "book_title": unit.book_title,
                        "rank": rank,
                    },
                    ensure_ascii=False,
                )
                + "\n"
            )
    return len(rows)


@command
def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m assistant.labels", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=("train", "report"), help="train: write the model; report: figures only")
    parser.add_argument(
        "--real",
        type=Path,
        nargs="+",
        default=[EVAL_DIR / "real-dev.jsonl", EVAL_DIR / "real-more.jsonl"],
        help="judged real questions (default: real-dev.jsonl, real-more.jsonl)",
    )
    parser.add_argument(
        "--judgments",
        type=Path,
        nargs="*",
        default=[EVAL_DIR / "judgments.jsonl"],
        help="further judgments: book, thread, grade and the answer's text or unit",
    )
    parser.add_argument(
        "--dev",
        type=Path,
        default=EVAL_DIR / "dev.jsonl",
        help="paraphrases trained on (never evaluated here; default: eval/dev.jsonl)",
    )
    parser.add_argument("--log", type=Path, help="a query log whose votes become judgments")
    parser.add_argument("--index", type=Path, default=default_index_path(), help="index folder (default: index/)")
    parser.add_argument("--model", type=Path, default=MODEL_FILE, help="the model file written by train")
    parser.add_argument("--blind", type=Path, metavar="DIR", help="write the unjudged top 8 as blind pairs here")
    config.add_verbosity_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(config.verbosity(args))
    searcher = load_index(args.index)
    asked = collect(searcher, args.real, args.judgments)
    votes = vote_samples(searcher, args.log) if args.log else []
    dev = dev_samples(searcher, args.dev) if args.dev else []
    judged = sum(p.grade is not None for a in asked for p in a.pairs)
    print(
        f"{len(asked)} real questions, {judged} judged candidates of {CANDIDATES}; {len(votes)} votes, {len(dev)} "
        f"paraphrase pairs (weight {DEV_WEIGHT})"
    )
    before = score_only(asked)
    print("before (the fused score and its calibration, floors 0.6 / 0.3):")
    print(figures(asked, [confidence(b[:, None]) for b in before], 0.6, 0.3))
    predicted = cross_validated(asked, votes + dev)
    answers_floor, related_floor = choose_floors(asked, predicted)
    print(
        f"after (the model, {FOLDS}-fold cross-validated by question; floors {answers_floor:.3f} / "
        f"{related_floor:.3f}):"
    )
    print(figures(asked, predicted, answers_floor, related_floor))
    pairs = [p for a in asked for p in a.pairs] + votes + dev
    note = (
        f"{judged} judged pairs of {len(asked)} real questions, {len(votes)} votes and {len(dev)} paraphrase pairs"
        f" (weight {DEV_WEIGHT})"
    )
    model = replace(_fit(pairs, note), answers_floor=round(answers_floor, 3), related_floor=round(related_floor, 3))
    if args.command == "train":
        args.model.write_text(model.to_json(), encoding="utf-8")
        print(f"model written to {args.model}: {note}")
    if args.blind:
        print(f"{write_blind(asked, model, predicted, searcher, args.blind)} unjudged pairs written to {args.blind}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
