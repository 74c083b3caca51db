"""Index faults: damaged files, a full disk, a corrupt cache, readers during rebuilds; each one clear error line.

All run with the fake model (tests/fakes.py) on real archives: the seed, or the shared corpus.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import threading
from pathlib import Path

import faiss
import pytest

import app
from assistant import index as index_cli
from assistant.indexing import store
from assistant.indexing.store import IndexLoadError, build_index, load_built_index
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import SEED_ID, deadline


@pytest.fixture
def seed_copy(tmp_path, seed_dir) -> Path:
    return Path(shutil.copytree(seed_dir, tmp_path / "data"))


@pytest.fixture
def fake_index(tmp_path, seed_copy) -> Path:
    build_index([seed_copy], tmp_path / "index", embedder=HashedWordsEmbedder())
    return tmp_path / "index"


def _load(index: Path):
    return load_built_index(index, model=FAKE_MODEL_ID)


def _edit_seed(folder: Path) -> None:
    """Change one answer, so the next build embeds (and caches) its texts."""
    path = folder / f"{SEED_ID}.md"
    text = path.read_text(encoding="utf-8")
    assert "Automation is not a one time thing" in text
    path.write_text(text.replace("Automation is not a one time thing", "Automation is never a one time thing"))


def _use_fake_model(monkeypatch) -> None:
    monkeypatch.setattr(store, "build_embedder", lambda model, out: HashedWordsEmbedder())


# --- item 3: a reader never fails while builds finish -------------------------------------------


def test_reader_loading_in_a_loop_during_ten_rebuilds_never_fails(fake_index, seed_copy):
    embedder = HashedWordsEmbedder()
    failures: list[str] = []
    loads = 0
    done = threading.Event()

    def read_in_a_loop() -> None:
        nonlocal loads
        while not done.is_set():
            try:
                assert _load(fake_index).units
                loads += 1
            except IndexLoadError as error:
                failures.append(str(error))

    reader = threading.Thread(target=read_in_a_loop)
    reader.start()
    try:
        for _ in range(10):
            (seed_copy / f"{SEED_ID}.md").touch()
            build_index([seed_copy], fake_index, embedder=embedder)
    finally:
        done.set()
        reader.join()
    assert failures == []
    assert loads > 10
    assert len(list((fake_index / "builds").iterdir())) <= 2


# --- item 4: odd files in a data folder never stop a build ---------------------------------------


def test_build_skips_a_fifo_and_a_device_and_stays_fresh(tmp_path, seed_copy, capsys):
    os.mkfifo(seed_copy / "x.md")  # blocked the build forever
    (seed_copy / "zero.md").symlink_to("/dev/zero")  # crashed it with MemoryError
    with deadline(30):
        summary = build_index([seed_copy], tmp_path / "index", embedder=HashedWordsEmbedder())
        assert store.stale_reason([seed_copy], tmp_path / "index") is None
    assert summary.archives == 1 and len(summary.skipped) == 2
    err = capsys.readouterr().err
    assert "x.md: cannot read file: it is a FIFO, not a regular file" in err
    assert "zero.md: cannot read file: it is a character device, not a regular file" in err


# --- item 6: every damaged index gives the one clear error naming the file ---------------------


def _write(index: Path, name: str, value) -> None:
    (index / "current" / name).write_text(json.dumps(value), encoding="utf-8")


def _edit_json(index: Path, name: str, edit) -> None:
    path = index / "current" / name
    value = json.loads(path.read_text(encoding="utf-8"))
    edit(value)
    path.write_text(json.dumps(value), encoding="utf-8")


def _wrong_dimension(index: Path) -> None:
    flat = faiss.read_index(str(index / "current" / "both.faiss"))
    small = faiss.IndexFlatIP(8)
    small.add(faiss.rev_swig_ptr(flat.get_xb(), flat.ntotal * flat.d).reshape(flat.ntotal, flat.d)[:, :8].copy())
    faiss.write_index(small, str(index / "current" / "both.faiss"))


DAMAGE = {
    "manifest-list": ("manifest.json", lambda index: _write(index, "manifest.json", [])),
    "manifest-null": ("manifest.json", lambda index: _write(index, "manifest.json", None)),
    "fields-empty": ("manifest.json", lambda index: _edit_json(index, "manifest.json", lambda m: m.update(fields=[]))),
    "dimension-text": (
        "manifest.json",
        lambda index: _edit_json(index, "manifest.json", lambda m: m.update(dimension="384")),
    ),
    "faiss-wrong-dimension": ("both.faiss", _wrong_dimension),
    "faiss-missing": ("question.faiss", lambda index: (index / "current" / "question.faiss").unlink()),
    "unit-text-null": ("units.json", lambda index: _edit_json(index, "units.json", lambda u: u[0].update(text=None))),
    "unit-extra-field": ("units.json", lambda index: _edit_json(index, "units.json", lambda u: u[1].update(x=1))),
    "units-object": ("units.json", lambda index: _write(index, "units.json", {"a": 1})),
    "keys-null": ("keys.json", lambda index: _write(index, "keys.json", None)),
    "keys-author-number": (
        "keys.json",
        lambda index: _edit_json(index, "keys.json", lambda k: k["authors"].__setitem__(0, 7)),
    ),
    "threads-missing": ("threads.json", lambda index: (index / "current" / "threads.json").unlink()),
    "threads-list": ("threads.json", lambda index: _write(index, "threads.json", [])),
    "thread-message-short": (
        "threads.json",
        lambda index: _edit_json(index, "threads.json", lambda t: next(iter(t.values()))[0].pop()),
    ),
    "thread-of-an-answer-gone": ("threads.json", lambda index: _edit_json(index, "threads.json", dict.clear)),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE))
def test_damaged_index_is_one_clear_error_naming_the_file(fake_index, seed_copy, damage):
    file, spoil = DAMAGE[damage]
    spoil(fake_index)
    with pytest.raises(IndexLoadError) as caught:
        _load(fake_index)
    message = str(caught.value)
    assert f"index at {fake_index} is damaged: " in message and f"/{file}: " in message, message
    # With a readable manifest the command names the folders the index was built from.
    hint = f"--data {seed_copy.resolve()} --model {FAKE_MODEL_ID} " if file != "manifest.json" else ""
    assert f"rebuild it with: python -m assistant.index {hint}--out {fake_index}" in message, message


def test_damaged_index_loads_nothing_in_the_app_either(fake_index, seed_copy, capsys):
    _write(fake_index, "manifest.json", [])
    with pytest.raises(IndexLoadError, match="manifest.json"):
        store.ensure_index(store.BuildInputs([seed_copy], None, FAKE_MODEL_ID), fake_index, HashedWordsEmbedder())


# --- item 5: a full disk and a corrupt cache ----------------------------------------------------


def _disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("writer", ["_write_json"])
def test_full_disk_is_one_error_line_and_leaves_no_partial_build(fake_index, seed_copy, monkeypatch, capsys, writer):
    before = _load(fake_index).units
    (seed_copy / f"{SEED_ID}.md").touch()
    _use_fake_model(monkeypatch)
    monkeypatch.setattr(store, writer, _disk_full)
    assert index_cli.main(["--data", str(seed_copy), "--out", str(fake_index)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    assert "no space left" in err[0].lower() and "free" in err[0], err
    assert not list((fake_index / "builds").glob("*.partial"))
    assert _load(fake_index).units == before


def test_tuning_that_cannot_write_its_folder_is_the_same_error(tmp_path, seed_copy, capsys):
    """Issue 26, bug 6: an OSError from tuning (here: encoders/ is a file) is one line and exit 2, no traceback."""
    out = tmp_path / "index"
    out.mkdir()
    (out / "encoders").write_text("not a folder", encoding="utf-8")
    assert index_cli.main(["--data", str(seed_copy), "--out", str(out), "--tune"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"error: cannot write the index to {out}") and "previous index is unchanged" in line


def test_faiss_failing_to_write_is_the_same_error(fake_index, seed_copy, monkeypatch, capsys):
    def faiss_disk_full(index, path):
        raise RuntimeError(f"Error in faiss::FileIOWriter: could not write {path}: No space left on device")

    _use_fake_model(monkeypatch)
    monkeypatch.setattr(store.faiss, "write_index", faiss_disk_full)
    assert index_cli.main(["--data", str(seed_copy), "--out", str(fake_index)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: ") and "No space left on device" in line and "free" in line, line
    assert not list((fake_index / "builds").glob("*.partial"))


def test_full_disk_while_caching_vectors_is_the_same_error(fake_index, seed_copy, monkeypatch, capsys):
    def cache_disk_full(*args):
        raise sqlite3.OperationalError("database or disk is full")

    _use_fake_model(monkeypatch)
    monkeypatch.setattr(store.EmbeddingCache, "put", cache_disk_full)
    _edit_seed(seed_copy)
    assert index_cli.main(["--data", str(seed_copy), "--out", str(fake_index)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("error: the disk is full") and "free some space" in line, line


def test_corrupt_cache_is_moved_aside_and_rebuilt(fake_index, seed_copy, monkeypatch, capsys):
    cache = fake_index / "cache.sqlite"
    cache.write_bytes(b"this is not a database" * 100)
    _use_fake_model(monkeypatch)
    assert index_cli.main(["--data", str(seed_copy), "--out", str(fake_index)]) == 0
    captured = capsys.readouterr()
    [warning] = [line for line in captured.err.splitlines() if "cache" in line]
    assert warning.startswith("warning: ") and "moved it to" in warning, warning
    assert (fake_index / "cache.sqlite.damaged").read_bytes().startswith(b"this is not a database")
    with sqlite3.connect(cache) as db:
        assert db.execute("SELECT count(*) FROM vectors").fetchone()[0] > 0
    assert _load(fake_index).units


# --- item 1: a rebuild reads what the last build read; unresolved slugs are reported ------------


# Weeks whose `authors:` slugs only data/people.yaml resolves (their authors write under other names).
SLUG_WEEKS = ["20210208-ml-design-patterns", "20210315-database-internals", "20210329-learning-tensorflow-js"]


@pytest.fixture
def slug_weeks(tmp_path, books_dir) -> Path:
    """Three archives of data/ whose authors need people.yaml, with no people.yaml beside them."""
    folder = tmp_path / "books"
    folder.mkdir()
    for week in SLUG_WEEKS:
        shutil.copy(books_dir / f"{week}.md", folder)
    return folder


def _answers_and_authors(index: Path) -> tuple[int, int]:
    units = _load(index).units
    return len(units), len({unit.author for unit in units})


def test_app_rebuild_uses_the_people_file_the_index_was_built_with(tmp_path, slug_weeks, people_file, capsys):
    out, embedder = tmp_path / "index", HashedWordsEmbedder()
    build_index([slug_weeks], tmp_path / "without-people", embedder=embedder)
    build_index([slug_weeks], out, people_file, embedder=embedder)
    with_people = _answers_and_authors(out)
    assert with_people > _answers_and_authors(tmp_path / "without-people")
    edited = slug_weeks / f"{SLUG_WEEKS[0]}.md"
    edited.write_bytes(edited.read_bytes() + b"\n")
    args = app.parse_args(["--index", str(out)])  # as `make run` starts it: no --data, no --people
    inputs = store.build_inputs(args.index, args.data, args.people)
    assert inputs == store.BuildInputs((slug_weeks.resolve(),), people_file.resolve(), FAKE_MODEL_ID)
    capsys.readouterr()
    store.ensure_index(inputs, out, embedder)
    captured = capsys.readouterr()
    assert "changed since the index was built" in captured.out
    assert "resolves to no name" not in captured.err
    assert _answers_and_authors(out) == with_people


def test_app_takes_people_like_the_indexer(tmp_path, people_file):
    args = app.parse_args(["--people", str(people_file), "--index", str(tmp_path / "none")])
    assert store.build_inputs(args.index, args.data, args.people).people == people_file


def test_every_build_reports_slugs_that_resolve_to_no_name(tmp_path, slug_weeks, capsys):
    for _ in range(2):
        summary = build_index([slug_weeks], tmp_path / "index", embedder=HashedWordsEmbedder())
        warnings = [line for line in capsys.readouterr().err.splitlines() if "resolves to no name" in line]
        assert len(warnings) == len(summary.unresolved) >= len(SLUG_WEEKS)
        expected = f"warning: {slug_weeks / '20210208-ml-design-patterns.md'}: authors: slug 'michaelmunn' resolves"
        assert any(line.startswith(expected) for line in warnings), warnings
        assert "unresolved author:" in str(summary)
