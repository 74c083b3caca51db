"""Run the Slack app: `python -m assistant.slack [--http --port P] [--index DIR] [--web-url URL] ...`.

Socket Mode by default (SLACK_BOT_TOKEN + SLACK_APP_TOKEN: no public address needed); `--http`
serves Slack's signed requests on --host:--port/slack/events instead (SLACK_BOT_TOKEN +
SLACK_SIGNING_SECRET). Either way --host:--port serves /healthz and /metrics. Builds the index first
when it is missing or older than the archives, as app.py does; searches and votes go to the same query
log (source `slack`) unless `--no-log`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from assistant import config
from assistant.config import add_data_argument, add_people_argument
from assistant.errors import BadInput, Unavailable, command
from assistant.indexing.store import default_index_path
from assistant.logs import get_logger, setup_logging
from assistant.service.logdb import is_url, log_target
from assistant.service.querylog import DEFAULT_DAYS, default_log_path
from assistant.slack.bot import DEFAULT_PER_MINUTE, RateLimit, build_app, voter_key

# Voters' hashes must match across restarts (and across Slack processes sharing one database: give them one key).
DATABASE_VOTER_KEY = Path("state") / "slack.voter-key"
logger = get_logger(__name__)
TOKENS = {
    "SLACK_BOT_TOKEN": ("xoxb-", "the Bot User OAuth Token from the app's OAuth & Permissions page"),
    "SLACK_APP_TOKEN": ("xapp-", "an app-level token with connections:write, from the app's Basic Information page"),
    "SLACK_SIGNING_SECRET": ("", "the Signing Secret from the app's Basic Information page"),
}


class SettingError(BadInput, ValueError):
    """A missing or malformed Slack credential; the message names the variable, never its value."""


def credentials(env: Mapping[str, str], http: bool) -> dict[str, str]:
    """The tokens the mode needs, read from the environment; SettingError naming the first one missing or malformed."""
    names = ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET" if http else "SLACK_APP_TOKEN"]
    found = {}
    for name in names:
        prefix, where = TOKENS[name]
        value = env.get(name, "").strip()
        if not value:
            raise SettingError(f"{name} is not set: set it to {where}")
        if not value.startswith(prefix) or any(c.isspace() for c in value):
            shape = f"start with {prefix}" if prefix else "be one word"
            raise SettingError(f"{name} is malformed: it must {shape} ({where})")
        found[name] = value
    return found


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant.slack", description="Run the Ask the Author Slack app.")
    parser.add_argument("--http", action="store_true", help="take Slack's requests over HTTP instead of Socket Mode")
    parser.add_argument("--host", default="127.0.0.1", help="for --http, /healthz and /metrics (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=3000, help="for --http, /healthz and /metrics (default: 3000)")
    parser.add_argument("--web-url", metavar="URL", help="the web app's address, for links to whole answers")
    add_data_argument(parser, "default: the folders the index was built from, else data/")
    add_people_argument(parser, "default: the one the index was built with")
    parser.add_argument(
        "--index", type=Path, default=default_index_path(), metavar="DIR", help="default: index/, $ASSISTANT_INDEX"
    )
    log = parser.add_mutually_exclusive_group()
    log.add_argument("--log", type=log_target, default=default_log_path(), metavar="PATH|URL",
                     help="query log, an SQLite file or a postgresql:// URL (default: state/queries.sqlite,"
                          " $ASSISTANT_LOG)")  # fmt: skip
    log.add_argument("--no-log", action="store_true", help="log no queries and take no votes")
    parser.add_argument("--log-days", type=int, default=DEFAULT_DAYS, metavar="N",
                        help=f"keep log rows N days (default: {DEFAULT_DAYS})")  # fmt: skip
    parser.add_argument(
        "--voter-key",
        type=Path,
        metavar="FILE",
        help="secret keying voters' hashes, created if missing (default: the log's path + .voter-key;"
        f" {DATABASE_VOTER_KEY} for a postgresql:// log)",
    )
    parser.add_argument("--rate", type=int, default=DEFAULT_PER_MINUTE, metavar="N",
                        help=f"searches per user per minute (default: {DEFAULT_PER_MINUTE})")  # fmt: skip
    config.add_verbosity_arguments(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options from the command line, $ASSISTANT_…, then the --config file's [slack] and [common]."""
    parser = build_parser()
    args = config.parse(parser, "slack", argv)
    if args.log_days < 1:
        parser.error(f"--log-days must be at least 1, got {args.log_days}")
    if args.rate < 1:
        parser.error(f"--rate must be at least 1, got {args.rate}")
    if args.web_url and not args.web_url.startswith(("https://", "http://")):
        parser.error(f"--web-url must be an http(s) address, got {args.web_url!r}")
    return args


def default_voter_key(log: Path | str) -> Path:
    """Beside an SQLite log; for a database, DATABASE_VOTER_KEY (its folder made private if it is new)."""
    if not is_url(log):
        return Path(f"{log}.voter-key")
    DATABASE_VOTER_KEY.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return DATABASE_VOTER_KEY


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(config.verbosity(args))
    tokens = credentials(os.environ, args.http)
    for name in TOKENS:  # read once: Bolt would read them again, and nothing we start should inherit them
        os.environ.pop(name, None)
    from slack_bolt.error import BoltError  # Bolt and the index load only once the settings are right
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    from assistant.service.health import Metrics, health_routes, metrics_token
    from assistant.service.startup import start

    started = start(args)
    live, log = started.live, started.log
    metrics = Metrics()
    metrics.watch(live, log)
    routes = health_routes(live, log, metrics, metrics_token())
    try:
        secret = b"" if log is None else voter_key(args.voter_key or default_voter_key(args.log))
        app = build_app(
            live.current,  # each rebuild of the index is served without a restart
            log,
            client=WebClient(token=tokens["SLACK_BOT_TOKEN"]),
            signing_secret=tokens.get("SLACK_SIGNING_SECRET", ""),
            web_url=args.web_url,
            limit=RateLimit(args.rate),
            voter_secret=secret,
            metrics=metrics,
        )
    except (BoltError, SlackApiError) as error:  # Bolt checks the bot token with Slack's auth.test
        raise SettingError(f"Slack refused SLACK_BOT_TOKEN: {_reason(error)}") from None
    from assistant.slack.serve import serve_http, socket_mode, start_health

    try:
        if args.http:
            serve_http(app, args.host, args.port, routes)
            return 0
        health = start_health(routes, args.host, args.port)
    except OSError as error:
        raise Unavailable(f"cannot serve on {args.host}:{args.port}: {error}") from None
    logger.info("Health and metrics on %shealthz and %smetrics", health.url, health.url)
    logger.info("Ask the Author's Slack app is connecting to Slack (Socket Mode)")
    socket_mode(app, tokens["SLACK_APP_TOKEN"]).start()
    return 0


def _reason(error: Exception) -> str:
    """Slack's error code (`invalid_auth`, …) without echoing anything that holds the token."""
    response = getattr(error, "response", None)
    if response is not None:
        return str(response.get("error", "refused"))
    return str(error).splitlines()[0][:200]


if __name__ == "__main__":
    sys.exit(main())
