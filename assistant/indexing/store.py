"""The index folder: layout, manifest, atomic swap, loading with checks, staleness, and build-if-stale.

Layout of an index folder:
    cache.sqlite       embeddings by (model, text hash), reused across builds
    parsed/            each archive's answer units and keys, by content (assistant.indexing.parsed): a rebuild
                       parses only the archives that changed
    encoders/<model>/  the model exported to ONNX (model.onnx, tokenizer.json, encoder.json), made by
                       the first build with that model; search embeds questions with it, without torch
    encoders/<model>-tuned-<key>/  the model tuned on this corpus (`--tune`, assistant.indexing.tuning), keyed by
                       a hash of its training inputs; only the live one is kept
    builds/<id>/       manifest.json, units.json, keys.json, threads.json (the messages of every thread
                       with an answer), one <field>.faiss per embedded field,
                       passages.faiss (passages of answers that split), lexical/ (the bm25s index);
                       vectors and BM25 are memory-mapped when loaded; each .faiss is exact (flat)
                       or, above 50k vectors, IVF (assistant.indexing.vectorindex)
    current            symlink to the live build; replaced atomically when a build finishes
    build.lock         held (flock) by the one build writing this folder; a second build waits for it
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import bm25s
import faiss
import numpy as np

from assistant.corpus.archive import archive_paths, file_hash
from assistant.corpus.units import AnswerUnit, ThreadMessage, thread_key
from assistant.errors import Unavailable, WriteFailed
from assistant.indexing.build import BuiltIndex, SearchKeys, build, load_corpus, people_files, people_for
from assistant.indexing.embedding import MODEL_ENV, Embedder, EmbeddingCache, TextEncoder, default_model
from assistant.indexing.encoder import OnnxEmbedder, exported_embedder, model_slug, reusable_export
from assistant.indexing.parsed import ParsedCache
from assistant.indexing.recipe import FIELDS
from assistant.indexing.tuning import TuneRequest, remove_other_tunings, tune
from assistant.indexing.vectorindex import extended, vector_index
from assistant.logs import get_logger

logger = get_logger(__name__)

FORMAT_VERSION = 8  # 8: "[10:04 AM] …" copies of questions start passages
PROJECT = Path(__file__).resolve().parents[2]  # so the defaults hold from any working directory
DEFAULT_DATA = PROJECT / "data"
DEFAULT_OUT = PROJECT / "index"
INDEX_ENV = "ASSISTANT_INDEX"
LEXICAL_DIR = "lexical"
ENCODERS_DIR = "encoders"
PASSAGES = "passages"
MANIFEST = "manifest.json"
THREADS = "threads.json"
PARSED_DIR = "parsed"
LOCK = "build.lock"
# What loading, staleness and rebuilding read from a manifest, by JSON type.
_MANIFEST_TYPES = {
    "model": (str,),
    "dimension": (int,),
    "fields": (list,),
    "data": (list,),
    "people": (str, type(None)),
    "people_files": (dict,),
    "archives": (dict,),
}
_JSON_NAMES = {str: "text", int: "a whole number", list: "a list", dict: "an object"}
_LOAD_ATTEMPTS = 5  # a load retries while newer builds go live and remove the one it was reading


class IndexLoadError(Unavailable):
    """An index that is missing, damaged or built differently from what is asked for."""


class IndexWriteError(WriteFailed):
    """A build that could not be written (disk full, no permission); the previous index is unchanged."""


class _Damage(Exception):
    """One file of a build folder that is missing or not what this program writes."""

    def __init__(self, file: Path, problem: str):
        self.file, self.problem = file, problem
        super().__init__(f"{file}: {problem}")


@dataclass(frozen=True)
class BuildInputs:
    """How an index is built: the archive folders, the --people file, the embedding model."""

    data: tuple[Path, ...]
    people: Path | None
    model: str
    tuned: dict | None = None  # the tuning record of the build read, kept by a rebuild (its export is reused)


@dataclass
class BuildSummary:
    files: int
    skipped: list[str]
    unresolved: list[str]
    archives: int  # archives read
    answered: int  # archives with at least one author answer
    empty: list[str]  # archives holding no messages (a week nobody archived)
    unanswered: list[str]  # archives with messages but no author answer
    authors: int
    answers: int
    embedded: int
    reused: int
    seconds: float
    path: Path
    tuning: dict | None = None  # the manifest's record of how the model was tuned; None for the model as is

    def __str__(self) -> str:
        lines = [
            f"Index written to {self.path}",
            f"  files read: {self.files}, skipped: {len(self.skipped)}",
            *(f"    skipped {reason}" for reason in self.skipped),
            *(f"  unresolved author: {slug}" for slug in self.unresolved),
            f"  archives: {self.archives}, {self.answered} with answers"
            + "".join(f"; {len(names)} {why}: {', '.join(names)}" for why, names in self._without_answers() if names),
            f"  books: {self.answered}, authors: {self.authors}, answers: {self.answers}",
            f"  texts embedded: {self.embedded} new, {self.reused} from cache",
            *([self._tuned()] if self.tuning else []),
            f"  took {self.seconds:.1f} s",
        ]
        return "\n".join(lines)

    def _tuned(self) -> str:
        record = self.tuning
        how = f"trained in {record['seconds']:.0f} s" if record["trained_now"] else "reused (same training inputs)"
        if record.get("kept"):
            how = "kept from the last --tune (tune again to learn from new weeks and votes)"
        return (
            f"  model tuned on {record['pairs']} question-answer pairs and {record['vote_pairs']} from votes, "
            f"{record['excluded_threads']} threads held out: {how}"
        )

    def _without_answers(self) -> list[tuple[str, list[str]]]:
        return [
            (f"{'holds' if len(self.empty) == 1 else 'hold'} no messages", self.empty),
            (f"{'has' if len(self.unanswered) == 1 else 'have'} messages but no author answer", self.unanswered),
        ]


@dataclass
class LoadedIndex:
    """A live build as search reads it."""

    path: Path
    manifest: dict
    units: list[AnswerUnit]
    vectors: dict[str, faiss.Index]
    passages: faiss.Index  # memory-mapped passage vectors, rows owned by keys.passage_owners (in unit order)
    lexical: bm25s.BM25 | None  # None when the index has no answers
    keys: SearchKeys
    threads: dict[str, list[ThreadMessage]]  # thread_key -> the thread's messages, for every thread with answers
    encoder: Path | None  # the ONNX export questions are embedded with; None: the sentence-transformers model
    build: Path  # the build folder it was read from, builds/<id>


def default_index_path() -> Path:
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_OUT)


def rebuild_hint(path: Path, manifest: dict | None = None) -> str:
    """The command that rebuilds the index at `path`, with the folders and people file it was built from."""
    recorded = _recorded_inputs(manifest)
    options = [f"--data {folder}" for folder in recorded.data] if recorded else []
    if recorded and recorded.people:
        options.append(f"--people {recorded.people}")
    if recorded and recorded.model != default_model():
        options.append(f"--model {recorded.model}")
    return " ".join(["rebuild it with: python -m assistant.index", *options, f"--out {path}"])


def build_inputs(
    index: Path, data: Sequence[Path] | None = None, people: Path | None = None, model: str | None = None
) -> BuildInputs:
    """What was given, else what the index at `index` was built from, else the defaults (data/, the bundled model)."""
    try:
        recorded = _recorded_inputs(read_manifest(index))
    except IndexLoadError:  # none yet, or damaged: ensure_index says which
        recorded = None
    chosen = model or os.environ.get(MODEL_ENV) or (recorded.model if recorded else default_model())
    return BuildInputs(
        data=tuple(data or (recorded.data if recorded else (DEFAULT_DATA,))),
        people=people or (recorded.people if recorded else None),
        model=chosen,
        tuned=recorded.tuned if recorded and recorded.model == chosen else None,
    )


def _recorded_inputs(manifest: dict | None) -> BuildInputs | None:
    """The inputs a checked manifest of this format records; None for no manifest or an older format."""
    if not manifest or manifest.get("format_version") != FORMAT_VERSION:
        return None
    people, tuned = manifest["people"], manifest.get("tuning")
    if tuned and manifest.get("encoder"):
        tuned = {**tuned, "encoder": manifest["encoder"]}
    else:
        tuned = None
    return BuildInputs(tuple(map(Path, manifest["data"])), Path(people) if people else None, manifest["model"], tuned)


def build_index(
    data: Sequence[Path],
    out: Path = DEFAULT_OUT,
    people_file: Path | None = None,
    model: str | None = None,
    progress: bool = False,
    embedder: TextEncoder | None = None,
    tuning: TuneRequest | None = None,
    kept_tuning: dict | None = None,
) -> BuildSummary:
    """Build an index of the archive folders into `out` and swap it in atomically; IndexWriteError if it cannot.

    Without an `embedder`, the model is exported to ONNX inside `out` on the first build and every
    later build and search runs that export; a model that does not export runs in sentence-transformers.
    With `tuning`, the model is first tuned on the corpus (assistant.indexing.tuning) and the tuned export is used;
    with `kept_tuning` (a manifest's record), the tuned export the last build used is used again.
    One build writes `out` at a time: a second one waits for the first (index_lock).
    """
    with index_lock(out, progress):
        return _build_index(data, Path(out), people_file, model, progress, embedder, tuning, kept_tuning)


@contextlib.contextmanager
def index_lock(out: Path, progress: bool = False):
    """Hold the index folder's build lock; a build that finds it held says so and waits for it."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        handle = open(out / LOCK, "a")  # noqa: SIM115 - held for the whole block
    except OSError as error:
        raise IndexWriteError(_write_failure(out, error)) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another build is writing the index at {out}; waiting for it to finish ...", flush=True)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _build_index(
    data: Sequence[Path],
    out: Path,
    people_file: Path | None,
    model: str | None,
    progress: bool,
    embedder: TextEncoder | None,
    tuning: TuneRequest | None,
    kept_tuning: dict | None,
) -> BuildSummary:
    """build_index with the lock held."""
    started = time.perf_counter()
    parsed = ParsedCache(out / PARSED_DIR, people_for(data, people_file))
    if progress:
        print(f"  reading the archives in {', '.join(map(str, data))} ...", flush=True)
    corpus = load_corpus(data, parsed.read)  # before the model export: a missing folder fails in a moment
    tuned = None
    try:
        if tuning is not None:
            embedder, tuned = tune(model or default_model(), out / ENCODERS_DIR, corpus.units, tuning)
        elif embedder is None and kept_tuning:
            embedder, tuned = _kept_tuning(out, kept_tuning)
        if progress and embedder is None:
            print(f"  {_encoder_step(model or default_model(), out)}", flush=True)
        embedder = embedder or build_embedder(model or default_model(), out)
        encoder = _store_encoder(embedder, out)
    except OSError as error:  # the tuning, the export or the copy of the encoder: a full disk, no permission
        raise IndexWriteError(_write_failure(out, error)) from None
    for error in corpus.errors:
        logger.warning("skipped %s", error)
    for slug in corpus.unresolved:
        logger.warning("%s", slug)
    try:
        (out / "builds").mkdir(parents=True, exist_ok=True)
        _remove_unfinished_builds(out)
        parsed.save()
        cache = EmbeddingCache(out / "cache.sqlite")
        try:
            if cache.moved_aside:
                logger.warning(
                    "the embedding cache %s was damaged; moved it to %s and started a new one, so every text is "
                    "embedded again",
                    cache.path,
                    cache.moved_aside,
                )
            built = build(corpus, embedder, cache, progress)
        finally:
            cache.close()
    except (OSError, sqlite3.OperationalError) as error:
        raise IndexWriteError(_write_failure(out, error)) from None
    save(built, out, {**_manifest(built, embedder, data, people_file, encoder), "tuning": tuned})
    if tuned:
        remove_other_tunings(out / ENCODERS_DIR, keep=embedder.folder)
    return BuildSummary(
        files=len(corpus.archives) + len(corpus.errors),
        skipped=[str(error) for error in corpus.errors],
        unresolved=[str(slug) for slug in corpus.unresolved],
        archives=len(corpus.archives),
        answered=sum(1 for archive in corpus.archives if archive.units),
        empty=[archive.path.name for archive in corpus.archives if not archive.messages],
        unanswered=[archive.path.name for archive in corpus.archives if archive.messages and not archive.units],
        authors=len({unit.author for unit in corpus.units}),
        answers=len(corpus.units),
        embedded=built.embedded,
        reused=built.reused,
        seconds=time.perf_counter() - started,
        path=out,
        tuning=tuned,
    )


