"""The Slack app end to end: the real Bolt app served over HTTP on loopback, driven with correctly signed requests,
and over Socket Mode against a loopback WebSocket.

Its Web API calls go to a fake Slack API on loopback (slack_sdk's base_url) and its replies to
response_url go there too; the tests assert the posted blocks and the query log's rows. Nothing
reaches Slack, and the searcher is the seed's with the fake model.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx
import pytest
import yaml
from slack_sdk import WebClient

from assistant.indexing.store import build_index, load_built_index
from assistant.searching.searcher import Searcher
from assistant.service.contract import SearchRequest
from assistant.service.querylog import QueryLog
from assistant.slack.ask import Asked
from assistant.slack.blocks import PAGE
from assistant.slack.bot import COMMAND, RateLimit, build_app, voter_hash
from assistant.slack.serve import socket_mode, start_http
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import REPO
from loghelpers import rows
from slackchecks import SLACK_ARCHIVES, assert_no_forged_controls, assert_within_slack_limits
from slackfakes import WAIT_S, FakeSlack, FakeSocketMode

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
BOT_TOKEN = "xoxb-test-token"
VOTER_SECRET = b"v" * 32


class GatedSearcher:
    """The seed searcher, whose searches wait until the test opens the gate: proves the reply comes after the ack."""

    def __init__(self, searcher: Searcher):
        self._searcher = searcher
        self.gate = threading.Event()

    def search(self, *args, **kwargs):
        assert self.gate.wait(WAIT_S), "the gate was never opened"
        return self._searcher.search(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._searcher, name)


@contextmanager
def running_app(searcher, log_path: Path | None, limit: RateLimit | None = None, signing_secret: str = SECRET):
    """The Slack app over `searcher` served over HTTP on loopback, its fake Slack, and a log at `log_path` (or none)."""
    fake = FakeSlack()
    log = QueryLog(log_path) if log_path else None
    client = WebClient(token=BOT_TOKEN, base_url=f"{fake.url}/api/")
    app = build_app(lambda: searcher, log, client=client, signing_secret=signing_secret, limit=limit,
                    voter_secret=VOTER_SECRET)  # fmt: skip
    running = start_http(app)
    try:
        yield Slack(fake, running.url, log_path, log, searcher)
    finally:
        running.stop()
        fake.server.shutdown()
        if log is not None:
            log.close()


@pytest.fixture
def slack(tmp_path, fake_seed_searcher):
    """A running Slack app over the seed (searches gated, gate open) with a fresh log."""
    searcher = GatedSearcher(fake_seed_searcher)
    searcher.gate.set()
    with running_app(searcher, tmp_path / "queries.sqlite") as slack:
        yield slack


class Slack:
    """What a test drives: signed requests to the app, and what the fake Slack received."""

    def __init__(self, fake: FakeSlack, url: str, log_path: Path | None, log: QueryLog | None, searcher):
        self.fake, self.url, self.log_path, self.log, self.searcher = fake, url, log_path, log, searcher

    def rows(self, sql: str) -> list[dict]:
        """Rows of the log once everything queued so far is written: Slack's reply can come before the log's write."""
        assert self.log is not None and self.log.flush()
        return rows(self.log_path, sql)

    def post(self, body: str, content_type: str, timestamp: int | None = None, secret: str = SECRET):
        timestamp = int(time.time()) if timestamp is None else timestamp
        signature = hmac.new(secret.encode(), f"v0:{timestamp}:{body}".encode(), hashlib.sha256).hexdigest()
        headers = {"Content-Type": content_type, "X-Slack-Request-Timestamp": str(timestamp),
                   "X-Slack-Signature": f"v0={signature}"}  # fmt: skip
        return httpx.post(self.url, content=body, headers=headers, timeout=WAIT_S)

    def command(self, text: str, user: str = "U0ASKER", response: str = "/response/command", **signing):
        form = {"token": "unused", "team_id": "T1", "team_domain": "dtc", "channel_id": "C1",
                "channel_name": "book-of-the-week", "user_id": user, "user_name": "asker", "command": "/ask-the-author",
                "text": text, "api_app_id": "A1", "response_url": self.fake.url + response,
                "trigger_id": "1.2.3"}  # fmt: skip
        return self.post(urlencode(form), "application/x-www-form-urlencoded", **signing)

    def mention(self, text: str, ts: str = "1700000000.000100", thread_ts: str | None = None, **signing):
        event = {"type": "app_mention", "user": "U0ASKER", "text": text, "ts": ts, "channel": "C1", "event_ts": ts}
        event |= {"thread_ts": thread_ts} if thread_ts else {}
        body = {"token": "unused", "team_id": "T1", "api_app_id": "A1", "event": event, "type": "event_callback",
                "event_id": f"Ev{ts}", "event_time": 1700000000}  # fmt: skip
        return self.post(json.dumps(body), "application/json", **signing)

    def click(self, button: dict, user: str = "U0VOTER", ephemeral: bool = True, response: str = "/response/click"):
        container = {"type": "message", "message_ts": "1700000001.000200", "channel_id": "C1",
                     "is_ephemeral": ephemeral}  # fmt: skip
        payload = {"type": "block_actions", "team": {"id": "T1", "domain": "dtc"},
                   "user": {"id": user, "username": "voter", "team_id": "T1"}, "api_app_id": "A1", "token": "unused",
                   "container": container, "trigger_id": "1.2.3", "channel": {"id": "C1", "name": "book-of-the-week"},
                   "response_url": self.fake.url + response,
                   "actions": [{"action_id": button["action_id"], "block_id": "b", "value": button["value"],
                                "type": "button", "action_ts": "1700000002.0"}]}  # fmt: skip
        if not ephemeral:
            payload["message"] = {"type": "message", "ts": "1700000001.000200", "thread_ts": "1700000000.000100"}
        answer = self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")
        assert answer.status_code == 200
        return answer


def seed_question(searcher) -> str:
    """A question the seed answers well even with the fake model: one an attendee asked, word for word."""
    return next(unit.question for unit in searcher.units if unit.question.startswith("How to decide which tools"))


def buttons(message: dict) -> dict[str, dict]:
    return {b["action_id"]: b for block in message["blocks"] if block["type"] == "actions" for b in block["elements"]}


def answer_ids(message: dict) -> list[str]:
    return [json.loads(b["value"])["a"] for name, b in buttons(message).items() if name.endswith("-yes")]


def test_the_slash_command_acks_first_then_answers_the_asker_only(slack):
    slack.searcher.gate.clear()  # the search waits until the ack is back
    question = seed_question(slack.searcher)
    acked = slack.command(f"  {question}  ")
    assert acked.status_code == 200 and acked.text == ""
    assert slack.fake.bodies("/response/command") == []
    slack.searcher.gate.set()
    [reply] = slack.fake.wait_for("/response/command")
    assert reply["response_type"] == "ephemeral"
    assert_within_slack_limits(reply)
    assert_no_forged_controls(reply)
    assert len(answer_ids(reply)) == PAGE and {"more", "share"} <= set(buttons(reply))
    [query] = slack.rows("SELECT * FROM queries")
    assert (query["question"], query["source"], query["k"], query["no_answer"]) == (question, "slack", PAGE, 0)
    shown = slack.rows("SELECT answer_id FROM shown ORDER BY rank")
    assert [row["answer_id"] for row in shown] == answer_ids(reply)


def test_more_answers_then_share_in_channel(slack):
    slack.command(seed_question(slack.searcher))
    [first] = slack.fake.wait_for("/response/command")
    slack.click(buttons(first)["more"], user="U0ASKER", response="/response/more")
    [more] = slack.fake.wait_for("/response/more")
    assert more["response_type"] == "ephemeral" and more["replace_original"] is True  # the next page, in place
    assert len(answer_ids(more)) == PAGE and not set(answer_ids(more)) & set(answer_ids(first))
    heading = more["blocks"][0]["text"]["text"]
    assert heading.startswith("More of the ") and heading.endswith(("(from answer 4)", "answers it closely"))
    assert_within_slack_limits(more)
    ks = [row["k"] for row in slack.rows("SELECT k FROM queries ORDER BY time")]
    assert ks == [PAGE, 2 * PAGE]

    slack.click(buttons(first)["share"], user="U0ASKER", response="/response/share")
    [shared] = slack.fake.wait_for("/response/share")
    assert shared["response_type"] == "in_channel" and shared["replace_original"] is False
    assert answer_ids(shared) == answer_ids(first) and "share" not in buttons(shared)
    assert shared["blocks"][0]["text"]["text"].startswith("<@U0ASKER> shared the authors' answers to")
    assert_no_forged_controls(shared, sharer="U0ASKER")
    first_query = json.loads(buttons(first)["vote-0-yes"]["value"])["id"]
    assert json.loads(buttons(shared)["vote-0-yes"]["value"])["id"] == first_query  # votes count on the logged search


def test_votes_are_one_per_person_per_answer_with_no_slack_id_in_the_log(slack):
    slack.command(seed_question(slack.searcher))
    [reply] = slack.fake.wait_for("/response/command")
    voted = buttons(reply)
    slack.click(voted["vote-0-yes"], user="U0VOTER", response="/response/vote")
    slack.click(voted["vote-0-no"], user="U0VOTER", response="/response/vote")  # a change of mind replaces
    slack.click(voted["vote-1-no"], user="U0VOTER", response="/response/vote")
    slack.click(voted["vote-0-yes"], user="U0OTHER", ephemeral=False, response="/response/vote")
    replies = slack.fake.wait_for("/response/vote", 4)
    assert all(body["response_type"] == "ephemeral" for body in replies)
    assert sum(body["replace_original"] is True for body in replies) == 3  # the private answers, marked in place
    [note] = [body for body in replies if body["replace_original"] is False]  # a public message is not one voter's
    assert note["text"].startswith("Thanks: recorded that this answer was helpful")
    ids = answer_ids(reply)
    votes = slack.rows("SELECT answer_id, helpful, voter FROM votes")
    mine, other = voter_hash(VOTER_SECRET, "T1", "U0VOTER"), voter_hash(VOTER_SECRET, "T1", "U0OTHER")
    assert sorted((v["answer_id"], v["helpful"], v["voter"]) for v in votes) == sorted(
        [(ids[0], 0, mine), (ids[1], 0, mine), (ids[0], 1, other)]
    )
    stored = b"".join(path.read_bytes() for path in slack.log_path.parent.glob("queries.sqlite*"))
    assert b"U0VOTER" not in stored and b"U0OTHER" not in stored and b"U0ASKER" not in stored


def test_a_mention_is_answered_in_its_thread(slack):
    question = seed_question(slack.searcher)
    assert slack.mention(f"<@U0BOT> {question}").status_code == 200
    [posted] = slack.fake.wait_for("/api/chat.postMessage")
    assert (posted["channel"], posted["thread_ts"]) == ("C1", "1700000000.000100")
    assert len(answer_ids(posted)) == PAGE and "share" not in buttons(posted) and "more" in buttons(posted)
    assert_within_slack_limits(posted)
    headers = [h for path, _, h in slack.fake.posts if path == "/api/chat.postMessage"][0]
    assert headers["Authorization"] == f"Bearer {BOT_TOKEN}"
    slack.mention(f"<@U0BOT> {question}")  # Slack's retry of the same event (same event_id): answered once
    slack.mention(f"<@U0BOT> {question}", ts="1700000005.000300", thread_ts="1700000000.000100")
    posted_twice = slack.fake.wait_for("/api/chat.postMessage", 2)
    assert posted_twice[1]["thread_ts"] == "1700000000.000100" and posted_twice[1]["text"] == posted["text"]
    slack.click(buttons(posted)["more"], user="U0ASKER", ephemeral=False, response="/response/thread-more")
    [more] = slack.fake.wait_for("/response/thread-more")
    assert (more["response_type"], more["replace_original"]) == ("in_channel", True)  # the answer updated in place
    assert [row["source"] for row in slack.rows("SELECT source FROM queries")] == ["slack"] * 3
    assert len(slack.fake.bodies("/api/chat.postMessage")) == 2  # the retried delivery was dropped before its ack


def test_a_question_cut_to_what_the_search_reads_says_so(slack):
    slack.command(seed_question(slack.searcher) + " and" * 700)
    [reply] = slack.fake.wait_for("/response/command")
    assert "Your question is longer than 1,000 characters: only its first 1,000 were searched." in json.dumps(reply)
    assert_within_slack_limits(reply)


def test_nothing_close_says_so_and_offers_the_closest(slack):
    slack.command("how do I train my puppy to sit?")
    [reply] = slack.fake.wait_for("/response/command")
    assert "closely" in reply["blocks"][0]["text"]["text"] and list(buttons(reply)) == ["more"]
    slack.click(buttons(reply)["more"], user="U0ASKER", response="/response/closest")
    [closest] = slack.fake.wait_for("/response/closest")
    assert "these are the closest answers anyway" in json.dumps(closest) and len(answer_ids(closest)) == PAGE
    filters = [row["filters"] for row in slack.rows("SELECT filters FROM queries ORDER BY time")]
    assert filters == ["{}", '{"closest": true}']


def test_usage_messages_come_back_at_once_and_are_not_logged(slack):
    for text, says in [("", "What would you like to ask the authors?"),
                       ('author:"Nobody Here" what is MLOps?', "Author 'Nobody Here' has no answers in the index"),
                       ("book:cooking what is MLOps?", "No book in the archives is called “cooking”")]:  # fmt: skip
        acked = slack.command(text)
        assert acked.status_code == 200 and says in acked.json()["text"]
        assert "/ask-the-author author:" in acked.json()["text"]
    slack.mention("<@U0BOT>   ")
    [usage] = slack.fake.wait_for("/api/chat.postEphemeral")
    assert (usage["user"], usage["thread_ts"]) == ("U0ASKER", "1700000000.000100")
    assert "What would you like" in usage["text"]
    assert slack.rows("SELECT * FROM queries") == []


def test_filters_reach_the_search(slack):
    slack.command(f'author:"Alfredo Deza" book:practical-mlops {seed_question(slack.searcher)}')
    [reply] = slack.fake.wait_for("/response/command")
    assert "(author: Alfredo Deza, book: 20210830-practical-mlops)" in reply["blocks"][0]["text"]["text"]
    assert all("/alfredo-deza/" in answer_id for answer_id in answer_ids(reply))
    [query] = slack.rows("SELECT filters FROM queries")
    assert json.loads(query["filters"]) == {"author": "Alfredo Deza", "book": "20210830-practical-mlops"}


def test_bad_or_stale_signatures_are_refused(slack):
    question = seed_question(slack.searcher)
    assert slack.command(question, secret="not-the-signing-secret").status_code == 401
    assert slack.command(question, timestamp=int(time.time()) - 10 * 60).status_code == 401
    assert slack.mention(f"<@U0BOT> {question}", secret="not-the-signing-secret").status_code == 401
    unsigned = httpx.post(slack.url, content="text=hi", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert unsigned.status_code == 401
    assert slack.command("").status_code == 200  # the same app answers a signed request
    assert [path for path, _, _ in slack.fake.posts if path != "/api/auth.test"] == []
    assert slack.rows("SELECT * FROM queries") == []


def test_an_app_without_a_signing_secret_refuses_every_http_request(fake_seed_searcher):
    with running_app(fake_seed_searcher, None, signing_secret="") as slack:
        assert slack.command("what is MLOps?", secret="").status_code == 401


def test_a_user_over_the_rate_limit_is_told_to_wait(fake_seed_searcher):
    with running_app(fake_seed_searcher, None, RateLimit(1)) as slack:
        assert slack.command("what is MLOps?").text == ""
        limited = slack.command("what is MLOps?")
        assert "You are asking quickly: at most 1 searches a minute each" in limited.json()["text"]
        assert slack.command("what is MLOps?", user="U0SOMEONE").text == ""  # per user
        [reply, _] = slack.fake.wait_for("/response/command", 2)
        assert not [b for b in reply["blocks"] if b.get("block_id", "").startswith("vote-")]  # no log, no votes


@pytest.fixture(scope="module")
def hostile_searcher(tmp_path_factory) -> Searcher:
    out = tmp_path_factory.mktemp("slack-hostile") / "index"
    build_index([SLACK_ARCHIVES], out, embedder=HashedWordsEmbedder())
    return Searcher(load_built_index(out, model=FAKE_MODEL_ID), HashedWordsEmbedder())


def test_hostile_archive_text_and_questions_never_ping_or_forge_links(tmp_path, hostile_searcher):
    with running_app(hostile_searcher, tmp_path / "queries.sqlite") as slack:
        hostile = "<!channel> <@U024BE7LH> &lt;!here&gt; How do you announce a release to everyone in Slack?"
        slack.mention(f"<@U0BOT> {hostile}")
        slack.command(f"{hostile} <https://evil.example|https://datatalks.club>")
        [posted] = slack.fake.wait_for("/api/chat.postMessage")
        [replied] = slack.fake.wait_for("/response/command")
    for message in (posted, replied):
        assert_within_slack_limits(message)
        assert_no_forged_controls(message)
        assert "link_names" not in message and "parse" not in message
        assert len(answer_ids(message)) == 2
    assert "&lt;!channel&gt;" in json.dumps(posted)  # the archive's markup shows as typed
    assert "&lt;!here&gt; How do you announce" in posted["blocks"][0]["text"]["text"]
    sections = [block["text"]["text"] for block in posted["blocks"] if block["type"] == "section"]
    assert all(len(text) < 700 for text in sections) and any(text.endswith("…") for text in sections)  # cut to read
    assert "more" not in buttons(posted)  # the week has two answers: nothing more to show


def test_socket_mode_takes_a_command_over_the_websocket_and_answers_at_the_response_url(tmp_path, fake_seed_searcher):
    ws = FakeSocketMode()
    fake = FakeSlack({"/api/apps.connections.open": {"url": ws.url}})
    log = QueryLog(tmp_path / "queries.sqlite")
    app = build_app(lambda: fake_seed_searcher, log, client=WebClient(token=BOT_TOKEN, base_url=f"{fake.url}/api/"),
                    voter_secret=VOTER_SECRET)  # fmt: skip
    handler = socket_mode(app, "xapp-test-token")
    handler.connect()
    try:
        command = {"team_id": "T1", "channel_id": "C1", "user_id": "U0ASKER", "command": "/ask-the-author",
                   "text": seed_question(fake_seed_searcher),
                   "response_url": fake.url + "/response/socket"}  # fmt: skip
        ws.send({"envelope_id": "e1", "type": "slash_commands", "accepts_response_payload": True, "payload": command})
        assert ws.wait_for_ack("e1") == {"envelope_id": "e1"}
        [reply] = fake.wait_for("/response/socket")
        assert reply["response_type"] == "ephemeral" and len(answer_ids(reply)) == PAGE
        opened = [h for path, _, h in fake.posts if path == "/api/apps.connections.open"]
        assert opened[0]["Authorization"] == "Bearer xapp-test-token"
        ws.send({"envelope_id": "e2", "type": "slash_commands", "accepts_response_payload": True,
                 "payload": command | {"text": ""}})  # fmt: skip
        usage = ws.wait_for_ack("e2")["payload"]
        assert "What would you like to ask the authors?" in usage["text"]
        assert [row["source"] for row in rows(tmp_path / "queries.sqlite", "SELECT source FROM queries")] == ["slack"]
    finally:
        handler.close()
        ws.close()
        fake.server.shutdown()
        log.close()


def test_the_manifest_creates_the_app_this_code_serves():
    manifest = yaml.safe_load((REPO / "slack" / "manifest.yaml").read_text())
    assert [command["command"] for command in manifest["features"]["slash_commands"]] == [COMMAND]
    assert {"commands", "app_mentions:read", "chat:write"} == set(manifest["oauth_config"]["scopes"]["bot"])
    settings = manifest["settings"]
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention"]
    assert settings["interactivity"]["is_enabled"] and settings["socket_mode_enabled"]


@pytest.mark.slow
def test_with_the_model_should_startups_do_mlops_gets_noah_gifts_answer_in_the_thread(tmp_path, seed_searcher):
    with running_app(seed_searcher, tmp_path / "queries.sqlite") as slack:
        slack.mention("<@U0BOT> Should startups do MLOps?")
        [posted] = slack.fake.wait_for("/api/chat.postMessage")
    cards = json.dumps(posted, ensure_ascii=False)
    assert "*Noah Gift* in _Practical MLOps_ · week of 30 Aug 2021" in cards
    assert "Do small startups really need MLOps" in cards
    # Confidence follows the score, calibrated on the full corpus: on the one-book seed it reads lower.
    assert any(f"*{label}*" in cards for label in ("Answers this", "Related", "Probably not what you asked"))
    assert_within_slack_limits(posted)
    assert len(answer_ids(posted)) == PAGE


# What comes from outside stays outside (issue 25, rows 5-7): the body is read only up to a limit and only
# after the signature headers pass; every failure is answered in Slack; button values are input; shares and
# votes count against the per-user limit.


def _raw_post(url: str, head: str) -> bytes:
    """Send only a request's head to the app, as a client that never sends its body would; what the app answers."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname, address.port), timeout=WAIT_S) as connection:
        connection.sendall(head.encode())
        answer = b""
        while b"\r\n\r\n" not in answer and (chunk := connection.recv(4096)):
            answer += chunk
        return answer


