"""Read Book-of-the-Week archives: Markdown files whose YAML front matter holds the week's messages."""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

import yaml

from assistant.corpus.text import clean_text
from assistant.errors import BadInput

BOOK_PAGE_URL = "https://datatalks.club/books/{book_id}.html"
MAX_ARCHIVE_BYTES = 20 * 1024 * 1024  # the largest shared archive is under 1 MB
_BOM = "\ufeff"
_FILE_KINDS = {
    stat.S_IFDIR: "a directory",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
}
_LINE_KEY = "__line__"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ArchiveError(BadInput):
    """An archive that cannot be read; says which file, which line (when known) and what is wrong."""

    def __init__(self, path: Path, reason: str, line: int | None = None):
        self.path, self.reason, self.line = Path(path), reason, line
        where = f"{self.path}:{line}" if line else str(self.path)
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class Reply:
    name: str
    text: str


@dataclass(frozen=True)
class Message:
    """A top-level message of the week's channel and the replies in its thread."""

    name: str
    text: str
    replies: tuple[Reply, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Link:
    text: str
    url: str


@dataclass(frozen=True)
class Book:
    id: str
    title: str
    authors: tuple[str, ...]  # as written in `authors:`: people slugs or display names
    start: dt.date | None
    links: tuple[Link, ...]
    messages: tuple[Message, ...]
    path: Path
    content_hash: str = field(compare=False)

    @property
    def url(self) -> str:
        return BOOK_PAGE_URL.format(book_id=self.id)

    @property
    def participants(self) -> set[str]:
        """Every name that wrote a top-level message or a reply."""
        return {m.name for m in self.messages} | {r.name for m in self.messages for r in m.replies}


Read = TypeVar("Read")


@dataclass
class ReadResult(Generic[Read]):
    books: list[Read]  # Book, or what the reader given to read_archives makes of one
    errors: list[ArchiveError]


class _LineLoader(_Loader):
    """Safe YAML loader that remembers the file line of every mapping, so errors can point at it."""

    first_line = 1  # file line of the YAML's first line


def _construct_mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE_KEY] = node.start_mark.line + loader.first_line
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line)


