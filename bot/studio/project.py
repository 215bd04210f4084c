"""Read and edit the Rasa files of `data/` in place: the admin's changes, in Rasa's own format.

A change is a list of operations (add an intent, set its examples, set a response, …) applied to the
round-trip YAML of the files, checked, and only then written — every file atomically, under a lock,
and only if nobody changed the data since the admin loaded it (`base_hash`). Checks come in two kinds:
an operation that cannot be done (an intent that does not exist, an empty example) is refused at once
(`ChangeError`); a change that would leave the data worse — a new duplicate across intents, an intent
without examples or answer, a response a rule uses but nobody defines — is refused with the list of
problems it *introduces* (`ChangeRejected`); problems the data already had are reported, not blamed
on the change. New intents, responses and rules go where Rasa projects keep them (the file holding
most intents, `domain.yml`, `rules.yml`), and each edit touches only the YAML nodes it changes.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from bot import yaml12
from bot.studio import yamlio
from bot.studio.checks import ChangeError, check_examples, check_intent_name, check_response_name, check_texts
from bot.training_data import (
    HANDOFF_INTENTS,
    TrainingData,
    TrainingDataError,
    load_training_data,
    strip_entities,
)

OPS = ("add_intent", "delete_intent", "set_examples", "add_examples", "remove_examples", "set_response",
       "delete_response")


class ChangeRejected(ValueError):
    """The change would introduce problems into the data; nothing was written."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__(f"{len(self.problems)} problem(s): " + "; ".join(self.problems))


class StaleData(ValueError):
    """The data changed since the admin loaded it."""


@dataclass
class _File:
    relative: str
    text: str
    doc: Any
    dirty: bool = False


@dataclass(frozen=True)
class Preview:
    """A checked change: the files it would write, what it introduces, what was already wrong."""

    files: dict[str, str]
    introduced: list[str]
    existing: list[str]
    summary: list[str]
    data_hash_before: str
    data_hash_after: str


