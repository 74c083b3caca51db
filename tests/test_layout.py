"""The README's "Project layout" table names every module in the tree, and only paths that exist."""

from __future__ import annotations

import re
import subprocess
import sys

from helpers import REPO


def _layout_rows() -> list[str]:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Project layout", 1)[1].split("\n## ", 1)[0]
    return [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]


def test_the_layout_table_names_every_module_and_nothing_that_is_gone():
    named = {path for cell in _layout_rows() for path in re.findall(r"`([^`]+)`", cell)}
    modules = {
        path.relative_to(REPO).as_posix()
        for path in (REPO / "assistant").rglob("*.py")
        if path.name != "__init__.py" or path.parent.name == "assistant"
    }
    assert sorted(modules - named) == []
    missing = [path for path in named if "/" in path and not (REPO / path).exists()]
    assert missing == []


def test_the_public_names_are_what_the_readme_says_not_the_subpackages():
    """`from assistant import search` is the search function: no subpackage may take a public name."""
    code = (
        "from assistant import Answer, RelatedQuestion, Searcher, load_index, related_questions, search\n"
        "assert all(callable(name) for name in (load_index, related_questions, search)), search\n"
        "assert isinstance(Answer, type) and isinstance(Searcher, type)"
    )
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True, text=True)
    subpackages = {path.parent.name for path in (REPO / "assistant").glob("*/__init__.py")}
    assert not subpackages & {"search", "load_index", "related_questions", "Answer", "Searcher"}
