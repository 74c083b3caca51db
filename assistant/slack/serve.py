"""The Slack app over HTTP: Slack POSTs signed requests to /slack/events, served by uvicorn.

Bolt checks every request's signature and timestamp against the signing secret and answers 401 to a
bad or stale one. Dispatch runs on a worker thread, so the event loop keeps accepting requests.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import uvicorn
from slack_bolt import App
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

EVENTS_PATH = "/slack/events"


def http_app(app: App) -> Starlette:
    """An ASGI app passing POST /slack/events to Bolt (the Request URL for commands, events and interactivity)."""

    async def events(request: Request) -> Response:
        bolt_request = to_bolt_request(request, await request.body())
        return to_starlette_response(await run_in_threadpool(app.dispatch, bolt_request))

    return Starlette(routes=[Route(EVENTS_PATH, events, methods=["POST"])])


@dataclass
class RunningServer:
    """The HTTP app serving in a background thread."""

    url: str  # where Slack sends requests, e.g. http://127.0.0.1:3000/slack/events
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _server(app: App, host: str, port: int) -> tuple[uvicorn.Server, socket.socket, str]:
    """A server bound before it runs, so a busy port is an OSError naming it."""
    listener = socket.create_server((host, port))
    config = uvicorn.Config(http_app(app), log_level="warning", timeout_graceful_shutdown=2)
    return uvicorn.Server(config), listener, f"http://{host}:{listener.getsockname()[1]}{EVENTS_PATH}"


def serve_http(app: App, host: str, port: int) -> None:
    """Serve until interrupted."""
    server, listener, url = _server(app, host, port)
    print(f"Ask the Author's Slack app takes requests on {url}", flush=True)
    server.run(sockets=[listener])


def start_http(app: App, host: str = "127.0.0.1", port: int = 0) -> RunningServer:
    """Serve in a background thread; returns once the server accepts requests."""
    server, listener, url = _server(app, host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the Slack app on {url} stopped while starting")
        thread.join(0.05)
    return RunningServer(url, server, thread)
