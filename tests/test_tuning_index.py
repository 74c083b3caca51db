"""`python -m assistant.index --tune` on the seed: an index that loads, answers and is reused; seeded training."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import index
from assistant.corpus.units import build_units
from assistant.indexing.embedding import BUNDLED_MODEL_ID
from assistant.indexing.store import build_inputs, ensure_index, read_manifest
from assistant.indexing.tuning import TuneSettings, corpus_pairs, excluded_hash, train
from assistant.searching.searcher import load_index
from helpers import DATA

pytestmark = pytest.mark.slow
MODEL = BUNDLED_MODEL_ID


def test_tune_builds_an_index_that_loads_searches_and_is_reused(tmp_path: Path, seed_file: Path, people_file, capsys):
    """The seed alone, so training is one batch whatever data/ holds."""
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(seed_file, data)
    held_out = tmp_path / "held-out.jsonl"
    held_out.write_text(json.dumps({"book": "20210830-practical-mlops", "thread": 3}) + "\n", encoding="utf-8")
    out = tmp_path / "index"
    argv = ["--data", str(data), "--people", str(people_file), "--out", str(out), "--tune"]
    argv += ["--tune-exclude", str(held_out)]
    assert index.main(argv) == 0
    manifest = read_manifest(out)
    tuning = manifest["tuning"]
    assert tuning["trained_now"] and tuning["pairs"] > 10 and tuning["vote_pairs"] == 0
    assert tuning["excluded_threads"] == 1
    assert tuning["excluded_hash"] == excluded_hash({("20210830-practical-mlops", 3)})
    assert (tuning["base_model"], tuning["epochs"], tuning["seed"]) == (manifest["model"], 1, 0)
    assert manifest["encoder"] == f"encoders/sentence-transformers-all-MiniLM-L6-v2-tuned-{tuning['key']}"
    assert f"@tuned-{tuning['key']}@onnx-int8" in manifest["space"]
    answers = load_index(out).search("Should startups do MLOps?", 3)
    assert answers and {a.author for a in answers} <= {"Noah Gift", "Alfredo Deza"}
    capsys.readouterr()

    assert index.main(argv) == 0
    assert "reused (same training inputs)" in capsys.readouterr().out
    assert read_manifest(out)["tuning"]["key"] == tuning["key"]
    assert [folder.name for folder in (out / "encoders").iterdir()] == [Path(manifest["encoder"]).name]

    # A new week arrives (`make sync`, or the app starting on a stale index): the rebuild keeps the tuned model.
    shutil.copy(DATA / "20210208-ml-design-patterns.md", data)
    ensure_index(build_inputs(out), out)
    rebuilt = read_manifest(out)
    assert "20210208-ml-design-patterns.md" in rebuilt["archives"]
    assert (rebuilt["encoder"], rebuilt["space"]) == (manifest["encoder"], manifest["space"])
    assert rebuilt["tuning"]["key"] == tuning["key"] and rebuilt["tuning"]["kept"]
    assert "kept from the last --tune" in capsys.readouterr().out


def test_training_is_deterministic_for_a_seed(tmp_path: Path, seed_book, people):
    import torch
    from sentence_transformers import SentenceTransformer

    pairs = corpus_pairs(build_units(seed_book, people))[:8]
    small = TuneSettings(batch_size=4, question_tokens=16, answer_tokens=32)
    weights = []
    for name, settings in [("a", small), ("b", small), ("c", replace(small, seed=1))]:
        train(MODEL, pairs, settings, tmp_path / name)
        tuned = SentenceTransformer(str(tmp_path / name), device="cpu")
        weights.append(torch.cat([tensor.flatten() for tensor in tuned.state_dict().values()]))
    assert torch.equal(weights[0], weights[1])
    assert not torch.equal(weights[0], weights[2])
