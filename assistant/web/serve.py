"""Serve the page, the Gradio API, the MCP server and the JSON API on one loopback port by default."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported: no calls home

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402

from assistant.corpus.text import invalid_text  # noqa: E402
from assistant.searching.live import LiveSearcher, as_live  # noqa: E402
from assistant.searching.searcher import Searcher  # noqa: E402
from assistant.service.contract import RequestError  # noqa: E402
from assistant.service.health import Metrics, health_routes  # noqa: E402
from assistant.service.querylog import QueryLog  # noqa: E402
from assistant.service.ratelimit import RateLimit  # noqa: E402
from assistant.service.serving import RunningServer, SlowClientGuard, listen, start_in_thread  # noqa: E402
from assistant.web.api import api_routes, json_api  # noqa: E402
from assistant.web.guard import (  # noqa: E402
    DEFAULT_RATE_PER_MINUTE,
    LOOPBACK_NAMES,
    Guard,
    Policy,
    allowed_hosts,
    public_origin,
    trusted_proxies,
)
from assistant.web.page import build_page  # noqa: E402

STYLE = Path(__file__).with_name("style.css")
MAX_UPLOAD_BYTES = 1024  # the app takes no files: Gradio's upload route refuses anything bigger
# Soft's pale grey text and indigo-500 fall short of WCAG AA contrast (axe-core): darker shades of the same hues.
THEME = gr.themes.Soft(primary_hue="indigo", neutral_hue="slate").set(
    body_text_color_subdued="*neutral_600",
    block_label_text_color="*primary_700",
    block_title_text_color="*primary_700",
    button_primary_background_fill="*primary_600",
    button_primary_background_fill_hover="*primary_700",
)


@dataclass(frozen=True)
class Proxy:
    """How the app is reached from outside: its public address behind a reverse proxy, and the proxies trusted."""

    public_url: str | None = None  # 'https://ask.example.org': its host is served, its origin may call the API
    forwarded_allow_ips: Sequence[str] = ()  # proxies whose X-Forwarded-For names the client; none by default
    metrics_token: str | None = None  # lets /metrics answer beyond loopback

    def __post_init__(self):
        if self.public_url is not None:
            object.__setattr__(self, "public_url", public_origin(self.public_url))  # ValueError naming it
        trusted_proxies(self.forwarded_allow_ips)


def web_app(
    searcher: Searcher | LiveSearcher,
    log: QueryLog | None = None,
    *,
    hosts: frozenset[str] = LOOPBACK_NAMES,
    rate_limit: int | None = DEFAULT_RATE_PER_MINUTE,
    proxy: Proxy = Proxy(),
    url: str | None = None,
) -> FastAPI:
    """One ASGI app: the JSON API under /api, the Gradio page, its API and MCP server at /, /healthz and /metrics;
    searches logged to `log`.

    Every request passes the guard first: only `hosts` (and the public URL's host) are served, and with a log,
    each client may make `rate_limit` logged requests in any 60 seconds (None: no limit). Given a LiveSearcher,
    every request searches its current index, so a rebuild is served without a restart. `url`: the server's own
    address, where the MCP server runs its tools (else at the address each MCP request names, maybe the proxy's).
    """
    live = as_live(searcher)
    metrics = Metrics()
    metrics.watch(live, log)
    app = FastAPI(title="Ask the Author", docs_url=None, redoc_url=None, openapi_url=None)
    app.router.routes.extend(health_routes(live, log, metrics, proxy.metrics_token))
    router = json_api(live, log, metrics)
    app.include_router(router)
    page = build_page(live, log, metrics)
    app = gr.mount_gradio_app(
        app,
        page,
        path="",
        mcp_server=True,
        footer_links=["api"],
        theme=THEME,
        css_paths=[STYLE],
        max_file_size=MAX_UPLOAD_BYTES,
        root_path=proxy.public_url,  # the page calls its API here, whatever Host a bare proxy_pass sends
    )
    if url:
        page.mcp_server_obj._local_url = url  # as Blocks.launch sets it; a mounted app has none
    _send_mcp_results_as_json(page)
    _refuse_invalid_mcp_text(page)
    limit = RateLimit(rate_limit) if rate_limit and log is not None else None
    origins = frozenset({proxy.public_url} if proxy.public_url else ())
    if proxy.public_url:
        hosts = hosts | {urlsplit(proxy.public_url).hostname}
    policy = Policy(hosts, api_routes(router), limit, origins, trusted_proxies(proxy.forwarded_allow_ips),
                    metrics.refused)  # fmt: skip
    app.add_middleware(Guard, policy=policy)  # added last, so it runs first
    return app


def _send_mcp_results_as_json(page: gr.Blocks) -> None:
    """MCP clients get the answers as JSON text; Gradio's MCP server would send the Python repr of the list."""
    server = page.mcp_server_obj
    to_content = server.postprocess_output_data

    def as_json(data: list, root_url: str) -> list:
        outputs = [
            json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else value for value in data
        ]
        return to_content(outputs, root_url)

    server.postprocess_output_data = as_json


def _refuse_invalid_mcp_text(page: gr.Blocks) -> None:
    """An MCP argument holding a lone surrogate gets an error naming it; Gradio's own client would fail to encode
    it and send the raw UnicodeEncodeError back."""
    server = page.mcp_server_obj
    prepare = server._prepare_tool_call_args

    def checked(name: str, arguments: dict) -> tuple:
        for argument, value in arguments.items():
            problem = invalid_text(value, argument) if isinstance(value, str) else None
            if problem:
                raise RequestError(problem)
        return prepare(name, arguments)

    server._prepare_tool_call_args = checked


# h11 refuses a request line over 16 KB with a bare-text 400; read up to 2 MB so the JSON API
# answers an oversized question with its own JSON error.
MAX_REQUEST_BYTES = 2 * 1024 * 1024


def _server(
    searcher: Searcher | LiveSearcher,
    log: QueryLog | None,
    host: str,
    allowed: Sequence[str],
    rate_limit,
    proxy: Proxy,
    url: str,
) -> uvicorn.Server:
    hosts = allowed_hosts(host, allowed)
    wildcard = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}  # the server reaches itself on loopback
    if host in wildcard:
        url = url.replace(f"//{host}:", f"//{wildcard[host]}:", 1)
    config = uvicorn.Config(
        web_app(searcher, log, hosts=hosts, rate_limit=rate_limit, proxy=proxy, url=url),
        # The guard reads X-Forwarded-For, from trusted proxies only; uvicorn's own reading trusts 127.0.0.1.
        proxy_headers=False,
        log_level="warning",
        timeout_graceful_shutdown=2,
        h11_max_incomplete_event_size=MAX_REQUEST_BYTES,
        http=SlowClientGuard,  # a request not read within 20 s is cut off
    )
    return uvicorn.Server(config)


def serve(
    searcher: Searcher | LiveSearcher,
    host: str,
    port: int,
    log: QueryLog | None = None,
    *,
    allowed: Sequence[str] = (),
    rate_limit: int | None = DEFAULT_RATE_PER_MINUTE,
    proxy: Proxy = Proxy(),
) -> None:
    """Serve on host:port until interrupted, never through a public share link; `allowed`: more Host names."""
    listener, url = listen(host, port)
    print(f"Ask the Author is serving on {url}", flush=True)
    _server(searcher, log, host, allowed, rate_limit, proxy, url).run(sockets=[listener])


def start(
    searcher: Searcher | LiveSearcher,
    host: str,
    port: int = 0,
    log: QueryLog | None = None,
    *,
    allowed: Sequence[str] = (),
    rate_limit: int | None = DEFAULT_RATE_PER_MINUTE,
    proxy: Proxy = Proxy(),
) -> RunningServer:
    """Serve in a background thread; returns once the server accepts requests."""
    listener, url = listen(host, port)
    return start_in_thread(_server(searcher, log, host, allowed, rate_limit, proxy, url), listener, url)
