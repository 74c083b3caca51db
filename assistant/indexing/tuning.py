"""Tune the embedding model on the archive's own (question -> answer) pairs and on votes from the query log.

Every answer unit with a linked question is a training pair: the member's question, and the author's
answer with its book title (the question is left out of the answer side, or the model would learn to
match a question with itself). Helpful votes add (asked question -> voted answer) pairs; "Not helpful"
votes become hard negatives of the same question. The loss is in-batch negatives (each question against
every answer of its batch, plus the batch's hard negatives); a batch never holds two pairs from one
thread, whose answers would be false negatives. Threads named by `--tune-exclude` never reach training.
The tuned model is exported to ONNX int8 like the untuned one, in a folder keyed by a hash of
everything that went into training, so an unchanged corpus reuses it. See docs/tuning.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from assistant.corpus.jsonl import read_jsonl
from assistant.corpus.text import question_key
from assistant.corpus.units import AnswerUnit
from assistant.indexing.embedding import resolve_model_location
from assistant.indexing.encoder import NotExportable, OnnxEmbedder, export, model_slug

Thread = tuple[str, int]  # (book id, thread position)

# One client cannot steer the model: the log keeps no client identity (by design), so votes are capped by
# what a client controls. Re-asking a question (any case or spacing) and re-voting counts once per answer;
# a question adds at most VOTES_PER_QUESTION positives and as many hard negatives; an answer is the voted
# positive of at most VOTES_PER_ANSWER distinct questions, so asking many questions cannot promote it.
VOTES_PER_QUESTION = 2
VOTES_PER_ANSWER = 3


@dataclass(frozen=True)
class TrainingPair:
    """A question, an answer that answers it, and optionally an answer voted not helpful for it."""

    question: str
    answer: str
    thread: Thread  # where the answer comes from: a batch holds one pair per thread
    negative: str = ""


@dataclass(frozen=True)
class Vote:
    """One vote from the query log: the question asked, the answer voted on, and whether it helped."""

    question: str
    answer_id: str
    helpful: bool


@dataclass(frozen=True)
class TuneSettings:
    """How the model is trained; part of the cache key."""

    epochs: int = 1
    batch_size: int = 32
    question_tokens: int = 64
    answer_tokens: int = 128
    learning_rate: float = 5e-5
    warmup: float = 0.1  # share of the steps over which the learning rate rises
    scale: float = 20.0  # cosine similarities times this are the logits of the in-batch softmax
    trainable_layers: int = 2  # only the top transformer layers learn: backward passes stop there (0: all)
    seed: int = 0


@dataclass(frozen=True)
class TuneRequest:
    """What `--tune` asks for: settings, threads kept out of training, and the votes to learn from (read from the
    query log by the caller: assistant.service.querylog.read_votes)."""

    settings: TuneSettings = TuneSettings()
    excluded: frozenset[Thread] = frozenset()
    votes: tuple[Vote, ...] = ()
    votes_log: str | None = None  # the log the votes came from, as the manifest names it (no password)


def answer_side(unit: AnswerUnit) -> str:
    """The text an answer is trained as: its book title and the answer, without the question."""
    return f"{unit.book_title}\n{unit.text}"


def corpus_pairs(units: Iterable[AnswerUnit], excluded: Iterable[Thread] = ()) -> list[TrainingPair]:
    """One pair per answer with a linked question, in corpus order, none from an excluded thread, no repeats."""
    skip = set(excluded)
    pairs = {}
    for unit in units:
        if unit.question and (unit.book, unit.thread) not in skip:
            pair = TrainingPair(unit.question, answer_side(unit), (unit.book, unit.thread))
            pairs.setdefault((pair.question, pair.answer), pair)
    return list(pairs.values())


def vote_pairs(
    votes: Iterable[Vote],
    units: Mapping[str, AnswerUnit],
    excluded: Iterable[Thread] = (),
    per_question: int = VOTES_PER_QUESTION,
    per_answer: int = VOTES_PER_ANSWER,
) -> list[TrainingPair]:
    """Training pairs from votes, capped and de-duplicated (see VOTES_PER_QUESTION); deterministic in any order.

    A (question, answer) is helpful when its helpful votes outnumber its not-helpful ones, a hard
    negative when the reverse; votes on answers no longer in the corpus or in excluded threads are dropped.
    """
    skip = set(excluded)
    tally: dict[tuple[str, str], int] = Counter()
    wording: dict[str, str] = {}
    for vote in votes:
        unit = units.get(vote.answer_id)
        if unit is None or (unit.book, unit.thread) in skip or not vote.question.strip():
            continue
        key = question_key(vote.question)
        wording[key] = min(wording.get(key, vote.question), vote.question)  # one phrasing, whatever the order
        tally[(key, vote.answer_id)] += 1 if vote.helpful else -1
    helpful: dict[str, list[tuple[int, str]]] = defaultdict(list)
    unhelpful: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for (key, answer_id), net in tally.items():
        if net:
            (helpful if net > 0 else unhelpful)[key].append((-abs(net), answer_id))
    questions_of_answer: Counter[str] = Counter()
    pairs = []
    for key in sorted(helpful):
        negatives = [answer_id for _, answer_id in sorted(unhelpful.get(key, []))[:per_question]]
        positives = []
        for _, answer_id in sorted(helpful[key]):
            if len(positives) < per_question and questions_of_answer[answer_id] < per_answer:
                questions_of_answer[answer_id] += 1
                positives.append(answer_id)
        for n, answer_id in enumerate(positives):
            unit = units[answer_id]
            negative = answer_side(units[negatives[n % len(negatives)]]) if negatives else ""
            pairs.append(TrainingPair(wording[key], answer_side(unit), (unit.book, unit.thread), negative))
    return pairs


def read_excluded(path: Path) -> frozenset[Thread]:
    """Threads to keep out of training from a JSONL file: rows with `book` and `thread`, or with `targets` of them."""

    def parse(row: dict) -> list[Thread]:
        return [
            (str(target["book"]), int(target["thread"])) for target in (row["targets"] if "targets" in row else [row])
        ]

    return frozenset().union(*read_jsonl(path, parse, "needs `book` and `thread`, or `targets` of them"))


def excluded_hash(excluded: Iterable[Thread]) -> str:
    """A short hash naming a set of excluded threads, for the manifest."""
    return hashlib.sha256(json.dumps(sorted(excluded)).encode()).hexdigest()[:16]


def training_key(model_id: str, settings: TuneSettings, pairs: Sequence[TrainingPair]) -> str:
    """Content hash of everything training reads: equal keys give the same tuned model."""
    digest = hashlib.sha256(json.dumps([model_id, asdict(settings)]).encode())
    for pair in pairs:
        digest.update(json.dumps([pair.question, pair.answer, pair.negative]).encode())
    return digest.hexdigest()[:16]


def batches(pairs: Sequence[TrainingPair], size: int, seed: int) -> list[list[int]]:
    """Seeded shuffle of the pair indices into batches of `size`, never two pairs of one thread in a batch."""
    pending = random.Random(seed).sample(range(len(pairs)), len(pairs))
    result = []
    while pending:
        batch, threads, deferred = [], set(), []
        for index in pending:
            if len(batch) < size and pairs[index].thread not in threads:
                batch.append(index)
                threads.add(pairs[index].thread)
            else:
                deferred.append(index)
        result.append(batch)
        pending = deferred
    return result


def train(model_id: str, pairs: Sequence[TrainingPair], settings: TuneSettings, folder: Path) -> None:
    """Fine-tune the sentence-transformers model on the pairs and save it to `folder`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from tqdm import tqdm
    from transformers import get_linear_schedule_with_warmup

    torch.manual_seed(settings.seed)  # dropout
    torch.set_num_threads(os.cpu_count() or 1)
    model = SentenceTransformer(resolve_model_location(model_id), device="cpu")
    tokenizer = model.tokenizer
    layers = getattr(getattr(model[0].auto_model, "encoder", None), "layer", None)
    if settings.trainable_layers and layers is not None:
        model.requires_grad_(False)
        layers[-settings.trainable_layers :].requires_grad_(True)
    plan = [b for epoch in range(settings.epochs) for b in batches(pairs, settings.batch_size, settings.seed + epoch)]
    plan = [b for b in plan if len(b) > 1 or pairs[b[0]].negative]  # one pair alone has nothing to rank against
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=settings.learning_rate)
    schedule = get_linear_schedule_with_warmup(optimizer, int(len(plan) * settings.warmup), len(plan))

    def embed(texts: list[str], tokens: int) -> torch.Tensor:
        features = tokenizer(texts, padding=True, truncation=True, max_length=tokens, return_tensors="pt")
        return torch.nn.functional.normalize(model(dict(features))["sentence_embedding"], dim=-1)

    model.train()
    for batch in tqdm(plan, desc="Tuning", unit="batch"):
        chosen = [pairs[i] for i in batch]
        questions = embed([p.question for p in chosen], settings.question_tokens)
        candidates = [p.answer for p in chosen] + [p.negative for p in chosen if p.negative]
        answers = embed(candidates, settings.answer_tokens)
        logits = settings.scale * questions @ answers.T
        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(chosen)))
        loss.backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.eval()
    model.save(str(folder))


