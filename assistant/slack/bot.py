"""The Slack app: `/ask-the-author`, @mentions, and the buttons under the answers, on Bolt for Python.

Every listener acknowledges first (Slack waits 3 seconds) and searches after, on Bolt's worker
threads. Searches and votes go to the same query log as the web app, with source `slack`; a vote's
voter is a keyed hash of the Slack team and user, never the user id itself. Button values come back
from Slack as the clicker sent them, so they are checked like any input; every search, share and vote
counts against the clicker's rate limit, and every failure is answered in Slack and logged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import math
import os
import re
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from slack_bolt import App, BoltResponse
from slack_sdk import WebClient

from assistant.searching.searcher import Searcher
from assistant.service.contract import MAX_RESULTS, SearchRequest, run
from assistant.service.health import Metrics
from assistant.service.querylog import LogUnavailableError, QueryLog, UnknownIdError
from assistant.service.ratelimit import RateLimit as SharedRateLimit
from assistant.service.record import search_and_log
from assistant.slack.ask import Asked, AskError, Vote, parse_ask
from assistant.slack.blocks import PAGE, escape, no_answer_message, notice_message, results_message

COMMAND = "/ask-the-author"
DEFAULT_PER_MINUTE = 10
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")  # a Slack user id, the only thing we ever put in <@…>
FAILED = "Sorry, that did not work: something went wrong on our side, and it is logged. Please ask again."
log_failures = logging.getLogger("assistant.slack")


class RateLimit(SharedRateLimit):
    """At most `per_minute` searches per user in any 60 seconds; thread-safe; with the message Slack shows."""

    def __init__(self, per_minute: int = DEFAULT_PER_MINUTE, clock: Callable[[], float] = time.monotonic):
        super().__init__(per_minute, clock)

    def message(self, wait: float) -> dict:
        return notice_message(
            f"You are asking quickly: at most {self.per_minute} searches a minute each. "
            f"Try again in {math.ceil(wait)} s."
        )


def voter_key(path: Path) -> bytes:
    """The secret that keys voters' hashes, read from `path` or created there (readable by its owner only)."""
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_bytes()
        if len(key) < 32:
            raise ValueError(f"{path}: a voter key must hold at least 32 bytes; delete it to make a new one") from None
        return key
    key = secrets.token_bytes(32)
    with os.fdopen(descriptor, "wb") as file:
        file.write(key)
    return key


def voter_hash(key: bytes, team: str, user: str) -> str:
    """Who voted, as the log keeps it: the same for one person's votes, not the Slack user id."""
    return hmac.new(key, f"{team}:{user}".encode(), hashlib.sha256).hexdigest()[:32]


class Answerer:
    """Search, log and render, with no Slack in it: what every listener sends."""

    def __init__(
        self,
        searcher_source: Callable[[], Searcher],
        log: QueryLog | None,
        web_url: str | None,
        metrics: Metrics | None = None,
    ):
        self.searcher_source = searcher_source
        self.log = log
        self.web_url = web_url
        self.metrics = metrics

    def parse(self, text: str) -> SearchRequest:
        """The search a message asks for; AskError saying why not and how to ask."""
        return parse_ask(self.searcher_source(), text, PAGE)

    def answers(self, asked: Asked, share: bool) -> dict:
        """The next PAGE answers after asked.seen, searched and logged as one query (source `slack`)."""
        k = min(asked.seen + PAGE, MAX_RESULTS)
        request = replace(asked.request, k=k)
        found = search_and_log(self.searcher_source(), request, self.log, "slack", self.metrics)
        page = Asked(request, found.query_id, asked.seen)
        if not found.answers:
            return no_answer_message(page)
        shown = found.answers[asked.seen :]
        if not shown:
            return notice_message("There are no more answers to this question.")
        more = len(found.answers) == k and k + PAGE <= MAX_RESULTS
        return results_message(page, shown, more=more, web_url=self.web_url, share=share, weak=found.none_close)

    def shared(self, asked: Asked, sharer: str) -> dict:
        """The answers an ephemeral message showed, again, for the channel: same query id, so votes count on it."""
        request = replace(asked.request, k=min(asked.seen + PAGE, MAX_RESULTS))
        searcher = self.searcher_source()
        found = run(searcher, request)
        answers = found[asked.seen :]
        if not answers:
            return notice_message("These answers are no longer in the archives; ask again.")
        sharer = sharer if _USER_ID.fullmatch(sharer) else None
        weak = searcher.none_close(request.question, found, request.closest)
        return results_message(asked, answers, more=False, web_url=self.web_url, sharer=sharer, weak=weak)

    def voted(self, vote: Vote) -> dict | None:
        """The private page of answers the vote came from, again (searched, not logged), with the vote marked;
        None when that page no longer shows the answer voted on."""
        asked = vote.asked
        request = replace(asked.request, k=min(asked.seen + PAGE, MAX_RESULTS))
        searcher = self.searcher_source()
        found = run(searcher, request)
        answers = found[asked.seen :]
        if vote.answer_id not in {answer.id for answer in answers[:PAGE]}:
            return None
        earlier = tuple((answer, said) for answer, said in asked.voted if answer != vote.answer_id)
        marked = Asked(asked.request, vote.query_id, asked.seen, (*earlier, (vote.answer_id, vote.helpful)))
        more = len(found) == request.k and request.k + PAGE <= MAX_RESULTS
        weak = searcher.none_close(request.question, found, request.closest)
        return results_message(marked, answers, more=more, web_url=self.web_url, share=True, weak=weak)


