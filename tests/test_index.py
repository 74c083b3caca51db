"""Index builds: manifest, incremental re-embedding, atomic swap under a killed build, mismatch errors.

Bookkeeping tests embed with a fake model (tests/fakes.py); only the killed-build test runs the real one.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from assistant.index import main
from assistant.indexing import store
from assistant.indexing.store import IndexLoadError, build_index, load_built_index, stale_reason
from assistant.logs import setup_logging
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import REPO, SEED_ID, write_archive


@pytest.fixture
def seed_copy(tmp_path, seed_dir) -> Path:
    """A private copy of the seed folder that a test may edit."""
    return Path(shutil.copytree(seed_dir, tmp_path / "data"))


def _edit_answer(folder: Path, old: str, new: str) -> None:
    path = folder / f"{SEED_ID}.md"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.fixture
def embedder() -> HashedWordsEmbedder:
    return HashedWordsEmbedder()


@pytest.fixture
def fake_index(tmp_path, seed_copy, embedder) -> Path:
    """An index of the seed built with the fake model."""
    build_index([seed_copy], tmp_path / "index", embedder=embedder)
    return tmp_path / "index"


def _load(index: Path):
    return load_built_index(index, model=FAKE_MODEL_ID)


def test_manifest_describes_the_build(fake_index):
    manifest = json.loads((fake_index / "current" / "manifest.json").read_text())
    assert manifest["model"] == FAKE_MODEL_ID
    assert manifest["dimension"] == 384
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["fields"] == ["both", "question"]
    assert manifest["unit_count"] == len(_load(fake_index).units) > 20
    assert set(manifest["archives"]) == {f"{SEED_ID}.md"}
    assert len(manifest["archives"][f"{SEED_ID}.md"]) == 64 and manifest["built_at"]


def test_index_holds_everything_search_needs(fake_index):
    """BM25 and the filter keys are stored with the vectors, so loading re-tokenizes nothing."""
    loaded = _load(fake_index)
    assert {path.name for path in (fake_index / "current").iterdir()} >= {
        "manifest.json", "units.json", "keys.json", "lexical", "both.faiss", "question.faiss"
    }  # fmt: skip
    assert loaded.keys.authors[0] in {"noah gift", "alfredo deza"}
    assert loaded.keys.books[0] == (SEED_ID, "practical mlops")
    scores = loaded.lexical.get_scores(["startup"])
    assert scores.shape == (len(loaded.units),) and scores.max() > 0


def test_rebuild_embeds_only_changed_answers(tmp_path, seed_copy, embedder):
    first = build_index([seed_copy], tmp_path / "index", embedder=embedder)
    assert first.embedded >= 2 * first.answers and first.reused == 0  # two fields each, plus passages
    unchanged = build_index([seed_copy], tmp_path / "index", embedder=embedder)
    assert unchanged.embedded == 0
    _edit_answer(seed_copy, "Automation is not a one time thing", "Automation is never a one time thing")
    edited = build_index([seed_copy], tmp_path / "index", embedder=embedder)
    # Only the edited answer's question + answer text; its question is unchanged.
    assert edited.embedded == 1
    assert any("never a one time thing" in u.text for u in _load(tmp_path / "index").units)


def test_stale_reason_notices_changed_added_and_removed_archives(tmp_path, seed_copy, embedder):
    out = tmp_path / "index"
    assert "no index" in stale_reason([seed_copy], out)
    build_index([seed_copy], out, embedder=embedder)
    assert stale_reason([seed_copy], out) is None
    _edit_answer(seed_copy, "Automation is not", "Automation isn't")
    assert "changed" in stale_reason([seed_copy], out)
    build_index([seed_copy], out, embedder=embedder)
    (seed_copy / "2024-new.md").write_text((seed_copy / f"{SEED_ID}.md").read_text())
    assert "2024-new.md is not in the index" in stale_reason([seed_copy], out)
    (seed_copy / "2024-new.md").unlink()
    (seed_copy / f"{SEED_ID}.md").unlink()
    assert f"{SEED_ID}.md was removed" in stale_reason([seed_copy], out)


def test_failure_before_the_swap_leaves_previous_index(tmp_path, seed_copy, embedder, monkeypatch):
    out = tmp_path / "index"
    build_index([seed_copy], out, embedder=embedder)
    before = _load(out).units
    _edit_answer(seed_copy, "Automation is not a one time thing", "Automation is never a one time thing")

    def crash(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(store, "_point_current_to", crash)
    with pytest.raises(KeyboardInterrupt):
        build_index([seed_copy], out, embedder=embedder)
    assert _load(out).units == before


@pytest.mark.slow
def test_build_killed_midway_leaves_previous_index_loadable(tmp_path, seed_copy, books_dir, people_file):
    out = tmp_path / "index"
    subprocess.run(
        [sys.executable, "-m", "assistant.index", "--data", str(seed_copy), "--out", str(out)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    before = load_built_index(out).units
    bigger = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "assistant.index",
            "--data",
            str(books_dir),
            "--people",
            str(people_file),
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and b"Embedding" not in bigger.stderr.read1(4096):
        pass  # wait until it is embedding
    bigger.send_signal(signal.SIGKILL)
    assert bigger.wait() == -signal.SIGKILL  # killed while embedding, not after it finished
    assert load_built_index(out).units == before
    # The next build cleans up after the killed one and still succeeds.
    build_index([seed_copy], out)
    assert not list((out / "builds").glob("*.partial"))


def _rewrite_manifest(index: Path, **changes) -> None:
    manifest_file = index / "current" / "manifest.json"
    manifest = json.loads(manifest_file.read_text())
    manifest.update(changes)
    manifest_file.write_text(json.dumps(manifest))


def test_index_built_with_another_model_is_refused_with_rebuild_hint(fake_index):
    _rewrite_manifest(fake_index, model="intfloat/e5-small-v2")
    with pytest.raises(IndexLoadError, match=r"built with model 'intfloat/e5-small-v2'.*python -m assistant.index"):
        _load(fake_index)


def test_index_of_another_format_is_refused_with_rebuild_hint(fake_index):
    _rewrite_manifest(fake_index, format_version=0)
    with pytest.raises(IndexLoadError, match=r"format version 0.*python -m assistant.index"):
        _load(fake_index)


def test_missing_or_damaged_index_is_a_clear_error(tmp_path, fake_index):
    with pytest.raises(IndexLoadError, match="no index at"):
        _load(tmp_path / "nowhere")
    (fake_index / "current" / "units.json").write_text("[{]")
    with pytest.raises(IndexLoadError, match="damaged"):
        _load(fake_index)


def test_cli_reports_what_it_read_and_skipped(tmp_path, seed_copy, capsys, monkeypatch):
    monkeypatch.setattr(store, "build_embedder", lambda model, out: HashedWordsEmbedder())
    (seed_copy / "broken.md").write_text("no front matter here\n")
    assert main(["--data", str(seed_copy), "--out", str(tmp_path / "index")]) == 0
    out = capsys.readouterr()
    assert "files read: 2, skipped: 1" in out.out
    assert "broken.md:1: no YAML front matter" in out.out
    assert "books: 1, authors: 2" in out.out


def test_cli_help_explains_the_options():
    out = subprocess.run(
        [sys.executable, "-m", "assistant.index", "-h"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    for option in ("--data", "--people", "--out", "--model"):
        assert option in out


def test_fixing_a_skipped_archive_makes_the_index_stale(tmp_path, seed_copy, embedder):
    broken = seed_copy / "broken.md"
    broken.write_text("no front matter here\n")
    out = tmp_path / "index"
    build_index([seed_copy], out, embedder=embedder)
    assert stale_reason([seed_copy], out) is None
    broken.write_text("---\ntitle: Fixed\nauthors: [Ann]\n---\n")
    assert "broken.md changed" in stale_reason([seed_copy], out)


@pytest.fixture
def one_week(tmp_path, seed_file) -> Path:
    """A folder holding only the seed archive, outside data/."""
    folder = tmp_path / "weeks"
    folder.mkdir()
    shutil.copy(seed_file, folder)
    return folder


def test_cli_without_data_rebuilds_from_the_folders_the_index_was_built_from(tmp_path, one_week, capsys, monkeypatch):
    monkeypatch.setattr(store, "build_embedder", lambda model, out: HashedWordsEmbedder())
    out = tmp_path / "index"
    assert main(["--data", str(one_week), "--out", str(out)]) == 0
    answers = len(_load(out).units)
    monkeypatch.chdir(tmp_path)  # no data/ here: the rebuild must not fall back to one
    capsys.readouterr()
    assert main(["--out", str(out)]) == 0
    assert f"Reading {one_week.resolve()}" in capsys.readouterr().err  # progress: through logging, on stderr
    assert len(_load(out).units) == answers
    try:
        assert main(["--out", str(out), "--quiet"]) == 0
        assert "Reading" not in capsys.readouterr().err  # --quiet: warnings and errors only
    finally:
        setup_logging(0)


def test_cli_reports_a_missing_data_folder_before_exporting_the_model(tmp_path, capsys, monkeypatch):
    exported = []
    monkeypatch.setattr(store, "build_embedder", lambda model, out: exported.append(model) or HashedWordsEmbedder())
    out = tmp_path / "index"
    assert main(["--data", str(tmp_path / "nowhere"), "--out", str(out)]) == 2
    assert f"{tmp_path / 'nowhere'}: archive folder does not exist" in capsys.readouterr().err
    assert exported == [] and not (out / "encoders").exists()


def test_build_summary_names_archives_without_answers(tmp_path, one_week, embedder):
    write_archive(one_week / "20240101-empty-week.md", None, title="Empty Week")
    write_archive(one_week / "20240108-quiet-week.md", [{"name": "Bob Member", "text": "Anyone here?"}])
    summary = build_index([one_week], tmp_path / "index", embedder=embedder)
    text = str(summary)
    assert (
        "archives: 3, 1 with answers; 1 holds no messages: 20240101-empty-week.md; "
        "1 has messages but no author answer: 20240108-quiet-week.md"
    ) in text
    assert "books: 1, authors: 2" in text  # as the page's header counts books: those with answers


def test_default_paths_do_not_depend_on_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.delenv(store.INDEX_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert store.default_index_path() == REPO / "index"
    assert store.build_inputs(tmp_path / "no-index").data == (REPO / "data",)


@pytest.mark.slow
def test_cli_build_prints_no_library_noise(tmp_path, one_week):
    """A first build (the model exported) prints its progress and summary, nothing from torch, onnxruntime, bm25s."""
    result = subprocess.run(
        [sys.executable, "-m", "assistant.index", "--data", str(one_week), "--out", str(tmp_path / "index")],
        cwd=tmp_path, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert "Index written to" in output
    for noise in ("Warning", "WARNING", "DEBUG", "pre-processing", "Loading weights"):
        assert noise not in output, output
