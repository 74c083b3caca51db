"""Connecting the Slack app: over Socket Mode (it dials Slack), or over HTTP (Slack POSTs to /slack/events).

Over HTTP, every request's signature and timestamp are checked against the signing secret before anything of it is
parsed: a request without them is a 401 before its body is read, a body over MAX_BODY_BYTES a 413 without reading
more, and a bad or stale signature a 401. Only then does Bolt see it. Dispatch runs on a worker thread, so the event
loop keeps accepting requests. The same port serves /healthz and /metrics (assistant.service.health); in Socket Mode, a
server of its own serves just those.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Sequence

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from assistant.service.serving import RunningServer, SlowClientGuard, listen, start_in_thread

EVENTS_PATH = "/slack/events"
MAX_BODY_BYTES = 256 * 1024  # Slack's largest posts (a click on a message of answers) are tens of KB
MAX_CLOCK_SKEW_SECONDS = 5 * 60  # Slack's own rule: an older timestamp is a replay
_TIMESTAMP = re.compile(r"\d{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
log_refusals = logging.getLogger("assistant.slack")


class Refused(Exception):
    """A request answered without reaching Bolt: its status and a short reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


def http_app(app: App, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """An ASGI app passing POST /slack/events to Bolt (the Request URL for commands, events and interactivity),
    plus `routes` (/healthz and /metrics)."""
    # Bolt keeps the secret it checks with; reading it here lets the check come before Bolt parses anything.
    verifier = SignatureVerifier(app._signing_secret)

    async def events(request: Request) -> Response:
        try:
            body = await _signed_body(request, verifier)
        except Refused as refused:
            # Connection: close, so the server hangs up rather than reading (and dropping) the rest of the body.
            return PlainTextResponse(str(refused), status_code=refused.status, headers={"Connection": "close"})
        try:
            bolt_request = to_bolt_request(request, body)
            return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))
        except Exception:  # a signed request Bolt cannot take: Slack's side sent something new
            log_refusals.exception("a signed Slack request could not be handled")
            return PlainTextResponse("malformed request", status_code=400)

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"]), *routes])


async def _signed_body(request: Request, verifier: SignatureVerifier) -> bytes:
    """The body of a request Slack signed, read only after its headers pass and at most MAX_BODY_BYTES of it."""
    timestamp = request.headers.get("x-slack-request-timestamp", "")
    signature = request.headers.get("x-slack-signature", "")
    if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
        raise Refused(401, "unsigned request")
    if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
        raise Refused(401, "stale request")
    length = request.headers.get("content-length", "")
    if length and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
        raise Refused(413, f"request body over {MAX_BODY_BYTES} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise Refused(413, f"request body over {MAX_BODY_BYTES} bytes")
    if not verifier.is_valid(bytes(body), timestamp, signature):
        raise Refused(401, "invalid signature")
    return bytes(body)


def _server(asgi: Starlette, host: str, port: int, path: str) -> tuple[uvicorn.Server, socket.socket, str]:
    """A server bound before it runs, so a busy port is an OSError naming it; its URL + `path`."""
    listener, url = listen(host, port)
    config = uvicorn.Config(
        asgi, proxy_headers=False, log_level="warning", timeout_graceful_shutdown=2, http=SlowClientGuard
    )
    return uvicorn.Server(config), listener, url.rstrip("/") + path


def serve_http(app: App, host: str, port: int, routes: Sequence[BaseRoute] = ()) -> None:
    """Serve until interrupted."""
    server, listener, url = _server(http_app(app, routes), host, port, EVENTS_PATH)
    print(f"Ask the Author's Slack app takes requests on {url}", flush=True)
    server.run(sockets=[listener])


def start_http(app: App, host: str = "127.0.0.1", port: int = 0, routes: Sequence[BaseRoute] = ()) -> RunningServer:
    """Serve in a background thread; returns once the server accepts requests at its URL (…/slack/events)."""
    return start_in_thread(*_server(http_app(app, routes), host, port, EVENTS_PATH))


def start_health(routes: Sequence[BaseRoute], host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve just `routes` (/healthz and /metrics) in a background thread, as Socket Mode has no server of its own."""
    return start_in_thread(*_server(Starlette(routes=list(routes)), host, port, "/"))


def socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """The app's Socket Mode connection (`.start()` runs it until interrupted): Slack's WebSocket address comes from
    apps.connections.open through the app's own Web API client; no public address is needed."""
    return SocketModeHandler(app, app_token)
