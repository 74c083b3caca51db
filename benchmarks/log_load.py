"""Load the query log: `python benchmarks/log_load.py [--clients 20] [--questions 25] [--data DIR --index DIR]`.

20 clients x 25 questions through `GET /api/search`, each answer followed by three votes (one on each
of the first three answers, `POST /api/feedback`), against: one app on an SQLite log; one app on a
PostgreSQL log; two apps sharing one PostgreSQL log (each client talks to one of them). The server is
Debian's PostgreSQL, started in a temporary folder on loopback. Each run checks that the database holds
exactly one row per search and per vote, and prints the throughput. Default corpus: data/'s seed book.
"""

from __future__ import annotations

import argparse
import http.client
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from urllib.parse import urlencode, urlsplit

from load import QUESTIONS, REPO, running_app
from pgserver import PgServer

sys.path.insert(0, str(REPO))
from assistant.service.querylog import connect_readonly  # noqa: E402

SEED = REPO / "data" / "20210830-practical-mlops.md"
VOTES = 3  # per search: one on each of the first three answers


def _client(url: str, questions: Sequence[str], offset: int) -> list[str]:
    """Ask each question once on one keep-alive connection and vote on its first three answers; the errors."""
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
    errors = []

    def call(method: str, path: str, body: dict | None = None) -> dict:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, payload, {"Content-Type": "application/json"} if payload else {})
        response = connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: HTTP {response.status} {data[:200]!r}")
        return json.loads(data)

    for i in range(len(questions)):
        question = questions[(offset + i) % len(questions)]
        try:
            found = call("GET", f"/api/search?{urlencode({'q': question, 'k': 5, 'closest': 'true'})}")
            for n, answer in enumerate(found["answers"][:VOTES]):
                vote = {"query_id": found["query_id"], "answer_id": answer["id"], "helpful": n % 2 == 0}
                call("POST", "/api/feedback", vote)
            if len(found["answers"]) < VOTES:
                errors.append(f"{question!r}: only {len(found['answers'])} answers")
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported
            errors.append(f"{question!r}: {type(error).__name__}: {error}")
    connection.close()
    return errors


def run(
    label: str, log: Path | str, apps: int, index: Path, data: Path, clients: int, questions: Sequence[str]
) -> dict:
    """Start `apps` app processes on `log`, send the load, and count what the log holds."""
    with ExitStack() as stack:
        urls = [stack.enter_context(running_app(index, [data], query_log=log, rate_limit=0)) for _ in range(apps)]
        started = time.perf_counter()
        with ThreadPoolExecutor(clients) as pool:
            errors = [
                e for errs in pool.map(lambda n: _client(urls[n % apps], questions, n), range(clients)) for e in errs
            ]
        seconds = time.perf_counter() - started
    reader = connect_readonly(log)  # the apps have stopped, writing what they had queued
    try:
        queries, votes = (
            reader.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in ("queries", "votes")
        )
    finally:
        reader.close()
    searches = clients * len(questions)
    return {
        "setup": label, "searches": searches, "seconds": seconds, "errors": errors, "queries": queries,
        "votes": votes, "exact": queries == searches and votes == searches * VOTES,
        "requests_per_s": searches * (1 + VOTES) / seconds,
    }  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/log_load.py", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default: 20)")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="questions per client (default: 25)")
    parser.add_argument("--data", type=Path, help="archive folder (default: data/'s seed book alone)")
    parser.add_argument("--index", type=Path, help="index folder, built when missing (default: a temporary one)")
    args = parser.parse_args(argv)
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    with tempfile.TemporaryDirectory() as scratch, ExitStack() as stack:
        data = args.data
        if data is None:
            data = Path(scratch) / "seed"
            data.mkdir()
            shutil.copy(SEED, data)
            shutil.copy(REPO / "data" / "people.yaml", data)
        index = args.index or Path(scratch) / "index"
        server = PgServer()
        stack.callback(server.close)
        setups = [("SQLite, 1 app", Path(scratch) / "queries.sqlite", 1),
                  ("PostgreSQL, 1 app", server.new_database(), 1),
                  ("PostgreSQL, 2 apps", server.new_database(), 2)]  # fmt: skip
        results = []
        for label, log, apps in setups:
            print(f"{label}: {args.clients} clients x {len(questions)} questions x {VOTES} votes ...", flush=True)
            results.append(run(label, log, apps, index, data, args.clients, questions))
    print("\n| setup | searches + votes | seconds | requests/s | in the log | errors |\n|---|---|---|---|---|---|")
    for r in results:
        held = f"{r['queries']:,} queries, {r['votes']:,} votes" + ("" if r["exact"] else " (NOT EXACT)")
        print(f"| {r['setup']} | {r['searches']:,} + {r['searches'] * VOTES:,} | {r['seconds']:.1f} |"
              f" {r['requests_per_s']:.0f} | {held} | {len(r['errors'])} |")  # fmt: skip
        for error in r["errors"][:5]:
            print(f"  error: {error}")
    return 0 if all(r["exact"] and not r["errors"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
