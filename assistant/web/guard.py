"""The rules every request meets before the app sees it: who may ask, how, how much and how often.

One ASGI middleware in front of the JSON API, the page, the Gradio API and MCP:

- Host: only loopback names, the host the app serves on, and hosts given with `--allowed-host` (403
  otherwise), so a DNS-rebinding page cannot reach a loopback app under its own name.
- Cross-site: a browser request another site starts (`Sec-Fetch-Site: cross-site` or `same-site`, or an
  `Origin` that is not this app) may open the page, but not call an API or post anything (403), so no
  web page can fill the log or vote.
- Size: a body over its limit is a 413 before it is read (MAX_BODY_BYTES for /api/, MAX_PAGE_BODY_BYTES
  else); JSON nested over MAX_JSON_DEPTH is a 400; an address over MAX_LINK_CHARS is a 414.
- The JSON API: an unknown /api/ route is a 404, a wrong method a 405 (with Allow), a body that is not
  `application/json` a 415.
- Rate: with a query log, each client (IP address) may make DEFAULT_RATE_PER_MINUTE logged requests
  (every /api/ request and every POST to the Gradio API or MCP) in any 60 seconds; then a 429 with
  Retry-After.
- Proxies: the client is the connection's address, unless the connection comes from a trusted proxy
  (`--forwarded-allow-ips`; none by default): then it is the last address in `X-Forwarded-For` that is
  not a trusted proxy (a header over MAX_FORWARDED_CHARS is a 431, one that is not addresses a 400).
  A proxy's public origin (`--public-url`) may call the API even when the proxy sends `Host: 127.0.0.1`.

Every refusal is `{"error": ...}` naming the rule, quoting at most a bounded part of the request.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from assistant.service.contract import MAX_BODY_BYTES, MAX_JSON_DEPTH, error_response, json_depth, shown
from assistant.service.ratelimit import RateLimit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
ANY_HOST = "*"
MAX_PAGE_BODY_BYTES = 512 * 1024  # a Gradio call carries at most a 20,000-character question, JSON-escaped
MAX_LINK_CHARS = 32 * 1024  # the page's own links are under 13,000 (questions are cut to 1,000 characters)
API_PREFIX = "/api/"
_CROSS_SITE = {"cross-site", "same-site"}  # same-site: another port or subdomain, not this app
_SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
DEFAULT_RATE_PER_MINUTE = 300  # logged requests per client; a person searching never comes near it
MAX_FORWARDED_CHARS = 1024  # X-Forwarded-For from a trusted proxy: a chain of 20 IPv6 addresses fits

Scope = dict
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Policy:
    """What the guard lets through: the Host names served, the API's routes and methods, the rate limit."""

    allowed_hosts: frozenset[str]
    api_routes: Mapping[str, frozenset[str]] = field(default_factory=dict)  # path -> methods
    rate_limit: RateLimit | None = None
    allowed_origins: frozenset[str] = frozenset()  # origins besides the Host's own, as 'https://ask.example.org'
    proxies: tuple[Network, ...] = ()  # connections from these may name the client in X-Forwarded-For
    refused: Callable[[], None] = lambda: None  # called for each request the rate limit refuses


def trusted_proxies(spec: Iterable[str]) -> tuple[Network, ...]:
    """The networks in comma-separated addresses or ranges ('127.0.0.1,10.0.0.0/8'; '*': any); ValueError if not."""
    networks = []
    for entry in (part.strip() for item in spec for part in item.split(",")):
        if entry == ANY_HOST:
            networks += [ipaddress.ip_network("0.0.0.0/0"), ipaddress.ip_network("::/0")]
        elif entry:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                problem = f"{shown(entry)} is not an IP address or network (as 127.0.0.1 or 10.0.0.0/8)"
                raise ValueError(problem) from None
    return tuple(networks)


