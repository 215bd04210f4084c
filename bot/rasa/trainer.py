"""`rasa train` as a subprocess, on a snapshot of the training data, with progress.

Training reads a *copy* of `data/` taken at the start, so an admin editing intents meanwhile can
neither break the run nor end up with a model whose recorded data hash does not match what it
learnt. The copy is laid out the way Rasa expects (`data/` for NLU, rules and stories; `domain.yml`;
`config.yml`), whatever the project's own layout, which also keeps Parley's other files (the LLM's
knowledge base) out of Rasa's way.

Progress comes from Rasa's own log: "Starting to train component 'X'" and tqdm's "Epochs: 45%"
lines, turned into a share of the components listed in the configuration.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot import yaml12
from bot.embedded import InvalidTrainingData
from bot.rasa import store
from bot.rasa.config import RasaSettings
from bot.rasa.store import RasaModelMeta
from bot.training_data import TrainingData, TrainingDataError, load_training_data
from models.settings import Settings

log = logging.getLogger(__name__)

DOMAIN_KEYS = frozenset({"intents", "responses", "entities", "slots", "actions", "forms", "session_config"})
DATA_KEYS = frozenset({"nlu", "rules", "stories"})
CONFIG_KEYS = frozenset({"pipeline", "policies", "recipe"})
_COMPONENT = re.compile(r"Starting to train component '([^']+)'")
_EPOCHS = re.compile(r"Epochs:\s+(\d+)%")
_TAIL_LINES = 60

Progress = Callable[[float, str], None]  # (share done 0..1, what is happening)


class TrainingFailed(RuntimeError):
    """`rasa train` failed; the message ends with the tail of its log."""


class TrainingCancelled(RuntimeError):
    pass


def rasa_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment Rasa's processes run in: quiet, no telemetry, no GPU probing."""
    env = dict(os.environ)
    env.update({
        "RASA_TELEMETRY_ENABLED": "false",
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "PYTHONWARNINGS": "ignore",
        "CUDA_VISIBLE_DEVICES": "-1",
        "LOG_LEVEL": "INFO",
    })
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(name, None)  # Parley's own interpreter settings must not leak into Rasa's
    env.update(extra or {})
    return env


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """Linux: Rasa gets SIGTERM if Parley dies without cleaning up (kill -9, OOM), instead of training or
    serving on as an orphan. (The signal follows the thread that started the child; Parley starts them
    from threads that live as long as the child is wanted.)"""
    import ctypes

    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def rasa_version(rasa: RasaSettings) -> str:
    for path in rasa.venv.glob("lib/python3*/site-packages/rasa/version.py"):
        match = re.search(r"__version__\s*=\s*[\"']([^\"']+)", path.read_text(encoding="utf-8"))
        if match:
            return match.group(1)
    return ""


# ------------------------------------------------------------------------------------------- snapshot


@dataclass(frozen=True)
class Snapshot:
    root: Path
    source: Path  # the YAML files as they were, same layout (hashes like the original directory)
    data: Path  # a directory of NLU / rules / stories files
    domain: Path | None
    config: Path


def _yaml_files(data_dir: Path) -> list[Path]:
    found = [*data_dir.rglob("*.yml"), *data_dir.rglob("*.yaml")]
    return sorted(p for p in found
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts))


