"""Float or int8 encoder? Both measured in one run: `python benchmarks/quantization.py --data DIR --dev F --real F`.

Exports the bundled model at both precisions, then for each prints the median time to embed one
question (one thread, as a search does), the time per text when embedding a build's texts, the cosine of its
vectors to the float ones, and the quality figures of a full index built with it: the dev set
(hit@1, hit@5, MRR@10, unanswerable questions) and the real questions (own book left out, top 3).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from assistant.eval import evaluate, read_labelled
from assistant.indexing.build import load_corpus, people_for
from assistant.indexing.embedding import BUNDLED_MODEL_ID
from assistant.indexing.encoder import OnnxEmbedder, exported_embedder
from assistant.indexing.parsed import parse_archive
from assistant.indexing.recipe import FIELDS, field_texts
from assistant.indexing.store import build_index, load_built_index
from assistant.judged import evaluate_real, read_real
from assistant.searching.searcher import Searcher

SAMPLE = 600  # field texts timed as build batches


def _median_ms(encoder: OnnxEmbedder, questions: list[str]) -> float:
    encoder.encode(questions[:1])
    times = []
    for question in questions:
        started = time.perf_counter()
        encoder.encode([question])
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="folder of archives to build from")
    parser.add_argument("--people", type=Path, help="people map for the archives")
    parser.add_argument("--dev", type=Path, required=True, help="dev.jsonl")
    parser.add_argument("--real", type=Path, required=True, help="real-dev.jsonl")
    parser.add_argument("--judgments", type=Path, default=Path("eval/judgments.jsonl"))
    args = parser.parse_args(argv)

    dev = read_labelled(args.dev)
    real = read_real(args.real, args.judgments)
    questions = [q.query for q in dev]
    people = people_for([args.data], args.people)
    units = load_corpus([args.data], lambda path: parse_archive(path, people)).units
    texts = [field_texts(unit)[field] for unit in units for field in FIELDS]
    sample = [texts[i] for i in np.random.default_rng(0).choice(len(texts), min(SAMPLE, len(texts)), replace=False)]
    float_vectors = None
    with tempfile.TemporaryDirectory() as work:
        for precision in ("fp32", "int8"):
            encoder = exported_embedder(BUNDLED_MODEL_ID, Path(work) / precision / "onnx", precision)
            query_ms = _median_ms(encoder, questions)
            started = time.perf_counter()
            vectors = encoder.encode(sample)
            batch_ms = 1000 * (time.perf_counter() - started) / len(sample)
            float_vectors = vectors if float_vectors is None else float_vectors
            cosines = np.sum(vectors * float_vectors, axis=1)
            summary = build_index([args.data], Path(work) / precision / "index", args.people, embedder=encoder)
            searcher = Searcher(load_built_index(summary.path, BUNDLED_MODEL_ID), encoder)
            quality = evaluate(searcher, dev)
            real_report, _, _ = evaluate_real(searcher, real)
            row = {
                "precision": precision,
                "query_ms": round(query_ms, 2),
                "build_ms_per_text": round(batch_ms, 1),
                "full_build_s": round(summary.seconds, 1),
                "cosine_to_fp32_min": round(float(cosines.min()), 4),
                "cosine_to_fp32_median": round(float(np.median(cosines)), 4),
                "dev_hit_at_1": round(quality.hit_at_1, 3),
                "dev_hit_at_5": round(quality.hit_at_5, 3),
                "dev_mrr_at_10": round(quality.mrr_at_10, 3),
                "dev_unanswerable_empty": quality.correctly_empty,
                "dev_refused": quality.refused,
                "real_useful_at_1": round(real_report.useful_at_1, 3),
                "real_answers_at_1": round(real_report.answers_at_1, 3),
                "real_ndcg_at_3": round(real_report.ndcg_at_3, 3),
                "real_unjudged_top3": real_report.unjudged,
            }
            print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
