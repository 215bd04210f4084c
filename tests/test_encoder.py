"""The sentence encoder's integer model: rebuilt once from the package's file, cached, deterministic, and
giving the vectors the package's float graph gives (to quantization's rounding)."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bot import embedded, encoder
from bot.training_data import load_training_data

pytestmark = pytest.mark.skipif(not encoder.available(), reason="the encoder extra is not installed")

ROOT = Path(__file__).resolve().parents[1]

TEXTS = ["where is my order", "hi", "I want to talk to a human", "do you take apple pay?",
         "my parcel arrived broken, what now", "what is the capital of mongolia", "qwxz zzkv plumbus",
         "I still have not received my new card, I ordered over a week ago.", "Où est ma commande ?"]


def test_the_rebuilt_model_multiplies_integers_and_keeps_the_vectors() -> None:
    import onnx

    source, vocab = encoder._files()
    rebuilt = encoder.prepare()
    assert rebuilt is not None and rebuilt.parent == encoder.cache_dir()
    graph = onnx.load(str(rebuilt)).graph
    ops = [node.op_type for node in graph.node]
    weights = {t.name for t in graph.initializer}
    assert ops.count("MatMulInteger") == 36  # 6 layers of q, k, v, output, 2 feed-forward
    # no MatMul left on float weights (the package's graph had 36 of them behind Cast → Mul)
    assert not [n for n in graph.node if n.op_type == "MatMul" and set(n.input) & weights]
    assert encoder.get().session._model_path == str(rebuilt)  # what the engine runs
    fast = encoder.SentenceEncoder(rebuilt, vocab, threads=1).encode(TEXTS)
    exact = encoder.SentenceEncoder(source, vocab, threads=1).encode(TEXTS)
    cosines = (fast * exact).sum(axis=1)
    assert cosines.min() > 0.97, cosines
    # every pair of texts is as similar under both
    assert np.abs(fast @ fast.T - exact @ exact.T).max() < 0.05


def test_the_rebuild_is_made_once_and_the_same_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = encoder._files()[0]
    rebuilds: list[Path] = []
    real = encoder._rebuild

    def counting(*args: Any) -> None:
        rebuilds.append(args[2])
        real(*args)

    monkeypatch.setattr(encoder, "_rebuild", counting)
    first = encoder.compute_model(source, tmp_path / "cache")
    assert encoder.compute_model(source, tmp_path / "cache") == first
    assert rebuilds == [first]
    shared = encoder.prepare()
    assert shared is not None and first.name == shared.name and first.read_bytes() == shared.read_bytes()
    assert [p.name for p in (tmp_path / "cache").iterdir() if p.suffix == ".onnx"] == [first.name]


def test_an_unwritable_cache_still_gives_the_process_an_encoder(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache should be")
    shared = encoder.prepare()
    assert shared is not None
    # the rebuild's content is tested above; here only where it goes
    monkeypatch.setattr(encoder, "_rebuild", lambda _source, _directory, target: shutil.copy(shared, target))
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    made = encoder.compute_model(encoder._files()[0])
    assert encoder.cache_dir() == blocked / "parley"
    assert made.is_file() and made.name == shared.name and blocked not in made.parents


def test_without_onnx_the_engine_trains_on_its_sparse_features(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a))
    assert not encoder.available()
    model = embedded.train(load_training_data(ROOT / "tests" / "fixtures" / "bot" / "tiny"))
    assert (model.meta.encoder, model.meta.classifier) == ("", embedded.SPARSE_CLASSIFIER)
    assert not model.features.with_embeddings and model.parse("hi").intent


def test_texts_encoded_together_on_threads_get_their_own_vectors() -> None:
    """Training encodes thousands of texts in batches on several threads, a customer's turn one: each
    text keeps its own vector (its batch's activation range moves it only a little)."""
    shared = encoder.get()
    texts = [f"{text} ({n})" for n in range(5) for text in TEXTS]  # 45 texts: 6 batches, 2 threads
    shared.forget(texts)
    together = shared.encode(texts)
    shared.forget(texts)
    alone = np.vstack([shared.encode([text]) for text in texts])
    assert (together * alone).sum(axis=1).min() > 0.97  # measured: 0.979 at worst
    serial = encoder.SentenceEncoder(shared.session._model_path, encoder._files()[1])
    serial.workers = 1
    assert np.array_equal(serial.encode(texts), together)  # threads change nothing but the wall time
