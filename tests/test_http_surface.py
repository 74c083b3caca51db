"""The served app's HTTP surface against hostile and careless clients (issue 17), over real loopback sockets.

Every malformed request is a 4xx JSON error naming what is wrong, never a 500, never an echo of unbounded
input; only loopback Host names are served; cross-site requests cannot fill the log; logged requests are
rate-limited per client; served sockets send without Nagle's delay. The server runs in this process on the
seed index built with the fake model, with a query log.
"""

from __future__ import annotations

import http.client
import json
import socket
from urllib.parse import quote, urlencode, urlsplit

import pytest
from gradio_client import Client

from assistant.service.contract import MAX_BODY_BYTES
from assistant.service.querylog import QueryLog
from assistant.web.page import open_link
from assistant.web.serve import start

QUESTION = "Should startups do MLOps?"
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    log = QueryLog(tmp_path_factory.mktemp("state") / "queries.sqlite")
    yield log
    log.close()


@pytest.fixture(scope="module")
def server(fake_seed_searcher, log):
    server = start(fake_seed_searcher, "127.0.0.1", log=log, rate_limit=None)
    yield server
    server.stop()


def request(url: str, method: str, target: str, body: bytes | str | None = None, headers: dict | None = None):
    """(status, headers, body) of one request over a plain socket, which sends whatever it is given."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def error_of(status_headers_body) -> str:
    status, headers, body = status_headers_body
    assert headers.get("content-type", "").startswith("application/json"), (status, body[:200])
    return json.loads(body)["error"]


def _search(server) -> dict:
    status, _, body = request(server.url, "GET", "/api/search?" + urlencode({"q": QUESTION, "closest": "true"}))
    assert status == 200
    return json.loads(body)


@pytest.mark.parametrize("field", ["query_id", "answer_id"])
def test_a_lone_surrogate_in_a_vote_is_an_error_naming_the_field(server, field):
    """Row 6: a 500 from the JSON API; raw UnicodeEncodeError text from Gradio /feedback."""
    found = _search(server)
    vote = {"query_id": found["query_id"], "answer_id": found["answers"][0]["id"], "helpful": True, field: "\ud800"}
    answer = request(server.url, "POST", "/api/feedback", json.dumps(vote), JSON)  # JSON carries it as \\ud800
    assert answer[0] == 400 and f"{field} is not valid text" in error_of(answer)
    gradio = _gradio_call(server, "feedback", [vote["query_id"], vote["answer_id"], True])
    assert f"{field} is not valid text" in gradio and "codec" not in gradio


def _gradio_call(server, api_name: str, data: list) -> str:
    """The event stream of one raw call to the Gradio API (gradio_client cannot even send a lone surrogate)."""
    status, _, body = request(server.url, "POST", f"/gradio_api/call/{api_name}", json.dumps({"data": data}), JSON)
    assert status == 200, body
    return request(server.url, "GET", f"/gradio_api/call/{api_name}/{json.loads(body)['event_id']}")[2].decode()


@pytest.mark.parametrize(("tool", "arguments", "named"), [
    ("feedback", {"query_id": "\ud800", "answer_id": "", "helpful": False}, "query_id"),
    ("search", {"question": "mlops \ud800", "k": 2}, "question"),
])  # fmt: skip
def test_a_lone_surrogate_in_an_mcp_call_is_named(server, tool, arguments, named):
    """Row 6 over MCP: the tool answered with the raw UnicodeEncodeError text."""
    mcp = {**JSON, "Accept": "application/json, text/event-stream"}
    hello = {"protocolVersion": "2025-03-26", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}}
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": hello}
    _, headers, _ = request(server.url, "POST", "/gradio_api/mcp/", json.dumps(initialize), mcp)
    session = {name: value for name, value in headers.items() if name.lower() == "mcp-session-id"}
    initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
    request(server.url, "POST", "/gradio_api/mcp/", json.dumps(initialized), {**mcp, **session})
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": tool, "arguments": arguments}}
    _, _, body = request(server.url, "POST", "/gradio_api/mcp/", json.dumps(call), {**mcp, **session})
    text = body.decode()
    assert f"{named} is not valid text" in text and "codec" not in text, text[:500]


def test_deeply_nested_json_is_a_400(server):
    """Row 7: a 2 KB body nested 1,000 deep was a 500 (RecursionError)."""
    deep = "[" * 1000 + "]" * 1000
    answer = request(server.url, "POST", "/api/feedback", deep, JSON)
    assert answer[0] == 400 and "nested" in error_of(answer)
    gradio = request(server.url, "POST", "/gradio_api/call/search", '{"data": ' + deep + "}", JSON)
    assert gradio[0] == 400


def test_a_body_over_the_limit_is_a_413_before_it_is_read(server):
    """Row 8: 1-100 MB feedback bodies were read whole, and the 404 echoed the whole id back."""
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=60) as raw:
        raw.sendall(b"POST /api/feedback HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000000\r\n\r\n")  # fmt: skip
        reply = b""
        while b"}" not in reply:  # answered with no body sent at all
            chunk = raw.recv(65536)
            if not chunk:
                break
            reply += chunk
        reply = reply.decode()
    assert reply.startswith("HTTP/1.1 413") and "the limit is" in reply
    chunked = request(server.url, "POST", "/api/feedback", iter([b"{" + b" " * MAX_BODY_BYTES, b"}"]), JSON)
    assert chunked[0] == 413


def test_errors_never_echo_unbounded_input(server):
    found = _search(server)
    long_id = "x" * 10_000  # fits in a body; 100 KB is a 413
    vote = {"query_id": found["query_id"], "answer_id": long_id, "helpful": True}
    answer = request(server.url, "POST", "/api/feedback", json.dumps(vote), JSON)
    assert answer[0] == 400 and "answer_id is 10,000 characters long" in error_of(answer) and len(answer[2]) < 500
    for target in ["/api/search?q=mlops&k=" + "9" * 100_000, "/api/answer?id=" + "y" * 100_000,
                   "/api/search?" + urlencode({"q": "mlops", "author": "z" * 100_000})]:  # fmt: skip
        status, _, body = request(server.url, "GET", target)
        assert status == 400 and len(body) < 500, (target[:40], body[:200])


@pytest.mark.parametrize("k", ["²", "٣", "9" * 4301, "1e3", "--2"])
def test_k_that_is_not_ascii_digits_is_a_400_naming_k(server, k):
    """Row 9: k=² (a Unicode digit) and a 4,301-digit k were a 500."""
    answer = request(server.url, "GET", "/api/search?" + urlencode({"q": "mlops", "k": k}))
    assert answer[0] == 400 and error_of(answer).startswith("k must be")


def test_a_page_link_with_a_bad_k_opens_and_names_k(fake_seed_searcher):
    """Row 9 on the page: the same k raised a raw Python error in a toast."""
    for k in ("²", "9" * 4301):
        *_, body, _, link = open_link(fake_seed_searcher, {"q": QUESTION, "k": k})
        assert "k could not be used" in body and link.startswith("?q=")


def test_a_page_link_over_65536_characters_is_refused_not_a_500(server):
    """Row 10: httpx.InvalidURL inside Gradio, a 500."""
    answer = request(server.url, "GET", "/?q=" + "a" * 70_000)
    assert answer[0] == 414 and "the limit is" in error_of(answer)
    assert request(server.url, "GET", "/?" + urlencode({"q": QUESTION}))[0] == 200


@pytest.mark.parametrize("target", ["/", "/api/search?q=mlops", "/gradio_api/info"])
def test_a_host_that_is_not_loopback_is_refused(server, target):
    """Row 11: `Host: evil.example` was served, so a DNS-rebinding page could use the app."""
    answer = request(server.url, "GET", target, headers={"Host": "evil.example"})
    assert answer[0] == 403 and "evil.example" in error_of(answer) and "--allowed-host" in error_of(answer)
    port = urlsplit(server.url).port
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", "localhost", f"[::1]:{port}"):
        assert request(server.url, "GET", target, headers={"Host": host})[0] == 200, host


def test_feedback_must_be_json(server):
    """Row 11: feedback as text/plain (a form any page can post) was accepted."""
    found = _search(server)
    vote = json.dumps({"query_id": found["query_id"], "answer_id": None, "helpful": False})
    answer = request(server.url, "POST", "/api/feedback", vote, {"Content-Type": "text/plain"})
    assert answer[0] == 415 and "application/json" in error_of(answer)
    with_charset = {"Content-Type": "application/json; charset=utf-8"}
    assert request(server.url, "POST", "/api/feedback", vote, with_charset)[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://evil.example"},
        {"Origin": "null"},
    ],  # fmt: skip
)
def test_cross_site_requests_cannot_fill_the_log(server, log, headers):
    """Row 11: a plain cross-site GET to /api/search was logged; any web page could fill the log."""
    log.flush()
    before = _logged(log)
    answer = request(server.url, "GET", "/api/search?q=mlops", headers=headers)
    assert answer[0] == 403 and "cross-site" in error_of(answer)
    vote = request(server.url, "POST", "/api/feedback", '{"query_id": "0123456789abcdef", "answer_id": null, '
                   '"helpful": false}', {**JSON, **headers})  # fmt: skip
    assert vote[0] == 403
    gradio = request(server.url, "POST", "/gradio_api/call/search", json.dumps({"data": [QUESTION, 5, "", "", False]}),
                     {**JSON, **headers})  # fmt: skip
    assert gradio[0] == 403
    log.flush()
    assert _logged(log) == before
    same_origin = {"Sec-Fetch-Site": "same-origin", "Origin": server.url.rstrip("/")}
    assert request(server.url, "GET", "/api/search?q=mlops", headers=same_origin)[0] == 200
    assert request(server.url, "GET", "/?q=mlops", headers={"Sec-Fetch-Site": "cross-site"})[0] == 200  # a shared link


def _logged(log: QueryLog) -> int:
    from loghelpers import rows

    return rows(log.path, "SELECT count(*) AS n FROM queries")[0]["n"]


def test_the_json_api_answers_wrong_methods_with_405_and_unknown_routes_with_json(server):
    """Also: POST /api/search and GET /api/feedback were a 404 from Gradio's catch-all."""
    status, headers, _ = answer = request(server.url, "POST", "/api/search?q=mlops", "{}", JSON)
    assert status == 405 and headers.get("allow") == "GET" and "POST" in error_of(answer)
    assert request(server.url, "GET", "/api/feedback")[0] == 405
    assert request(server.url, "DELETE", "/api/answer?id=x")[0] == 405
    missing = request(server.url, "GET", "/api/nothing")
    assert missing[0] == 404 and "/api/search" in error_of(missing)