def _kept_tuning(out: Path, record: dict) -> tuple[TextEncoder | None, dict | None]:
    """The tuned export a rebuild keeps, with its record; (None, None) when it is gone (the base model is used)."""
    try:
        encoder = OnnxEmbedder(out / record["encoder"])
    except ValueError:
        logger.warning("the tuned model %s is gone; building with the model as is", record["encoder"])
        return None, None
    kept = {key: value for key, value in record.items() if key != "encoder"}
    return encoder, {**kept, "trained_now": False, "kept": True, "seconds": 0.0}


def _write_failure(out: Path, error: Exception) -> str:
    """One line saying why the index at `out` could not be written and what to do."""
    if getattr(error, "errno", None) == errno.ENOSPC or "No space left" in str(error) or "disk is full" in str(error):
        return (
            f"the disk is full (No space left on device) while writing the index to {out}: "
            "free some space and run the command again; the previous index is unchanged"
        )
    return f"cannot write the index to {out} ({error}); the previous index is unchanged"


def save(built: BuiltIndex, out: Path, manifest: dict) -> Path:
    """Write a build beside the live one, then make it live in one rename; returns its folder.

    A failed write (a full disk) removes what it wrote and raises IndexWriteError.
    """
    build_id = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    staging = out / "builds" / f"{build_id}.partial"
    final = staging.with_suffix("")
    try:
        staging.mkdir()
        write_vectors(staging, {**built.vectors, PASSAGES: built.passages}, live_build(out))
        if built.corpus.units:
            built.lexical.save(str(staging / LEXICAL_DIR))
        _write_json(staging / "units.json", [vars(unit) for unit in built.corpus.units])  # flat: vars is asdict
        _write_json(staging / "keys.json", vars(built.keys))
        threads = {key: [[m.name, m.text, m.is_author] for m in thread] for key, thread in built.corpus.threads.items()}
        _write_json(staging / THREADS, threads)
        _write_json(staging / MANIFEST, manifest, indent=1)
        staging.rename(final)
        _point_current_to(out, final)
    except (OSError, RuntimeError) as error:  # faiss reports a failed write as RuntimeError
        for folder in (staging, final):
            shutil.rmtree(folder, ignore_errors=True)
        raise IndexWriteError(_write_failure(out, error)) from None
    _remove_old_builds(out, keep=final)
    return final


