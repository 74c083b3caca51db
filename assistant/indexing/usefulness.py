"""P(useful): the learned estimate that a person finds an answer answers the question, from cheap query-time features.

The searcher's best CANDIDATES answers (after the author spread) are described by FEATURES, a logistic
model turns each row into the chance a reader judges the answer at least partly useful, and the list is
ordered by that chance: one number orders the list, is the confidence shown, and sets the label. The
model is data, `usefulness.json` beside this module, written by `python -m assistant.labels train` from
judged real questions (eval/) and the query log's votes; no per-question rule lives here.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

MODEL_FILE = Path(__file__).with_name("usefulness.json")
CANDIDATES = 12  # answers the model re-orders: the searcher's best after the author spread
FEATURES = (
    "score",  # the fused relevance with the term match, less the author spread's penalty (Answer.score)
    "both",  # cosine of the question with the answer embedded with its question and book title
    "question",  # cosine of the question with the member's question the answer replies to
    "lexical",  # BM25 over title, author, question and answer, squashed to 0-1 as the fused score does
    "term_match",  # share of the question's content terms (and adjacent pairs) the answer holds
    "passage",  # cosine of the best passage of a long answer (the "both" cosine for a one-passage answer)
    "words",  # log of 1 + the answer's distinct content words: substance
    "gap",  # score less the best candidate's score
    "rank",  # log of 1 + the position by score
    "author_named",  # the question names the answer's author
    "query_terms",  # log of 1 + the new question's content terms: a short question is more often answered
    "asked_words",  # log of 1 + the words of the member's question the answer replies to: a long one asks much else
)


@dataclass(frozen=True)
class Model:
    """Logistic regression over standardized FEATURES, the label floors chosen on its cross-validated figures."""

    features: tuple[str, ...]
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    answers_floor: float  # "Answers this" from this estimate on
    related_floor: float  # "Related" from this estimate on; below: "Probably not what you asked"
    fitted_on: str

    def predict(self, rows: np.ndarray) -> np.ndarray:
        """P(useful) for each row of features, in FEATURES order."""
        z = (np.asarray(rows, dtype=np.float64) - self.means) / self.scales
        return 1.0 / (1.0 + np.exp(-(z @ np.asarray(self.coefficients) + self.intercept)))

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1) + "\n"


def load_model(path: Path = MODEL_FILE) -> Model:
    """The model in a JSON file; ValueError naming the file when it is not one, or was fitted on other features."""
    try:
        row = json.loads(Path(path).read_text(encoding="utf-8"))
        model = Model(**{**row, **{key: tuple(row[key]) for key in ("features", "means", "scales", "coefficients")}})
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{path}: not a usefulness model ({error})") from None
    if model.features != FEATURES or not len(model.means) == len(model.scales) == len(model.coefficients) == len(
        FEATURES
    ):
        raise ValueError(f"{path}: fitted on features {list(model.features)}, not {list(FEATURES)}")
    return model


def feature_rows(
    scores: np.ndarray,
    both: np.ndarray,
    question: np.ndarray,
    lexical: np.ndarray,
    term_match: np.ndarray,
    passage: np.ndarray,
    words: np.ndarray,
    author_named: np.ndarray,
    query_terms: int,
    asked_words: np.ndarray,
) -> np.ndarray:
    """One row of FEATURES per candidate, candidates in score order (best first)."""
    scores = np.asarray(scores, dtype=np.float64)
    best = scores.max() if len(scores) else 0.0
    columns = [
        scores,
        np.maximum(both, 0.0),
        np.maximum(question, 0.0),
        lexical,
        term_match,
        np.maximum(passage, 0.0),
        np.log1p(words),
        scores - best,
        np.log1p(np.arange(len(scores))),
        np.asarray(author_named, dtype=np.float64),
        np.full(len(scores), np.log1p(query_terms)),
        np.log1p(asked_words),
    ]
    return np.column_stack([np.asarray(c, dtype=np.float64) for c in columns]).reshape(len(scores), len(FEATURES))


def shown(likely: np.ndarray, answered: bool, by_meaning: bool, related_floor: float) -> tuple[np.ndarray, np.ndarray]:
    """The order of candidates (in score order) and the estimate shown for each.

    The model orders the list when the best answer scores as one that answers by meaning (recipe.MIN_SCORE): it
    learned from whole questions. A keyword query answered only by its wording keeps the fused score's order (where
    the term match decides), its estimates lowered so none rises down the list. When nothing answers the question
    (ranking.answers_question), no estimate reaches "Related".
    """
    likely = np.asarray(likely, dtype=np.float64)
    if not answered:
        likely = np.minimum(likely, related_floor - 0.001)  # below the floor once shown to 3 places
    if by_meaning:
        return np.argsort(-likely, kind="stable"), likely
    order = np.arange(len(likely))
    lowered = likely.copy()
    lowered[order] = np.minimum.accumulate(likely[order]) if len(likely) else likely
    return order, lowered
