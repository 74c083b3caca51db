"""The README's "Project layout" table names every module in the tree, and only paths that exist."""

from __future__ import annotations

import re

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
