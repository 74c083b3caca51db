"""One writer per index folder (issue 26, bug 1): two builds at once wait for each other, never undo each other's work.

Both builds are real `build_index` runs in their own processes, with the fake model, on real archives.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from assistant.indexing.store import (
    LOCK,
    build_index,
    build_inputs,
    ensure_index,
    index_lock,
    live_build,
    load_built_index,
)
from fakes import FAKE_MODEL_ID, HashedWordsEmbedder
from helpers import DATA, REPO, deadline

BUILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from assistant.indexing.store import build_index
    from fakes import HashedWordsEmbedder
    print(build_index([Path(sys.argv[1])], Path(sys.argv[2]), embedder=HashedWordsEmbedder()), flush=True)
    """
)


def _start_build(data: Path, out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", BUILD, str(data), str(out)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'tests'}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _assert_one_good_index(out: Path, builds: list[subprocess.Popen], units: int = 1000) -> list[str]:
    outputs = []
    for build in builds:
        stdout, stderr = build.communicate(timeout=600)
        assert build.returncode == 0, stderr
        assert "Traceback" not in stderr
        outputs.append(stdout)
    loaded = load_built_index(out, model=FAKE_MODEL_ID)
    assert len(loaded.units) > units
    assert [folder.name for folder in (out / "builds").iterdir()] == [loaded.build.name]  # no leftover, no .partial
    return outputs


def test_two_builds_of_one_index_at_once_give_one_good_index_and_no_traceback(tmp_path):
    out = tmp_path / "index"
    builds = [_start_build(DATA, out) for _ in range(2)]
    _assert_one_good_index(out, builds)


def test_a_build_that_finds_the_index_locked_says_so_and_waits_for_it(tmp_path, seed_dir):
    out = tmp_path / "index"
    with index_lock(out):
        builds = [_start_build(seed_dir, out) for _ in range(2)]
        for build in builds:  # each one reaches the lock and says it waits, while this test holds it
            with deadline(120):
                line = build.stdout.readline()
                while line and "waiting for it to finish" not in line:
                    line = build.stdout.readline()
            assert "another build is writing the index" in line
        assert all(build.poll() is None for build in builds)
    outputs = _assert_one_good_index(out, builds, units=10)
    assert all("Index written to" in output for output in outputs)


def test_an_index_that_is_up_to_date_is_only_read_never_locked(tmp_path, seed_dir):
    """The apps start on an index that may be read-only: one that needs no build is never written, not even locked."""
    out = tmp_path / "index"
    build_index([seed_dir], out, embedder=HashedWordsEmbedder())
    (out / LOCK).unlink()
    before = live_build(out)
    ensure_index(build_inputs(out), out, embedder=HashedWordsEmbedder())
    assert live_build(out) == before and not (out / LOCK).exists()
