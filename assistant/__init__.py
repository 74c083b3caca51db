"""Ask the Author: find the real answers book authors gave during DataTalks.Club's Book of the Week.

from assistant import search
for answer in search("should startups do MLOps?"):
    print(answer.author, answer.book_title, answer.text)
"""

import importlib

__all__ = ["Answer", "Searcher", "load_index", "search"]


def __getattr__(name: str):
    """Import the search stack on first use, so `python -m assistant.index` and parsing tests stay light."""
    if name in __all__:
        return getattr(importlib.import_module("assistant.searcher"), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