def build_app(
    searcher_source: Callable[[], Searcher],
    log: QueryLog | None,
    *,
    client: WebClient,
    signing_secret: str = "",  # required for HTTP mode; Socket Mode needs none
    web_url: str | None = None,
    limit: RateLimit | None = None,
    voter_secret: bytes = b"",
    metrics: Metrics | None = None,
) -> App:
    """The Bolt app over the current searcher (`searcher_source()` is called per request) and the query log;
    searches, votes and rate-limit refusals counted in `metrics`."""
    if log is not None and len(voter_secret) < 32:
        raise ValueError("votes need a voter secret of at least 32 bytes (see voter_key)")
    # Socket Mode requests come over Slack's authenticated WebSocket and skip the signature check; without a
    # signing secret an unguessable one stands in, so no request over HTTP can ever pass it.
    app = App(client=client, signing_secret=signing_secret or secrets.token_hex(32))
    answerer = Answerer(searcher_source, log, web_url, metrics)
    limit = limit or RateLimit()

    def limited(user: str) -> float:
        """0 when `user` may search now (counted), else the seconds to wait (and the refusal counted)."""
        wait = limit.wait(user)
        if wait and metrics is not None:
            metrics.refused()
        return wait

    @app.command(COMMAND)
    def ask_by_command(ack, command, respond):
        try:
            request = answerer.parse(command.get("text", ""))
        except AskError as error:
            return ack(**notice_message(escape(str(error))))
        except Exception:
            log_failures.exception("%s failed", COMMAND)
            return ack(**notice_message(FAILED))
        wait = limited(command["user_id"])
        if wait:
            return ack(**limit.message(wait))
        ack()
        with answering(lambda message: respond(response_type="ephemeral", **message), COMMAND):
            respond(response_type="ephemeral", **answerer.answers(Asked(request, None, 0), share=True))

    seen_events = SeenEvents()

    @app.middleware
    def each_event_once(body, next):  # the argument names are what Bolt passes
        """Slack delivers an event again (X-Slack-Retry-Num, the same event_id) when our ack was slow: drop repeats
        before acknowledging, so a retried mention is answered once."""
        if body.get("type") == "event_callback" and not seen_events.first(str(body.get("event_id"))):
            return BoltResponse(status=200, body="")
        return next()

    @app.event("app_mention")
    def ask_by_mention(event, client):
        if event.get("bot_id") or "user" not in event:
            return  # never answer a bot, ourselves included
        channel, user = event["channel"], event["user"]
        thread = event.get("thread_ts") or event["ts"]

        def privately(message: dict) -> None:
            client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, **message)

        with answering(privately, "a mention"):
            try:
                request = answerer.parse(event.get("text", ""))
            except AskError as error:
                return privately(notice_message(escape(str(error))))
            wait = limited(user)
            if wait:
                return privately(limit.message(wait))
            answers = answerer.answers(Asked(request, None, 0), share=False)
            client.chat_postMessage(channel=channel, thread_ts=thread, **answers)

    def button(what: str):
        """A button's listener: acknowledged at once, counted against the clicker's limit, failures answered."""

        def listener_for(handle: Callable[[str | None, dict, Callable, Callable[[dict], object]], object]):
            def listener(ack, action, body, respond):  # the argument names are what Bolt passes
                ack()
                privately = _privately(respond)
                with answering(privately, what):
                    wait = limited(body["user"]["id"])
                    if wait:
                        return privately(limit.message(wait))
                    handle(action.get("value"), body, respond, privately)

            return listener

        return listener_for

    @app.action("more")
    @button("More answers")
    def more_answers(value, body, respond, privately):
        asked = Asked.decode(value)
        ephemeral = _ephemeral(body)
        answers = answerer.answers(asked, share=ephemeral)  # the next page replaces this one: one message a question
        respond(response_type="ephemeral" if ephemeral else "in_channel", replace_original=True, **answers)

    @app.action("share")
    @button("Share in channel")
    def share_in_channel(value, body, respond, privately):
        shared = answerer.shared(Asked.decode(value), body["user"]["id"])
        respond(response_type="in_channel", replace_original=False, **shared)

    @app.action(re.compile(r"^vote-\d+-(yes|no)$"))
    @button("a vote")
    def vote(value, body, respond, privately):
        cast = Vote.decode(value)
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        voter = voter_hash(voter_secret, team, body["user"]["id"])
        try:
            recorded = log is not None and log.vote(cast.query_id, cast.answer_id, cast.helpful, voter)
        except (UnknownIdError, LogUnavailableError):
            recorded = False
        if recorded and metrics is not None:
            metrics.voted(cast.helpful)
        if recorded and cast.asked is not None and _ephemeral(body):  # a public message is not one voter's to mark
            try:
                marked = answerer.voted(cast)
            except Exception:  # the vote is recorded: say so privately rather than fail
                log_failures.exception("showing a vote in place failed")
                marked = None
            if marked is not None:
                return respond(response_type="ephemeral", replace_original=True, **marked)
        if recorded:
            said = "helpful" if cast.helpful else "not helpful"
            text = f"Thanks: recorded that this answer was {said}. Voting again changes your vote."
        else:
            text = "Sorry, the query log could not take your vote (it may be off, or the search is too old)."
        privately(notice_message(text))

    return app


