"""The searcher a running app serves: it follows the index folder's `current` link and swaps in each new build.

Every way in (page, JSON API, Gradio API, MCP, Slack) asks `LiveSearcher.current()` once per request and
uses that searcher to the end of it. A request at most once a second checks where `current` points (one
readlink); a new build is loaded and warmed in a background thread while requests go on to the old one,
then swapped in with one assignment. Requests in flight finish on the searcher they got: its files stay
readable after the build folder is removed, being memory-mapped or in memory.

Builds are never rewritten in place: each is a new folder, and `current` is switched to it in one rename. A file
of the served build truncated in place (by hand, or by a tool outside this project) makes the next read of its
memory map a SIGBUS, which kills the process; `report_crashes` makes that death print where it happened.
"""

from __future__ import annotations

import faulthandler
import sys
import threading
import time
from pathlib import Path

from assistant.indexing.store import IndexLoadError, live_build, load_built_index
from assistant.logs import get_logger
from assistant.search.searcher import Searcher

logger = get_logger(__name__)

CHECK_EVERY_SECONDS = 1.0


class LiveSearcher:
    """The current searcher over an index folder, swapped for each new build; without a folder it never changes."""

    def __init__(self, searcher: Searcher, index: Path | None = None, check_every: float = CHECK_EVERY_SECONDS):
        self.index = Path(index) if index is not None else None
        self.check_every = check_every
        self._searcher = searcher
        self._next_check = 0.0
        self._tried: Path | None = None  # the last build loaded or refused, so a broken one is not retried
        self._loading = False
        self._lock = threading.Lock()
        self.swaps = 0  # new builds swapped in, for /metrics

    def current(self) -> Searcher:
        """The searcher for this request; a new build seen here starts loading, and later requests get it."""
        if self.index is not None and time.monotonic() >= self._next_check:
            self._check()
        return self._searcher

    def _check(self) -> None:
        with self._lock:
            now = time.monotonic()
            if now < self._next_check or self._loading:
                return
            self._next_check = now + self.check_every
            build = live_build(self.index)
            if build is None or build in (self._searcher.index.build, self._tried):
                return
            self._loading, self._tried = True, build
        threading.Thread(target=self._swap, name="index-swap", daemon=True).start()

    def _swap(self) -> None:
        """Load the live build and make it current; a build that does not load is reported and the old one kept."""
        old = self._searcher
        try:
            loaded = load_built_index(self.index, old.index.manifest["model"])
            same_encoder = all(loaded.manifest.get(key) == old.index.manifest.get(key) for key in ("space", "encoder"))
            searcher = Searcher(loaded, old.embedder if same_encoder else None)
            searcher.search("warm up", 1, min_score=0)
        except (IndexLoadError, OSError, RuntimeError, ValueError) as error:  # faiss and onnxruntime raise RuntimeError
            logger.warning("kept serving %s: the new index does not load: %s", old.index.build.name, error)
        else:
            self._searcher = searcher
            self.swaps += 1
            print(
                f"Now serving index build {loaded.build.name}: {len(searcher.units)} answers "
                f"from {len(searcher.books)} books",
                flush=True,
            )
        finally:
            self._loading = False


def report_crashes() -> None:
    """On a fatal signal (SIGBUS from a truncated memory-mapped index file, SIGSEGV, SIGABRT), print every
    thread's Python traceback to stderr before the process dies, rather than dying with nothing logged."""
    faulthandler.enable(file=sys.stderr, all_threads=True)


def as_live(searcher: Searcher | LiveSearcher) -> LiveSearcher:
    """A LiveSearcher for what a surface was given: itself, or one that always serves the given searcher."""
    return searcher if isinstance(searcher, LiveSearcher) else LiveSearcher(searcher)
