"""Bring data/ up to date with the DataTalks.Club website: `python -m assistant.sync [--repo O/N[@REF]] [--data DIR]`.

The website repository keeps each Book-of-the-Week archive as `_books/<week>.md` and each person as
`_people/<slug>.md` (display name in `title:`). GitHub's git trees API lists both folders with each
file's git blob SHA; a local archive whose blob SHA is the same is up to date, so only added and
changed files are downloaded (blobs API). Every download is checked against its SHA and parsed
before it replaces the old file, in one rename; a bad one is reported and the old file kept. New
`authors:` slugs get their display names from `_people/`. Offline or rate-limited, nothing changes.
Then the index is rebuilt, incrementally (`--no-build` skips it).

Everything the site sends is untrusted: a remote name is taken only as `<safe name>.md` (one pattern, no
separators, no leading dot, bounded length, never a project note such as SOURCE.md), so files are written
only inside data/; the token goes only to the API's own host (a redirect elsewhere is followed without it);
each answer, the whole sync's bytes and its time are capped; a malformed answer is one line and exit 2.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import dataclasses
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from assistant import config
from assistant.corpus.archive import ArchiveError, archive_paths, read_archive
from assistant.corpus.authors import load_people
from assistant.errors import EXIT_OK, EXIT_SOME_FAILED, Unavailable, command, exit_code
from assistant.indexing.build import PEOPLE_FILE
from assistant.indexing.store import DEFAULT_DATA, default_index_path
from assistant.logs import setup_logging

DEFAULT_REPO = "DataTalksClub/datatalksclub.github.io"
DEFAULT_API = "https://api.github.com"
TOKEN_ENV = "GITHUB_TOKEN"
BOOKS, PEOPLE = "_books", "_people"
TIMEOUT_SECONDS = 30  # per network read
DEADLINE_SECONDS = 300  # for the whole sync: a site that drips bytes cannot hold it longer
MAX_ANSWER_BYTES = 4 * 1024 * 1024  # one API answer; the largest archive is 81 KB (about 110 KB as a blob)
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # a whole sync; all 98 weeks are 2.5 MB
DOWNLOADS_AT_ONCE = 8
_REPO_PATTERN = re.compile(r"([\w.-]+)/([\w.-]+)(?:@(\S+))?")
# The only remote names taken: no separators, no leading dot or underscore (the site's templates), bounded length.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}\.md")
_SHA = re.compile(r"[0-9a-f]{40}")
_READ_CHUNK = 64 * 1024
MAX_NAME_CHARS = 200  # a person's display name from the site


class SyncError(Unavailable):
    """The site cannot be read (offline, rate-limited, no such repository): nothing was changed."""


class DamagedDownload(SyncError):
    """One file whose download does not match its blob SHA: that file is left out, the others synced."""


@dataclass(frozen=True)
class Repo:
    owner: str
    name: str
    ref: str = "HEAD"  # the default branch

    @classmethod
    def parse(cls, text: str) -> Repo:
        """`OWNER/NAME` or `OWNER/NAME@REF` (a branch, tag or commit); ValueError naming the form otherwise."""
        match = _REPO_PATTERN.fullmatch(text.strip())
        if not match:
            raise ValueError(f"--repo must be OWNER/NAME or OWNER/NAME@REF, got {text!r}")
        owner, name, ref = match.groups()
        return cls(owner, name, ref or "HEAD")

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}@{self.ref}"


@dataclass
class SyncReport:
    """What a sync did, week by week (file stems), and which people it named."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one "week: why" line each; the old file (if any) kept
    refused: list[str] = field(default_factory=list)  # remote names that are not safe file names, as repr()
    local_only: list[str] = field(default_factory=list)
    people: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [
            f"  added {len(self.added)}{_listed(self.added)}",
            f"  changed {len(self.changed)}{_listed(self.changed)}",
            f"  kept {len(self.kept)} unchanged",
        ]
        if self.failed:
            lines.append(f"  failed {len(self.failed)}, left as they were:")
            lines += [f"    {failure}" for failure in self.failed]
        if self.refused:
            lines.append(f"  refused {len(self.refused)} names on the site that are not safe file names: "
                         + ", ".join(self.refused))  # fmt: skip
        if self.local_only:
            lines.append(f"  not on the site, left as they are: {len(self.local_only)}{_listed(self.local_only)}")
        if self.people:
            lines.append(f"  people added to {PEOPLE_FILE}: " + ", ".join(f"{s} ({n})" for s, n in self.people.items()))
        return "\n".join(lines)


