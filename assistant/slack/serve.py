"""Connecting the Slack app: over Socket Mode (it dials Slack), or over HTTP (Slack POSTs to /slack/events).

Over HTTP, Bolt checks every request's signature and timestamp against the signing secret and answers 401 to a
bad or stale one. Dispatch runs on a worker thread, so the event loop keeps accepting requests. The same port
serves /healthz and /metrics (assistant.health); in Socket Mode, a server of its own serves just those.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from assistant.serving import RunningServer, listen, start_in_thread

EVENTS_PATH = "/slack/events"


def http_app(app: App, routes: Sequence[BaseRoute] = ()) -> Starlette:
    """An ASGI app passing POST /slack/events to Bolt (the Request URL for commands, events and interactivity),
    plus `routes` (/healthz and /metrics)."""

    async def events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"]), *routes])


def _server(asgi: Starlette, host: str, port: int, path: str) -> tuple[uvicorn.Server, socket.socket, str]:
    """A server bound before it runs, so a busy port is an OSError naming it; its URL + `path`."""
    listener, url = listen(host, port)
    config = uvicorn.Config(asgi, proxy_headers=False, log_level="warning", timeout_graceful_shutdown=2)
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