def test_an_unsigned_or_oversized_request_is_refused_before_its_body_is_read(slack):
    now = int(time.time())
    unsigned = f"POST {urlsplit(slack.url).path} HTTP/1.1\r\nHost: x\r\nContent-Length: 500000000\r\n\r\n"
    assert _raw_post(slack.url, unsigned).startswith(b"HTTP/1.1 401 ")  # answered with 500 MB still to come
    signature = f"X-Slack-Request-Timestamp: {now}\r\nX-Slack-Signature: v0={'0' * 64}"
    signed = unsigned.replace("\r\n\r\n", f"\r\n{signature}\r\n\r\n")
    assert _raw_post(slack.url, signed).startswith(b"HTTP/1.1 413 ")
    sent = []

    def endless():  # no Content-Length: chunked, until the app stops reading
        while len(sent) < 8000:  # 500 MB
            sent.append(1)
            yield b"x" * 65536

    headers = {"X-Slack-Request-Timestamp": str(now), "X-Slack-Signature": f"v0={'0' * 64}"}
    try:
        answer = httpx.post(slack.url, content=endless(), headers=headers, timeout=WAIT_S)
        assert answer.status_code == 413
    except httpx.TransportError:
        pass  # the app answered and hung up while the client was still sending
    assert len(sent) < 8000 / 10, len(sent)  # it stopped reading after the limit: a fraction of the 500 MB ever left


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        ("{", {"Content-Type": "application/json"}),
        ("payload=nope", {"Content-Type": "application/x-www-form-urlencoded"}),
        ("text=hi", {"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=abc"}),
        ("text=hi", {"X-Slack-Request-Timestamp": str(10**20), "X-Slack-Signature": f"v0={'0' * 64}"}),
    ],
)
def test_unsigned_garbage_is_a_401_never_a_500(slack, body, headers):
    answer = httpx.post(slack.url, content=body, headers=headers, timeout=WAIT_S)
    assert answer.status_code == 401 and "Traceback" not in answer.text


