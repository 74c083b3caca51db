"""The ONNX encoder: the same vectors as sentence-transformers, and a served index that never imports torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.build import load_corpus
from assistant.embedding import BUNDLED_MODEL_ID, Embedder
from assistant.encoder import exported_embedder
from assistant.parsed import parse_archive
from assistant.recipe import FIELDS, field_texts
from helpers import EVAL, REPO

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def texts(books_dir, people) -> tuple[list[str], list[str]]:
    """(dev questions, the field texts of every tenth answer in data/)."""
    questions = [json.loads(line)["query"] for line in (EVAL / "dev.jsonl").open(encoding="utf-8")]
    units = load_corpus([books_dir], lambda path: parse_archive(path, people)).units[::10]
    return questions, [field_texts(unit)[field] for unit in units for field in FIELDS]


@pytest.fixture(scope="module")
def reference(texts) -> np.ndarray:
    questions, answers = texts
    return Embedder().encode(questions + answers)


def _cosines(encoder, texts, reference) -> tuple[np.ndarray, np.ndarray]:
    """(cosine to the reference of each text embedded in batches, of the first 20 questions embedded one by one)."""
    questions, answers = texts
    batched = np.sum(encoder.encode(questions + answers) * reference, axis=1)
    single = np.sum(np.vstack([encoder.encode([q]) for q in questions[:20]]) * reference[:20], axis=1)
    return batched, single


def test_float_export_equals_sentence_transformers_vectors(tmp_path, texts, reference):
    float_export = exported_embedder(BUNDLED_MODEL_ID, tmp_path / "onnx", precision="fp32")
    assert max(len(float_export.tokenizer.encode(text).ids) for text in texts[1]) == 256  # long answers are cut
    batched, single = _cosines(float_export, texts, reference)
    assert batched.min() >= 1 - 1e-4 and single.min() >= 1 - 1e-4


def test_int8_export_stays_close_to_the_float_vectors(embedder, texts, reference):
    assert embedder.config.precision == "int8" and embedder.space == f"{BUNDLED_MODEL_ID}@onnx-int8"
    batched, single = _cosines(embedder, texts, reference)
    assert batched.min() >= 0.95 and np.median(batched) >= 0.98 and single.min() >= 0.95


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
