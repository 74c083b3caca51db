"""Serving an ASGI app with uvicorn on a socket bound first: in the foreground, or in a thread for tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_READ_SECONDS = 20.0  # to send a request's headers and body: a slow client is cut off after this


class SlowClientGuard(H11Protocol):
    """uvicorn's h11 protocol with one deadline for reading each request, headers and body together.

    uvicorn times out only idle keep-alive connections: a client that drips a header or sends half a body
    could hold a connection (and the app's body read) for ever. The clock starts when the connection opens
    or a request's first bytes arrive and stops once the request is read; if it runs out first, the
    connection is closed. `read_seconds` is a class attribute so tests can set it low.
    """

    read_seconds = REQUEST_READ_SECONDS

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self._read_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._read_timer = self.loop.call_later(self.read_seconds, self._too_slow)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self._watch()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._watch()  # a request pipelined behind this one may be half here

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        super().connection_lost(exc)

    def _reading(self) -> bool:
        """Whether a request has started arriving and is not yet complete."""
        state = self.conn.their_state
        return state is h11.SEND_BODY or (state is h11.IDLE and bool(self.conn.trailing_data[0]))

    def _watch(self) -> None:
        if not self._reading():
            self._stop_timer()
        elif self._read_timer is None:
            self._read_timer = self.loop.call_later(self.read_seconds, self._too_slow)

    def _stop_timer(self) -> None:
        if self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _too_slow(self) -> None:
        self._read_timer = None
        idle = self.conn.their_state is h11.IDLE and not self.conn.trailing_data[0]
        upgraded = self.transport.get_protocol() is not self  # a WebSocket now owns the connection
        if not upgraded and not self.transport.is_closing() and (idle or self._reading()):
            self.transport.close()


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
    """Bind before serving, so a busy port is an OSError naming it rather than a log line; the socket and its URL.

    The socket is made with proto IPPROTO_TCP, as asyncio's own listeners are: asyncio sets TCP_NODELAY
    only on accepted sockets whose proto says TCP, and without it every reused connection waited ~40 ms
    (Nagle's algorithm against the client's delayed ACK) for the second part of each response.
    """
    [(family, kind, proto, _, address), *_] = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    listener = socket.socket(family, kind, proto)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(address)
        listener.listen(socket.SOMAXCONN)
    except OSError:
        listener.close()
        raise
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
