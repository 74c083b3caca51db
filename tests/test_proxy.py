"""Behind a reverse proxy, and who the client is (issue 24 part 3, issue 25 row 9); /healthz and /metrics (part 4).

The app runs in this process on the seed index built with the fake model, over real loopback sockets. Requests
carry the headers a proxy would send; tests/test_nginx.py puts Debian's real nginx in front.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_http_surface import JSON, QUESTION, error_of, request

from assistant.service.querylog import QueryLog
from assistant.web.guard import MAX_FORWARDED_CHARS
from assistant.web.serve import Proxy, start

PUBLIC = "https://ask.example.org"
SEARCH = "/api/search?" + urlencode({"q": QUESTION, "closest": "true"})


@pytest.fixture
def log(tmp_path):
    log = QueryLog(tmp_path / "queries.sqlite")
    yield log
    log.close()


@pytest.fixture
def serving(fake_seed_searcher, log):
    """A function starting the app with a query log; every server it started is stopped after the test."""
    servers = []

    def serve(rate_limit: int | None = None, **proxy):
        server = start(fake_seed_searcher, "127.0.0.1", log=log, rate_limit=rate_limit, proxy=Proxy(**proxy))
        servers.append(server)
        return server

    yield serve
    for server in servers:
        server.stop()


def _statuses(server, count: int, headers_for) -> list[int]:
    return [request(server.url, "GET", SEARCH, headers=headers_for(n))[0] for n in range(count)]


def test_a_direct_client_cannot_pick_its_rate_limit_key_with_x_forwarded_for(serving):
    """Issue 25 row 9: uvicorn trusted X-Forwarded-For from 127.0.0.1, so a client rotating it was never limited
    (and 150 requests with a 1 MB one added 157 MB of rate-limit keys)."""
    server = serving(rate_limit=3)
    rotating = _statuses(server, 5, lambda n: {"X-Forwarded-For": f"10.0.0.{n}"})
    assert rotating == [200, 200, 200, 429, 429]
    huge = request(server.url, "GET", SEARCH, headers={"X-Forwarded-For": "1" * 1_000_000})
    assert huge[0] == 429  # the header is not read at all: the connection's address is the client


def test_a_trusted_proxy_names_the_client_and_cannot_be_spoofed_through(serving):
    """Only a connection from --forwarded-allow-ips names the client: the last address it did not add itself."""
    server = serving(rate_limit=2, forwarded_allow_ips=["127.0.0.1"])
    first = _statuses(server, 3, lambda n: {"X-Forwarded-For": "198.51.100.7"})
    assert first == [200, 200, 429]
    assert request(server.url, "GET", SEARCH, headers={"X-Forwarded-For": "198.51.100.8"})[0] == 200  # another
    # A client sends its own X-Forwarded-For; the proxy appends the address it saw: still the limited client.
    spoofed = {"X-Forwarded-For": "203.0.113.99, 198.51.100.7"}
    assert request(server.url, "GET", SEARCH, headers=spoofed)[0] == 429
    too_long = request(server.url, "GET", SEARCH, headers={"X-Forwarded-For": "1" * (MAX_FORWARDED_CHARS + 1)})
    assert too_long[0] == 431 and f"the limit is {MAX_FORWARDED_CHARS:,}" in error_of(too_long)
    garbage = request(server.url, "GET", SEARCH, headers={"X-Forwarded-For": "198.51.100.9, not-an-address"})
    assert garbage[0] == 400 and "'not-an-address', not an IP address" in error_of(garbage)


def _vote_and_gradio_call(server, headers: dict) -> tuple[int, int]:
    """(status of a JSON vote, status of a Gradio API call) sent with `headers`, as the page sends them."""
    _, _, body = request(server.url, "GET", SEARCH)
    found = json.loads(body)
    vote = json.dumps({"query_id": found["query_id"], "answer_id": found["answers"][0]["id"], "helpful": True})
    voted = request(server.url, "POST", "/api/feedback", vote, {**JSON, **headers})[0]
    call = json.dumps({"data": [QUESTION, 3, "", "", False]})
    called = request(server.url, "POST", "/gradio_api/call/search", call, {**JSON, **headers})[0]
    return voted, called


def test_a_bare_proxy_pass_is_served_with_public_url(serving):
    """Issue 24: nginx's default proxy_pass sends Host: 127.0.0.1:7860 with the browser's Origin: a 403 on every
    search and vote; with --public-url that origin is this app, and its host is served too."""
    bare = serving()
    port = bare.url.rstrip("/").rsplit(":", 1)[1]
    from_the_page = {"Host": f"127.0.0.1:{port}", "Origin": PUBLIC, "Sec-Fetch-Site": "same-origin"}
    assert _vote_and_gradio_call(bare, from_the_page) == (403, 403)
    proxied = serving(public_url=PUBLIC + "/")
    port = proxied.url.rstrip("/").rsplit(":", 1)[1]
    assert _vote_and_gradio_call(proxied, {**from_the_page, "Host": f"127.0.0.1:{port}"}) == (200, 200)
    full = {"Host": "ask.example.org", "Origin": PUBLIC, "X-Forwarded-Proto": "https"}
    assert _vote_and_gradio_call(proxied, full) == (200, 200)
    other = request(proxied.url, "POST", "/api/feedback", "{}", {**JSON, "Origin": "https://evil.example"})
    assert other[0] == 403 and "cross-site" in error_of(other)
    config = json.loads(request(proxied.url, "GET", "/config", headers={"Host": f"127.0.0.1:{port}"})[2])
    assert config["root"] == PUBLIC  # the page calls its queue at the public address, not at 127.0.0.1


@pytest.mark.parametrize("bad", ["ask.example.org", "ftp://ask.example.org", "https://ask.example.org/ask"])
def test_a_public_url_that_is_not_a_site_root_is_refused(bad):
    with pytest.raises(ValueError, match="like https://ask.example.org"):
        Proxy(public_url=bad)


def _metrics(server, headers: dict | None = None) -> dict[str, float]:
    """Every sample of /metrics, parsed by Prometheus' own parser, by name and labels."""
    status, response_headers, body = request(server.url, "GET", "/metrics", headers=headers)
    assert status == 200 and response_headers["content-type"].startswith("text/plain"), body[:200]
    samples = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            samples[sample.name + json.dumps(sample.labels, sort_keys=True)] = sample.value
    return samples