def test_answer_without_an_id_is_a_400_naming_id(server):
    """Also: /api/answer with no id was a 404; the README promises a 400 naming the parameter."""
    for target in ("/api/answer", "/api/answer?id=", "/api/answer?id=%20"):
        answer = request(server.url, "GET", target)
        assert answer[0] == 400 and error_of(answer).startswith("id ")
    assert request(server.url, "GET", "/api/answer?id=" + quote("nope/1/x/0"))[0] == 404


def test_a_bad_gradio_call_is_a_short_error_with_no_traceback(server, capfd):
    """Also: a call with too few values printed a 25-line traceback to the server's log."""
    capfd.readouterr()
    status, _, body = request(server.url, "POST", "/gradio_api/call/search", '{"data": ["q"]}', JSON)
    event = json.loads(body)["event_id"]
    events = request(server.url, "GET", f"/gradio_api/call/search/{event}")[2].decode()
    assert "event: error" in events and "search takes 5 to 7 values" in events and "object at 0x" not in events
    five = _gradio_call(server, "search", [QUESTION, 2, "", "", True])  # sent before since / until existed
    assert "event: complete" in five and "event: error" not in five
    dated = _gradio_call(server, "search", [QUESTION, 2, "", "", True, "2022", ""])
    assert "event: complete" in dated and json.loads(dated.split("data: ", 1)[1]) == [[]]
    with pytest.raises(Exception, match="k must be from 1 to 20"):
        Client(server.url, verbose=False).predict(QUESTION, 0, "", "", False, api_name="/search")
    assert "Traceback" not in capfd.readouterr().err


