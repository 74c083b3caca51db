"""Searching a loaded index: ranking, confidence, question parsing, the searcher, live swaps."""
