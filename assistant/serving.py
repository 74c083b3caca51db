"""Serving an ASGI app with uvicorn on a socket bound first: in the foreground, or in a thread for tests."""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass

import uvicorn


@dataclass
class RunningServer:
    """A server started in a background thread, as tests and benchmarks use it."""

    url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def listen(host: str, port: int) -> tuple[socket.socket, str]:
    """Bind before serving, so a busy port is an OSError naming it rather than a log line; the socket and its URL."""
    listener = socket.create_server((host, port))
    return listener, f"http://{host}:{listener.getsockname()[1]}/"


def start_in_thread(server: uvicorn.Server, listener: socket.socket, url: str) -> RunningServer:
    """Run the server on the bound socket in a background thread; returns once it accepts requests."""
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise OSError(f"the server on {url} stopped while starting")
        thread.join(0.05)
    return RunningServer(url, server, thread)
