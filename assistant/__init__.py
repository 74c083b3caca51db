"""Ask the Author: find the real answers book authors gave during DataTalks.Club's Book of the Week.

from assistant import related_questions, search
for answer in search("should startups do MLOps?"):
    print(answer.author, answer.book_title, answer.text)
for related in related_questions("should startups do MLOps?"):
    print(related.asker, related.question)
"""

import importlib

__all__ = ["Answer", "RelatedQuestion", "Searcher", "load_index", "related_questions", "search"]


def __getattr__(name: str):
    """Import the search stack on first use, so `python -m assistant.index` and parsing tests stay light."""
    if name in __all__:
        return getattr(importlib.import_module("assistant.searching.searcher"), name)
    raise AttributeError(f"module 'assistant' has no attribute {name!r}")
