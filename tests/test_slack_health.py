"""The Slack app's /healthz and /metrics (issue 24 part 4), on its own port: beside /slack/events over HTTP, and
on a server of their own in Socket Mode. Slack's side is the fake Slack API of tests/slackfakes.py."""

from __future__ import annotations

import json

import httpx
from prometheus_client.parser import text_string_to_metric_families
from slack_sdk import WebClient
from test_slack_app import BOT_TOKEN, SECRET, VOTER_SECRET, Slack, answer_ids, buttons, seed_question

from assistant.searching.live import LiveSearcher
from assistant.service.health import Metrics, health_routes
from assistant.service.querylog import QueryLog
from assistant.slack.bot import RateLimit, build_app
from assistant.slack.serve import start_health, start_http
from slackfakes import WAIT_S, FakeSlack


def _samples(base: str) -> dict[str, float]:
    answer = httpx.get(base + "metrics", timeout=WAIT_S)
    assert answer.status_code == 200, answer.text
    return {sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
            for family in text_string_to_metric_families(answer.text) for sample in family.samples}  # fmt: skip


def test_slack_searches_votes_and_refusals_are_counted_on_its_own_port(tmp_path, fake_seed_searcher):
    fake, log = FakeSlack(), QueryLog(tmp_path / "queries.sqlite")
    live, metrics = LiveSearcher(fake_seed_searcher), Metrics()
    metrics.watch(live, log)
    client = WebClient(token=BOT_TOKEN, base_url=f"{fake.url}/api/")
    app = build_app(live.current, log, client=client, signing_secret=SECRET, limit=RateLimit(2),
                    voter_secret=VOTER_SECRET, metrics=metrics)  # fmt: skip
    running = start_http(app, routes=health_routes(live, log, metrics))
    base = running.url.removesuffix("slack/events")
    try:
        slack = Slack(fake, running.url, tmp_path / "queries.sqlite", log, fake_seed_searcher)
        assert _samples(base).get('ask_searches_total{"source": "slack"}', 0) == 0
        slack.command(seed_question(fake_seed_searcher))
        [reply] = fake.wait_for("/response/command")
        assert _samples(base)['ask_searches_total{"source": "slack"}'] == 1
        slack.click(buttons(reply)[next(name for name in buttons(reply) if name.endswith("-yes"))])
        fake.wait_for("/response/click")
        slack.command("what is MLOps?")
        fake.wait_for("/response/command", 2)  # the second search is done once its reply is posted
        limited = slack.command("what is MLOps?")
        assert "You are asking quickly" in limited.json()["text"]
        samples = _samples(base)
        health = httpx.get(base + "healthz", timeout=WAIT_S)
    finally:
        running.stop()
        fake.server.shutdown()
        log.close()
    assert answer_ids(reply)
    assert samples['ask_searches_total{"source": "slack"}'] == 2 and samples['ask_votes_total{"vote": "helpful"}'] == 1
    assert samples["ask_rate_limited_total{}"] == 1 and samples["ask_search_seconds_count{}"] == 2
    assert health.status_code == 200 and health.json()["index"]["answers"] == len(fake_seed_searcher.units)


def test_socket_mode_serves_health_and_metrics_on_a_port_of_its_own(fake_seed_searcher):
    live, metrics = LiveSearcher(fake_seed_searcher), Metrics()
    metrics.watch(live, None)
    running = start_health(health_routes(live, None, metrics))
    try:
        health = httpx.get(running.url + "healthz", timeout=WAIT_S)
        samples = _samples(running.url)
        forwarded = httpx.get(running.url + "metrics", headers={"X-Forwarded-For": "198.51.100.7"}, timeout=WAIT_S)
    finally:
        running.stop()
    assert health.status_code == 200 and health.json()["log"] is None and health.json()["status"] == "ok"
    assert samples["ask_index_answers{}"] == len(fake_seed_searcher.units) and "ask_log_writing{}" not in samples
    assert forwarded.status_code == 403
