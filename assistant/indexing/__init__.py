"""Building the index: parse cache, the embedding models, tuning, build, store (layout, lock, swap)."""