def test_a_signed_request_bolt_cannot_parse_is_a_400_and_logged(slack, caplog):
    answer = slack.post("payload=nope", "application/x-www-form-urlencoded")
    assert answer.status_code == 400 and answer.text == "malformed request"
    assert any("could not be handled" in record.message for record in caplog.records)


class FailingSearcher(GatedSearcher):
    """The seed searcher whose searches fail: a broken index, say."""

    def search(self, *args, **kwargs):
        raise RuntimeError("the index broke")


def test_a_failing_search_is_answered_in_slack_and_logged(tmp_path, fake_seed_searcher, caplog):
    question = seed_question(fake_seed_searcher)
    with running_app(FailingSearcher(fake_seed_searcher), tmp_path / "queries.sqlite") as slack:
        assert slack.command(question).status_code == 200
        [reply] = slack.fake.wait_for("/response/command")
        slack.mention(f"<@U0BOT> {question}")
        [mentioned] = slack.fake.wait_for("/api/chat.postEphemeral")
        more = {"action_id": "more", "value": Asked(SearchRequest(question), None, 0).encode()}
        slack.click(more, response="/response/more")
        slack.click(more | {"action_id": "share"}, response="/response/share")
        [clicked_more] = slack.fake.wait_for("/response/more")
        [clicked_share] = slack.fake.wait_for("/response/share")
    for message in (reply, mentioned, clicked_more, clicked_share):
        assert message["text"].startswith("Sorry, that did not work: something went wrong on our side")
    assert mentioned["user"] == "U0ASKER" and clicked_share["response_type"] == "ephemeral"
    failures = [r for r in caplog.records if r.name == "assistant.slack" and r.exc_info]
    assert len(failures) == 4 and all("the index broke" in str(r.exc_info[1]) for r in failures)


