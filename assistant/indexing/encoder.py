"""The ONNX encoder: a sentence-transformers model exported once at build time, run with onnxruntime.

An export holds `model.onnx` (transformer, mean pooling and L2 normalization in one graph, its
weights quantized to int8 per channel), `tokenizer.json` and `encoder.json`; running it needs
neither torch nor transformers, so a served index starts in seconds and embeds a question in a few
milliseconds. Exporting needs both. int8 halves the encoder's time for questions and builds, with
vectors at cosine 0.97–1.0 to the float ones and the quality figures held (docs/research.md, Speed;
`benchmarks/quantization.py` measures both precisions side by side).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.indexing.embedding import resolve_model_location
from assistant.logs import get_logger

logger = get_logger(__name__)

MODEL_FILE = "model.onnx"
TOKENIZER_FILE = "tokenizer.json"
CONFIG_FILE = "encoder.json"
INPUTS = ("input_ids", "attention_mask", "token_type_ids")  # what BERT-style models read; MPNet has no token types
PRECISIONS = ("int8", "fp32")


class NotExportable(Exception):
    """A model whose pipeline is not transformer -> mean pooling [-> normalize], which the graph reproduces."""


@dataclass(frozen=True)
class EncoderConfig:
    """What an export was made from and how it reads text."""

    model: str
    dimension: int
    max_tokens: int
    precision: str  # "int8" (weights quantized, what indexes use) or "fp32" (the model as trained)
    inputs: tuple[str, ...] = INPUTS  # the graph's inputs, in order
    tuning: str = ""  # the training key of a model tuned on an archive (indexing.tuning); "" for the model as is

    @property
    def space(self) -> str:
        """What its vectors compare with: the cache key, and what an index records it was built in."""
        tuned = f"@tuned-{self.tuning}" if self.tuning else ""
        return f"{self.model}{tuned}@onnx-{self.precision}"


def model_slug(model_id: str) -> str:
    """A model id as a folder name."""
    return re.sub(r"[^\w.-]+", "-", model_id).strip("-")


def export(model_id: str, folder: Path, precision: str = "int8", tuning: str = "", location: str | None = None) -> None:
    """Export the model to `folder` (written beside it, then renamed in); NotExportable for other pipelines.

    `location` is where the weights are read from when not the model id's own (a tuned model's folder).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.models import Normalize, Pooling, Transformer

    try:
        with _without_weight_loading_bar():
            model = SentenceTransformer(location or resolve_model_location(model_id), device="cpu")
    except (OSError, ValueError) as error:
        raise NotExportable(f"cannot load {model_id!r}: {error}") from None
    modules = list(model)
    if not (
        len(modules) in (2, 3)
        and isinstance(modules[0], Transformer)
        and isinstance(modules[1], Pooling)
        and modules[1].get_config_dict().get("pooling_mode") == "mean"
        and all(isinstance(module, Normalize) for module in modules[2:])
    ):
        raise NotExportable(f"{model_id!r} is {[type(m).__name__ for m in modules]}, not transformer + mean pooling")

    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise NotExportable(f"{model_id!r} has no fast tokenizer (tokenizer.json) to run without transformers")
    sample = tokenizer(["a question", "a longer answer to it"], padding=True, return_tensors="pt")
    inputs = tuple(name for name in INPUTS if name in sample)

    class MeanPooled(torch.nn.Module):
        def __init__(self, transformer: torch.nn.Module):
            super().__init__()
            self.transformer = transformer

        def forward(self, *tensors):
            # Keyword arguments: transformers 5 changed the positional order.
            features = dict(zip(inputs, tensors, strict=False))
            hidden = self.transformer(**features).last_hidden_state
            attention_mask = features["attention_mask"]
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    staging = folder.with_name(folder.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    dynamic = {name: {0: "batch", 1: "tokens"} for name in inputs}
    graph = staging / ("float.onnx" if precision == "int8" else MODEL_FILE)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # The tracer's notes on code paths this fixed pooling graph never takes; the graph is tested against
            # sentence-transformers' vectors (tests/test_encoder.py).
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            warnings.filterwarnings("ignore", message="Exporting aten::index operator", category=UserWarning)
            torch.onnx.export(
                MeanPooled(modules[0].auto_model).eval(),
                tuple(sample[name] for name in inputs),
                str(graph),
                input_names=list(inputs),
                output_names=["embedding"],
                dynamic_axes={**dynamic, "embedding": {0: "batch"}},
                opset_version=17,
                dynamo=False,
            )
        if precision == "int8":
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per-channel scales keep the vectors within cosine 0.97 of the float model's; per-tensor ones do not.
            with _without_preprocessing_hint():
                quantize_dynamic(str(graph), str(staging / MODEL_FILE), weight_type=QuantType.QInt8, per_channel=True)
            graph.unlink()
    except Exception as error:  # the exporter and quantizer raise many kinds; any of them means: run it in torch
        shutil.rmtree(staging, ignore_errors=True)
        raise NotExportable(f"{model_id!r} did not export to ONNX ({type(error).__name__}: {error})") from None
    tokenizer.backend_tokenizer.save(str(staging / TOKENIZER_FILE))
    config = EncoderConfig(model_id, model.get_embedding_dimension(), model.max_seq_length, precision, inputs, tuning)
    (staging / CONFIG_FILE).write_text(json.dumps(asdict(config), indent=1), encoding="utf-8")
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)


