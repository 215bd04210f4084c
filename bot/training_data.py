"""The bot's training data, read from Rasa 3.x files.

Admins edit the same `nlu.yml` / `domain.yml` / `rules.yml` / `stories.yml` that real Rasa trains on,
so the embedded engine and the `rasa` engine answer from one source of truth. This module reads only
what the embedded engine needs — labelled examples, responses and the intent → response mapping — and
says in plain words what is wrong with the data before anyone trains on it.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot import yaml12

# Intents the policy hands off instead of answering: they need examples, not a response of their own.
HANDOFF_INTENTS = frozenset({"human_handoff", "out_of_scope"})
# Rasa's built-in intent for "the NLU was not confident"; rules may mention it without examples.
FALLBACK_INTENT = "nlu_fallback"

# Rasa's entity annotations: [text](entity), [text](entity:value), [text]{"entity": ...} and
# [text][{"entity": ...}, ...] (several entities on one span).
_ENTITY = re.compile(r"\[(?P<text>[^\]]+?)\](?:\([^)]*\)|\{[^}]*\}|\[\{.*?\}\])")
_SPACES = re.compile(r"\s+")

Example = tuple[str, str]  # (text, intent)


class TrainingDataError(Exception):
    """The training data cannot be read at all (bad YAML, wrong shape, missing file)."""


@dataclass(frozen=True)
class RuleAction:
    """One `intent → action` step found in a rule or story, kept to validate and map responses."""

    source: str  # "rules.yml: rule 'greet'"
    intent: str
    action: str
    from_rule: bool


@dataclass(frozen=True)
class TrainingData:
    """Everything the embedded engine trains and answers from."""

    examples: tuple[Example, ...]
    responses: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    domain_intents: tuple[str, ...] = ()
    actions: tuple[RuleAction, ...] = ()
    data_hash: str = ""
    source: str = ""
    has_domain: bool = False

    @property
    def intents(self) -> tuple[str, ...]:
        """Intents that have at least one example, sorted."""
        return tuple(sorted({intent for _, intent in self.examples}))

    def examples_by_intent(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for text, intent in self.examples:
            grouped[intent].append(text)
        return dict(grouped)

    @property
    def intent_responses(self) -> dict[str, str]:
        """Which `utter_*` response answers each intent: its rule first, else `utter_<intent>`."""
        mapping: dict[str, str] = {}
        for step in self.actions:
            if step.from_rule and step.action.startswith("utter_"):
                mapping.setdefault(step.intent, step.action)
        for intent in self.intents:
            if intent not in mapping and f"utter_{intent}" in self.responses:
                mapping[intent] = f"utter_{intent}"
        return mapping

    def with_examples(self, examples: Iterable[Example], tag: str) -> TrainingData:
        """A copy with other examples (a split, a held-out set), with a hash that tells them apart."""
        kept = tuple(examples)
        digest = hashlib.sha256(f"{self.data_hash}\n{tag}\n".encode())
        for text, intent in kept:
            digest.update(f"{intent}\t{text}\n".encode())
        return TrainingData(
            examples=kept,
            responses=self.responses,
            domain_intents=self.domain_intents,
            actions=self.actions,
            data_hash=digest.hexdigest(),
            source=f"{self.source} ({tag})",
            has_domain=self.has_domain,
        )

    def validate(self) -> list[str]:
        """Problems that would make a trained bot misbehave, each a sentence an admin can act on."""
        return [
            *_check_intents(self),
            *_check_duplicates(self),
            *_check_actions(self),
            *_check_answerable(self),
        ]


# --------------------------------------------------------------------------------------------- loading


def load_training_data(data_dir: Path) -> TrainingData:
    """Read every Rasa YAML file under `data_dir`, recognising each by its top-level keys.

    Rasa lets a project split its data over several files (or put nlu and rules in one); reading by
    content rather than by file name accepts any layout `rasa train` accepts. `config.yml` and
    unrelated files are ignored and do not count towards the hash.
    """
    if not data_dir.is_dir():
        raise TrainingDataError(f"{data_dir}: no such directory")
    examples: list[Example] = []
    responses: dict[str, tuple[str, ...]] = {}
    domain_intents: list[str] = []
    actions: list[RuleAction] = []
    used: list[tuple[str, bytes]] = []
    has_domain = False
    for path in _yaml_files(data_dir):
        name = str(path.relative_to(data_dir))
        raw = _read(path)
        doc = _parse_yaml(name, raw)
        recognised = False
        if "nlu" in doc:
            examples.extend(_parse_nlu(name, doc["nlu"]))
            recognised = True
        if "intents" in doc or "responses" in doc:
            domain_intents.extend(_parse_domain_intents(name, doc.get("intents")))
            responses.update(_parse_responses(name, doc.get("responses")))
            recognised = has_domain = True
        for key in ("rules", "stories"):
            if key in doc:
                actions.extend(_parse_steps(name, key, doc[key]))
                recognised = True
        if recognised:
            used.append((name, raw))
    if not used:
        raise TrainingDataError(f"{data_dir}: no Rasa training data (nlu.yml, domain.yml, ...) found")
    return TrainingData(
        examples=tuple(examples),
        responses=responses,
        domain_intents=tuple(dict.fromkeys(domain_intents)),
        actions=tuple(actions),
        data_hash=content_hash(used),
        source=str(data_dir),
        has_domain=has_domain,
    )


def load_nlu_file(path: Path) -> TrainingData:
    """Read the labelled examples of one Rasa NLU file (no domain: for evaluation)."""
    raw = _read(path)
    doc = _parse_yaml(path.name, raw)
    if "nlu" not in doc:
        raise TrainingDataError(f"{path.name}: not a Rasa NLU file (no top-level 'nlu:' key)")
    return TrainingData(
        examples=tuple(_parse_nlu(path.name, doc["nlu"])),
        data_hash=content_hash([(path.name, raw)]),
        source=str(path),
    )


def load_csv(path: Path) -> TrainingData:
    """Read a `text,category` CSV (BANKING77's layout; `intent` or `label` also name the label)."""
    raw = _read(path)
    try:
        rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TrainingDataError(f"{path.name}: not a readable CSV file: {exc}") from exc
    columns = set(rows[0]) if rows else set()
    label = next((c for c in ("category", "intent", "label") if c in columns), None)
    if "text" not in columns or label is None:
        raise TrainingDataError(f"{path.name}: needs a header with 'text' and 'category' columns")
    examples = tuple(
        (row["text"].strip(), row[label].strip())
        for row in rows
        if (row.get("text") or "").strip() and (row.get(label) or "").strip()
    )
    return TrainingData(examples=examples, data_hash=content_hash([(path.name, raw)]), source=str(path))


def content_hash(files: Iterable[tuple[str, bytes]]) -> str:
    """A hash of file names and bytes, independent of the order they were read in."""
    digest = hashlib.sha256()
    for name, raw in sorted(files):
        digest.update(name.replace("\\", "/").encode() + b"\0")
        digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


def strip_entities(text: str) -> str:
    """`where is order [123](order_id)` → `where is order 123`: the classifier sees what customers type."""
    return _SPACES.sub(" ", _ENTITY.sub(lambda m: m.group("text"), text)).strip()


def _yaml_files(data_dir: Path) -> list[Path]:
    found = [*data_dir.rglob("*.yml"), *data_dir.rglob("*.yaml")]
    return sorted(
        p for p in found if p.is_file() and not any(part.startswith(".") for part in p.relative_to(data_dir).parts)
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise TrainingDataError(f"{path}: cannot read: {exc.strerror}") from exc


def _parse_yaml(name: str, raw: bytes) -> dict[str, Any]:
    try:
        doc = yaml12.safe_load(raw)
    except yaml12.YAMLError as exc:
        raise TrainingDataError(f"{name}: invalid YAML: {exc}") from exc
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise TrainingDataError(f"{name}: expected a mapping at the top level, got {type(doc).__name__}")
    return doc


def _parse_nlu(name: str, items: Any) -> Iterator[Example]:
    if items is None:
        return
    if not isinstance(items, list):
        raise TrainingDataError(f"{name}: 'nlu' must be a list of '- intent: ...' items")
    for index, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise TrainingDataError(f"{name}: nlu item {index} is not a mapping")
        if "intent" not in item:
            continue  # synonym, regex and lookup items only help Rasa's featurizers
        intent = item["intent"]
        if not isinstance(intent, str) or not intent.strip():
            raise TrainingDataError(f"{name}: nlu item {index} has an empty or non-text intent name")
        for text in _example_texts(name, intent, item.get("examples")):
            cleaned = strip_entities(text)
            if cleaned:
                yield cleaned, intent.strip()


def _example_texts(name: str, intent: str, examples: Any) -> Iterator[str]:
    """Both of Rasa's forms: a `|` block of `- ` lines, or a list of `text:` items with metadata."""
    if examples is None:
        return
    if isinstance(examples, str):
        for line_no, line in enumerate(examples.splitlines(), start=1):
            stripped = line.strip()
            if not stripped:
                continue
            if not stripped.startswith("-"):
                raise TrainingDataError(
                    f"{name}: intent '{intent}', example line {line_no} does not start with '- ': {stripped!r}"
                )
            yield stripped[1:].strip()
    elif isinstance(examples, list):
        for entry in examples:
            text = entry.get("text") if isinstance(entry, dict) else entry
            if not isinstance(text, str):
                raise TrainingDataError(f"{name}: intent '{intent}' has an example without text: {entry!r}")
            yield text.strip()
    else:
        raise TrainingDataError(f"{name}: intent '{intent}': 'examples' must be a '|' block of '- ' lines")


def _parse_domain_intents(name: str, intents: Any) -> Iterator[str]:
    if intents is None:
        return
    if not isinstance(intents, list):
        raise TrainingDataError(f"{name}: 'intents' must be a list")
    for entry in intents:
        # `- greet` or `- greet: {use_entities: [...]}`
        if isinstance(entry, str):
            yield entry
        elif isinstance(entry, dict) and len(entry) == 1:
            yield str(next(iter(entry)))
        else:
            raise TrainingDataError(f"{name}: cannot read intent entry {entry!r}")


def _parse_responses(name: str, responses: Any) -> dict[str, tuple[str, ...]]:
    if responses is None:
        return {}
    if not isinstance(responses, dict):
        raise TrainingDataError(f"{name}: 'responses' must be a mapping of utter_* names to lists")
    parsed: dict[str, tuple[str, ...]] = {}
    for response, variants in responses.items():
        if not isinstance(variants, list):
            raise TrainingDataError(f"{name}: response '{response}' must be a list of '- text: ...' items")
        texts = tuple(v["text"].strip() for v in variants if isinstance(v, dict) and isinstance(v.get("text"), str))
        parsed[str(response)] = tuple(t for t in texts if t)
    return parsed


def _parse_steps(name: str, key: str, entries: Any) -> Iterator[RuleAction]:
    """Each action that directly follows a user intent in a rule or story."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise TrainingDataError(f"{name}: '{key}' must be a list")
    kind = "rule" if key == "rules" else "story"
    for index, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("steps", []), list):
            raise TrainingDataError(f"{name}: {kind} {index} must be a mapping with a 'steps' list")
        label = f"{name}: {kind} '{entry.get(kind, index)}'"
        intents: list[str] = []
        for step in entry.get("steps") or []:
            if not isinstance(step, dict):
                raise TrainingDataError(f"{label}: step {step!r} is not a mapping")
            if "intent" in step:
                intents = [str(step["intent"])]
            elif "or" in step and isinstance(step["or"], list):
                intents = [str(s["intent"]) for s in step["or"] if isinstance(s, dict) and "intent" in s]
            elif "action" in step:
                for intent in intents:
                    yield RuleAction(label, intent, str(step["action"]), from_rule=kind == "rule")
                intents = []


# ------------------------------------------------------------------------------------------ validation


def _check_intents(data: TrainingData) -> Iterator[str]:
    grouped = data.examples_by_intent()
    if len(grouped) < 2:
        yield f"Only {len(grouped)} intent(s) with examples: a classifier needs at least 2."
    mentioned = dict.fromkeys([*data.domain_intents, *(a.intent for a in data.actions)])
    for intent in mentioned:
        if intent != FALLBACK_INTENT and intent not in grouped:
            yield f"Intent '{intent}' has no examples in the NLU data."
    if data.has_domain:
        declared = set(data.domain_intents)
        for intent in grouped:
            if intent not in declared:
                yield f"Intent '{intent}' has examples but is not listed under 'intents' in the domain."


def _check_duplicates(data: TrainingData) -> Iterator[str]:
    seen: dict[str, dict[str, str]] = defaultdict(dict)
    for text, intent in data.examples:
        seen[_normalise(text)].setdefault(intent, text)
    for variants in seen.values():
        if len(variants) > 1:
            listed = ", ".join(f"'{intent}'" for intent in sorted(variants))
            yield f"Example {next(iter(variants.values()))!r} appears under several intents: {listed}."


def _check_actions(data: TrainingData) -> Iterator[str]:
    chosen: dict[str, RuleAction] = {}
    for step in data.actions:
        if step.action.startswith("utter_") and step.action not in data.responses:
            yield f"{step.source} uses response '{step.action}', which the domain does not define."
        if not step.from_rule:
            continue
        first = chosen.setdefault(step.intent, step)
        if first.action != step.action:
            yield (
                f"{step.source} answers '{step.intent}' with '{step.action}', but {first.source} "
                f"already answers it with '{first.action}'."
            )
    for response, texts in data.responses.items():
        if not texts:
            yield f"Response '{response}' has no '- text:' variant (the embedded engine only sends text)."


def _check_answerable(data: TrainingData) -> Iterator[str]:
    if not data.has_domain:
        yield "No domain file (with 'intents' and 'responses') was found: the bot would have nothing to say."
        return
    mapping = data.intent_responses
    for intent in data.intents:
        if intent not in HANDOFF_INTENTS and intent not in mapping:
            yield (
                f"Intent '{intent}' has no answer: add a rule '{intent} → utter_…' or a response "
                f"'utter_{intent}' to the domain."
            )


def _normalise(text: str) -> str:
    return _SPACES.sub(" ", text.casefold()).strip(" .!?")
