"""The ONNX encoder: the same vectors as sentence-transformers, and a served index that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.build import load_corpus
from assistant.embedding import Embedder
from assistant.parsed import parse_archive
from assistant.recipe import FIELDS, field_texts
from helpers import REPO, SHARED

pytestmark = pytest.mark.slow


def test_onnx_vectors_equal_sentence_transformers_vectors(embedder, books_dir, people):
    questions = [json.loads(line)["query"] for line in (SHARED / "eval" / "dev.jsonl").open(encoding="utf-8")]
    units = load_corpus([books_dir], lambda path: parse_archive(path, people)).units[::10]
    answers = [field_texts(unit)[field] for unit in units for field in FIELDS]
    texts = questions + answers
    assert max(len(embedder.tokenizer.encode(text).ids) for text in answers) == 256  # long answers are cut
    reference = Embedder().encode(texts)
    cosines = np.sum(embedder.encode(texts) * reference, axis=1)
    single = np.sum(np.vstack([embedder.encode([q]) for q in questions[:20]]) * reference[:20], axis=1)
    assert cosines.min() >= 1 - 1e-4 and single.min() >= 1 - 1e-4


def test_truncate_keeps_what_the_model_reads(embedder):
    long_question = "should startups do mlops " * 200
    cut = embedder.truncate(long_question)
    assert len(embedder.tokenizer.encode(cut, add_special_tokens=False).ids) == 256
    assert long_question.startswith(cut)


def test_index_loads_and_answers_without_importing_torch(seed_index: Path):
    script = (
        "import sys\n"
        "from assistant.searcher import load_index\n"
        f"answers = load_index({str(seed_index)!r}).search('Should startups do MLOps?')\n"
        "print(sorted({a.author for a in answers}))\n"
        "print(sorted(m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.splitlines() == ["['Alfredo Deza', 'Noah Gift']", "[]"]


def test_index_keeps_its_encoder(seed_index: Path):
    manifest = json.loads((seed_index / "current" / "manifest.json").read_text(encoding="utf-8"))
    folder = seed_index / manifest["encoder"]
    assert {path.name for path in folder.iterdir()} == {"model.onnx", "tokenizer.json", "encoder.json"}
