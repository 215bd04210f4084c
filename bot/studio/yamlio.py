"""Round-trip YAML for Rasa files: what an admin's edit does not touch stays byte for byte.

ruamel.yaml keeps comments, key order and quoting; this module adds what it cannot know: each
file's list indentation (Rasa's examples use both `- item` under a key and `  - item`), and the blank
lines between items, which ruamel attaches to the item *before* them so they wander when items are
added or removed. `respace` puts blank lines back where the original file had them, by the kind and
indentation of the line that follows, and never inside a block scalar (`examples: |`).
"""

from __future__ import annotations

import io
import re
from collections import defaultdict
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

_ITEM = re.compile(r"^(\s*)- ")
_KEY_ONLY = re.compile(r"^(\s*)[^\s#-][^:]*:\s*(#.*)?$")
_BLOCK_START = re.compile(r"(:|^\s*-)\s*[|>][-+0-9]*\s*(#.*)?$")


class YamlFileError(ValueError):
    pass


def list_offset(text: str) -> int:
    """How far a list is indented under its key in this file: 0 (`key:\\n- a`) or 2 (`key:\\n  - a`)."""
    lines = text.splitlines()
    for index in range(1, len(lines)):
        item = _ITEM.match(lines[index])
        parent = _KEY_ONLY.match(lines[index - 1])
        if item and parent:
            return max(0, len(item.group(1)) - len(parent.group(1)))
    return 0


def _yaml(offset: int) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never fold a long example or response onto two lines
    yaml.indent(mapping=2, sequence=offset + 2, offset=offset)
    return yaml


def load(text: str, name: str) -> Any:
    try:
        return _yaml(list_offset(text)).load(text)
    except YAMLError as exc:
        raise YamlFileError(f"{name}: invalid YAML: {exc}") from exc


def dump(doc: Any, original: str) -> str:
    out = io.StringIO()
    _yaml(list_offset(original)).dump(doc, out)
    return respace(out.getvalue(), original)


def _signature(line: str) -> tuple[int, str]:
    stripped = line.lstrip(" ")
    return len(line) - len(stripped), "item" if stripped.startswith("- ") else "key"


def _specific(line: str) -> tuple[int, str, str]:
    """The signature plus the key (`pipeline:`) or the item's first key (`- intent:`)."""
    indent, kind = _signature(line)
    body = line.strip()[2:] if kind == "item" else line.strip()
    token = body.split(":", 1)[0] if ":" in body else ""
    return indent, kind, token


def _structural(lines: list[str]) -> list[tuple[int, bool]]:
    """(index, preceded by a blank line) for every line that is YAML structure, not block content."""
    found: list[tuple[int, bool]] = []
    block_indent: int | None = None
    blank_before = False
    for index, line in enumerate(lines):
        if not line.strip():
            blank_before = True
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block_indent is not None and indent > block_indent:
            blank_before = False
            continue
        block_indent = None
        if not line.lstrip().startswith("#"):
            found.append((index, blank_before))
            if _BLOCK_START.search(line):
                block_indent = indent
        blank_before = False
    return found


def respace(text: str, original: str) -> str:
    """Blank lines before a line where the original had them before most lines of the same kind and
    indentation, and nowhere else (outside block scalars)."""
    seen: dict[tuple[int, str], list[bool]] = defaultdict(list)
    exact: dict[tuple[int, str, str], list[bool]] = defaultdict(list)
    original_lines = original.splitlines()
    for index, blank in _structural(original_lines):
        seen[_signature(original_lines[index])].append(blank)
        exact[_specific(original_lines[index])].append(blank)
    generic = {sig: sum(flags) * 2 > len(flags) for sig, flags in seen.items()}
    specific = {sig: sum(flags) * 2 > len(flags) for sig, flags in exact.items()}

    def wanted(line: str) -> bool:
        found = specific.get(_specific(line))
        return found if found is not None else generic.get(_signature(line), False)
    lines = text.splitlines()
    structure = dict(_structural(lines))
    out: list[str] = []
    for index, line in enumerate(lines):
        if index in structure and out:
            sig = _signature(line)
            previous = next((p for p in reversed(out) if p.strip()), "")
            first_child = bool(_KEY_ONLY.match(previous)) and (
                _signature(previous)[0] < sig[0] or (sig[1] == "item" and _signature(previous)[0] == sig[0]))
            want = wanted(line) and not first_child and not previous.lstrip().startswith("#")
            while out and not out[-1].strip() and not want:
                out.pop()
            if want and out[-1].strip():
                out.append("")
        if not line.strip() and out and not out[-1].strip():
            continue  # never two blank lines in a row
        out.append(line)
    return "\n".join(out).rstrip("\n") + "\n"