def write_vectors(folder: Path, vectors: dict, previous: Path | None = None) -> None:
    """One FAISS file per field, of the kind its size asks for (assistant.indexing.vectorindex); an approximate index of
    the `previous` build whose rows are unchanged gets only the new rows, so adding a week costs that week."""
    for field, matrix in vectors.items():
        index = extended(previous / f"{field}.faiss", matrix) if previous else None
        faiss.write_index(index or vector_index(matrix), str(folder / f"{field}.faiss"))


def build_embedder(model_id: str, out: Path) -> TextEncoder:
    """The model's ONNX export inside `out` (exported by the first build), else the sentence-transformers model."""
    return exported_embedder(model_id, encoder_folder(out, model_id)) or Embedder(model_id)


def _encoder_step(model_id: str, out: Path) -> str:
    """What preparing the model will do: reuse the index's ONNX export, or make it (the first build)."""
    folder = encoder_folder(out, model_id)
    if reusable_export(model_id, folder):
        return f"reusing the embedding model's ONNX export in {folder}"
    return "exporting the embedding model to ONNX (once per index) ..."


def encoder_folder(out: Path, model_id: str) -> Path:
    """Where the index at `out` keeps the ONNX export of a model."""
    return Path(out) / ENCODERS_DIR / model_slug(model_id)