def test_more_answers_for_an_author_a_later_sync_removed_says_why(slack):
    gone = Asked(SearchRequest(seed_question(slack.searcher), author="Someone Removed"), None, 0)
    slack.click({"action_id": "more", "value": gone.encode()}, response="/response/gone")
    [reply] = slack.fake.wait_for("/response/gone")
    assert reply["text"].startswith("Sorry, that cannot be answered: ") and "Someone Removed" in reply["text"]
    assert reply["response_type"] == "ephemeral"


@pytest.mark.parametrize("action", ["more", "share"])
@pytest.mark.parametrize("removed", [{"book": "20190101-a-week-a-sync-removed"}, {"author": "Someone Removed"}])
def test_old_more_and_share_buttons_for_a_book_or_author_a_rebuild_removed_say_why(slack, action, removed):
    """Issue 26, bug 5: an old button whose book or author is gone is answered in Slack, never a crashed handler."""
    gone = Asked(SearchRequest(seed_question(slack.searcher), **removed), None, 0)
    slack.click({"action_id": action, "value": gone.encode()}, response=f"/response/{action}-gone")
    [reply] = slack.fake.wait_for(f"/response/{action}-gone")
    assert reply["text"].startswith("Sorry, that cannot be answered: ") and reply["response_type"] == "ephemeral"
    assert next(iter(removed.values())) in reply["text"]


