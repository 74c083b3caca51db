"""The app behind Debian's real nginx running deploy/nginx.conf over HTTPS (issue 24 part 3), all on loopback.

The shipped config is rendered for the test (its ports, host name and certificate paths replaced, every one
checked to be there) and nginx runs unprivileged from a temporary folder. The app serves the seed index built
with the fake model, with `--public-url https://localhost:PORT` and nginx on 127.0.0.1 trusted. Clients reach
nginx from distinct loopback addresses (127.0.0.2, 127.0.0.3), so nginx sees distinct visitors. A second
server block is a bare `proxy_pass`, which sends `Host: 127.0.0.1:APP_PORT` and nothing else.
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
from gradio_client import Client

from assistant.service.querylog import QueryLog
from assistant.web.serve import Proxy, start
from helpers import REPO
from load import free_port

NGINX = Path("/usr/sbin/nginx")
CONFIG = REPO / "deploy" / "nginx.conf"
QUESTION = "Should startups do MLOps?"
RATE = 30  # logged requests per visitor a minute: well above what the other tests send from one address
MCP_HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}


def render(template: str, *, app_port: int, https_port: int, http_port: int, cert: Path, key: Path) -> str:
    """deploy/nginx.conf for loopback: every placeholder replaced, and each one must be in the shipped file."""
    replacements = [
        ("/etc/letsencrypt/live/ask.example.org/fullchain.pem", str(cert)),
        ("/etc/letsencrypt/live/ask.example.org/privkey.pem", str(key)),
        ("ask.example.org", "localhost"),
        ("server 127.0.0.1:7860;", f"server 127.0.0.1:{app_port};"),
        ("listen 80;\n    listen [::]:80;", f"listen 127.0.0.1:{http_port};"),
        ("listen 443 ssl http2;\n    listen [::]:443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
    ]
    for placeholder, value in replacements:
        assert placeholder in template, f"deploy/nginx.conf no longer holds {placeholder!r}"
        template = template.replace(placeholder, value)
    return template


def _main_config(folder: Path, site: Path, bare_port: int, app_port: int) -> str:
    """nginx.conf around the site: pid, logs and temp files in `folder`; plus a bare proxy_pass on bare_port."""
    kinds = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    temp = "\n".join(f"    {kind}_temp_path {folder / kind};" for kind in kinds)
    return f"""daemon off;