@dataclass
class RasaProject:
    data_dir: Path
    files: dict[str, _File] = field(default_factory=dict)
    data: TrainingData | None = None

    # --- loading and viewing ------------------------------------------------------------------------

    @classmethod
    def load(cls, data_dir: Path) -> RasaProject:
        data = load_training_data(data_dir)
        project = cls(data_dir=data_dir, data=data)
        for path in sorted([*data_dir.rglob("*.yml"), *data_dir.rglob("*.yaml")]):
            relative = str(path.relative_to(data_dir))
            if any(part.startswith(".") for part in Path(relative).parts) or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            try:
                probe = yaml12.safe_load(text)
            except yaml12.YAMLError as exc:
                raise TrainingDataError(f"{relative}: invalid YAML: {exc}") from exc
            if isinstance(probe, dict) and set(probe) & {"nlu", "intents", "responses", "rules", "stories"}:
                project.files[relative] = _File(relative, text, yamlio.load(text, relative))
        return project

    @property
    def data_hash(self) -> str:
        assert self.data is not None
        return self.data.data_hash

    def _docs(self, key: str) -> Iterator[tuple[_File, Any]]:
        for file in self.files.values():
            if isinstance(file.doc, dict) and file.doc.get(key) is not None:
                yield file, file.doc[key]

    def _intent_items(self, intent: str) -> list[tuple[_File, Any]]:
        return [(file, item) for file, items in self._docs("nlu") for item in items
                if isinstance(item, dict) and item.get("intent") == intent]

    def examples(self, intent: str) -> list[str]:
        return [text for _, item in self._intent_items(intent) for text in _read_examples(item.get("examples"))]

    def intents(self) -> list[str]:
        names = {str(item["intent"]) for _, items in self._docs("nlu") for item in items
                 if isinstance(item, dict) and "intent" in item}
        return sorted(names | set(self.domain_intents()))

    def domain_intents(self) -> list[str]:
        return [_intent_name(entry) for _, entries in self._docs("intents") for entry in entries]

    def responses(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for _, responses in self._docs("responses"):
            for name, variants in responses.items():
                found[str(name)] = [str(v["text"]) for v in variants or [] if isinstance(v, dict) and "text" in v]
        return found

    def _steps(self) -> Iterator[tuple[str, str, str, list[Any]]]:
        """(file, "rule"|"story", name, steps) for every rule and story."""
        for key, kind in (("rules", "rule"), ("stories", "story")):
            for file, entries in self._docs(key):
                for entry in entries:
                    if isinstance(entry, dict):
                        yield file.relative, kind, str(entry.get(kind, "")), list(entry.get("steps") or [])

    def view(self) -> dict[str, Any]:
        """Everything the admin page shows, as JSON."""
        data = self._current_data()
        mapping = data.intent_responses
        responses = self.responses()
        used: dict[str, list[dict[str, str]]] = {}
        for relative, kind, name, steps in self._steps():
            for step in steps:
                if isinstance(step, dict) and "intent" in step:
                    used.setdefault(str(step["intent"]), []).append({"kind": kind, "name": name, "file": relative})
        declared = set(self.domain_intents())
        intents = []
        for intent in self.intents():
            response = mapping.get(intent)
            intents.append({
                "name": intent,
                "examples": self.examples(intent),
                "response": response,
                "response_texts": responses.get(response or "", []),
                "declared": intent in declared,
                "handoff": intent in HANDOFF_INTENTS,
                "used_in": used.get(intent, []),
            })
        answered_by: dict[str, list[str]] = {}
        for intent, response in mapping.items():
            answered_by.setdefault(response, []).append(intent)
        return {
            "data_hash": data.data_hash,
            "intents": intents,
            "responses": [{"name": name, "texts": texts, "intents": sorted(answered_by.get(name, []))}
                          for name, texts in sorted(responses.items())],
            "problems": data.validate(),
            "files": sorted(self.files),
        }

    def _current_data(self) -> TrainingData:
        with tempfile.TemporaryDirectory(prefix="parley-studio-") as tmp:
            self._materialise(Path(tmp), self._rendered())
            return _relabel(load_training_data(Path(tmp)), str(self.data_dir))

    # --- changing -----------------------------------------------------------------------------------

    def apply(self, change: dict[str, Any]) -> str:
        """Apply one operation to the YAML in memory; returns a one-line description."""
        op = change.get("op")
        if op not in OPS:
            raise ChangeError(f"Unknown operation {op!r} (one of: {', '.join(OPS)}).")
        handler = getattr(self, f"_op_{op}")
        result: str = handler(change)
        return result

    def preview(self, changes: Sequence[dict[str, Any]]) -> Preview:
        if not isinstance(changes, list | tuple) or not changes:
            raise ChangeError("A change needs at least one operation.")
        before = self.data_hash
        existing = set(self._current_data().validate())
        summary = [self.apply(dict(change)) for change in changes]
        after_data = self._current_data()
        problems = after_data.validate()
        introduced = [p for p in problems if p not in existing]
        rendered = {name: text for name, text in self._rendered().items() if text != self.files[name].text}
        return Preview(files=rendered, introduced=introduced, existing=[p for p in problems if p in existing],
                       summary=summary, data_hash_before=before, data_hash_after=after_data.data_hash)

    def _rendered(self) -> dict[str, str]:
        return {name: yamlio.dump(file.doc, file.text) if file.dirty else file.text
                for name, file in self.files.items()}

    def _materialise(self, root: Path, rendered: dict[str, str]) -> None:
        for name, text in rendered.items():
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    # operations -----------------------------------------------------------------------------------

    def _op_add_intent(self, change: dict[str, Any]) -> str:
        intent = check_intent_name(change.get("intent"))
        if intent in self.intents():
            raise ChangeError(f"Intent '{intent}' already exists.")
        examples = check_examples(change.get("examples"), at_least=1)
        texts = check_texts(change.get("response") or [], allow_empty=True)
        nlu = self._nlu_file()
        item = CommentedMap()
        item["intent"] = intent
        item["examples"] = _examples_block(examples)
        items = nlu.doc["nlu"]
        # After the last intent, before regexes/synonyms/lookups, as Rasa projects order them.
        position = max((i + 1 for i, it in enumerate(items) if isinstance(it, dict) and "intent" in it), default=0)
        items.insert(position, item)
        nlu.dirty = True
        domain = self._domain_file()
        domain.doc.setdefault("intents", CommentedSeq()).append(intent)
        domain.dirty = True
        described = f"Added intent '{intent}' with {len(examples)} example(s)"
        if texts:  # without texts, validation says it has no answer (unless it is a handoff intent)
            response = f"utter_{intent}"
            self._set_response(response, texts)
            self._add_rule(intent, response)
            described += f" answered by '{response}'"
        return described + "."

    def _op_delete_intent(self, change: dict[str, Any]) -> str:
        intent = self._existing_intent(change.get("intent"))
        for relative, kind, name, steps in self._steps():
            mentions = [s for s in steps if isinstance(s, dict) and s.get("intent") == intent]
            if mentions and not (kind == "rule" and _is_simple_rule(steps, intent)):
                raise ChangeError(f"Intent '{intent}' is used in {kind} '{name}' ({relative}): edit or remove that "
                                  f"{kind} first.")
        for file, item in self._intent_items(intent):
            file.doc["nlu"].remove(item)
            file.dirty = True
        for file, entries in self._docs("intents"):
            for entry in list(entries):
                if _intent_name(entry) == intent:
                    entries.remove(entry)
                    file.dirty = True
        removed_rules = 0
        for file, entries in self._docs("rules"):
            for entry in list(entries):
                if isinstance(entry, dict) and _is_simple_rule(list(entry.get("steps") or []), intent):
                    entries.remove(entry)
                    file.dirty = True
                    removed_rules += 1
        return f"Deleted intent '{intent}'" + (" and its rule" if removed_rules else "") + "."

    def _op_set_examples(self, change: dict[str, Any]) -> str:
        intent = self._existing_intent(change.get("intent"))
        examples = check_examples(change.get("examples"), at_least=0)
        before = self.examples(intent)
        self._write_examples(intent, examples)
        added = len([e for e in examples if e not in before])
        removed = len([e for e in before if e not in examples])
        return f"Edited the examples of '{intent}' (+{added}, -{removed})."

    def _op_add_examples(self, change: dict[str, Any]) -> str:
        intent = str(change.get("intent") or "")
        examples = check_examples(change.get("examples"), at_least=1)
        if intent not in self.intents():
            raise ChangeError(f"No intent '{intent}': create it first (add_intent).")
        current = self.examples(intent)
        known = {_normal(e) for e in current}
        fresh = [e for e in examples if _normal(e) not in known]
        if not fresh:
            raise ChangeError(f"'{intent}' already has {'this example' if len(examples) == 1 else 'these examples'}.")
        self._write_examples(intent, current + fresh)
        return f"Added {len(fresh)} example(s) to '{intent}'."

    def _op_remove_examples(self, change: dict[str, Any]) -> str:
        intent = self._existing_intent(change.get("intent"))
        doomed = {_normal(e) for e in check_examples(change.get("examples"), at_least=1)}
        current = self.examples(intent)
        kept = [e for e in current if _normal(e) not in doomed]
        if len(kept) == len(current):
            raise ChangeError(f"'{intent}' has none of these examples.")
        self._write_examples(intent, kept)
        return f"Removed {len(current) - len(kept)} example(s) from '{intent}'."

    def _op_set_response(self, change: dict[str, Any]) -> str:
        response = check_response_name(change.get("response"))
        texts = check_texts(change.get("texts"), allow_empty=False)
        existed = response in self.responses()
        self._set_response(response, texts)
        intent = change.get("intent")
        if intent is not None:  # answer this intent with it (adds the rule when there is none)
            intent = self._existing_intent(intent)
            if self._current_data().intent_responses.get(intent) != response:
                self._add_rule(intent, response)
        return f"{'Edited' if existed else 'Added'} response '{response}' ({len(texts)} variant(s))."

    def _op_delete_response(self, change: dict[str, Any]) -> str:
        response = check_response_name(change.get("response"))
        if response not in self.responses():
            raise ChangeError(f"No response '{response}'.")
        for relative, kind, name, steps in self._steps():
            if any(isinstance(s, dict) and s.get("action") == response for s in steps):
                raise ChangeError(f"Response '{response}' is used in {kind} '{name}' ({relative}).")
        for file, responses in self._docs("responses"):
            if response in responses:
                del responses[response]
                file.dirty = True
        return f"Deleted response '{response}'."

    # helpers ---------------------------------------------------------------------------------------

    def _existing_intent(self, value: Any) -> str:
        intent = str(value or "")
        if intent not in self.intents():
            raise ChangeError(f"No intent '{intent}'.")
        return intent

    def _write_examples(self, intent: str, examples: list[str]) -> None:
        items = self._intent_items(intent)
        if not items:  # declared in the domain only: give it an NLU item
            nlu = self._nlu_file()
            item = CommentedMap()
            item["intent"] = intent
            nlu.doc["nlu"].append(item)
            items = [(nlu, item)]
        first_file, first = items[0]
        first["examples"] = _examples_block(examples, like=first.get("examples"))
        first_file.dirty = True
        for file, item in items[1:]:  # examples split over several items end up in the first one
            file.doc["nlu"].remove(item)
            file.dirty = True

    def _set_response(self, response: str, texts: list[str]) -> None:
        for file, responses in self._docs("responses"):
            if response in responses:
                variants = responses[response]
                old = [v for v in variants if isinstance(v, dict)]
                fresh = CommentedSeq()
                for index, text in enumerate(texts):
                    variant = old[index] if index < len(old) else CommentedMap()
                    variant["text"] = DoubleQuotedScalarString(text)
                    fresh.append(variant)
                responses[response] = fresh
                file.dirty = True
                return
        domain = self._domain_file()
        if domain.doc.get("responses") is None:
            domain.doc["responses"] = CommentedMap()
        fresh = CommentedSeq()
        for text in texts:
            variant = CommentedMap()
            variant["text"] = DoubleQuotedScalarString(text)
            fresh.append(variant)
        domain.doc["responses"][response] = fresh
        domain.dirty = True

    def _add_rule(self, intent: str, response: str) -> None:
        rules = next((f for f, _ in self._docs("rules")), None) or self._new_file("rules.yml", "rules")
        rule = CommentedMap()
        rule["rule"] = intent.replace("_", " ")
        steps = CommentedSeq()
        for key, value in (("intent", intent), ("action", response)):
            step = CommentedMap()
            step[key] = value
            steps.append(step)
        rule["steps"] = steps
        rules.doc["rules"].append(rule)
        rules.dirty = True

    def _nlu_file(self) -> _File:
        candidates = [(sum(1 for it in items if isinstance(it, dict) and "intent" in it), f.relative, f)
                      for f, items in self._docs("nlu")]
        if candidates:
            return max(candidates, key=lambda c: (c[0], c[1] == "nlu.yml"))[2]
        return self._new_file("nlu.yml", "nlu")

    def _domain_file(self) -> _File:
        for file in self.files.values():
            if isinstance(file.doc, dict) and ("intents" in file.doc or "responses" in file.doc):
                return file
        return self._new_file("domain.yml", "intents")

    def _new_file(self, name: str, key: str) -> _File:
        if name in self.files:
            file = self.files[name]
        else:
            text = f'version: "3.1"\n\n{key}:\n'
            file = _File(name, "", yamlio.load(text, name))
            self.files[name] = file
        if file.doc.get(key) is None:
            file.doc[key] = CommentedSeq()
        file.dirty = True
        return file


def _normal(text: str) -> str:
    return " ".join(strip_entities(text).casefold().split()).strip(" .!?")


def _intent_name(entry: Any) -> str:
    if isinstance(entry, dict) and len(entry) == 1:
        return str(next(iter(entry)))
    return str(entry)


def _is_simple_rule(steps: list[Any], intent: str) -> bool:
    """`- intent: X` then one `- action: utter_…`: the rule Parley writes for an intent's answer."""
    kinds = [next(iter(s)) if isinstance(s, dict) and len(s) == 1 else None for s in steps]
    return (kinds == ["intent", "action"] and steps[0]["intent"] == intent
            and str(steps[1]["action"]).startswith("utter_"))


def _read_examples(value: Any) -> list[str]:
    if isinstance(value, str):
        return [line.strip()[1:].strip() for line in value.splitlines() if line.strip().startswith("-")]
    if isinstance(value, list):
        return [str(v.get("text") if isinstance(v, dict) else v).strip() for v in value]
    return []


def _examples_block(examples: list[str], like: Any = None) -> Any:
    if isinstance(like, list):  # the `- text: ...` form (with metadata): keep it, and what metadata exists
        by_text = {str(v.get("text")).strip(): v for v in like if isinstance(v, dict)}
        fresh = CommentedSeq()
        for text in examples:
            entry = by_text.get(text)
            if entry is None:
                entry = CommentedMap()
                entry["text"] = text
            fresh.append(entry)
        return fresh
    return LiteralScalarString("".join(f"- {text}\n" for text in examples))


def _relabel(data: TrainingData, source: str) -> TrainingData:
    return TrainingData(examples=data.examples, responses=data.responses, domain_intents=data.domain_intents,
                        actions=data.actions, data_hash=data.data_hash, source=source, has_domain=data.has_domain)