TAMPERED = [
    ("more", '{"q":"what is MLOps?","a":null,"b":null,"c":false,"n":-3,"id":null}'),
    ("more", '{"q":"what is MLOps?","a":null,"b":null,"c":false,"n":1.5,"id":null}'),
    ("more", '{"q":"what is MLOps?","a":null,"b":null,"c":false,"n":true,"id":null}'),
    ("more", '{"q":"what is MLOps?","a":null,"b":null,"c":false,"n":999,"id":null}'),
    ("more", '{"q":["what"],"a":null,"b":null,"c":false,"n":0,"id":null}'),
    ("more", '{"q":"what is MLOps?","a":7,"b":null,"c":"yes","n":0,"id":null}'),
    ("share", "not json"),
    ("share", "[" * 20_000 + "]" * 20_000),
    ("share", '"a string"'),
    ("vote-0-yes", '{"id":"5f0c3a9e1b7d2468","a":"x/1/y/0"}'),
    ("vote-0-yes", '{"id":"5f0c3a9e1b7d2468","a":"x/1/y/0","h":"no"}'),
    ("vote-0-no", '{"id":["x"],"a":"x/1/y/0","h":false}'),
    ("vote-0-no", '{"id":"5f0c3a9e1b7d2468","a":"x/1/y/0","h":false,"s":"a string"}'),
    ("vote-0-no", '{"id":"5f0c3a9e1b7d2468","a":"x/1/y/0","h":false,"s":{"q":"what is MLOps?"}}'),
    ("more", '{"q":"what is MLOps?","a":null,"b":null,"c":false,"n":0,"id":null,"v":[["x/1/y/0","yes"]]}'),
]


