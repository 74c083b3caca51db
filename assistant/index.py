"""Build and load the search index: `python -m assistant.index` embeds every answer unit into FAISS.

Layout of an index folder:
    cache.sqlite       embeddings by (model, text hash), reused across builds
    builds/<id>/       manifest.json, units.json, one <field>.faiss per embedded field
    current            symlink to the live build; replaced atomically when a build finishes
"""

from __future__ import annotations

import argparse
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

import faiss
import numpy as np

from assistant.archive import archive_paths, file_hash
from assistant.authors import load_people
from assistant.corpus import FIELDS, Corpus, field_texts, load_corpus
from assistant.embedding import Embedder, EmbeddingCache, embed_with_cache
from assistant.units import AnswerUnit

FORMAT_VERSION = 1
DEFAULT_DATA = Path("data")
DEFAULT_OUT = Path("index")
PEOPLE_FILE = "people.yaml"
INDEX_ENV = "ASSISTANT_INDEX"


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
    path: Path
    manifest: dict
    units: list[AnswerUnit]
    vectors: dict[str, faiss.Index]


def default_index_path() -> Path:
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_OUT)


def build_index(
    data: Sequence[Path],
    out: Path = DEFAULT_OUT,
    people_file: Path | None = None,
    model: str | None = None,
    progress: bool = False,
    embedder: Embedder | None = None,
) -> BuildSummary:
    """Embed all answer units from the archive folders and swap the new index in atomically."""
    started = time.perf_counter()
    out = Path(out)
    embedder = embedder or Embedder(model)
    corpus = load_corpus(data, _people_for(data, people_file))
    for error in corpus.errors:
        print(f"warning: skipped {error}", file=sys.stderr)
    (out / "builds").mkdir(parents=True, exist_ok=True)
    _remove_unfinished_builds(out)
    cache = EmbeddingCache(out / "cache.sqlite")
    try:
        vectors, embedded, reused = _embed_fields(corpus, embedder, cache, progress)
    finally:
        cache.close()
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = out / "builds" / f"{build_id}.partial"
    staging.mkdir()
    for field, matrix in vectors.items():
        flat = faiss.IndexFlatIP(matrix.shape[1])
        flat.add(matrix)
        faiss.write_index(flat, str(staging / f"{field}.faiss"))
    _write_json(staging / "units.json", [dataclasses.asdict(unit) for unit in corpus.units])
    _write_json(staging / "manifest.json", _manifest(corpus, embedder, data, vectors))
    final = staging.with_suffix("")
    staging.rename(final)
    _point_current_to(out, final)
    _remove_old_builds(out, keep=final)
    return BuildSummary(
        files=len(corpus.books) + len(corpus.errors),
        skipped=[str(error) for error in corpus.errors],
        books=len(corpus.books),
        authors=len({unit.author for unit in corpus.units}),
        answers=len(corpus.units),
        embedded=embedded,
        reused=reused,
        seconds=time.perf_counter() - started,
        path=out,
    )


def _people_for(data: Sequence[Path], people_file: Path | None) -> dict[str, str]:
    """Each data folder's own `people.yaml`, then the one given with --people, which wins."""
    people: dict[str, str] = {}
    for folder in data:
        if (Path(folder) / PEOPLE_FILE).is_file():
            people.update(load_people(Path(folder) / PEOPLE_FILE))
    people.update(load_people(people_file))
    return people


def _embed_fields(
    corpus: Corpus, embedder: Embedder, cache: EmbeddingCache, progress: bool
) -> tuple[dict[str, np.ndarray], int, int]:
    texts = [field_texts(unit) for unit in corpus.units]
    flat = [entry[field] for entry in texts for field in FIELDS]
    matrix, embedded = embed_with_cache(flat, embedder, cache, progress=progress)
    if not corpus.units:
        matrix = np.zeros((0, embedder.dimension), dtype=np.float32)
    by_field = {field: np.ascontiguousarray(matrix[i :: len(FIELDS)]) for i, field in enumerate(FIELDS)}
    return by_field, embedded, len(set(flat)) - embedded


