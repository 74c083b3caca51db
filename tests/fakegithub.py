"""A loopback stand-in for the GitHub REST endpoints `assistant.sync` reads: git trees and git blobs."""

from __future__ import annotations

import base64
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from assistant.sync import git_blob_sha

OWNER, NAME = "DataTalksClub", "datatalksclub.github.io"


@dataclass
class FakeRepo:
    """The files of one repository by path (`_books/x.md`), and how the fake misbehaves."""

    files: dict[str, bytes] = field(default_factory=dict)
    damaged: set[str] = field(default_factory=set)  # paths whose blob is served with other bytes than its SHA's
    rate_limited: set[str] = field(default_factory=set)  # "trees" and/or "blobs": answered 403, no requests left
    requests: list[str] = field(default_factory=list)  # every path asked for, in order
    tokens: list[str | None] = field(default_factory=list)  # the Authorization header of each request

    def blobs(self) -> dict[str, bytes]:
        return {git_blob_sha(content): content for content in self.files.values()}

    def tree(self, sha: str) -> list[dict] | None:
        """The listing of the root (any ref) or of a folder, whose fake SHA is `tree:<folder>`."""
        folders = sorted({path.split("/")[0] for path in self.files})
        if not sha.startswith("tree:"):
            return [{"path": folder, "type": "tree", "sha": f"tree:{folder}", "mode": "040000"} for folder in folders]
        prefix = sha.removeprefix("tree:") + "/"
        return [
            {"path": path.removeprefix(prefix), "type": "blob", "sha": git_blob_sha(content), "mode": "100644"}
            for path, content in sorted(self.files.items())
            if path.startswith(prefix)
        ]


def _handler(repo: FakeRepo) -> type[BaseHTTPRequestHandler]:
    base = f"/repos/{OWNER}/{NAME}/git/"

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            repo.requests.append(self.path)
            repo.tokens.append(self.headers.get("Authorization"))
            kind, _, key = self.path.removeprefix(base).partition("/")
            if not self.path.startswith(base) or kind not in ("trees", "blobs"):
                return self._send(404, {"message": "Not Found"})
            if kind in repo.rate_limited:
                headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1796000000"}
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