def _store_encoder(embedder: TextEncoder, out: Path) -> str | None:
    """The export's folder relative to `out`, copied in first when it lives elsewhere; None without one."""
    if not isinstance(embedder, OnnxEmbedder):
        return None
    tuned = embedder.config.tuning
    folder = Path(out) / ENCODERS_DIR / embedder.folder.name if tuned else encoder_folder(out, embedder.model_id)
    if embedder.folder.resolve() != folder.resolve():
        shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(embedder.folder, folder)
    return folder.relative_to(out).as_posix()


def _manifest(
    built: BuiltIndex, embedder: TextEncoder, data: Sequence[Path], people_file: Path | None, encoder: str | None
) -> dict:
    corpus = built.corpus
    return {
        "format_version": FORMAT_VERSION,
        "model": embedder.model_id,
        "space": embedder.space,
        "encoder": encoder,
        "dimension": int(next(iter(built.vectors.values())).shape[1]),
        "fields": list(FIELDS),
        "unit_count": len(corpus.units),
        "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        # How it was built, so a rebuild (the app's, or the hint in an error) reads the same inputs.
        "data": [str(Path(folder).resolve()) for folder in data],
        "people": str(Path(people_file).resolve()) if people_file else None,
        "people_files": _people_hashes(data, people_file),
        # Every file read, skipped ones too, so fixing a skipped file makes the index stale.
        "archives": {
            **{error.path.name: _hash_or_empty(error.path) for error in corpus.errors},
            **{archive.path.name: archive.content_hash for archive in corpus.archives},
        },
        "skipped": [str(error) for error in corpus.errors],
        "unresolved": [str(slug) for slug in corpus.unresolved],
    }