def tuned_encoder(
    model_id: str, encoders: Path, pairs: Sequence[TrainingPair], settings: TuneSettings
) -> tuple[OnnxEmbedder, str, bool]:
    """(the tuned model's ONNX export under `encoders`, its training key, whether it was trained now).

    An export with the same training key is reused; ValueError when the model does not export to ONNX.
    """
    key = training_key(model_id, settings, pairs)
    folder = encoders / f"{model_slug(model_id)}-tuned-{key}"
    try:
        existing = OnnxEmbedder(folder)
        if existing.config.tuning == key:
            return existing, key, False
    except ValueError:
        pass  # not trained yet
    with tempfile.TemporaryDirectory(prefix="tuned-", dir=encoders) as tmp:
        train(model_id, pairs, settings, Path(tmp) / "model")
        try:
            export(model_id, folder, tuning=key, location=str(Path(tmp) / "model"))
        except NotExportable as error:
            raise ValueError(f"--tune needs a model that exports to ONNX: {error}") from None
    return OnnxEmbedder(folder), key, True


def remove_other_tunings(encoders: Path, keep: Path) -> None:
    """Drop tuned exports other than the live one: each corpus change leaves one behind."""
    for folder in encoders.glob("*-tuned-*"):
        if folder.resolve() != keep.resolve():
            shutil.rmtree(folder, ignore_errors=True)


