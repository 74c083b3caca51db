"""Connecting the Slack app: over Socket Mode (it dials Slack), or over HTTP (Slack POSTs to /slack/events).

Over HTTP, Bolt checks every request's signature and timestamp against the signing secret and answers 401 to a
bad or stale one. Dispatch runs on a worker thread, so the event loop keeps accepting requests.
"""

from __future__ import annotations

import socket

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from assistant.serving import RunningServer, listen, start_in_thread

EVENTS_PATH = "/slack/events"


def http_app(app: App) -> Starlette:
    """An ASGI app passing POST /slack/events to Bolt (the Request URL for commands, events and interactivity)."""

    async def events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"])])


def _server(app: App, host: str, port: int) -> tuple[uvicorn.Server, socket.socket, str]:
    """A server bound before it runs, so a busy port is an OSError naming it; the URL Slack posts to."""
    listener, url = listen(host, port)
    config = uvicorn.Config(http_app(app), log_level="warning", timeout_graceful_shutdown=2)
    return uvicorn.Server(config), listener, url.rstrip("/") + EVENTS_PATH


def serve_http(app: App, host: str, port: int) -> None:
    """Serve until interrupted."""
    server, listener, url = _server(app, host, port)
    print(f"Ask the Author's Slack app takes requests on {url}", flush=True)
    server.run(sockets=[listener])


def start_http(app: App, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve in a background thread; returns once the server accepts requests at its URL (…/slack/events)."""
    return start_in_thread(*_server(app, host, port))


def socket_mode(app: App, app_token: str) -> SocketModeHandler:
    """The app's Socket Mode connection (`.start()` runs it until interrupted): Slack's WebSocket address comes from
    apps.connections.open through the app's own Web API client; no public address is needed."""
    return SocketModeHandler(app, app_token)