def _people_hashes(data: Sequence[Path], people_file: Path | None) -> dict[str, str]:
    return {str(path.resolve()): _hash_or_empty(path) for path in people_files(data, people_file)}


def _write_json(path: Path, value: object, indent: int | None = None) -> None:
    """Write and fsync; without `indent`, json's C encoder writes it many times faster."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(value, handle, ensure_ascii=False, indent=indent)
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
    """The live build's manifest, checked; IndexLoadError if there is no complete index at `path`."""
    path = Path(path)
    try:
        return _read_manifest(_live_folder(path))
    except _Damage as damage:
        raise _damaged(path, damage) from None


def load_built_index(path: Path, model: str | None = None) -> LoadedIndex:
    """Load the live build; refuse one built with another format or model rather than return wrong results.

    `current` is resolved once and every file read from that build folder. If a newer build goes
    live and removes it meanwhile, the load starts again from the new one.
    """
    path = Path(path)
    folder, attempts = _live_folder(path), 1
    while True:
        try:
            return _load_build(path, folder, model or default_model())
        except _Damage as damage:
            newer = live_build(path)
            if newer in (folder, None) or attempts == _LOAD_ATTEMPTS:
                raise _damaged(path, damage, folder) from None
            folder, attempts = newer, attempts + 1


def _live_folder(path: Path) -> Path:
    """The build folder `current` points to now."""
    folder = live_build(path)
    if folder is None:
        raise IndexLoadError(f"no index at {path}: {rebuild_hint(path)}")
    return folder


def live_build(path: Path) -> Path | None:
    """The build folder the index at `path` serves now (where `current` points); None without one. One readlink."""
    link = Path(path) / "current"
    return link.resolve() if link.is_symlink() or link.exists() else None


def _damaged(path: Path, damage: _Damage, folder: Path | None = None) -> IndexLoadError:
    """The one error for every damaged index: which file, what is wrong, and the command that rebuilds it."""
    try:
        manifest = _read_manifest(folder) if folder else None
    except _Damage:
        manifest = None
    return IndexLoadError(f"index at {path} is damaged: {damage}; {rebuild_hint(path, manifest)}")


def _read_json(file: Path) -> object:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _Damage(file, "missing") from None
    except (OSError, ValueError) as error:
        raise _Damage(file, f"unreadable ({error})") from None


def _read_manifest(folder: Path) -> dict:
    """The manifest of a build folder, with the fields loading and staleness read all present and typed."""
    file = folder / MANIFEST
    manifest = _read_json(file)
    if not isinstance(manifest, dict):
        raise _Damage(file, f"not a JSON object but {type(manifest).__name__}")
    if manifest.get("format_version") != FORMAT_VERSION:
        return manifest  # an older format: the caller names the version, not a damage
    manifest = {"people": None, "people_files": {}, **manifest}  # indexes built before they were recorded
    for key, kinds in _MANIFEST_TYPES.items():
        value = manifest.get(key)
        if not isinstance(value, kinds) or isinstance(value, bool):
            expected = " or ".join("null" if kind is type(None) else _JSON_NAMES[kind] for kind in kinds)
            raise _Damage(file, f"{key} is {json.dumps(value)}, not {expected}")
    if not _list_of(manifest["data"], str) or not all(isinstance(h, str) for h in manifest["archives"].values()):
        raise _Damage(file, "data must list folders and archives map file names to hashes")
    if sorted(manifest["fields"]) != sorted(FIELDS):
        raise _Damage(file, f"fields are {manifest['fields']}, this program embeds {list(FIELDS)}")
    return manifest