def public_origin(url: str) -> str:
    """'https://ask.example.org/' -> 'https://ask.example.org'; ValueError unless an http(s) site root."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
        raise ValueError(f"{shown(url)} is not a public address like https://ask.example.org")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"{shown(url)} must be the site's root, like https://ask.example.org, with no path")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def allowed_hosts(host: str, extra: Iterable[str] = ()) -> frozenset[str]:
    """The Host names to serve: loopback names, the host bound (unless a wildcard), and `extra` (`*`: any)."""
    names = set(LOOPBACK_NAMES) | {name.strip().lower().strip("[]") for name in extra if name.strip()}
    if host not in ("", "0.0.0.0", "::"):
        names.add(host.lower().strip("[]"))
    return frozenset(names)


def _host_name(host: str) -> str:
    """'LocalHost:7860' -> 'localhost', '[::1]:7860' -> '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class Guard:
    """ASGI middleware applying a Policy to every HTTP request."""

    def __init__(self, app: Callable, policy: Policy):
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client, refusal = self._client(scope)
        if refusal is None:
            scope = {**scope, "client": (client, (scope.get("client") or ("", 0))[1])}
            refusal = self._refusal(scope)
        if refusal is None and _has_body(scope):
            body, refusal = await self._read_body(scope, receive)
            if refusal is None:
                receive = _replay(body, receive)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _client(self, scope: Scope):
        """(the client's address, None), or (None, the refusal of a trusted proxy's malformed X-Forwarded-For).

        Only a connection from a trusted proxy may name the client, so no direct client can pick its own rate
        limit key; the proxy appends the address it saw, so the last untrusted address is the real client.
        """
        peer = (scope.get("client") or ("unknown", 0))[0]
        if not self._trusted(peer):
            return peer, None
        chain = [value.decode("latin-1") for name, value in scope["headers"] if name.lower() == b"x-forwarded-for"]
        chain_text = ",".join(chain)
        if len(chain_text) > MAX_FORWARDED_CHARS:
            message = f"X-Forwarded-For is {len(chain_text):,} characters long; the limit is {MAX_FORWARDED_CHARS:,}"
            return None, error_response(message, 431)
        entries = [entry.strip() for entry in chain_text.split(",") if entry.strip()]
        for entry in reversed(entries):
            try:
                address = ipaddress.ip_address(entry.strip("[]"))
            except ValueError:
                return None, error_response(f"X-Forwarded-For holds {shown(entry)}, not an IP address", 400)
            if not self._trusted(str(address)):
                return str(address), None
        return (entries[0].strip("[]") if entries else peer), None

    def _trusted(self, address: str) -> bool:
        if not self.policy.proxies:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.policy.proxies)

    def _refusal(self, scope: Scope):
        """The error response for a request the policy refuses from its head alone, or None."""
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        path, method = scope["path"], scope["method"]
        is_api = path.startswith(API_PREFIX)
        host = _host_name(headers.get("host", ""))
        if ANY_HOST not in self.policy.allowed_hosts and host not in self.policy.allowed_hosts:
            served = ", ".join(sorted(self.policy.allowed_hosts))
            return error_response(
                f"host {shown(host)} is not served here: this app answers to {served}"
                " (start it with --allowed-host NAME to add one)",
                403,
            )
        if len(scope.get("query_string", b"")) > MAX_LINK_CHARS and not is_api:
            return error_response(f"the address is too long; the limit is {MAX_LINK_CHARS:,} characters", 414)
        if (is_api or method not in _SAFE_METHODS) and _cross_site(headers, self.policy.allowed_origins):
            return error_response("cross-site requests may open the page, not call the API or post to it", 403)
        if is_api:
            methods = self.policy.api_routes.get(path)
            if methods is None:
                routes = ", ".join(sorted(self.policy.api_routes))
                return error_response(f"no route {shown(path)}; the JSON API has {routes}", 404)
            if method not in methods:
                allowed = ", ".join(sorted(methods))
                return error_response(f"{path} takes {allowed}, not {shown(method)}", 405, {"Allow": allowed})
            if _has_body(scope) and _media_type(headers) != "application/json":
                return error_response(f"{path} takes its body as application/json", 415)
        limit = self._body_limit(scope)
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > limit:
            return error_response(f"the body is {int(length):,} bytes; the limit is {limit:,}", 413)
        if self.policy.rate_limit is not None and (is_api or (method == "POST" and path.startswith("/gradio_api/"))):
            return self._rate(scope)
        return None

    def _body_limit(self, scope: Scope) -> int:
        return MAX_BODY_BYTES if scope["path"].startswith(API_PREFIX) else MAX_PAGE_BODY_BYTES

    async def _read_body(self, scope: Scope, receive: Receive):
        """The whole body, read up to its limit; or the 413 / 400 refusing it."""
        limit, chunks, size = self._body_limit(scope), [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", None  # the client went away: let the app see that
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                return b"", error_response(f"the body is over {limit:,} bytes, the limit", 413)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if b"json" in dict(scope["headers"]).get(b"content-type", b"") and json_depth(body) > MAX_JSON_DEPTH:
            return body, error_response(f"the body is JSON nested more than {MAX_JSON_DEPTH} deep", 400)
        return body, None

    def _rate(self, scope: Scope):
        """A 429 when the client has made its logged requests for the last 60 seconds; else None (and counted)."""
        limit = self.policy.rate_limit
        wait = limit.wait((scope.get("client") or ("unknown", 0))[0])
        if not wait:
            return None
        self.policy.refused()
        retry = max(1, math.ceil(wait))
        return error_response(
            f"too many requests: at most {limit.per_minute} searches and votes a minute per client; "
            f"try again in {retry} s",
            429,
            {"Retry-After": str(retry)},
        )


def _has_body(scope: Scope) -> bool:
    return scope["method"] not in _SAFE_METHODS


def _media_type(headers: Mapping[str, str]) -> str:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower()


def _cross_site(headers: Mapping[str, str], allowed_origins: frozenset[str]) -> bool:
    """Whether a browser says another site (or another port: 'same-site') made this request.

    An allowed origin is this app's public address behind a proxy, which may send `Host: 127.0.0.1:7860`.
    """
    if headers.get("sec-fetch-site", "").lower() in _CROSS_SITE:
        return True
    origin = headers.get("origin")
    if origin is None or origin.strip().lower().rstrip("/") in allowed_origins:
        return False
    return urlsplit(origin).netloc.lower() != headers.get("host", "").lower()


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive callable giving the app the body the guard already read, then the server's own messages."""
    sent = False

    async def replay() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # waits for the client to go away, as a streaming response expects

    return replay
