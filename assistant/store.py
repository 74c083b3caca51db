"""The index folder: layout, manifest, atomic swap, loading with checks, staleness, and build-if-stale.

Layout of an index folder:
    cache.sqlite       embeddings by (model, text hash), reused across builds
    builds/<id>/       manifest.json, units.json, keys.json, one <field>.faiss per embedded field,
                       passages.faiss (passages of answers that split), lexical/ (the bm25s index,
                       memory-mapped when loaded)
    current            symlink to the live build; replaced atomically when a build finishes
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from assistant.archive import archive_paths, file_hash
from assistant.build import BuiltIndex, SearchKeys, build, load_corpus, people_for
from assistant.embedding import Embedder, EmbeddingCache, default_model
from assistant.recipe import FIELDS
from assistant.units import AnswerUnit

FORMAT_VERSION = 3
DEFAULT_DATA = Path("data")
DEFAULT_OUT = Path("index")
INDEX_ENV = "ASSISTANT_INDEX"
LEXICAL_DIR = "lexical"
PASSAGES = "passages"


class IndexLoadError(Exception):
    """An index that is missing, damaged or built differently from what is asked for."""


@dataclass
class BuildSummary:
    files: int
    skipped: list[str]
    books: int
    authors: int
    answers: int
    embedded: int
    reused: int
    seconds: float
    path: Path

    def __str__(self) -> str:
        lines = [
            f"Index written to {self.path}",
            f"  files read: {self.files}, skipped: {len(self.skipped)}",
            *(f"    skipped {reason}" for reason in self.skipped),
            f"  books: {self.books}, authors: {self.authors}, answers: {self.answers}",
            f"  texts embedded: {self.embedded} new, {self.reused} from cache",
            f"  took {self.seconds:.1f} s",
        ]
        return "\n".join(lines)


@dataclass
class LoadedIndex:
    """A live build as search reads it."""

    path: Path
    manifest: dict
    units: list[AnswerUnit]
    vectors: dict[str, faiss.Index]
    passages: np.ndarray  # (passages, dimension), rows owned by keys.passage_owners
    lexical: bm25s.BM25 | None  # None when the index has no answers
    keys: SearchKeys


def default_index_path() -> Path:
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_OUT)


def rebuild_hint(path: Path) -> str:
    return f"rebuild it with: python -m assistant.index --out {path}"


def build_index(
    data: Sequence[Path],
    out: Path = DEFAULT_OUT,
    people_file: Path | None = None,
    model: str | None = None,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> BuildSummary:
    """Build an index of the archive folders into `out` and swap it in atomically."""
    started = time.perf_counter()
    out = Path(out)
    embedder = embedder or Embedder(model)
    corpus = load_corpus(data, people_for(data, people_file))
    for error in corpus.errors:
        print(f"warning: skipped {error}", file=sys.stderr)
    (out / "builds").mkdir(parents=True, exist_ok=True)
    _remove_unfinished_builds(out)
    cache = EmbeddingCache(out / "cache.sqlite")
    try:
        built = build(corpus, embedder, cache, progress)
    finally:
        cache.close()
    save(built, out, _manifest(built, embedder, data))
    return BuildSummary(
        files=len(corpus.books) + len(corpus.errors),
        skipped=[str(error) for error in corpus.errors],
        books=len(corpus.books),
        authors=len({unit.author for unit in corpus.units}),
        answers=len(corpus.units),
        embedded=built.embedded,
        reused=built.reused,
        seconds=time.perf_counter() - started,
        path=out,
    )


def save(built: BuiltIndex, out: Path, manifest: dict) -> Path:
    """Write a build beside the live one, then make it live in one rename; returns its folder."""
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = out / "builds" / f"{build_id}.partial"
    staging.mkdir()
    for field, matrix in [*built.vectors.items(), (PASSAGES, built.passages)]:
        flat = faiss.IndexFlatIP(matrix.shape[1])
        flat.add(matrix)
        faiss.write_index(flat, str(staging / f"{field}.faiss"))
    if built.corpus.units:
        built.lexical.save(str(staging / LEXICAL_DIR))
    _write_json(staging / "units.json", [dataclasses.asdict(unit) for unit in built.corpus.units])
    _write_json(staging / "keys.json", dataclasses.asdict(built.keys))
    _write_json(staging / "manifest.json", manifest)
    final = staging.with_suffix("")
    staging.rename(final)
    _point_current_to(out, final)
    _remove_old_builds(out, keep=final)
    return final


def _manifest(built: BuiltIndex, embedder: Embedder, data: Sequence[Path]) -> dict:
    corpus = built.corpus
    return {
        "format_version": FORMAT_VERSION,
        "model": embedder.model_id,
        "dimension": int(next(iter(built.vectors.values())).shape[1]),
        "fields": list(FIELDS),
        "unit_count": len(corpus.units),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "data": [str(Path(folder)) for folder in data],
        # Every file read, skipped ones too, so fixing a skipped file makes the index stale.
        "archives": {
            **{error.path.name: _hash_or_empty(error.path) for error in corpus.errors},
            **{book.path.name: book.content_hash for book in corpus.books},
        },
        "skipped": [str(error) for error in corpus.errors],
    }


def _write_json(path: Path, value: object) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=1)
        handle.flush()
        os.fsync(handle.fileno())


def _point_current_to(out: Path, build_folder: Path) -> None:
    """Swap the `current` symlink in one rename, so readers see the old build or the new one, never neither."""
    link = out / "current"
    temporary = out / f".current-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(Path("builds") / build_folder.name)
    os.replace(temporary, link)


def _remove_unfinished_builds(out: Path) -> None:
    for leftover in (out / "builds").glob("*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)


def _remove_old_builds(out: Path, keep: Path) -> None:
    for old in (out / "builds").iterdir():
        if old.name != keep.name:
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(path: Path) -> dict:
    """The live build's manifest; IndexLoadError if there is no complete index at `path`."""
    manifest_file = Path(path) / "current" / "manifest.json"
    if not manifest_file.is_file():
        raise IndexLoadError(f"no index at {path}: {rebuild_hint(path)}")
    try:
        return json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexLoadError(f"index manifest {manifest_file} is unreadable ({error}); {rebuild_hint(path)}") from None


