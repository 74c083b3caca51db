"""A stand-in for the embedding model, so index bookkeeping tests run in milliseconds without loading it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

FAKE_MODEL_ID = "test/hashed-words"


class HashedWordsEmbedder:
    """Embeds a text as its hashed lower-case words, normalized: equal texts get equal vectors, like the model."""

    model_id = FAKE_MODEL_ID
    space = FAKE_MODEL_ID
    dimension = 384
    max_tokens = 256

    def __init__(self) -> None:
        self.encoded: list[str] = []  # every text it was asked to embed, in order

    def truncate(self, text: str) -> str:
        return " ".join(text.split()[: self.max_tokens])

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        self.encoded += texts
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in re.findall(r"\w+", text.lower()) or [""]:
                vectors[row, int(hashlib.blake2b(word.encode(), digest_size=4).hexdigest(), 16) % self.dimension] += 1
        return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
