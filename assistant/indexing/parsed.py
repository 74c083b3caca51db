"""Each archive read into what a build needs of it, cached by content in the index folder.

A rebuild parses only the archives whose bytes changed. An entry's name hashes the file's name and
bytes, the people map and this program's source, so a changed people map or program parses every
archive again.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from assistant.corpus.archive import file_hash, read_archive
from assistant.corpus.authors import name_tokens, unresolved_slugs
from assistant.corpus.passages import split_passages
from assistant.corpus.text import content_words, duplicate_key, fold
from assistant.corpus.units import AnswerUnit, ThreadMessage, answered_threads, build_units

_PROGRAM = Path(__file__).parents[1]  # the assistant package: every module's source goes into the cache key


@dataclass(frozen=True)
class UnitKeys:
    """What filters, duplicate removal, threads, the substance prior and passages compare of one unit."""

    author: str  # folded name tokens, joined by spaces
    book: tuple[str, str]  # folded (book id, book title)
    duplicate: str
    thread: str  # book/thread/author: an author's answers in one thread are one result
    words: int  # distinct content words in the answer
    passages: tuple[str, ...]  # the answer's passages when it splits, else ()


def unit_keys(unit: AnswerUnit) -> UnitKeys:
    """The keys of one unit, folded once at build time."""
    passages = split_passages(unit.text)
    return UnitKeys(
        author=" ".join(name_tokens(unit.author)),
        book=(fold(unit.book), fold(unit.book_title)),
        duplicate=duplicate_key(unit.text),
        thread=f"{unit.book}/{unit.thread}/{unit.author}",
        words=len(content_words(unit.text)),
        passages=tuple(passages) if len(passages) > 1 else (),
    )


@dataclass(frozen=True)
class ParsedArchive:
    """One archive's answer units with their keys, the threads they answer in, and the slugs no people map resolves."""

    path: Path
    content_hash: str
    units: list[AnswerUnit]
    keys: list[UnitKeys]
    unresolved: list[str]
    threads: dict[str, list[ThreadMessage]]  # thread_key -> its messages, for the threads with units
    messages: int  # top-level messages in its `archive:` list; 0 for a week nobody archived


def parse_archive(path: Path, people: Mapping[str, str]) -> ParsedArchive:
    """Read and split one archive; ArchiveError when it is malformed."""
    book = read_archive(path)
    units = build_units(book, people)
    unresolved = unresolved_slugs(book.authors, people, book.participants)
    keys = [unit_keys(unit) for unit in units]
    threads = answered_threads(book, people, units)
    return ParsedArchive(book.path, book.content_hash, units, keys, unresolved, threads, len(book.messages))


class ParsedCache:
    """Parsed archives as JSON files in a folder; `read` parses only what the folder does not hold yet."""

    def __init__(self, folder: Path, people: Mapping[str, str]):
        self.folder = Path(folder)
        self.people = dict(people)
        salt = hashlib.sha256(json.dumps(self.people, sort_keys=True).encode("utf-8"))
        for source in sorted(_PROGRAM.rglob("*.py")):
            salt.update(source.read_bytes())
        self._salt = salt.hexdigest()
        self._fresh: dict[str, ParsedArchive] = {}  # parsed by this build, written by `save`
        self._used: set[str] = set()

    def _name(self, path: Path, content_hash: str) -> str:
        """The entry of a file's bytes under its name (the name is the book id in every unit)."""
        return f"{hashlib.sha256(f'{self._salt}/{path.name}/{content_hash}'.encode()).hexdigest()}.json"

    def read(self, path: Path) -> ParsedArchive:
        """The archive at `path`, from the folder when its bytes were parsed before; ArchiveError when malformed."""
        try:
            parsed = self._load(self._name(path, file_hash(path)), path)
        except OSError:
            parsed = None  # unreadable: parsing it says why
        if parsed is None:
            parsed = parse_archive(path, self.people)
            self._fresh[self._name(path, parsed.content_hash)] = parsed
        self._used.add(self._name(path, parsed.content_hash))
        return parsed

    def _load(self, name: str, path: Path) -> ParsedArchive | None:
        """The entry `name`; None when there is none or it is damaged (then the archive is parsed again)."""
        try:
            entry = json.loads((self.folder / name).read_text(encoding="utf-8"))
            keys = [
                {**keys, "book": tuple(keys["book"]), "passages": tuple(keys["passages"])} for keys in entry["keys"]
            ]
            units = [AnswerUnit(**unit) for unit in entry["units"]]
            threads = {key: [ThreadMessage(*message) for message in thread] for key, thread in entry["threads"].items()}
            keys = [UnitKeys(**k) for k in keys]
            return ParsedArchive(
                path, entry["content_hash"], units, keys, entry["unresolved"], threads, entry["messages"]
            )
        except (OSError, ValueError, TypeError, KeyError):
            return None

    def save(self) -> None:
        """Write what this build parsed; remove the entries it did not read, so the folder holds one build's worth."""
        self.folder.mkdir(parents=True, exist_ok=True)
        for name, parsed in self._fresh.items():
            entry = {
                "content_hash": parsed.content_hash,
                "units": [vars(unit) for unit in parsed.units],  # flat dataclasses: vars is asdict, faster
                "keys": [vars(keys) for keys in parsed.keys],
                "unresolved": parsed.unresolved,
                "threads": {
                    key: [[m.name, m.text, m.is_author] for m in thread] for key, thread in parsed.threads.items()
                },
                "messages": parsed.messages,
            }
            staging = self.folder / f".{name}.{os.getpid()}"
            staging.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
            os.replace(staging, self.folder / name)
        self._fresh.clear()
        for file in self.folder.iterdir():
            if file.name not in self._used:
                file.unlink(missing_ok=True)