def _read_units(file: Path) -> list[AnswerUnit]:
    entries = _read_json(file)
    if not isinstance(entries, list):
        raise _Damage(file, f"not a JSON list but {type(entries).__name__}")
    kinds = {field.name: int if field.type == "int" else str for field in dataclasses.fields(AnswerUnit)}
    for number, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != set(kinds):
            raise _Damage(file, f"unit {number} does not have the fields {sorted(kinds)}")
        wrong = [name for name, kind in kinds.items() if type(entry[name]) is not kind]
        if wrong:
            raise _Damage(
                file, f"unit {number}: {wrong[0]} is {json.dumps(entry[wrong[0]])}, not a {kinds[wrong[0]].__name__}"
            )
    return [AnswerUnit(**entry) for entry in entries]


def _read_keys(file: Path) -> SearchKeys:
    keys = _read_json(file)
    if not isinstance(keys, dict) or set(keys) != {field.name for field in dataclasses.fields(SearchKeys)}:
        raise _Damage(file, "not a JSON object of authors, books, duplicates, threads, words and passage owners")
    if not all(_list_of(keys[name], str) for name in ("authors", "duplicates", "threads")):
        raise _Damage(file, "authors, duplicates and threads must be lists of text")
    if not (_list_of(keys["words"], int) and _list_of(keys["passage_owners"], int)):
        raise _Damage(file, "words and passage owners must be lists of whole numbers")
    if not (_list_of(keys["books"], list) and all(len(pair) == 2 and _list_of(pair, str) for pair in keys["books"])):
        raise _Damage(file, "books must be a list of [id, title] pairs")
    return dataclasses.replace(SearchKeys(**keys), books=[tuple(pair) for pair in keys["books"]])


def _read_threads(file: Path, units: Sequence[AnswerUnit]) -> dict[str, list[ThreadMessage]]:
    threads = _read_json(file)
    if not isinstance(threads, dict):
        raise _Damage(file, f"not a JSON object but {type(threads).__name__}")
    for key, thread in threads.items():
        if not (_list_of(thread, list) and all(len(m) == 3 and _list_of(m[:2], str) for m in thread)):
            raise _Damage(file, f"thread {key!r} is not a list of [name, text, is_author] messages")
    missing = next((unit.id for unit in units if thread_key(unit.book, unit.thread) not in threads), None)
    if missing:
        raise _Damage(file, f"holds no thread for the answer {missing}")
    return {key: [ThreadMessage(name, text, bool(author)) for name, text, author in t] for key, t in threads.items()}


def _list_of(value: object, kind: type) -> bool:
    return isinstance(value, list) and all(isinstance(item, kind) for item in value)


def _read_vectors(file: Path, dimension: int) -> faiss.Index:
    try:
        vectors = faiss.read_index(str(file), faiss.IO_FLAG_MMAP)
    except RuntimeError as error:
        missing = not file.exists()
        raise _Damage(file, "missing" if missing else f"unreadable ({str(error).splitlines()[-1]})") from None
    if vectors.d != dimension:
        raise _Damage(file, f"vectors have {vectors.d} dimensions, the manifest says {dimension}")
    return vectors