def tuning_record(
    model_id: str, request: TuneRequest, corpus: int, votes: int, key: str, trained: bool, seconds: float
) -> dict:
    """How the index's model was tuned, as the manifest records it."""
    return {
        "base_model": model_id,
        "key": key,
        "pairs": corpus,
        "vote_pairs": votes,
        "votes_log": request.votes_log,
        "excluded_threads": len(request.excluded),
        "excluded_hash": excluded_hash(request.excluded),
        **asdict(request.settings),
        "trained_now": trained,
        "seconds": round(seconds, 1),
    }


def tune(model_id: str, encoders: Path, units: Sequence[AnswerUnit], request: TuneRequest) -> tuple[OnnxEmbedder, dict]:
    """The tuned encoder for these units and the manifest's record of how it was trained."""
    started = time.perf_counter()
    pairs = corpus_pairs(units, request.excluded)
    votes = vote_pairs(request.votes, {unit.id: unit for unit in units}, request.excluded) if request.votes else []
    encoders.mkdir(parents=True, exist_ok=True)
    encoder, key, trained = tuned_encoder(model_id, encoders, pairs + votes, request.settings)
    elapsed = time.perf_counter() - started
    return encoder, tuning_record(model_id, request, len(pairs), len(votes), key, trained, elapsed)
