"""Load-test Ask the Author over loopback: `python benchmarks/load.py [--clients 20] [--questions 25]`.

Starts `app.py` on a free 127.0.0.1 port over the archives in data/, sends 20 concurrent clients x 25
questions to its Gradio `/search` API (`--api json`: to `GET /api/search`), prints error count,
p50/p95 latency and throughput, and stops the app. The tests use `running_app` to serve the app they drive.
"""

import argparse
import http.client
import json
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import httpx

REPO = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"  # loopback only: the load never leaves this machine
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 60.0
QUESTIONS = [
    "Should startups do MLOps?",
    "Which MLOps tools should I start with?",
    "What is the first step towards MLOps?",
    "Is CI/CD needed for machine learning?",
    "How do I choose between open source and a cloud vendor?",
    "What are bad practices in ML pipelines?",
    "Should everything be automated?",
    "How do I monitor models in production?",
    "Do I need a feature store?",
    "What is a good toy project to learn MLOps?",
    "How do small teams do MLOps with limited people?",
    "Can the whole ML lifecycle be automated end to end?",
    "What should a beginner learn first?",
    "When will the book be published?",
    "Is Kubernetes required for MLOps?",
    "How do you handle data drift?",
    "Which cloud platform is best for machine learning?",
    "What are the disadvantages of MLOps?",
    "How do I deploy a model with AWS SageMaker?",
    "What is continuous improvement in MLOps?",
    "How do you test machine learning code?",
    "Should data scientists learn DevOps?",
    "How do I convince my company to invest in MLOps?",
    "What is the difference between DevOps and MLOps?",
    "How do I cook onions?",  # off-topic on purpose: the no-answer path is load too
]


@dataclass
class LoadReport:
    """What a load run measured: one latency per successful request, one message per failed one."""

    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else float("nan")

    def __str__(self) -> str:
        requests = len(self.latencies) + len(self.errors)
        return (
            f"{requests} requests, {len(self.errors)} errors in {self.seconds:.1f} s "
            f"({requests / self.seconds:.1f} requests/s); latency p50 {1000 * self.percentile(50):.0f} ms, "
            f"p95 {1000 * self.percentile(95):.0f} ms, mean {1000 * statistics.fmean(self.latencies or [0]):.0f} ms"
        )


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def _wait_until_up(url: str, process: subprocess.Popen, log, timeout: float) -> None:
    """Poll the URL until it answers; fail with the app's output if it exits or takes longer than `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"app.py exited with {process.returncode}:\n{_read(log)}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"app.py did not answer at {url} within {timeout:.0f} s:\n{_read(log)}")


def _read(log) -> str:
    """The end of the app's output, to show why it did not start."""
    log.seek(0)
    return log.read().decode("utf-8", "replace")[-5000:]


@contextmanager
def running_app(
    index: Path,
    data: Sequence[Path],
    timeout: float = START_TIMEOUT,
    *,
    query_log: Path | str | None = None,
    rate_limit: int | None = None,
) -> Iterator[str]:
    """`python app.py` on a free loopback port for the duration of the block; yields its URL once it answers.

    It logs queries to `query_log`, or (None) runs with --no-log; `rate_limit` is its --rate-limit (None: default).
    """
    port = free_port()
    command = [sys.executable, str(REPO / "app.py"), "--host", HOST, "--port", str(port), "--index", str(index)]
    command += [arg for folder in data for arg in ("--data", str(folder))]
    command += ["--log", str(query_log)] if query_log else ["--no-log"]
    command += ["--rate-limit", str(rate_limit)] if rate_limit is not None else []
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            url = f"http://{HOST}:{port}/"
            _wait_until_up(url, process, log, timeout)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _gradio_asker(url: str):
    """Ask through the Gradio `/search` API; returns the answers."""
    from gradio_client import Client

    # Plain HTTP on loopback: nothing to verify. Verifying makes each of gradio_client's per-request httpx
    # clients load the CA bundle, ~70 ms of CPU a question, which made the harness its own bottleneck.
    client = Client(url, verbose=False, ssl_verify=False)
    return lambda question: client.submit(question, 5, "", "", api_name="/search").result(timeout=REQUEST_TIMEOUT)


def _json_asker(url: str):
    """Ask through the plain JSON endpoint `GET /api/search` on one keep-alive connection; returns the answers.

    http.client rather than httpx: the clients share the cores with the app, and httpx spends ~2 ms of
    CPU on each request, http.client a fraction of that.
    """
    address = urlsplit(url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=REQUEST_TIMEOUT)

    def ask(question: str):
        connection.request("GET", f"{address.path}api/search?{urlencode({'q': question, 'k': 5})}")
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {body[:200].decode('utf-8', 'replace')}")
        return json.loads(body)["answers"]

    return ask


ASKERS = {"gradio": _gradio_asker, "json": _json_asker}


def _client_session(url: str, questions: Sequence[str], offset: int, api: str) -> LoadReport:
    """One client asking every question once, starting at `offset` so clients do not move in lockstep."""
    report = LoadReport()
    ask = ASKERS[api](url)
    for i in range(len(questions)):
        question = questions[(offset + i) % len(questions)]
        started = time.perf_counter()
        try:
            result = ask(question)
            if not isinstance(result, list):
                raise TypeError(f"expected a list of answers, got {type(result).__name__}")
        except Exception as error:  # noqa: BLE001 - every failure is counted and reported, none stops the run
            report.errors.append(f"{question!r}: {type(error).__name__}: {error}")
        else:
            report.latencies.append(time.perf_counter() - started)
    return report


def run_load(url: str, clients: int = 20, questions: Sequence[str] = QUESTIONS, api: str = "gradio") -> LoadReport:
    """`clients` concurrent clients each asking all `questions` through the Gradio API or the JSON endpoint."""
    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        sessions = list(pool.map(lambda i: _client_session(url, questions, i, api), range(clients)))
    total = LoadReport(seconds=time.perf_counter() - started)
    for session in sessions:
        total.latencies += session.latencies
        total.errors += session.errors
    return total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python benchmarks/load.py", description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20, help="concurrent clients (default: 20)")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS), help="questions per client (default: 25)")
    parser.add_argument("--index", type=Path, default=REPO / "index", help="index folder, built when missing")
    parser.add_argument("--data", type=Path, default=REPO / "data", help="archive folder (default: data/)")
    parser.add_argument("--api", choices=sorted(ASKERS), default="gradio", help="which API to load (default: gradio)")
    args = parser.parse_args(argv)
    questions = (QUESTIONS * (args.questions // len(QUESTIONS) + 1))[: args.questions]
    print(f"Starting app.py on {HOST} over {args.index}, logging queries ...", flush=True)
    with tempfile.TemporaryDirectory() as state:
        query_log = Path(state) / "queries.sqlite"
        # All clients share one address, which the app's per-client rate limit would count as one client.
        with running_app(args.index, [args.data], query_log=query_log, rate_limit=0) as url:
            print(f"Sending {args.clients} clients x {len(questions)} questions to the {args.api} API ...", flush=True)
            report = run_load(url, args.clients, questions, args.api)
        with sqlite3.connect(query_log) as connection:
            logged = connection.execute("SELECT count(*) FROM queries").fetchone()[0]
    print(f"{report}; {logged} queries logged")
    for error in report.errors[:10]:
        print(f"  error: {error}")
    return 1 if report.errors else 0


if __name__ == "__main__":
    sys.exit(main())