def load_built_index(path: Path, model: str | None = None) -> LoadedIndex:
    """Load the live build; refuse one built with another format or model rather than return wrong results."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"index at {path} has format version {manifest.get('format_version')}, this program reads "
            f"version {FORMAT_VERSION}; {rebuild_hint(path)}"
        )
    wanted = model or default_model()
    if manifest.get("model") != wanted:
        raise IndexLoadError(
            f"index at {path} was built with model {manifest.get('model')!r} but {wanted!r} is configured; "
            f"rebuild it with: python -m assistant.index --out {path} --model {wanted}"
        )
    folder = (path / "current").resolve()
    try:
        units = [AnswerUnit(**entry) for entry in json.loads((folder / "units.json").read_text(encoding="utf-8"))]
        keys = SearchKeys(**json.loads((folder / "keys.json").read_text(encoding="utf-8")))
        vectors = {field: faiss.read_index(str(folder / f"{field}.faiss")) for field in manifest["fields"]}
        passages = faiss.read_index(str(folder / f"{PASSAGES}.faiss"))
        lexical = bm25s.BM25.load(str(folder / LEXICAL_DIR), mmap=True) if units else None
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as error:
        raise IndexLoadError(f"index at {path} is damaged ({error}); {rebuild_hint(path)}") from None
    counts = {len(units), len(keys.authors), len(keys.books), len(keys.duplicates), len(keys.threads), len(keys.words)}
    counts |= {index.ntotal for index in vectors.values()}
    if len(counts) != 1 or passages.ntotal != len(keys.passage_owners):
        raise IndexLoadError(f"index at {path} is damaged (vector, key and unit counts differ); {rebuild_hint(path)}")
    keys = dataclasses.replace(keys, books=[tuple(pair) for pair in keys.books])
    passage_vectors = (
        passages.reconstruct_n(0, passages.ntotal) if passages.ntotal else np.zeros((0, passages.d), np.float32)
    )
    return LoadedIndex(path, manifest, units, vectors, passage_vectors, lexical, keys)


def stale_reason(data: Sequence[Path], out: Path) -> str | None:
    """Why the index at `out` does not reflect the archives in `data` (None when it is up to date)."""
    try:
        manifest = read_manifest(out)
    except IndexLoadError as error:
        return str(error)
    if manifest.get("format_version") != FORMAT_VERSION:
        return f"index at {out} has an older format"
    seen = manifest.get("archives", {})
    current = {path.name: path for path in archive_paths(data)}
    for name, path in current.items():
        if name not in seen:
            return f"{path} is not in the index"
        if _hash_or_empty(path) != seen[name]:
            return f"{path} changed since the index was built"
    removed = sorted(set(seen) - set(current))
    return f"{removed[0]} was removed from {', '.join(map(str, data))}" if removed else None


def _hash_or_empty(path: Path) -> str:
    try:
        return file_hash(path)
    except OSError:
        return ""


def ensure_index(data: Sequence[Path], index: Path, embedder: Embedder) -> None:
    """Build the index when it is missing or stale; a damaged one raises IndexLoadError instead of being overwritten."""
    if (index / "current").exists():
        read_manifest(index)
        reason = stale_reason(data, index)
    else:
        reason = "there is none yet"
    if reason is None:
        return
    print(f"Building the index at {index} ({reason}) ...", flush=True)
    print(build_index(data, index, progress=True, embedder=embedder), flush=True)
