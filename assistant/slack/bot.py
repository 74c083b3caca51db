"""The Slack app: `/ask-the-author`, @mentions, and the buttons under the answers, on Bolt for Python.

Every listener acknowledges first (Slack waits 3 seconds) and searches after, on Bolt's worker
threads. Searches and votes go to the same query log as the web app, with source `slack`; a vote's
voter is a keyed hash of the Slack team and user, never the user id itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from slack_bolt import App
from slack_sdk import WebClient

from assistant.health import Metrics
from assistant.querylog import LogUnavailableError, QueryLog, UnknownIdError
from assistant.ratelimit import RateLimit as SharedRateLimit
from assistant.searcher import Searcher
from assistant.slack.ask import AskError, Asked, parse_ask
from assistant.slack.blocks import PAGE, escape, no_answer_message, notice_message, results_message
from assistant.web.contract import MAX_RESULTS, SearchRequest, run
from assistant.web.record import search_and_log

COMMAND = "/ask-the-author"
DEFAULT_PER_MINUTE = 10
_USER_ID = re.compile(r"[UW][A-Z0-9]{2,30}")  # a Slack user id, the only thing we ever put in <@…>


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
            raise ValueError(f"{path}: a voter key must hold at least 32 bytes; delete it to make a new one")
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
        return results_message(page, shown, more=more, web_url=self.web_url, share=share)

    def shared(self, asked: Asked, sharer: str) -> dict:
        """The answers an ephemeral message showed, again, for the channel: same query id, so votes count on it."""
        request = replace(asked.request, k=min(asked.seen + PAGE, MAX_RESULTS))
        answers = run(self.searcher_source(), request)[asked.seen :]
        if not answers:
            return notice_message("These answers are no longer in the archives; ask again.")
        sharer = sharer if _USER_ID.fullmatch(sharer) else None
        return results_message(asked, answers, more=False, web_url=self.web_url, sharer=sharer)


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
        wait = limited(command["user_id"])
        if wait:
            return ack(**limit.message(wait))
        ack()
        respond(response_type="ephemeral", **answerer.answers(Asked(request, None, 0), share=True))

    @app.event("app_mention")
    def ask_by_mention(event, client):
        if event.get("bot_id") or "user" not in event:
            return  # never answer a bot, ourselves included
        channel, user = event["channel"], event["user"]
        thread = event.get("thread_ts") or event["ts"]
        try:
            request = answerer.parse(event.get("text", ""))
        except AskError as error:
            return client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread,
                                             **notice_message(escape(str(error))))  # fmt: skip
        wait = limited(user)
        if wait:
            return client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread, **limit.message(wait))
        client.chat_postMessage(channel=channel, thread_ts=thread, **answerer.answers(Asked(request, None, 0), False))

    @app.action("more")
    def more_answers(ack, action, body, respond):
        ack()
        wait = limited(body["user"]["id"])
        if wait:
            return respond(response_type="ephemeral", replace_original=False, **limit.message(wait))
        asked = Asked.decode(action["value"])
        if _ephemeral(body):
            return respond(response_type="ephemeral", replace_original=False, **answerer.answers(asked, share=True))
        message = body["message"]
        respond(response_type="in_channel", replace_original=False, thread_ts=message.get("thread_ts") or message["ts"],
                **answerer.answers(asked, share=False))  # fmt: skip

    @app.action("share")
    def share_in_channel(ack, action, body, respond):
        ack()
        shared = answerer.shared(Asked.decode(action["value"]), body["user"]["id"])
        respond(response_type="in_channel", replace_original=False, **shared)

    @app.action(re.compile(r"^vote-\d+-(yes|no)$"))
    def vote(ack, action, body, respond):
        ack()
        value = json.loads(action["value"])
        team = (body.get("team") or {}).get("id") or body["user"].get("team_id", "")
        voter = voter_hash(voter_secret, team, body["user"]["id"])
        try:
            recorded = log is not None and log.vote(value["id"], value["a"], bool(value["h"]), voter)
        except (UnknownIdError, LogUnavailableError):
            recorded = False
        if recorded and metrics is not None:
            metrics.voted(bool(value["h"]))
        if recorded:
            said = "helpful" if value["h"] else "not helpful"
            text = f"Thanks: recorded that this answer was {said}. Voting again changes your vote."
        else:
            text = "Sorry, the query log could not take your vote (it may be off, or the search is too old)."
        respond(response_type="ephemeral", replace_original=False, **notice_message(text))

    return app


def _ephemeral(body: dict) -> bool:
    """Whether the clicked message is visible to the clicker only."""
    return bool((body.get("container") or {}).get("is_ephemeral"))