worker_processes 1;
pid {folder / "nginx.pid"};
error_log {folder / "error.log"} warn;
events {{ worker_connections 256; }}
http {{
    access_log off;
{temp}
    include {site};
    server {{
        listen 127.0.0.1:{bare_port};
        location / {{ proxy_pass http://127.0.0.1:{app_port}; }}
    }}
}}
"""


def _certificate(folder: Path) -> tuple[Path, Path]:
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
         "-keyout", str(key), "-out", str(cert), "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _wait_for_port(port: int, process: subprocess.Popen, errors: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"nginx exited with {process.returncode}: {errors.read_text() if errors.exists() else ''}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    pytest.fail(f"nginx did not listen on {port} within 60 s")


class Stack:
    """nginx in front of the app: where to reach each, and the certificate to trust."""

    def __init__(self, ports: tuple[int, int, int], cert: Path, app_url: str):
        self.https_port, self.http_port, self.bare_port = ports
        self.cert, self.app_url = cert, app_url
        self.public = f"https://localhost:{self.https_port}"

    def https(self, method: str, target: str, body: str | None = None, headers: dict | None = None,
              source: str = "127.0.0.1"):  # fmt: skip
        """(status, headers, body) of one request to nginx over HTTPS, checked against the test's certificate."""
        context = ssl.create_default_context(cafile=str(self.cert))
        connection = http.client.HTTPSConnection("localhost", self.https_port, timeout=60, context=context,
                                                 source_address=(source, 0))  # fmt: skip
        try:
            connection.request(method, target, body=body, headers=headers or {})
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory, fake_seed_searcher):
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: install it with `apt-get install nginx-light` (or `make nginx`)")
    if shutil.which("openssl") is None:
        pytest.fail("openssl is missing: install it with `apt-get install openssl`")
    folder = tmp_path_factory.mktemp("nginx")
    cert, key = _certificate(folder)
    https_port, http_port, bare_port = free_port(), free_port(), free_port()
    log = QueryLog(folder / "queries.sqlite")
    proxy = Proxy(public_url=f"https://localhost:{https_port}", forwarded_allow_ips=["127.0.0.1"])
    app = start(fake_seed_searcher, "127.0.0.1", log=log, rate_limit=RATE, proxy=proxy)
    app_port = int(app.url.rstrip("/").rsplit(":", 1)[1])
    site = folder / "ask-the-author.conf"
    site.write_text(render(CONFIG.read_text(), app_port=app_port, https_port=https_port, http_port=http_port,
                           cert=cert, key=key))  # fmt: skip
    main = folder / "nginx.conf"
    main.write_text(_main_config(folder, site, bare_port, app_port))
    errors = folder / "error.log"
    nginx = subprocess.Popen([str(NGINX), "-p", str(folder), "-e", str(errors), "-c", str(main)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        for port in (https_port, http_port, bare_port):
            _wait_for_port(port, nginx, errors)
        yield Stack((https_port, http_port, bare_port), cert, app.url)
    finally:
        nginx.terminate()
        nginx.wait(timeout=30)
        app.stop()
        log.close()


def _search(stack: Stack, source: str = "127.0.0.1", **headers) -> tuple[int, dict]:
    target = "/api/search?" + urlencode({"q": QUESTION, "closest": "true", "k": 3})
    status, _, body = stack.https("GET", target, headers=headers, source=source)
    return status, json.loads(body)


def test_search_vote_and_thread_through_nginx(stack):
    status, found = _search(stack, Origin=stack.public, **{"Sec-Fetch-Site": "same-origin"})
    assert status == 200 and found["answers"] and found["query_id"]
    first = found["answers"][0]
    vote = json.dumps({"query_id": found["query_id"], "answer_id": first["id"], "helpful": True})
    page = {"Content-Type": "application/json", "Origin": stack.public, "Sec-Fetch-Site": "same-origin"}
    status, _, body = stack.https("POST", "/api/feedback", vote, page)
    assert (status, json.loads(body)) == (200, {"recorded": True})
    status, _, body = stack.https("GET", "/api/thread?" + urlencode({"id": first["id"]}))
    assert status == 200 and json.loads(body)["messages"]
    status, _, body = stack.https("GET", "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"
    plain = http.client.HTTPConnection("127.0.0.1", stack.http_port, timeout=60)
    plain.request("GET", "/?q=mlops", headers={"Host": "localhost"})
    response = plain.getresponse()
    assert response.status == 301 and response.getheader("location") == "https://localhost/?q=mlops"
    plain.close()


def test_the_gradio_api_streams_through_nginx_as_the_page_calls_it(stack):
    """gradio_client joins Gradio's queue and reads its server-sent events through nginx, sending the page's Origin."""
    client = Client(stack.public + "/", verbose=False, ssl_verify=False, headers={"Origin": stack.public})
    answers = client.predict(QUESTION, 3, "", "", True, api_name="/search")
    assert answers and answers[0]["author"]
    assert client.predict(answers[0]["query_id"], answers[0]["id"], False, api_name="/feedback") == "recorded"
    status, _, body = stack.https("GET", "/config")
    assert json.loads(body)["root"] == stack.public


def test_mcp_through_nginx(stack):
    hello = {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    status, headers, _ = stack.https("POST", "/gradio_api/mcp/", json.dumps(initialize), MCP_HEADERS)
    assert status == 200
    session = {name: value for name, value in headers.items() if name.lower() == "mcp-session-id"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    stack.https("POST", "/gradio_api/mcp/", json.dumps(initialized), {**MCP_HEADERS, **session})
    arguments = {"question": QUESTION, "k": 2, "closest": True}
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search", "arguments": arguments}}
    status, _, body = stack.https("POST", "/gradio_api/mcp/", json.dumps(call), {**MCP_HEADERS, **session})
    text = body.decode()
    assert status == 200 and "Noah Gift" in text and '"isError": true' not in text.replace(" ", ""), text[:500]


def test_one_visitor_is_limited_while_another_still_gets_answers(stack):
    """nginx appends each visitor's address to X-Forwarded-For; the app trusts it from nginx alone."""
    statuses = [_search(stack, "127.0.0.2")[0] for _ in range(RATE)]
    assert set(statuses) == {200}
    spoofed = {"X-Forwarded-For": "203.0.113.5"}  # a visitor's own header is kept, nginx's address appended
    status, refused = _search(stack, "127.0.0.2", **spoofed)
    assert status == 429 and "too many requests" in refused["error"]
    status, found = _search(stack, "127.0.0.3")
    assert status == 200 and found["answers"]


def test_metrics_are_refused_through_nginx_and_served_on_loopback(stack):
    status, _, body = stack.https("GET", "/metrics")
    assert status == 403 and "ASSISTANT_METRICS_TOKEN" in json.loads(body)["error"]
    connection = http.client.HTTPConnection("127.0.0.1", int(stack.app_url.rstrip("/").rsplit(":", 1)[1]))
    connection.request("GET", "/metrics")
    assert connection.getresponse().status == 200
    connection.close()


def test_a_bare_proxy_pass_works_with_public_url(stack):
    """nginx's default proxy_pass: Host is 127.0.0.1:APP_PORT, no X-Forwarded-*; the page's Origin is the public one."""
    connection = http.client.HTTPConnection("127.0.0.1", stack.bare_port, timeout=60)
    try:
        connection.request("GET", "/api/search?" + urlencode({"q": QUESTION, "closest": "true"}))
        found = json.loads(connection.getresponse().read())
        vote = json.dumps({"query_id": found["query_id"], "answer_id": found["answers"][0]["id"], "helpful": False})
        page = {"Content-Type": "application/json", "Origin": stack.public, "Sec-Fetch-Site": "same-origin"}
        connection.request("POST", "/api/feedback", vote, page)
        response = connection.getresponse()
        assert (response.status, json.loads(response.read())) == (200, {"recorded": True})
        call = json.dumps({"data": [QUESTION, 2, "", "", True]})
        connection.request("POST", "/gradio_api/call/search", call, page)
        response = connection.getresponse()
        assert response.status == 200 and "event_id" in json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.browser
def test_the_page_searches_and_votes_through_nginx(stack, browser, fake_seed_searcher):
    """The issue's symptom: behind a proxy every search and vote from the page was refused (403)."""
    from playwright.sync_api import expect

    question = next(unit.question for unit in fake_seed_searcher.units if unit.question.startswith("How to decide"))
    context = browser.new_context(ignore_https_errors=True)  # the test's own certificate
    refused, elsewhere = [], []
    context.route("**/*", lambda route: route.continue_() if urlsplit(route.request.url).hostname == "localhost"
                  else (elsewhere.append(route.request.url), route.abort()))  # fmt: skip
    try:
        page = context.new_page()
        page.on("response", lambda response: response.status >= 400 and refused.append(response.url))
        page.goto(stack.public + "/")
        box = page.get_by_placeholder("Ask the authors something")
        box.fill(question)
        box.press("Enter")
        card = page.locator("#results .ata-card").first
        helpful = card.get_by_role("button", name="Helpful", exact=True)
        helpful.click()
        expect(card.locator(".ata-vote-status")).to_have_text("Thanks, noted.")
    finally:
        context.close()
    assert refused == [] and elsewhere == []  # every request went to nginx, none was refused
