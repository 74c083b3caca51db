"""Slow clients (issue 25, row 8): both servers cut off a request whose headers or body do not arrive in time.

Raw sockets send part of a request (or drip it) and wait for the server to close the connection: the
test waits on the socket's end, and a server that never closes fails it at the socket's timeout.
"""

from __future__ import annotations

import select
import socket
import time
from urllib.parse import urlsplit

import pytest
from slack_sdk import WebClient

from assistant.service.serving import SlowClientGuard
from assistant.slack.bot import build_app
from assistant.slack.serve import start_http
from assistant.web.serve import start
from slackfakes import FakeSlack

READ_SECONDS = 1.0  # the servers' deadline in these tests (20 s when serving)
GIVE_UP_S = 30  # the bound: a connection still open after this has not been cut off


@pytest.fixture(scope="module")
def servers(fake_seed_searcher):
    """The web app and the Slack app over HTTP, on loopback: name -> (host, port, path)."""
    fake = FakeSlack()
    slack_app = build_app(lambda: fake_seed_searcher, None, client=WebClient(token="xoxb-t", base_url=f"{fake.url}/"),
                          signing_secret="s" * 32)  # fmt: skip
    web, slack = start(fake_seed_searcher, "127.0.0.1", rate_limit=None), start_http(slack_app)
    yield {name: _address(server.url) for name, server in (("web", web), ("slack", slack))}
    web.stop()
    slack.stop()
    fake.server.shutdown()


@pytest.fixture(autouse=True)
def quick_deadline(monkeypatch):
    monkeypatch.setattr(SlowClientGuard, "read_seconds", READ_SECONDS)


def _address(url: str) -> tuple[str, int, str]:
    parts = urlsplit(url)
    return parts.hostname, parts.port, parts.path if parts.path != "/" else "/api/feedback"


def _closed_after(connection: socket.socket, drip: bytes = b"") -> float:
    """Seconds until the server hangs up, reading what it sends and sending `drip` a byte at a time meanwhile."""
    started = time.monotonic()
    connection.settimeout(GIVE_UP_S)
    while time.monotonic() - started < GIVE_UP_S:
        readable, _, _ = select.select([connection], [], [], 0.2 if drip else GIVE_UP_S)
        if readable:
            try:
                if not connection.recv(65536):
                    return time.monotonic() - started
            except ConnectionResetError:
                return time.monotonic() - started
        elif drip:
            try:
                connection.sendall(drip[:1])
            except OSError:
                return time.monotonic() - started
            drip = drip[1:] or b"X"
    raise AssertionError(f"the server kept the connection open {GIVE_UP_S} s")


PARTIAL = {
    "nothing": "",
    "half a header": "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty",
    "half a body": "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    'Content-Length: 100\r\n\r\n{{"query_id": ',
}


@pytest.mark.parametrize("server", ["web", "slack"])
@pytest.mark.parametrize("sent", list(PARTIAL))
def test_a_partial_request_is_cut_off(servers, server, sent):
    host, port, path = servers[server]
    connections = [socket.create_connection((host, port)) for _ in range(5)]
    try:
        for connection in connections:
            connection.sendall(PARTIAL[sent].format(path=path).encode())
        assert max(_closed_after(connection) for connection in connections) < GIVE_UP_S
    finally:
        for connection in connections:
            connection.close()


@pytest.mark.parametrize("server", ["web", "slack"])
def test_a_header_dripped_a_byte_at_a_time_is_cut_off(servers, server):
    host, port, path = servers[server]
    with socket.create_connection((host, port)) as connection:
        head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        assert _closed_after(connection, drip=head + b"X-Drip: " + b"x" * 1000) < GIVE_UP_S


@pytest.mark.parametrize("server", ["web", "slack"])
def test_a_request_in_time_is_answered_and_the_connection_kept(servers, server):
    host, port, path = servers[server]
    with socket.create_connection((host, port), timeout=GIVE_UP_S) as connection:
        reader = connection.makefile("rb")
        for _ in range(2):  # kept alive: the second request on the same connection is answered too
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
            assert reader.readline().startswith(b"HTTP/1.1 405 ")  # POST only: the request was read
            headers = dict(line.split(b":", 1) for line in iter(reader.readline, b"\r\n"))
            reader.read(int(headers[b"content-length"]))
