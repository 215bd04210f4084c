"""bench/finetune.py is an experiment that needs PyTorch, which the default `.venv` does not carry (issue 18's
1.5 GB cap): nothing else may import torch, and the script says what it needs instead of a traceback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(importlib.util.find_spec("torch") is not None, reason="torch is installed in this venv")
def test_without_torch_the_script_says_what_it_needs() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.finetune", "--help"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1
    assert "needs PyTorch" in done.stderr
    assert "pip install torch==2.13.0" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_engine_and_the_intent_bench_do_not_import_torch() -> None:
    code = ("import sys, bot.embedded, bot.encoder, bot.scope, bench.intents; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
