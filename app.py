"""Start Ask the Author: `python app.py [--config FILE] [--host H] [--port P] [--data DIR]... [--index DIR] [--log F]`.

Builds the index first when it is missing or older than the archives, then serves the page, the
Gradio `/search` API, the MCP server and the JSON API on 127.0.0.1:7860 by default. Never opens a
public share link. Searches and votes go to the query log (state/queries.sqlite, or a PostgreSQL database
given as a postgresql:// URL) unless `--no-log`.
Requests must name a loopback host, the `--host` or an `--allowed-host`; logged requests are rate-limited.
Behind a reverse proxy, `--public-url https://ask.example.org` serves that address (deploy/nginx.conf).
A rebuild of the index while it runs (`make sync`, `python -m assistant.index`) is served without a restart.
"""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from assistant import config
from assistant.config import add_data_argument, add_people_argument
from assistant.errors import Unavailable, command
from assistant.indexing.store import default_index_path
from assistant.logs import setup_logging
from assistant.service.logdb import log_target
from assistant.service.querylog import DEFAULT_DAYS, default_log_path
from assistant.service.startup import start
from assistant.web.guard import DEFAULT_RATE_PER_MINUTE, public_origin, trusted_proxies


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python app.py", description="Serve the Ask the Author web app.")
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1, $ASSISTANT_HOST")
    parser.add_argument("--port", type=int, default=7860, help="default: 7860, $ASSISTANT_PORT")
    add_data_argument(parser, "default: the folders the index was built from, else data/")
    add_people_argument(parser, "default: the one the index was built with")
    parser.add_argument(
        "--index", type=Path, default=default_index_path(), metavar="DIR", help="default: index/, $ASSISTANT_INDEX"
    )
    log = parser.add_mutually_exclusive_group()
    log.add_argument(
        "--log", type=log_target, default=default_log_path(), metavar="PATH|URL",
        help="query log, an SQLite file or postgresql://user:password@host:port/db (default: state/queries.sqlite,"
        " $ASSISTANT_LOG)",
    )  # fmt: skip
    log.add_argument("--no-log", action="store_true", help="log no queries and take no votes")
    parser.add_argument(
        "--log-days",
        type=int,
        default=DEFAULT_DAYS,
        metavar="N",
        help=f"keep log rows N days (default: {DEFAULT_DAYS})",
    )
    parser.add_argument(
        "--allowed-host", action="append", default=[], metavar="NAME",
        help="also answer requests for this Host name (repeatable; '*' for any); loopback names and --host always",
    )  # fmt: skip
    parser.add_argument(
        "--rate-limit", type=int, default=DEFAULT_RATE_PER_MINUTE, metavar="N",
        help=f"logged searches and votes a client may make in any minute (default: {DEFAULT_RATE_PER_MINUTE}; 0: none)",
    )  # fmt: skip
    parser.add_argument(
        "--public-url", metavar="URL",
        help="the address a reverse proxy serves the app at, as https://ask.example.org",
    )  # fmt: skip
    parser.add_argument(
        "--forwarded-allow-ips", metavar="IPS",
        help="proxies (addresses or networks, comma-separated; '*': any) whose X-Forwarded-For names the client "
        "(default: none; 127.0.0.1,::1 with --public-url)",
    )  # fmt: skip
    config.add_verbosity_arguments(parser)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The options from the command line, $ASSISTANT_…, then the --config file's [app] and [common]."""
    parser = build_parser()
    args = config.parse(parser, "app", argv)
    checks = {"--public-url": (args.public_url, public_origin),
              "--forwarded-allow-ips": (args.forwarded_allow_ips, lambda ips: trusted_proxies([ips]))}  # fmt: skip
    for option, (value, check) in checks.items():
        try:
            if value:
                check(value)
        except ValueError as error:
            parser.error(f"{option}: {error}")
    if args.forwarded_allow_ips is None:
        args.forwarded_allow_ips = LOOPBACK_PROXIES if args.public_url else ""
    if args.log_days < 1:
        parser.error(f"--log-days must be at least 1, got {args.log_days}")
    if args.rate_limit < 0:
        parser.error(f"--rate-limit must be 0 (no limit) or more, got {args.rate_limit}")
    return args


LOOPBACK_PROXIES = "127.0.0.1,::1"  # a proxy on this machine, as deploy/nginx.conf runs


@command
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(config.verbosity(args))
    started = start(args)
    live, log = started.live, started.log
    from assistant.service.health import metrics_token
    from assistant.web.serve import Proxy, serve  # gradio loads only once there is something to serve

    try:
        proxy = Proxy(args.public_url, [args.forwarded_allow_ips], metrics_token())
        serve(live, args.host, args.port, log, allowed=args.allowed_host, rate_limit=args.rate_limit or None,
              proxy=proxy)  # fmt: skip
    except OSError as error:
        raise Unavailable(f"cannot serve on {args.host}:{args.port}: {error}") from None
    finally:
        if log is not None:
            log.close()  # writes the rows still queued
    return 0


if __name__ == "__main__":
    sys.exit(main())