def test_metrics_count_each_search_vote_and_refusal(serving):
    server = serving(rate_limit=6)
    before = _metrics(server)
    searches = 'ask_searches_total{"source": "json"}'
    assert before.get(searches, 0) == 0 and before["ask_index_answers{}"] > 0
    for n in range(1, 3):
        request(server.url, "GET", SEARCH)
        assert _metrics(server)[searches] == n
    voted, called = _vote_and_gradio_call(server, {})
    assert (voted, called) == (200, 200)
    limited = _statuses(server, 2, lambda n: {})  # 5 logged requests so far: one more, then a 429
    assert limited == [200, 429]
    after = _metrics(server)
    assert after[searches] == 4 and after['ask_searches_total{"source": "gradio_api"}'] == 1
    assert after['ask_votes_total{"vote": "helpful"}'] == 1
    assert after["ask_rate_limited_total{}"] == 1
    assert after["ask_search_seconds_count{}"] == 5
    assert after["ask_log_rows_dropped_total{}"] == 0 and after["ask_log_writing{}"] == 1
    assert after["ask_index_swaps_total{}"] == 0 and 0 <= after["ask_index_age_seconds{}"] < 3600


def test_metrics_answer_loopback_only_unless_the_token_is_given(serving):
    server = serving(forwarded_allow_ips=["127.0.0.1"], metrics_token="s3cret-token")
    through_a_proxy = {"X-Forwarded-For": "198.51.100.7"}
    refused = request(server.url, "GET", "/metrics", headers=through_a_proxy)
    assert refused[0] == 403 and "ASSISTANT_METRICS_TOKEN" in error_of(refused)
    wrong = request(server.url, "GET", "/metrics", headers={**through_a_proxy, "Authorization": "Bearer nope"})
    assert wrong[0] == 403
    assert _metrics(server, {**through_a_proxy, "Authorization": "Bearer s3cret-token"})
    assert _metrics(server)  # loopback, straight to the app


def test_healthz_names_the_index_and_says_when_the_log_cannot_write(serving, fake_seed_searcher, tmp_path):
    server = serving(rate_limit=1)
    for _ in range(3):  # never rate limited
        status, _, body = request(server.url, "GET", "/healthz")
        assert status == 200
    health = json.loads(body)
    manifest = fake_seed_searcher.index.manifest
    assert health["index"] == {"build": fake_seed_searcher.index.build.name, "built_at": manifest["built_at"],
                               "answers": len(fake_seed_searcher.units)}  # fmt: skip
    assert health["status"] == "ok" and health["log"]["writes"] is True
    (tmp_path / "not-a-folder").write_text("")
    broken = QueryLog(tmp_path / "not-a-folder" / "queries.sqlite")
    try:
        failing = start(fake_seed_searcher, "127.0.0.1", log=broken)
        deadline = time.monotonic() + 60
        while broken.available and time.monotonic() < deadline:  # until the writer finds it cannot create the file
            time.sleep(0.05)
        status, _, body = request(failing.url, "GET", "/healthz")
        failing.stop()
    finally:
        broken.close()
    assert status == 503 and "is not writing" in json.loads(body)["error"]


def test_x_forwarded_for_is_trusted_from_no_one_unless_a_proxy_is_configured(capsys):
    from app import parse_args

    assert parse_args([]).forwarded_allow_ips == ""
    assert parse_args(["--public-url", PUBLIC]).forwarded_allow_ips == "127.0.0.1,::1"  # a proxy on this machine
    elsewhere = parse_args(["--public-url", PUBLIC, "--forwarded-allow-ips", "10.0.0.0/8"])
    assert elsewhere.forwarded_allow_ips == "10.0.0.0/8"
    for option, value, said in [("--public-url", "ask.example.org", "not a public address"),
                                ("--forwarded-allow-ips", "10.0.0.x", "not an IP address or network")]:  # fmt: skip
        with pytest.raises(SystemExit):
            parse_args([option, value])
        assert f"{option}: '{value}' is {said}" in capsys.readouterr().err