def _listed(names: Sequence[str]) -> str:
    return ": " + ", ".join(names) if names else ""


def safe_name(name: object) -> bool:
    """Whether a remote file name may become a file in data/: one safe component ending .md, not a project note."""
    return isinstance(name, str) and bool(SAFE_NAME.fullmatch(name)) and not Path(name).stem.isupper()


def _shown(name: object) -> str:
    """A remote name as a report quotes it: repr (so a newline shows as \\n), at most 60 characters."""
    text = repr(name)
    return text if len(text) <= 60 else text[:59] + "…"


def git_blob_sha(content: bytes) -> str:
    """The SHA git (and the trees API) gives a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


class _KeepTokenOnSameHost(urllib.request.HTTPRedirectHandler):
    """Follows redirects; the token (an unredirected header, so never copied) is sent again only to the API's host."""

    def __init__(self, origin: tuple[str, str], token: str | None):
        self._origin, self._token = origin, token

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        if _origin(newurl)[0] not in ("http", "https"):
            return None  # not followed (urllib would follow ftp:): the redirect is an HTTP error line
        new = super().redirect_request(req, fp, code, msg, headers, newurl)
        if new is not None and self._token and _origin(newurl) == self._origin:
            new.add_unredirected_header("Authorization", f"Bearer {self._token}")
        return new


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class GitHub:
    """The few GitHub REST endpoints a sync reads, through urllib; a token from $GITHUB_TOKEN when set.

    Every answer is read in chunks against a byte cap (`max_answer`), a cap on all answers together
    (`max_total`) and one deadline for the whole sync (`deadline` seconds from the first request).
    """

    def __init__(
        self,
        repo: Repo,
        api: str = DEFAULT_API,
        token: str | None = None,
        *,
        deadline: float = DEADLINE_SECONDS,
        max_answer: int = MAX_ANSWER_BYTES,
        max_total: int = MAX_TOTAL_BYTES,
    ):
        self.repo, self.api, self._token = repo, api.rstrip("/"), token
        self.deadline, self.max_answer, self.max_total = deadline, max_answer, max_total
        self._opener = urllib.request.build_opener(_KeepTokenOnSameHost(_origin(self.api), token))
        self._ends: float | None = None
        self._read = 0
        self._lock = threading.Lock()

    def get_json(self, path: str) -> object:
        url = f"{self.api}/repos/{self.repo.owner}/{self.repo.name}/{path}"
        request = urllib.request.Request(url, headers=self._headers())
        if self._token:
            request.add_unredirected_header("Authorization", f"Bearer {self._token}")
        try:
            with self._opener.open(request, timeout=min(TIMEOUT_SECONDS, self._left(url))) as response:
                body = self._body(url, response)
        except urllib.error.HTTPError as error:
            raise SyncError(_http_failure(url, error)) from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise SyncError(f"cannot reach {self.api} ({reason})") from None
        except http.client.HTTPException as error:  # a cut-off or malformed answer (IncompleteRead, bad status line)
            raise SyncError(f"{url}: broken HTTP answer ({type(error).__name__})") from None
        try:
            return json.loads(body)
        except (ValueError, RecursionError):  # RecursionError: JSON nested deeper than Python's stack
            raise SyncError(f"{url} did not answer JSON") from None

    def _left(self, url: str) -> float:
        """Seconds left before the sync's deadline; SyncError once it has passed."""
        now = time.monotonic()
        with self._lock:
            if self._ends is None:
                self._ends = now + self.deadline
            left = self._ends - now
        if left <= 0:
            raise SyncError(f"the sync took longer than {self.deadline:g} s (reading {url}); try again later")
        return left

    def _body(self, url: str, response: http.client.HTTPResponse) -> bytes:
        """The answer's bytes, read in chunks within the caps and the deadline."""
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.max_answer:
            raise SyncError(f"{url}: the answer is {int(length):,} bytes, over the {self.max_answer:,}-byte limit")
        chunks, size = [], 0
        while chunk := response.read1(_READ_CHUNK):
            size += len(chunk)
            if size > self.max_answer:
                raise SyncError(f"{url}: the answer is over the {self.max_answer:,}-byte limit")
            with self._lock:
                self._read += len(chunk)
                total = self._read
            if total > self.max_total:
                raise SyncError(f"the site sent over {self.max_total:,} bytes in one sync (reading {url})")
            self._left(url)
            chunks.append(chunk)
        if length.isdigit() and size != int(length):
            raise SyncError(f"{url}: the answer was cut off at {size:,} of {int(length):,} bytes")
        return b"".join(chunks)

    def _headers(self) -> dict[str, str]:
        return {
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "User-Agent": "ask-the-author-sync",
        }

    def folder(self, name: str) -> dict[str, str]:
        """File name -> blob SHA of the files directly in a top-level folder of the repository at its ref.

        Names are as the site sent them (check them with `safe_name`); a listing that is not one is a SyncError.
        """
        root = self._tree(self.repo.ref)
        sha = next((e["sha"] for e in root if e["path"] == name and e.get("type") == "tree"), None)
        if sha is None:
            raise SyncError(f"{self.repo} has no {name}/ folder")
        return {e["path"]: e["sha"] for e in self._tree(sha) if e.get("type") == "blob"}

    def _tree(self, ref: str) -> list[dict]:
        tree = self.get_json(f"git/trees/{urllib.parse.quote(ref, safe='')}")
        if not isinstance(tree, dict) or not isinstance(tree.get("tree"), list):
            raise SyncError(f"the tree {ref} of {self.repo} is not a git tree listing")
        entries = tree["tree"]
        for entry in entries:
            path, sha = (entry.get("path"), entry.get("sha")) if isinstance(entry, dict) else (None, None)
            if not (isinstance(path, str) and isinstance(sha, str) and _SHA.fullmatch(sha)):
                raise SyncError(f"the tree {ref} of {self.repo} has a malformed entry: {_shown(entry)}")
        return entries

    def blob(self, sha: str) -> bytes:
        """A file's bytes by its blob SHA, checked against it; SyncError if the download does not match."""
        blob = self.get_json(f"git/blobs/{sha}")
        try:
            content = base64.b64decode(blob["content"]) if blob.get("encoding") == "base64" else None
        except (AttributeError, KeyError, TypeError, binascii.Error):
            content = None
        if content is None or git_blob_sha(content) != sha:
            raise DamagedDownload(f"the download does not match its blob SHA {sha}")
        return content


