"""A loopback stand-in for the GitHub REST endpoints `assistant.sync` reads: git trees and git blobs.

It can also be hostile, as `FakeRepo.hostile` says: redirect elsewhere, send endless, dripping, cut-off or
absurdly nested answers, or list entries that are not file names.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from assistant.sync import git_blob_sha

OWNER, NAME = "DataTalksClub", "datatalksclub.github.io"
MIRROR = "/mirror"  # a path prefix served as if it were not there, and never hostile: a redirect's same-host target


@dataclass
class FakeRepo:
    """The files of one repository by path (`_books/x.md`), and how the fake misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    damaged: set[str] = field(default_factory=set)  # paths whose blob is served with other bytes than its SHA's
    rate_limited: set[str] = field(default_factory=set)  # "trees" and/or "blobs": answered 403, no requests left
    requests: list[str] = field(default_factory=list)  # every path asked for, in order
    tokens: list[str | None] = field(default_factory=list)  # the Authorization header of each request
    extra_entries: list[dict] = field(default_factory=list)  # listed in every folder as they are: hostile entries
    rate_reset: str = "1796000000"  # X-RateLimit-Reset of a rate-limited answer
    # "trees" or "blobs" -> how to answer instead (one of the functions below), e.g. {"blobs": endless}
    hostile: dict[str, Callable[[BaseHTTPRequestHandler], None]] = field(default_factory=dict)

    def blobs(self) -> dict[str, bytes]:
        return {git_blob_sha(content): content for content in self.files.values()}

    def tree(self, sha: str) -> list[dict] | None:
        """The listing of the root (any ref) or of a folder, whose fake SHA is the SHA-1 of its name."""
        folders = {_tree_sha(path.split("/")[0]): path.split("/")[0] for path in self.files}
        if sha not in folders:
            return [{"path": name, "type": "tree", "sha": key, "mode": "040000"} for key, name in folders.items()]
        prefix = folders[sha] + "/"
        return [
            {"path": path.removeprefix(prefix), "type": "blob", "sha": git_blob_sha(content), "mode": "100644"}
            for path, content in sorted(self.files.items())
            if path.startswith(prefix)
        ] + self.extra_entries


def _tree_sha(folder: str) -> str:
    return hashlib.sha1(folder.encode()).hexdigest()


def _handler(repo: FakeRepo) -> type[BaseHTTPRequestHandler]:
    base = f"/repos/{OWNER}/{NAME}/git/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            repo.requests.append(self.path)
            repo.tokens.append(self.headers.get("Authorization"))
            path = self.path.removeprefix(MIRROR)
            kind, _, key = path.removeprefix(base).partition("/")
            if not path.startswith(base) or kind not in ("trees", "blobs"):
                return self._send(404, {"message": "Not Found"})
            if kind in repo.hostile and path == self.path:
                return repo.hostile[kind](self)
            if kind in repo.rate_limited:
                headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": repo.rate_reset}
                return self._send(403, {"message": "API rate limit exceeded"}, headers)
            if kind == "trees":
                return self._send(200, {"sha": key, "tree": repo.tree(key), "truncated": False})
            content = repo.blobs().get(key)
            if content is None:
                return self._send(404, {"message": "Not Found"})
            if any(git_blob_sha(repo.files[path]) == key for path in repo.damaged):
                content = content[: len(content) // 2]
            self._send(200, {"sha": key, "encoding": "base64", "content": base64.b64encode(content).decode()})

        def _send(self, status: int, body: dict, headers: dict[str, str] | None = None) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args) -> None:
            pass  # quiet: the requests are recorded in repo.requests

    return Handler


def redirect_to(url: str) -> Callable[[BaseHTTPRequestHandler], None]:
    """Answer 302 to the same path on another server (`url`)."""

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", url + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def huge(handler: BaseHTTPRequestHandler) -> None:
    """Announce a 200 MB answer and start sending it."""
    _stream(handler, {"Content-Length": str(200 * 1024 * 1024)}, chunk=b"x" * 65536, pause=0)


def endless(handler: BaseHTTPRequestHandler) -> None:
    """An answer with no length that never ends (until the client hangs up)."""
    _stream(handler, {}, chunk=b"x" * 65536, pause=0)


def drip(handler: BaseHTTPRequestHandler) -> None:
    """One byte every 0.1 s, for ever: each read succeeds, so only a deadline ends it."""
    _stream(handler, {}, chunk=b" ", pause=0.1)


def incomplete(handler: BaseHTTPRequestHandler) -> None:
    """Promise 1,000 bytes, send 10 and hang up."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    handler.wfile.write(b'{"tree": [')
    handler.close_connection = True


def deep_json(handler: BaseHTTPRequestHandler) -> None:
    """Valid JSON nested 200,000 deep."""
    body = b"[" * 200_000 + b"]" * 200_000
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _stream(handler: BaseHTTPRequestHandler, headers: dict[str, str], chunk: bytes, pause: float) -> None:
    handler.send_response(200)
    for name, value in headers.items():
        handler.send_header(name, value)
    handler.end_headers()
    handler.close_connection = True
    stop = threading.Event()
    try:
        while not stop.wait(pause):
            handler.wfile.write(chunk)
            handler.wfile.flush()
    except OSError:
        pass  # the client hung up: what a client with limits does


class FakeGitHub:
    """The fake API on a free 127.0.0.1 port, in a thread, for the duration of a `with` block."""

    def __init__(self, repo: FakeRepo):
        self.repo = repo
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(repo))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> FakeGitHub:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)

    def blob_requests(self) -> list[str]:
        return [path.rsplit("/", 1)[1] for path in self.repo.requests if "/git/blobs/" in path]