def take_snapshot(data_dir: Path, dest: Path, config: Path | None = None) -> Snapshot:
    """Copy the Rasa files of `data_dir` into `dest`, sorted by what they contain."""
    if not data_dir.is_dir():
        raise TrainingDataError(f"{data_dir}: no such directory")
    source = dest / "source"
    for path in _yaml_files(data_dir):
        target = source / path.relative_to(data_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    data_out = dest / "data"
    data_out.mkdir(parents=True)
    domains: list[Path] = []
    found_config: Path | None = None
    for path in _yaml_files(source) if source.is_dir() else []:
        try:
            doc = yaml12.safe_load(path.read_bytes())
        except yaml12.YAMLError as exc:
            raise TrainingDataError(f"{path.relative_to(source)}: invalid YAML: {exc}") from exc
        if not isinstance(doc, dict):
            continue
        keys = set(doc)
        relative = path.relative_to(source)
        if keys & CONFIG_KEYS and not keys & (DATA_KEYS | DOMAIN_KEYS):
            if found_config is None or path.name == "config.yml":
                found_config = path
            continue
        if keys & DOMAIN_KEYS:
            domains.append(path)
        elif keys & DATA_KEYS:
            target = data_out / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    domain: Path | None = None
    if len(domains) == 1:
        domain = dest / "domain.yml"
        shutil.copyfile(domains[0], domain)
    elif domains:  # Rasa merges a directory of domain files
        domain = dest / "domain"
        for path in domains:
            target = domain / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
    source_config = config or found_config
    if source_config is None or not source_config.is_file():
        raise TrainingDataError(f"{data_dir}: no Rasa config.yml (pipeline and policies) found")
    shutil.copyfile(source_config, dest / "config.yml")
    return Snapshot(root=dest, source=source, data=data_out, domain=domain, config=dest / "config.yml")


def write_nlu(examples: Iterable[tuple[str, str]], path: Path) -> None:
    """Labelled examples (e.g. a BANKING77 CSV or a split) as a Rasa NLU file."""
    grouped: dict[str, list[str]] = {}
    for text, intent in examples:
        grouped.setdefault(intent, []).append(" ".join(text.split()))
    lines = ['version: "3.1"', "", "nlu:"]
    for intent in sorted(grouped):
        lines += [f"- intent: {intent}", "  examples: |"]
        lines += [f"    - {text}" for text in grouped[intent]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# ----------------------------------------------------------------------------------------- config


def read_config(path: Path) -> dict[str, Any]:
    try:
        doc = yaml12.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml12.YAMLError) as exc:
        raise TrainingDataError(f"{path}: cannot read the Rasa config: {exc}") from exc
    return doc if isinstance(doc, dict) else {}


def fallback_threshold(config: dict[str, Any]) -> float | None:
    """The FallbackClassifier's threshold (Rasa's default 0.3 when it is listed without one)."""
    for component in config.get("pipeline") or []:
        if isinstance(component, dict) and component.get("name") == "FallbackClassifier":
            return float(component.get("threshold", 0.3))
    return None


def component_names(config: dict[str, Any], *, nlu_only: bool = False) -> list[str]:
    names = [str(c.get("name")) for c in config.get("pipeline") or [] if isinstance(c, dict)]
    if not nlu_only:
        names += [str(c.get("name")) for c in config.get("policies") or [] if isinstance(c, dict)]
    return names


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----------------------------------------------------------------------------------------- training


@dataclass(frozen=True)
class TrainResult:
    meta: RasaModelMeta
    path: Path


def train(
    settings: Settings,
    data_dir: Path | None = None,
    *,
    rasa: RasaSettings | None = None,
    config: Path | None = None,
    activate: bool = True,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    data_version: int | None = None,
    actor: str | None = None,
) -> TrainResult:
    """Validate, train a full (NLU + dialogue) model, store it, and (by default) activate it."""
    rasa = rasa or RasaSettings.from_settings(settings)
    rasa.require_installed()
    source = data_dir or settings.data_dir
    report = progress or (lambda _share, _stage: None)
    report(0.0, "Checking the training data")
    with tempfile.TemporaryDirectory(prefix="parley-rasa-train-") as tmp:
        snap = take_snapshot(source, Path(tmp) / "project", config or rasa.config)
        data = load_training_data(snap.source)  # the snapshot: exactly what Rasa will read
        problems = data.validate()
        if problems:
            raise InvalidTrainingData(str(source), problems)
        if snap.domain is None:
            raise InvalidTrainingData(str(source), ["No domain file: Rasa needs intents and responses."])
        version = store.new_version(data.data_hash)
        args = ["train", "--data", str(snap.data), "--domain", str(snap.domain), "--config", str(snap.config),
                "--out", str(Path(tmp) / "out"), "--fixed-model-name", version]
        cfg = read_config(snap.config)
        seconds = run_rasa(settings, rasa, args, cwd=snap.root, components=component_names(cfg),
                           progress=report, should_stop=should_stop)
        archive = Path(tmp) / "out" / f"{version}.tar.gz"
        if not archive.is_file():
            raise TrainingFailed(f"rasa train finished but wrote no model at {archive}")
        meta = _meta(version, data, snap.config, cfg, seconds, rasa, kind="full", source=str(source),
                     data_version=data_version)
        report(0.98, "Storing the model")
        path = store.save(settings, version, archive, meta)
    if activate:
        store.activate(settings, version, actor=actor, note="trained")
    store.prune(settings)
    report(1.0, "Done")
    return TrainResult(meta=meta, path=path)


def train_nlu(
    settings: Settings,
    data: TrainingData,
    *,
    config: Path,
    rasa: RasaSettings | None = None,
    progress: Progress | None = None,
    should_stop: Callable[[], bool] | None = None,
    out_dir: Path,
) -> TrainResult:
    """A throwaway NLU-only model (for evaluation), written to `out_dir`, never to the store."""
    rasa = rasa or RasaSettings.from_settings(settings)
    rasa.require_installed()
    report = progress or (lambda _share, _stage: None)
    if len(data.intents) < 2:
        raise InvalidTrainingData(data.source, [f"Only {len(data.intents)} intent(s): need at least 2."])
    out_dir.mkdir(parents=True, exist_ok=True)
    version = store.new_version(data.data_hash)
    with tempfile.TemporaryDirectory(prefix="parley-rasa-nlu-") as tmp:
        nlu = Path(tmp) / "nlu.yml"
        write_nlu(data.examples, nlu)
        shutil.copyfile(config, Path(tmp) / "config.yml")
        cfg = read_config(config)
        args = ["train", "nlu", "--nlu", str(nlu), "--config", str(Path(tmp) / "config.yml"),
                "--out", str(out_dir), "--fixed-model-name", version]
        seconds = run_rasa(settings, rasa, args, cwd=Path(tmp), components=component_names(cfg, nlu_only=True),
                           progress=report, should_stop=should_stop)
    archive = out_dir / f"{version}.tar.gz"
    if not archive.is_file():
        raise TrainingFailed(f"rasa train nlu finished but wrote no model at {archive}")
    meta = _meta(version, data, config, cfg, seconds, rasa, kind="nlu", source=data.source)
    return TrainResult(meta=meta, path=archive)


def _meta(version: str, data: TrainingData, config_path: Path, cfg: dict[str, Any], seconds: float,
          rasa: RasaSettings, *, kind: str, source: str, data_version: int | None = None) -> RasaModelMeta:
    return RasaModelMeta(
        version=version,
        data_hash=data.data_hash,
        trained_at=datetime.now(UTC).isoformat(timespec="seconds"),
        train_seconds=round(seconds, 1),
        n_examples=len(data.examples),
        intents=data.intents,
        kind=kind,
        rasa_version=rasa_version(rasa),
        config_hash=_sha256(config_path),
        fallback_threshold=fallback_threshold(cfg),
        source=source,
        data_version=data_version,
    )


def run_rasa(
    settings: Settings,
    rasa: RasaSettings,
    args: list[str],
    *,
    cwd: Path,
    components: list[str],
    progress: Progress,
    should_stop: Callable[[], bool] | None = None,
) -> float:
    """Run `rasa <args>` to completion, reporting progress; returns the seconds it took."""
    cache = store.store_dir(settings) / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tail: deque[str] = deque(maxlen=_TAIL_LINES)
    proc = subprocess.Popen(
        [str(rasa.rasa_bin), *args],
        cwd=cwd,
        env=rasa_env({"RASA_CACHE_DIRECTORY": str(cache)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: a cancel stops TensorFlow's helpers too
        preexec_fn=die_with_parent if sys.platform.startswith("linux") else None,
    )
    tracker = _ProgressTracker(components, progress)
    stopper = threading.Event()
    if should_stop is not None:
        threading.Thread(target=_watch_stop, args=(proc, should_stop, stopper), daemon=True).start()
    assert proc.stdout is not None
    try:
        for line in _lines(proc.stdout):
            tail.append(line)
            tracker.feed(line)
        code = proc.wait()
    finally:
        stopper.set()
        if proc.poll() is None:
            _kill_group(proc)
    if should_stop is not None and should_stop():
        raise TrainingCancelled("training was cancelled")
    if code != 0:
        log_tail = "\n".join(line for line in tail if line.strip())
        raise TrainingFailed(f"rasa {' '.join(args[:2])} failed (exit {code}):\n{log_tail}")
    return time.perf_counter() - started


def _watch_stop(proc: subprocess.Popen[bytes], should_stop: Callable[[], bool], done: threading.Event) -> None:
    while not done.wait(0.5):
        if should_stop():
            _kill_group(proc)
            return


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, PermissionError):
        return
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _lines(stream: Any) -> Iterable[str]:
    """Split on both newlines and tqdm's carriage returns, so progress bars arrive as they move."""
    buffer = b""
    while True:
        chunk = stream.read1(4096) if hasattr(stream, "read1") else stream.read(4096)
        if not chunk:
            break
        buffer += chunk
        parts = re.split(rb"[\r\n]", buffer)
        buffer = parts.pop()
        for part in parts:
            if part:
                yield part.decode("utf-8", "replace")
    if buffer:
        yield buffer.decode("utf-8", "replace")


class _ProgressTracker:
    def __init__(self, components: list[str], report: Progress) -> None:
        self.components = components or ["model"]
        self.report = report
        self.index = -1
        self.current = ""
        self._last = (-1.0, "")

    def feed(self, line: str) -> None:
        started = _COMPONENT.search(line)
        if started:
            name = started.group(1)
            # Components are trained in graph order, which follows the config's order.
            later = [i for i, c in enumerate(self.components) if c == name and i > self.index]
            self.index = later[0] if later else min(self.index + 1, len(self.components) - 1)
            self.current = name
            self._emit(0.0)
            return
        epochs = _EPOCHS.search(line)
        if epochs and self.current:
            self._emit(int(epochs.group(1)) / 100)

    def _emit(self, within: float) -> None:
        total = len(self.components)
        share = 0.02 + 0.95 * min(1.0, (max(self.index, 0) + within) / total)
        stage = f"Training {self.current} ({self.index + 1}/{total})"
        if within:
            stage += f", {within:.0%} of its epochs"
        if (round(share, 3), stage) != self._last:
            self._last = (round(share, 3), stage)
            self.report(share, stage)
