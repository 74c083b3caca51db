"""Slack on loopback for the Slack app's tests: its Web API and response URLs over HTTP, and a Socket Mode WebSocket."""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl

WAIT_S = 120  # how long to wait for something that is coming: a limit on a hung test, not a speed assertion
_WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class FakeSlack:
    """Slack's Web API and response URLs on loopback: records every POST and answers ok."""

    def __init__(self, answers: dict[str, dict] | None = None):
        self.posts: list[tuple[str, dict, dict]] = []  # (path, body, headers)
        self.answers = answers or {}  # extra fields of the answer to a path, e.g. a Socket Mode URL
        self._changed = threading.Condition()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                is_json = self.headers.get("Content-Type", "").startswith("application/json")
                body = json.loads(raw) if is_json else dict(parse_qsl(raw))
                with fake._changed:
                    fake.posts.append((self.path, body, dict(self.headers)))
                    fake._changed.notify_all()
                answer = {"ok": True, "url": "https://dtc.slack.example/", "team": "DTC", "user": "ask",
                          "team_id": "T1", "user_id": "U0BOT", "bot_id": "B0BOT", "ts": "1700000001.000200",
                          "channel": body.get("channel", "C1")} | fake.answers.get(self.path, {})  # fmt: skip
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, path: str, count: int = 1) -> list[dict]:
        """The bodies of the first `count` posts to `path`, waiting for them to arrive."""
        with self._changed:
            arrived = self._changed.wait_for(lambda: len(self.bodies(path)) >= count, timeout=WAIT_S)
        assert arrived, f"expected {count} posts to {path}, got {self.posts}"
        return self.bodies(path)

    def bodies(self, path: str) -> list[dict]:
        return [body for posted, body, _ in list(self.posts) if posted == path]


class FakeSocketMode:
    """Slack's Socket Mode end on loopback: one WebSocket (RFC 6455, unencrypted) that says hello, sends the
    envelopes it is given and records what the app sends back, answering pings."""

    def __init__(self):
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"ws://127.0.0.1:{self._listener.getsockname()[1]}/link"
        self.received: list[dict] = []
        self._changed = threading.Condition()
        self._connection: socket.socket | None = None
        self._connected = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self._listener.accept()
        request = b""
        while b"\r\n\r\n" not in request:
            request += connection.recv(4096)
        key = next(line.split(":", 1)[1].strip() for line in request.decode().split("\r\n")
                   if line.lower().startswith("sec-websocket-key:"))  # fmt: skip
        accept = base64.b64encode(hashlib.sha1((key + _WEBSOCKET_GUID).encode()).digest()).decode()
        connection.sendall(f"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode())  # fmt: skip
        self._connection = connection
        self.send({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        self._connected.set()
        reader = connection.makefile("rb")
        while True:
            head = reader.read(2)
            if len(head) < 2:
                return
            opcode, length = head[0] & 0x0F, head[1] & 0x7F
            if length == 126:
                length = struct.unpack("!H", reader.read(2))[0]
            elif length == 127:
                length = struct.unpack("!Q", reader.read(8))[0]
            mask = reader.read(4) if head[1] & 0x80 else b"\0\0\0\0"
            data = bytes(b ^ mask[i % 4] for i, b in enumerate(reader.read(length)))
            if opcode == 0x9:
                self._frame(0xA, data)  # pong
            elif opcode == 0x8:
                return
            elif opcode == 0x1:
                with self._changed:
                    self.received.append(json.loads(data))
                    self._changed.notify_all()

    def _frame(self, opcode: int, data: bytes) -> None:
        size = len(data)
        length = bytes([size]) if size < 126 else (bytes([126]) + struct.pack("!H", size) if size < 65536
                                                  else bytes([127]) + struct.pack("!Q", size))  # fmt: skip
        self._connection.sendall(bytes([0x80 | opcode]) + length + data)

    def send(self, message: dict) -> None:
        """Send a text frame holding the message as JSON, once the app has connected."""
        if message.get("type") != "hello":
            assert self._connected.wait(WAIT_S), "the app never connected"
        self._frame(0x1, json.dumps(message).encode())

    def wait_for_ack(self, envelope_id: str) -> dict:
        """The app's acknowledgement of an envelope, waiting for it."""
        with self._changed:
            acked = self._changed.wait_for(
                lambda: any(m.get("envelope_id") == envelope_id for m in self.received), timeout=WAIT_S
            )
        assert acked, f"envelope {envelope_id} was never acknowledged: {self.received}"
        return next(m for m in self.received if m.get("envelope_id") == envelope_id)

    def close(self) -> None:
        self._listener.close()
        if self._connection is not None:
            self._connection.close()