def _http_failure(url: str, error: urllib.error.HTTPError) -> str:
    """One line for an HTTP error: a rate limit says when it resets and how to raise it."""
    headers = error.headers or {}
    if error.code == 429 or (error.code == 403 and headers.get("X-RateLimit-Remaining") == "0"):
        reset = headers.get("X-RateLimit-Reset", "")
        try:
            when = f" until {dt.datetime.fromtimestamp(int(reset), dt.UTC):%H:%M} UTC" if reset.isdigit() else ""
        except (OverflowError, OSError, ValueError):  # a reset time no calendar holds
            when = ""
        return (
            f"GitHub's API rate limit is used up{when} (HTTP {error.code}); "
            f"set ${TOKEN_ENV} to a token for a higher limit, or try again later"
        )
    return f"GET {url}: HTTP {error.code} {error.reason}"


def sync(data: Path, github: GitHub) -> SyncReport:
    """Bring the archives in `data` up to date with the repository; SyncError (nothing changed) if it cannot be read.

    Every changed file is downloaded before any is written, so a sync cut off midway changes nothing.
    """
    data = Path(data)
    if not data.is_dir():
        raise SyncError(f"{data}: archive folder does not exist")
    listed = {name: sha for name, sha in github.folder(BOOKS).items() if not name.startswith("_")}  # not templates
    remote = {name: sha for name, sha in listed.items() if safe_name(name)}
    local = {path.name: git_blob_sha(path.read_bytes()) for path in archive_paths([data])}
    report = SyncReport(
        kept=sorted(Path(n).stem for n, sha in remote.items() if local.get(n) == sha),
        local_only=sorted(Path(n).stem for n in set(local) - set(remote)),
        refused=sorted(_shown(name) for name in listed if name not in remote),
    )
    wanted = sorted(name for name, sha in remote.items() if local.get(name) != sha)
    downloads = _download(github, [remote[name] for name in wanted])
    people = load_people(data / PEOPLE_FILE) if (data / PEOPLE_FILE).is_file() else {}
    staging = Path(tempfile.mkdtemp(prefix=".sync-", dir=data))
    try:
        checked: dict[str, Path] = {}
        slugs: set[str] = set()
        for name, content in zip(wanted, downloads, strict=False):
            if isinstance(content, DamagedDownload):
                report.failed.append(f"{Path(name).stem}: {content}")
                continue
            staged = staging / name  # a safe name: one component, inside the staging folder in data/
            staged.write_bytes(content)
            try:
                book = read_archive(staged)
            except ArchiveError as error:
                staged.unlink()
                report.failed.append(f"{Path(name).stem}: {str(error).replace(str(staging), str(data))}")
                continue
            checked[name] = staged
            slugs |= {author for author in book.authors if " " not in author.strip() and author not in people}
        report.people = _display_names(github, sorted(slugs)) if slugs else {}
        for name, path in checked.items():
            (report.changed if name in local else report.added).append(Path(name).stem)
            _fsync(path)
            os.replace(path, data / name)
        if report.people:
            _add_people(data / PEOPLE_FILE, report.people, staging)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _download(github: GitHub, shas: Sequence[str]) -> list[bytes | DamagedDownload]:
    """Each blob's bytes, or the error of a damaged one; SyncError at once when the site cannot be read."""

    def fetch(sha: str) -> bytes | DamagedDownload:
        try:
            return github.blob(sha)
        except DamagedDownload as error:
            return error

    with ThreadPoolExecutor(DOWNLOADS_AT_ONCE) as pool:
        return list(pool.map(fetch, shas))


