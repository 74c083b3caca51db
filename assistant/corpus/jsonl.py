"""The one JSONL reader: eval files, judged questions, judgments, held-out threads."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from assistant.errors import BadInput

T = TypeVar("T")


class JsonlError(BadInput, ValueError):
    """A JSONL line that is not JSON or not the row its reader expects; the message names the file and line."""


def read_jsonl(path: Path, parse: Callable[[dict], T], what: str) -> list[T]:
    """Each non-blank line of a JSONL file through `parse`; JsonlError `path:line: what (the error)` at a bad one."""
    found = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            found.append(parse(json.loads(line)))
        except (ValueError, KeyError, TypeError, RecursionError) as error:  # RecursionError: JSON nested too deep
            raise JsonlError(f"{path}:{number}: {what} ({error!r})") from None
    return found
