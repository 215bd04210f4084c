"""LLM bench: what the agent loop costs around the model, and how often retrieval finds the answer.

1. Per-turn overhead with an instant fake model (`bot.llm.testing.faithful_agent`: search, then answer
   citing the best passage): everything Parley adds around the model — langchain's agent graph, the
   tool calls, BM25 retrieval, the grounded-or-nothing checks and (for `engine`) the per-turn records
   in SQLite. Timed: `search` (retrieval alone), `agent` (LlmAgent.run), `engine` (LlmEngine.turn),
   for a question the knowledge base answers and one it does not.
2. Retrieval hit rate on the demo knowledge base (`data/knowledge/`): for each FAQ question, and for
   each customer phrasing in `data/nlu.yml` whose intent the knowledge base answers, whether the top
   passage (hit@1) or one of the top three (hit@3) answers that intent; and, for the intents it has no
   answer for (greetings, requests for a person, out of scope), how often search still returns
   something (which the agent must then decline).

    python -m bench.llm            # figures as text
    python -m bench.llm --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from bot.knowledge.base import KnowledgeBase
from bot.llm.agent import LlmAgent
from bot.llm.engine import LlmEngine
from bot.llm.testing import faithful_model
from bot.training_data import load_training_data, strip_entities
from bot.types import Decision, TurnContext
from models.db import Database
from models.migrate import upgrade

ANSWERED = "How much does shipping cost?"
UNANSWERED = "What is the capital of Peru?"


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
    return {"p50_ms": round(statistics.median(ordered), 3), "p99_ms": round(at(0.99), 3),
            "max_ms": round(ordered[-1], 3), "n": len(ordered)}


def timed(fn: Callable[[], Any], n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return percentiles(samples)


def overhead(kb: KnowledgeBase, n: int, warmup: int) -> dict[str, Any]:
    agent = LlmAgent(model=faithful_model(), kb=kb, model_name="fake:instant")
    engine = LlmEngine(agent, summaries=False)
    ctx = TurnContext(conversation_id="c_bench")
    assert agent.run(ANSWERED).decision is Decision.ANSWER
    assert agent.run(UNANSWERED).decision is Decision.HANDOFF
    out: dict[str, Any] = {}
    for label, question in (("answered", ANSWERED), ("no_source", UNANSWERED)):
        out[label] = {
            "search": timed(lambda q=question: kb.search(q), n, warmup),  # type: ignore[misc]
            "agent": timed(lambda q=question: agent.run(q), n, warmup),  # type: ignore[misc]
            "engine": timed(lambda q=question: engine.turn(q, ctx), n, warmup),  # type: ignore[misc]
        }
    return out


def hit_rates(kb: KnowledgeBase, data_dir: Path) -> dict[str, Any]:
    faq = yaml.safe_load((data_dir / "knowledge" / "faq.yml").read_text())["faq"]
    answered_intents = {h.intent for h in kb.passages(range(1, 100_000)) if h.intent}

    def judge(pairs: list[tuple[str, str]]) -> dict[str, Any]:
        hit1 = hit3 = empty = 0
        for text, intent in pairs:
            hits = kb.search(text, k=3)
            hit1 += bool(hits) and hits[0].intent == intent
            hit3 += any(h.intent == intent for h in hits)
            empty += not hits
        n = len(pairs)
        return {"n": n, "hit@1": round(hit1 / n, 3), "hit@3": round(hit3 / n, 3), "nothing_found": round(empty / n, 3)}

    faq_pairs = [(str(e["q"]), str(e["intent"])) for e in faq if e.get("intent")]
    examples = load_training_data(data_dir).examples
    phrasings = [(strip_entities(t), i) for t, i in examples if i in answered_intents]
    others = [strip_entities(t) for t, i in examples if i not in answered_intents]
    found_for_others = sum(1 for t in others if kb.search(t, k=3))
    return {"faq_questions": judge(faq_pairs), "nlu_phrasings": judge(phrasings),
            "unanswerable_intents": {"n": len(others), "something_found": round(found_for_others / len(others), 3)}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=300, help="measured turns per case (default 300)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--data", type=Path, default=Path("data"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="parley-bench-llm-") as tmp:
        db = Database(f"sqlite:///{tmp}/bench.db")
        upgrade(db.engine)
        kb = KnowledgeBase(db, args.data.resolve())
        kb.ensure_synced()
        result: dict[str, Any] = {"python": platform.python_version(), "machine": platform.machine(),
                  "overhead": overhead(kb, args.turns, args.warmup), "retrieval": hit_rates(kb, args.data.resolve())}
        db.dispose()
    if args.json:
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    print("LLM agent loop with an instant fake model (ms per turn)")
    for case, parts in result["overhead"].items():
        for part, p in parts.items():
            print(f"  {case:<10} {part:<7} p50 {p['p50_ms']:8.2f}   p99 {p['p99_ms']:8.2f}   "
                  f"max {p['max_ms']:8.2f}  (n={p['n']})")
    r = result["retrieval"]
    print("Retrieval on the demo knowledge base (BM25)")
    for name in ("faq_questions", "nlu_phrasings"):
        x = r[name]
        print(f"  {name:<14} n={x['n']:<4} hit@1 {x['hit@1']:.1%}   hit@3 {x['hit@3']:.1%}   "
              f"nothing found {x['nothing_found']:.1%}")
    u = r["unanswerable_intents"]
    print(f"  other intents  n={u['n']:<4} something found {u['something_found']:.1%} (the agent must decline these)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