@pytest.mark.parametrize(("action", "value"), TAMPERED)
def test_a_tampered_button_value_is_refused_in_slack(slack, action, value):
    slack.click({"action_id": action, "value": value}, response="/response/tampered")
    [reply] = slack.fake.wait_for("/response/tampered")
    assert reply["text"].startswith("Sorry, that cannot be answered: not a") and reply["response_type"] == "ephemeral"
    assert slack.rows("SELECT * FROM queries") == [] and slack.rows("SELECT * FROM votes") == []


def test_shares_and_votes_count_against_the_per_user_limit(tmp_path, fake_seed_searcher):
    with running_app(fake_seed_searcher, tmp_path / "queries.sqlite", RateLimit(3)) as slack:
        slack.command(seed_question(fake_seed_searcher))
        [first] = slack.fake.wait_for("/response/command")
        for _ in range(15):
            slack.click(buttons(first)["share"], user="U0ASKER", response="/response/share")
        replies = slack.fake.wait_for("/response/share", 15)
        shared = [r for r in replies if r["response_type"] == "in_channel"]
        assert len(shared) == 2  # the command took the first of the three a minute
        assert all(r["text"].startswith("You are asking quickly") for r in replies if r not in shared)
        for _ in range(5):
            slack.click(buttons(first)["vote-0-yes"], user="U0VOTER", response="/response/vote")
        votes = slack.fake.wait_for("/response/vote", 5)
        assert (
            sum(
                r["replace_original"] is True and "✓ You said this helped" in json.dumps(r, ensure_ascii=False)
                for r in votes
            )
            == 3
        )
        assert sum(r["text"].startswith("You are asking quickly") for r in votes) == 2


