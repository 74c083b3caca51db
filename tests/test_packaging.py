"""Installing the project: `pip install -e .` (what `make` runs) warns about nothing; the wheel ships page assets."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from helpers import REPO

BUILD = "from setuptools import build_meta; import sys; print(getattr(build_meta, sys.argv[1])('dist'))"


def _build(tmp_path: Path, hook: str) -> tuple[zipfile.ZipFile, str]:
    """(the wheel, everything setuptools printed) of `build_meta.<hook>` over a copy of the project's package."""
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, tmp_path)
    shutil.copytree(REPO / "assistant", tmp_path / "assistant", ignore=shutil.ignore_patterns("__pycache__"))
    result = subprocess.run([sys.executable, "-c", BUILD, hook], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return zipfile.ZipFile(tmp_path / "dist" / result.stdout.split()[-1]), result.stdout + result.stderr


def test_editable_install_prints_no_setuptools_warning(tmp_path):
    _, output = _build(tmp_path, "build_editable")
    assert "careful with folders" not in output and "Warning" not in output, output


def test_wheel_holds_every_package_and_the_page_assets(tmp_path):
    wheel, _ = _build(tmp_path, "build_wheel")
    names = set(wheel.namelist())
    assert {"assistant/__init__.py", "assistant/web/style.css", "assistant/web/feedback.js"} <= names
    assert "assistant/indexing/usefulness.json" in names  # the model search loads
    assert "assistant/slack/__init__.py" in names
    assert not any(name.startswith(("data/", "eval/", "tests/")) for name in names)