def _split_front_matter(path: Path, text: str) -> tuple[str, int]:
    """Return the YAML between the `---` lines and the file line it starts on."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise ArchiveError(path, "no YAML front matter: the file must start with a '---' line", 1)
    for number, line in enumerate(lines[1:], start=2):
        if line.rstrip() == "---":  # an indented `---` is text inside a block scalar
            return "\n".join(lines[1 : number - 1]), 2
    raise ArchiveError(path, "front matter is not closed by a '---' line", 1)


def _expect_str(path: Path, value: object, what: str, line: int | None) -> str:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # YAML reads a bare `2021` or `42` as a number; it is still text here
    if value is None:
        raise ArchiveError(path, f"{what} is missing", line)
    if not isinstance(value, str):
        raise ArchiveError(path, f"{what} must be text, got {type(value).__name__}", line)
    return value


def _expect_list(path: Path, value: object, what: str, line: int | None) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ArchiveError(path, f"{what} must be a list, got {type(value).__name__}", line)
    return value


def _expect_mapping(path: Path, value: object, what: str, line: int | None) -> dict:
    if not isinstance(value, dict):
        raise ArchiveError(path, f"{what} must be a mapping with name and text, got {type(value).__name__}", line)
    return value


def _parse_start(path: Path, value: object, line: int | None) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    try:
        return dt.date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        raise ArchiveError(path, f"start must be a date like 2021-08-30, got {value!r}", line) from None


def _parse_message(path: Path, raw: object, position: str, fallback_line: int) -> Message:
    entry = _expect_mapping(path, raw, position, fallback_line)
    line = entry.get(_LINE_KEY, fallback_line)
    name = _expect_str(path, entry.get("name"), f"{position}: name", line).strip()
    if not name:  # `name: ""`
        raise ArchiveError(path, f"{position}: name is missing", line)
    raw_text = entry.get("text")
    text = clean_text(_expect_str(path, "" if raw_text is None else raw_text, f"{position}: text", line))
    replies = []
    for number, raw_reply in enumerate(_expect_list(path, entry.get("replies"), f"{position}: replies", line)):
        reply = _parse_message(path, raw_reply, f"{position}, reply {number}", line)
        replies.append(Reply(reply.name, reply.text))
    return Message(name, text, tuple(replies), line)


def _read_regular_file(path: Path) -> bytes:
    """The bytes of a regular file of at most MAX_ARCHIVE_BYTES; OSError saying why not for anything else."""
    # O_NONBLOCK: opening a FIFO returns at once instead of waiting for a writer; regular files ignore it.
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    try:
        mode = os.fstat(descriptor).st_mode
        if not stat.S_ISREG(mode):
            kind = _FILE_KINDS.get(stat.S_IFMT(mode), "not a file")
            raise OSError(errno.EINVAL, f"it is {kind}, not a regular file; only regular files are read")
        with open(descriptor, "rb", closefd=False) as handle:
            data = handle.read(MAX_ARCHIVE_BYTES + 1)
    finally:
        os.close(descriptor)
    if len(data) > MAX_ARCHIVE_BYTES:
        raise OSError(errno.EFBIG, f"larger than the {MAX_ARCHIVE_BYTES // 2**20} MB limit per archive")
    return data


def _refuse_aliases(path: Path, front_matter: str, first_line: int) -> None:
    """Raise ArchiveError at the first YAML alias: `*name` lets a 1 KB file expand to billions of messages."""
    for event in yaml.parse(front_matter, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            line = event.start_mark.line + first_line
            raise ArchiveError(path, f"YAML alias *{event.anchor} is not allowed in archives: write the text out", line)


def _load_front_matter(path: Path, front_matter: str, first_line: int) -> object:
    """The parsed front matter; ArchiveError with the line for invalid YAML, aliases or runaway nesting."""
    try:
        _refuse_aliases(path, front_matter, first_line)
        loader = _LineLoader(front_matter)
        loader.first_line = first_line
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + first_line if mark else None
        problem = getattr(error, "problem", None) or str(error)
        raise ArchiveError(path, f"invalid YAML: {problem}", line) from None
    except RecursionError:
        raise ArchiveError(
            path, "YAML is nested too deeply", _field_line(front_matter, "archive", first_line)
        ) from None


def read_archive(path: Path) -> Book:
    """Parse one archive file; raise ArchiveError naming the file and line if it is malformed."""
    path = Path(path)
    try:
        raw_bytes = _read_regular_file(path)
    except OSError as error:
        raise ArchiveError(path, f"cannot read file: {error.strerror}") from None
    if not raw_bytes.strip():
        raise ArchiveError(path, "file is empty")
    try:
        text = raw_bytes.decode("utf-8").removeprefix(_BOM)
    except UnicodeDecodeError as error:
        line = raw_bytes[: error.start].count(b"\n") + 1
        raise ArchiveError(path, f"not UTF-8 text (byte 0x{raw_bytes[error.start]:02x})", line) from None
    front_matter, first_line = _split_front_matter(path, text)
    data = _load_front_matter(path, front_matter, first_line)
    if not isinstance(data, dict):
        raise ArchiveError(path, "front matter must be a YAML mapping of fields", first_line)

    def line_of(key: str) -> int | None:
        return _field_line(front_matter, key, first_line)

    title = _expect_str(path, data.get("title"), "title", line_of("title")).strip()
    if not title:
        raise ArchiveError(path, "title is missing", line_of("title") or first_line)
    authors = tuple(
        _expect_str(path, author, "each entry of authors", line_of("authors")).strip()
        for author in _expect_list(path, data.get("authors"), "authors", line_of("authors"))
    )
    links = tuple(
        Link(
            _expect_str(path, link.get("text", ""), "links: text", link.get(_LINE_KEY)),
            _expect_str(path, link.get("link", ""), "links: link", link.get(_LINE_KEY)),
        )
        for link in (
            _expect_mapping(path, raw, "each entry of links", line_of("links"))
            for raw in _expect_list(path, data.get("links"), "links", line_of("links"))
        )
    )
    archive_line = line_of("archive") or first_line
    messages = tuple(
        _parse_message(path, raw, f"archive message {number}", archive_line)
        for number, raw in enumerate(_expect_list(path, data.get("archive"), "archive", archive_line))
    )
    return Book(
        id=path.stem,
        title=title,
        authors=authors,
        start=_parse_start(path, data.get("start"), line_of("start")),
        links=links,
        messages=messages,
        path=path,
        content_hash=_sha256(raw_bytes),
    )


def _field_line(front_matter: str, key: str, first_line: int) -> int | None:
    """File line of a top-level front-matter field, for errors about its value."""
    for offset, line in enumerate(front_matter.splitlines()):
        if line.startswith(f"{key}:"):
            return first_line + offset
    return None


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_hash(path: Path) -> str:
    """SHA-256 of an archive file's bytes, as `Book.content_hash`; OSError for what `read_archive` would not read."""
    return _sha256(_read_regular_file(Path(path)))


def archive_paths(folders: Iterable[Path]) -> list[Path]:
    """Every `*.md` archive in the folders, sorted.

    Names starting with `_` are templates and names in capitals (README.md, SOURCE.md) notes, not archives.
    """
    paths: list[Path] = []
    for folder in folders:
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"{folder}: archive folder does not exist")
        paths.extend(p for p in sorted(folder.glob("*.md")) if not (p.name.startswith("_") or p.stem.isupper()))
    return paths


def read_archives(folders: Iterable[Path], read: Callable[[Path], Read] = read_archive) -> ReadResult[Read]:
    """Read every archive in the folders with `read`; a bad file is reported in `errors` and never stops the rest."""
    books, errors, seen_ids = [], [], {}
    for path in archive_paths(folders):
        try:
            book = read(path)
        except ArchiveError as error:
            errors.append(error)
            continue
        if path.stem in seen_ids:  # a book's id is its file name without .md
            duplicate = f"duplicate book id {path.stem!r}: already read from {seen_ids[path.stem]}"
            errors.append(ArchiveError(path, duplicate))
            continue
        seen_ids[path.stem] = path
        books.append(book)
    return ReadResult(books, errors)
