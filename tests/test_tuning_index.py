"""`python -m assistant.index --tune` on the seed: one training step, an index that loads and answers, reuse."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from assistant import index
from assistant.searcher import load_index
from assistant.store import read_manifest
from assistant.tuning import excluded_hash

pytestmark = pytest.mark.slow


def test_tune_builds_an_index_that_loads_searches_and_is_reused(tmp_path: Path, data_dir: Path, capsys):
    held_out = tmp_path / "held-out.jsonl"
    held_out.write_text(json.dumps({"book": "20210830-practical-mlops", "thread": 3}) + "\n", encoding="utf-8")
    out = tmp_path / "index"
    argv = ["--data", str(data_dir), "--out", str(out), "--tune", "--tune-exclude", str(held_out)]
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
