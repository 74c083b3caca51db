"""Paths and small helpers shared by the tests (fixtures live in conftest.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"  # every archive, as shipped
EVAL = REPO / "eval"  # the eval sets, their rubric and our judgments
SEED = DATA / "20210830-practical-mlops.md"  # the one-book corpus of the fast indexes
PEOPLE = DATA / "people.yaml"

SEED_ID = "20210830-practical-mlops"
HOST = "Alexey Grigorev"
HOST_BOOK = "20201214-ml-bookcamp"  # the one week the host was the author


def run_async(coroutine):
    """Run a coroutine on a fresh event loop in its own thread: Playwright's sync API may hold this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def screenshot_path(tmp_path: Path, name: str) -> Path:
    """Where a browser test saves a screenshot: $SCREENSHOTS (`make screenshots` sets docs/), else a temp folder."""
    folder = Path(os.environ.get("SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / name


def write_archive(path: Path, archive: list[dict] | None, title: str = "Tiny Book", authors=("Ann Author",)) -> Path:
    """Write a well-formed archive file; `archive=None` leaves the `archive:` field out."""
    front = {"title": title, "authors": list(authors), "start": "2024-01-01"}
    if archive is not None:
        front["archive"] = archive
    path.write_text("---\n" + yaml.safe_dump(front, allow_unicode=True, sort_keys=False) + "---\n", encoding="utf-8")
    return path


class Hang(Exception):
    """Raised by `deadline`; not an OSError, so code under test cannot mistake it for a read error."""


@contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail the test, instead of hanging it, when the block takes longer than `seconds`."""

    def expire(signum, frame):
        raise Hang(f"took more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