def _manifest(corpus: Corpus, embedder: Embedder, data: Sequence[Path], vectors: dict[str, np.ndarray]) -> dict:
    return {
        "format_version": FORMAT_VERSION,
        "model": embedder.model_id,
        "dimension": int(next(iter(vectors.values())).shape[1]),
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


def _point_current_to(out: Path, build: Path) -> None:
    """Swap the `current` symlink in one rename, so readers see the old build or the new one, never neither."""
    link = out / "current"
    temporary = out / f".current-{os.getpid()}"
    if temporary.is_symlink() or temporary.exists():
        temporary.unlink()
    temporary.symlink_to(Path("builds") / build.name)
    os.replace(temporary, link)


def _remove_unfinished_builds(out: Path) -> None:
    for leftover in (out / "builds").glob("*.partial"):
        shutil.rmtree(leftover, ignore_errors=True)


def _remove_old_builds(out: Path, keep: Path) -> None:
    for build in (out / "builds").iterdir():
        if build.name != keep.name:
            shutil.rmtree(build, ignore_errors=True)


def _rebuild_hint(path: Path) -> str:
    return f"rebuild it with: python -m assistant.index --out {path}"


def read_manifest(path: Path) -> dict:
    """The live build's manifest; IndexLoadError if there is no complete index at `path`."""
    manifest_file = Path(path) / "current" / "manifest.json"
    if not manifest_file.is_file():
        raise IndexLoadError(f"no index at {path}: {_rebuild_hint(path)}")
    try:
        return json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise IndexLoadError(f"index manifest {manifest_file} is unreadable ({error}); {_rebuild_hint(path)}") from None


def load_built_index(path: Path, model: str | None = None) -> LoadedIndex:
    """Load the live build; refuse one built with another format or model rather than return wrong results."""
    path = Path(path)
    manifest = read_manifest(path)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"index at {path} has format version {manifest.get('format_version')}, this program reads "
            f"version {FORMAT_VERSION}; {_rebuild_hint(path)}"
        )
    wanted = model or Embedder().model_id
    if manifest.get("model") != wanted:
        raise IndexLoadError(
            f"index at {path} was built with model {manifest.get('model')!r} but {wanted!r} is configured; "
            f"rebuild it with: python -m assistant.index --out {path} --model {wanted}"
        )
    build = (path / "current").resolve()
    try:
        units = [AnswerUnit(**entry) for entry in json.loads((build / "units.json").read_text(encoding="utf-8"))]
        vectors = {field: faiss.read_index(str(build / f"{field}.faiss")) for field in manifest["fields"]}
    except (OSError, ValueError, TypeError, KeyError, RuntimeError) as error:
        raise IndexLoadError(f"index at {path} is damaged ({error}); {_rebuild_hint(path)}") from None
    if any(index.ntotal != len(units) for index in vectors.values()):
        raise IndexLoadError(f"index at {path} is damaged (vector and unit counts differ); {_rebuild_hint(path)}")
    return LoadedIndex(path, manifest, units, vectors)


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


def add_data_argument(parser: argparse.ArgumentParser) -> None:
    """`--data DIR`, repeatable, as the indexer and the app both take it; None means DEFAULT_DATA."""
    parser.add_argument(
        "--data",
        action="append",
        type=Path,
        metavar="DIR",
        help="folder of *.md archives; repeat for several (default: data/)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.index",
        description="Build the Ask the Author search index from Book-of-the-Week archives. "
        "Only answers whose text changed since the last build are embedded again.",
    )
    add_data_argument(parser)
    parser.add_argument("--people", type=Path, metavar="FILE", help="YAML map of people slug -> display name")
    parser.add_argument(
        "--out", type=Path, default=default_index_path(), metavar="DIR", help="index folder (default: index/)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME_OR_PATH",
        help="sentence-transformers model name or local folder (default: the bundled all-MiniLM-L6-v2, offline)",
    )
    args = parser.parse_args(argv)
    try:
        summary = build_index(args.data or [DEFAULT_DATA], args.out, args.people, args.model, progress=True)
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