def _load_build(path: Path, folder: Path, model: str) -> LoadedIndex:
    """Every file of one build folder, checked against the manifest; _Damage names the first bad one."""
    manifest = _read_manifest(folder)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexLoadError(
            f"index at {path} has format version {manifest.get('format_version')}, this program reads "
            f"version {FORMAT_VERSION}; {rebuild_hint(path)}"
        )
    if manifest["model"] != model:
        raise IndexLoadError(
            f"index at {path} was built with model {manifest['model']!r} but {model!r} is configured; "
            f"{rebuild_hint(path, {**manifest, 'model': model})}"
        )
    units = _read_units(folder / "units.json")
    keys = _read_keys(folder / "keys.json")
    threads = _read_threads(folder / THREADS, units)
    vectors = {field: _read_vectors(folder / f"{field}.faiss", manifest["dimension"]) for field in manifest["fields"]}
    try:
        lexical = load_lexical(folder / LEXICAL_DIR) if units else None
    except (OSError, ValueError, TypeError, KeyError) as error:
        raise _Damage(folder / LEXICAL_DIR, f"unreadable ({error})") from None
    encoder = path / manifest["encoder"] if manifest.get("encoder") else None
    if encoder is not None and not encoder.is_dir():
        raise _Damage(encoder, "missing")
    counts = {
        "keys.json": {len(keys.authors), len(keys.books), len(keys.duplicates), len(keys.threads), len(keys.words)}
    }
    counts |= {f"{field}.faiss": {flat.ntotal} for field, flat in vectors.items()}
    for name, sizes in counts.items():
        if sizes != {len(units)}:
            raise _Damage(folder / name, f"holds {max(sizes)} entries for {len(units)} units")
    passages = _read_vectors(folder / f"{PASSAGES}.faiss", manifest["dimension"])
    if passages.ntotal != len(keys.passage_owners) or any(not 0 <= i < len(units) for i in keys.passage_owners):
        raise _Damage(
            folder / f"{PASSAGES}.faiss", f"holds {passages.ntotal} passages for {len(keys.passage_owners)} owners"
        )
    return LoadedIndex(path, manifest, units, vectors, passages, lexical, keys, threads, encoder, folder)


def load_lexical(folder: Path) -> bm25s.BM25:
    """The BM25 index, memory-mapped, scoring a question by adding each term's postings at once."""
    lexical = bm25s.BM25.load(str(folder), mmap=True)
    lexical._compute_relevance_from_scores = _add_postings  # where bm25s puts its numba scorer
    return lexical


def _add_postings(data, indptr, indices, num_docs, query_tokens_ids, dtype) -> np.ndarray:
    """bm25s's scores, the same to the bit: a term's postings name each document once, so a plain fancy-index
    add does what its np.add.at does, ~10x faster (a common term at 1M answers: 20 ms -> 2 ms)."""
    scores = np.zeros(num_docs, dtype=dtype)
    for token in query_tokens_ids:
        start, end = indptr[token], indptr[token + 1]
        scores[indices[start:end]] += data[start:end]
    return scores


def stale_reason(data: Sequence[Path], out: Path, people_file: Path | None = None) -> str | None:
    """Why the index at `out` does not reflect the archives in `data` and the people maps (None when up to date)."""
    try:
        manifest = read_manifest(out)
    except IndexLoadError as error:
        return str(error)
    if manifest.get("format_version") != FORMAT_VERSION:
        return f"index at {out} has an older format"
    seen = manifest["archives"]
    current = {path.name: path for path in archive_paths(data)}
    for name, path in current.items():
        if name not in seen:
            return f"{path} is not in the index"
        if _hash_or_empty(path) != seen[name]:
            return f"{path} changed since the index was built"
    removed = sorted(set(seen) - set(current))
    if removed:
        return f"{removed[0]} was removed from {', '.join(map(str, data))}"
    people, recorded = _people_hashes(data, people_file), manifest["people_files"]
    changed = sorted(path for path in set(people) | set(recorded) if people.get(path) != recorded.get(path))
    return f"the people map {changed[0]} is not the one the index was built with" if changed else None


def _hash_or_empty(path: Path) -> str:
    try:
        return file_hash(path)
    except OSError:
        return ""


def ensure_index(inputs: BuildInputs, index: Path, embedder: TextEncoder | None = None) -> None:
    """Build the index from `inputs` when missing or stale; a damaged one raises IndexLoadError, never overwritten.

    An index that is up to date is only read (it may be read-only). A stale one is judged again with the build lock
    held, so a build that waited for another one builds only if it is still needed.
    """
    if _why_stale(inputs, index) is None:
        return
    with index_lock(index):
        reason = _why_stale(inputs, index)
        if reason is None:
            return
        print(f"Building the index at {index} ({reason}) ...", flush=True)
        summary = _build_index(
            inputs.data, Path(index), inputs.people, inputs.model, True, embedder, None, inputs.tuned
        )
        print(summary, flush=True)


def _why_stale(inputs: BuildInputs, index: Path) -> str | None:
    """Why the index must be built from `inputs`; None when it is up to date."""
    if not (index / "current").exists():
        return "there is none yet"
    model = read_manifest(index).get("model")
    reason = stale_reason(inputs.data, index, inputs.people)
    if reason is None and model != inputs.model:
        reason = f"it was built with model {model!r}, {inputs.model!r} is configured"
    return reason