def test_an_id_that_was_never_an_answer_is_not_said_to_be_gone(fake_seed_searcher):
    """Also: `?answer=nonsense` said the answer was no longer there, as if it once had been."""
    *_, body, _, _ = open_link(fake_seed_searcher, {"answer": "nonsense"})
    assert "any more" not in body and "no longer" not in body and "No answer has the id" in body
    *_, body, _, _ = open_link(fake_seed_searcher, {"answer": "20210830-practical-mlops/99/noah-gift/0"})
    assert "any more" in body


def test_logged_requests_are_rate_limited_per_client(fake_seed_searcher, log):
    """Row 12: one client logged ~80 searches and votes a second; now a 429 past its requests for the minute."""
    limited = start(fake_seed_searcher, "127.0.0.1", log=log, rate_limit=3)
    try:
        statuses = [request(limited.url, "GET", "/api/search?q=mlops")[0] for _ in range(5)]
        status, headers, _ = answer = request(limited.url, "GET", "/api/search?q=mlops")
    finally:
        limited.stop()
    assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}
    assert status == 429 and "at most 3 searches and votes a minute" in error_of(answer)
    assert int(headers["retry-after"]) >= 1


def test_served_sockets_send_without_delay(server):
    """Row 15: TCP_NODELAY was never set, so each reused connection waited ~40 ms for a delayed ACK."""
    address = urlsplit(server.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    try:
        connection.request("GET", "/api/answer?id=x")
        connection.getresponse().read()
        sockets = [protocol.transport.get_extra_info("socket") for protocol in server.server.server_state.connections]
        assert sockets and all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
    finally:
        connection.close()
