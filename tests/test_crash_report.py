"""A served build truncated in place (issue 25, row 10): outside the design, but the death says where it happened.

Builds are never rewritten in place; a file of the served build cut short by something else makes the next read
of its memory map a SIGBUS. With `report_crashes` (as app.py and the Slack app call it) the process prints the
Python traceback of every thread to stderr as it dies, instead of nothing.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

from helpers import REPO

SCRIPT = textwrap.dedent("""
    import os, sys
    sys.path.insert(0, "tests")
    from assistant.searching.live import report_crashes
    from assistant.searching.searcher import Searcher
    from assistant.indexing.store import build_index, load_built_index
    from fakes import FAKE_MODEL_ID, HashedWordsEmbedder

    if sys.argv[3] == "report":
        report_crashes()
    build_index([sys.argv[1]], sys.argv[2], embedder=HashedWordsEmbedder())
    index = load_built_index(sys.argv[2], model=FAKE_MODEL_ID)
    searcher = Searcher(index, HashedWordsEmbedder())
    searcher.search("tools for MLOps", 3)
    for array in sorted((index.build / "lexical").glob("*.npy")):
        os.truncate(array, 0)  # what a build must never do to the build being served
    searcher.search("which tools should a startup use for MLOps", 3)
    print("survived")
""")


def _truncated_while_served(seed_dir, tmp_path, mode: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-c", SCRIPT, str(seed_dir), str(tmp_path / "index"), mode]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=600)


def test_a_sigbus_from_a_truncated_served_build_leaves_a_traceback(seed_dir, tmp_path):
    died = _truncated_while_served(seed_dir, tmp_path, "report")
    assert died.returncode == -signal.SIGBUS, (died.returncode, died.stdout[-500:], died.stderr[-2000:])
    assert "Fatal Python error: Bus error" in died.stderr
    assert 'File "<string>", line 17 in <module>' in died.stderr  # the search that read the truncated file