@contextmanager
def _without_weight_loading_bar() -> Iterator[None]:
    """transformers' "Loading weights" progress bar, off while the model loads for its export."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers_logging.enable_progress_bar()


class _PreprocessingHint(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


@contextmanager
def _without_preprocessing_hint() -> Iterator[None]:
    """onnxruntime's quantizer logs a hint (for image models) through the root logger; drop it.

    Logging through the root logger also configures it, after which every library's log records print
    (bm25s's DEBUG lines): a handler on the root for the duration keeps it unconfigured.
    """
    root, hint, placeholder = logging.getLogger(), _PreprocessingHint(), logging.NullHandler()
    root.addFilter(hint)
    root.addHandler(placeholder)
    try:
        yield
    finally:
        root.removeHandler(placeholder)
        root.removeFilter(hint)


class OnnxEmbedder:
    """An exported model run by onnxruntime: one core per query, every core for a build's batches."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        try:
            recorded = json.loads((self.folder / CONFIG_FILE).read_text(encoding="utf-8"))
            self.config = EncoderConfig(**{**recorded, "inputs": tuple(recorded.get("inputs", INPUTS))})
        except (OSError, ValueError, TypeError, AttributeError) as error:
            raise ValueError(f"encoder at {self.folder} is unreadable ({error})") from None
        self.model_id = self.config.model
        self.space = self.config.space
        self.dimension = self.config.dimension
        self.max_tokens = self.config.max_tokens
        self._tokenizer = None
        self._session = None
        self._lock = threading.Lock()

    @property
    def tokenizer(self):
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(self.folder / TOKENIZER_FILE))
            tokenizer.enable_truncation(max_length=self.max_tokens)
            self._tokenizer = tokenizer
        return self._tokenizer

    @property
    def session(self):
        """One single-threaded inference session: a query runs on one core, a build's batches on one core each."""
        with self._lock:
            if self._session is None:
                import onnxruntime

                options = onnxruntime.SessionOptions()
                options.intra_op_num_threads = 1
                options.inter_op_num_threads = 1
                options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
                # The fusions every CPU gets; the level above adds layout changes picked per CPU (none apply here).
                options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
                self._session = onnxruntime.InferenceSession(
                    str(self.folder / MODEL_FILE), options, providers=["CPUExecutionProvider"]
                )
            return self._session

    def truncate(self, text: str) -> str:
        """Cut text to the tokens the model reads; longer input would be ignored past that point anyway."""
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return self.tokenizer.decode(ids) if len(ids) >= self.max_tokens else text

    def _run(self, text: str) -> np.ndarray:
        """The vector of one text, as a (1, dimension) row."""
        encoding = self.tokenizer.encode(text.strip())
        ids = np.array([encoding.ids], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
        return self.session.run(None, {name: feed[name] for name in self.config.inputs})[0]

    def encode(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        """Unit-length float32 vectors, one row per text; a build's texts are spread over every core."""
        if len(texts) <= 1:
            return self._run(texts[0]) if texts else np.zeros((0, self.dimension), dtype=np.float32)
        # Each text runs alone: int8 activations are scaled per run, so a text's vector never depends on
        # what it was batched with; with no padding, one text per core is also the fastest (800 texts:
        # 7.6 s, vs 9.0 s in batches of 16 and 12.0 s in batches of 64 over both cores).
        with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as workers:
            runs = workers.map(lambda text: self._run(text)[0], texts)
            if progress:
                from tqdm import tqdm

                runs = tqdm(runs, total=len(texts), desc="Embedding", unit="text")
            return np.stack(list(runs))


def reusable_export(model_id: str, folder: Path, precision: str = "int8") -> OnnxEmbedder | None:
    """The model's export in `folder` when one of this model and precision (untuned) is there, else None."""
    try:
        existing = OnnxEmbedder(folder)
    except ValueError:
        return None  # none yet, or written by an older version
    same = (existing.model_id, existing.config.precision, existing.config.tuning) == (model_id, precision, "")
    return existing if same else None


def exported_embedder(model_id: str, folder: Path, precision: str = "int8") -> OnnxEmbedder | None:
    """The model's export in `folder`, exported there first if missing or stale; None when the model does not export."""
    existing = reusable_export(model_id, folder, precision)
    if existing:
        return existing
    try:
        export(model_id, folder, precision)
    except NotExportable as error:
        logger.info("embedding with sentence-transformers: %s", error)
        return None
    return OnnxEmbedder(folder)
