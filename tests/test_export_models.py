"""Any sentence-transformers model exports, or runs in sentence-transformers: tiny models built here, no downloads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from assistant.indexing.embedding import Embedder
from assistant.indexing.encoder import OnnxEmbedder, exported_embedder

pytestmark = pytest.mark.slow

TEXTS = ["how do I deploy a model", "the answer is to start small", "data versioning for machine learning"]
SPECIAL_TOKENS = {
    "mpnet": ["<s>", "<pad>", "</s>", "[UNK]", "<mask>"],
    "bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"],
}
WORDS = sorted({word for text in TEXTS for word in text.split()} | {"a", "is", "the"})


def tiny_model(folder: Path, kind: str, pooling: str = "mean") -> str:
    """A randomly initialised 1-layer `kind` ("mpnet" or "bert") sentence-transformers model saved to `folder`."""
    import torch
    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel, BertTokenizerFast, MPNetConfig, MPNetModel, MPNetTokenizerFast

    torch.manual_seed(0)
    special = SPECIAL_TOKENS[kind]
    vocab = {token: number for number, token in enumerate(special + WORDS)}
    size = dict(vocab_size=len(special) + len(WORDS), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                intermediate_size=32, max_position_embeddings=64)  # fmt: skip
    if kind == "mpnet":
        tokenizer, transformer = MPNetTokenizerFast(vocab=vocab), MPNetModel(MPNetConfig(**size))
    else:
        tokenizer, transformer = BertTokenizerFast(vocab=vocab), BertModel(BertConfig(**size))
    weights = folder / "hf"
    transformer.save_pretrained(weights)
    tokenizer.save_pretrained(weights)
    module = models.Transformer(str(weights), max_seq_length=32)
    pooled = models.Pooling(module.get_embedding_dimension(), pooling_mode=pooling)
    SentenceTransformer(modules=[module, pooled, models.Normalize()], device="cpu").save(str(folder / "st"))
    return str(folder / "st")


@pytest.mark.parametrize("kind", ["mpnet", "bert"])
def test_a_model_with_or_without_token_types_exports_to_the_same_vectors(tmp_path: Path, kind: str):
    model = tiny_model(tmp_path / "model", kind)
    encoder = exported_embedder(model, tmp_path / "onnx", precision="fp32")
    assert isinstance(encoder, OnnxEmbedder)
    assert ("token_type_ids" in encoder.config.inputs) == (kind == "bert")
    reference = Embedder(model).encode(TEXTS)
    assert np.allclose(np.sum(encoder.encode(TEXTS) * reference, axis=1), 1.0, atol=1e-4)
    assert np.allclose(np.sum(encoder.encode(TEXTS[:1]) * reference[:1], axis=1), 1.0, atol=1e-4)


def test_a_model_the_graph_cannot_reproduce_runs_in_sentence_transformers(tmp_path: Path, capsys):
    model = tiny_model(tmp_path / "model", "mpnet", pooling="cls")
    assert exported_embedder(model, tmp_path / "onnx") is None
    assert "embedding with sentence-transformers" in capsys.readouterr().err
    assert Embedder(model).encode(TEXTS).shape == (3, 16)