def _display_names(github: GitHub, slugs: Sequence[str]) -> dict[str, str]:
    """Slug -> the `title:` of `_people/<slug>.md`, for the slugs the site has a page for."""
    pages = {name: sha for name, sha in github.folder(PEOPLE).items() if safe_name(name)}
    names = {}
    for slug in slugs:
        sha = pages.get(f"{slug}.md")
        try:
            title = _front_matter_title(github.blob(sha)) if sha else None
        except DamagedDownload:
            title = None  # left unresolved: the next build names the slug
        if title:
            names[slug] = title
    return names


def _front_matter_title(page: bytes) -> str | None:
    """The `title:` of a Markdown page's YAML front matter; None when it has none."""
    match = re.match(rb"---\r?\n(.*?)\r?\n---", page, re.DOTALL)
    try:
        front = yaml.safe_load(match.group(1).decode("utf-8")) if match else None
    except (UnicodeDecodeError, yaml.YAMLError, RecursionError):  # RecursionError: a title nested 50k deep
        return None
    title = front.get("title") if isinstance(front, dict) else None
    if not isinstance(title, str) or not title.strip() or len(title) > MAX_NAME_CHARS:
        return None
    return None if any(not c.isprintable() for c in title.strip()) else title.strip()


def _add_people(path: Path, names: dict[str, str], staging: Path) -> None:
    """Append slug: name lines to the people map, replacing it in one rename."""
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if text and not text.endswith("\n"):
        text += "\n"
    new = staging / PEOPLE_FILE
    new.write_text(text + yaml.safe_dump(names, allow_unicode=True, sort_keys=False), encoding="utf-8")
    _fsync(new)
    os.replace(new, path)


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m assistant.sync",
        description="Download the Book-of-the-Week archives added or changed on the DataTalks.Club website "
        "into data/, then rebuild the index. $GITHUB_TOKEN, when set, raises GitHub's rate limit.",
    )
    parser.add_argument("--repo", default=DEFAULT_REPO, help=f"OWNER/NAME[@REF] (default: {DEFAULT_REPO})")
    parser.add_argument("--api", default=DEFAULT_API, metavar="URL", help=f"GitHub's API or a mirror ({DEFAULT_API})")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, metavar="DIR", help="archive folder (data/)")
    parser.add_argument(
        "--index", type=Path, default=default_index_path(), metavar="DIR", help="index to rebuild (index/)"
    )
    parser.add_argument("--no-build", action="store_true", help="do not rebuild the index afterwards")
    config.add_verbosity_arguments(parser)
    return parser


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = config.parse(build_parser(), "sync", argv)
    setup_logging(config.verbosity(args))
    try:
        github = GitHub(Repo.parse(args.repo), args.api, os.environ.get(TOKEN_ENV))
        report = sync(args.data, github)
    except (SyncError, ValueError) as error:
        print(f"error: {error}; {args.data} is unchanged", file=sys.stderr)
        return exit_code(error)
    print(f"Synced {args.data} with {github.repo}:\n{report}", flush=True)
    if not args.no_build:
        status = _rebuild(args.data, args.index)
        if status:
            return status
    return EXIT_SOME_FAILED if report.failed or report.refused else EXIT_OK


def _rebuild(data: Path, index: Path) -> int:
    """Rebuild the index from what it was built with (plus `data`) when the sync made it stale."""
    from assistant.indexing.store import build_inputs, ensure_index

    inputs = build_inputs(index)
    if data.resolve() not in {folder.resolve() for folder in inputs.data}:
        inputs = dataclasses.replace(inputs, data=(*inputs.data, data))
    ensure_index(inputs, index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