class SeenEvents:
    """The ids of the last `size` events answered, so a delivery Slack retries is answered once; thread-safe."""

    def __init__(self, size: int = 10_000):
        self.size, self._ids, self._lock = size, OrderedDict(), threading.Lock()

    def first(self, event_id: str) -> bool:
        """True the first time `event_id` is seen."""
        with self._lock:
            if event_id in self._ids:
                return False
            self._ids[event_id] = None
            if len(self._ids) > self.size:
                self._ids.popitem(last=False)
            return True


@contextmanager
def answering(reply: Callable[[dict], object], what: str) -> Iterator[None]:
    """Run a listener's work; a failure is logged and answered with `reply` (a short message), never silence.

    A ValueError is the request's own fault (a tampered button, a book or author a later sync removed) and is
    answered with its reason; anything else with FAILED.
    """
    try:
        yield
    except ValueError as error:
        log_failures.warning("%s refused: %s", what, str(error)[:200])
        reply(notice_message(f"Sorry, that cannot be answered: {escape(str(error)[:300])}. Please ask again."))
    except Exception:
        log_failures.exception("%s failed", what)
        try:
            reply(notice_message(FAILED))
        except Exception:
            log_failures.exception("%s: the failure could not be answered in Slack either", what)


def _privately(respond) -> Callable[[dict], object]:
    """Reply to the clicker only, under the clicked message."""
    return lambda message: respond(response_type="ephemeral", replace_original=False, **message)


def _ephemeral(body: dict) -> bool:
    """Whether the clicked message is visible to the clicker only."""
    return bool((body.get("container") or {}).get("is_ephemeral"))