def test_three_more_answers_update_one_message_in_place(slack):
    slack.command(seed_question(slack.searcher))
    [message] = slack.fake.wait_for("/response/command")
    seen = set(answer_ids(message))
    for page in range(1, 4):
        slack.click(buttons(message)["more"], user="U0ASKER", response=f"/response/more-{page}")
        [message] = slack.fake.wait_for(f"/response/more-{page}")
        assert message["replace_original"] is True and message["response_type"] == "ephemeral"  # the same message
        assert f"(from answer {page * PAGE + 1})" in message["blocks"][0]["text"]["text"]
        assert not seen & set(answer_ids(message))
        seen |= set(answer_ids(message))
        assert_within_slack_limits(message)
    assert len(seen) == 4 * PAGE


def test_more_answers_and_votes_update_one_message_in_place(slack):
    """The issue's must-show: one private message through three "More answers" and two votes."""
    slack.command(seed_question(slack.searcher))
    [message] = slack.fake.wait_for("/response/command")
    steps = [("more", "/response/step-1"), ("more", "/response/step-2"), ("more", "/response/step-3"),
             (f"vote-{3 * PAGE}-yes", "/response/step-4"), (f"vote-{3 * PAGE + 1}-no", "/response/step-5")]  # fmt: skip
    for action, response in steps:
        slack.click(buttons(message)[action], user="U0ASKER", response=response)
        [message] = slack.fake.wait_for(response)
        assert message["replace_original"] is True and message["response_type"] == "ephemeral", message["text"]
        assert_within_slack_limits(message)
        assert_no_forged_controls(message)
    assert f"(from answer {3 * PAGE + 1})" in message["blocks"][0]["text"]["text"]  # still the fourth page
    ids = answer_ids(message)
    shown = json.dumps(message, ensure_ascii=False)
    assert "✓ You said this helped" in shown and "✓ You said this did not help" in shown  # both votes marked
    marked = buttons(message)
    assert marked[f"vote-{3 * PAGE}-yes"]["text"]["text"] == "✓ Helpful"
    assert marked[f"vote-{3 * PAGE + 1}-no"]["text"]["text"] == "✓ Not helpful"
    assert marked[f"vote-{3 * PAGE + 2}-yes"]["text"]["text"] == "Helpful" and {"more", "share"} <= set(marked)
    votes = sorted((v["answer_id"], v["helpful"]) for v in slack.rows("SELECT answer_id, helpful FROM votes"))
    assert votes == sorted([(ids[0], 1), (ids[1], 0)])
    assert [row["k"] for row in slack.rows("SELECT k FROM queries ORDER BY time")] == [PAGE, 2 * PAGE, 3 * PAGE,
                                                                                         4 * PAGE]  # fmt: skip
    slack.click(marked["share"], user="U0ASKER", response="/response/shared")
    [shared] = slack.fake.wait_for("/response/shared")
    assert "You said" not in json.dumps(shared, ensure_ascii=False)  # the channel never sees the asker's votes
