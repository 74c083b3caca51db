"""The ONNX encoder: the same vectors as sentence-transformers, and a served index that never imports torch."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.indexing.build import load_corpus
from assistant.indexing.embedding import BUNDLED_MODEL_ID, Embedder
from assistant.indexing.encoder import exported_embedder
from assistant.indexing.parsed import parse_archive
from assistant.indexing.recipe import FIELDS, field_texts
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
        "from assistant.searching.searcher import load_index\n"
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


# Embeds the texts in a JSON file one at a time, in a new process pinned to one core with one thread per pool.
ONE_CORE = """
import json, os, sys
import numpy as np
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from assistant.indexing.encoder import OnnxEmbedder
encoder = OnnxEmbedder(sys.argv[1])
texts = json.loads(open(sys.argv[2], encoding="utf-8").read())
np.save(sys.argv[3], np.vstack([encoder.encode([text]) for text in texts]))
"""


def test_vectors_are_identical_on_one_core_and_on_every_core_in_another_process(tmp_path, embedder, texts):
    """Each text runs alone on one thread, so neither the cores, the thread pool nor the process change a bit."""
    questions, answers = texts
    sample = questions + answers[:200]
    (tmp_path / "texts.json").write_text(json.dumps(sample), encoding="utf-8")
    single = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = [sys.executable, "-c", ONE_CORE, str(embedder.folder), str(tmp_path / "texts.json"), str(tmp_path / "v.npy")]
    subprocess.run(args, cwd=REPO, env={**os.environ, **single}, check=True)
    assert np.array_equal(np.load(tmp_path / "v.npy"), embedder.encode(sample))


def _hashes(folder: Path) -> dict[str, str]:
    return {path.name: hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(folder.iterdir())}


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory, seed_dir) -> tuple[Path, str, str]:
    """(index folder, output of its first `python -m assistant.index`, output of the second) over the seed."""
    out = tmp_path_factory.mktemp("cli") / "index"
    command = [sys.executable, "-m", "assistant.index", "--data", str(seed_dir), "--out", str(out)]
    first, second = (subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True) for _ in "12")
    return out, first.stdout, second.stdout


def test_a_first_build_says_it_exports_the_model_and_a_rebuild_that_it_reuses_the_export(two_builds):
    out, first, second = two_builds
    assert "exporting the embedding model to ONNX" in first and "reusing" not in first
    folder = out / "encoders" / "sentence-transformers-all-MiniLM-L6-v2"
    assert f"reusing the embedding model's ONNX export in {folder}" in second and "exporting" not in second


def test_every_export_of_the_model_is_byte_identical(two_builds, embedder):
    """The index's export (another process, another folder) and the session's: same files, same bytes."""
    out, _, _ = two_builds
    assert _hashes(out / "encoders" / "sentence-transformers-all-MiniLM-L6-v2") == _hashes(embedder.folder)
