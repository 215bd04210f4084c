"""Read Rasa's YAML the way Rasa reads it: YAML 1.2, core schema.

PyYAML implements YAML 1.1, where `yes`, `no`, `on` and `off` are booleans, `010` is octal, `1:30` is
a number in base 60 and `2024-01-31` a date. Rasa reads its files as YAML 1.2 (ruamel.yaml), where
all of those are text, so an intent, entity, slot or response named `yes` or `off` is a name like any
other. `safe_load` here is PyYAML's safe loader (with its C parser when there is one) with the YAML
1.2 core schema's resolvers: `true`/`false`, `null`/`~`, decimal, `0o` octal and `0x` hexadecimal
integers, floats with `.inf`/`.nan`; everything else is a string.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

YAMLError = yaml.YAMLError

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class Yaml12Loader(_Base):
    """A safe loader that resolves plain scalars by the YAML 1.2 core schema."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


def _construct_int(loader: Any, node: yaml.ScalarNode) -> int:
    value = str(loader.construct_scalar(node))
    if value.startswith("0o"):
        return int(value[2:], 8)
    if value.startswith("0x"):
        return int(value[2:], 16)
    return int(value, 10)  # `010` is ten in YAML 1.2, not eight


def _construct_bool(loader: Any, node: yaml.ScalarNode) -> bool:
    return str(loader.construct_scalar(node)).lower() == "true"


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", _BOOL, "tTfF"),
    ("tag:yaml.org,2002:null", _NULL, ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", _INT, "-+0123456789"),
    ("tag:yaml.org,2002:float", _FLOAT, "-+.0123456789"),
):
    Yaml12Loader.add_implicit_resolver(_tag, _pattern, list(_first))
Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
Yaml12Loader.add_constructor("tag:yaml.org,2002:bool", _construct_bool)


def safe_load(stream: str | bytes) -> Any:
    """Like `yaml.safe_load`, by YAML 1.2's rules."""
    return yaml.load(stream, Loader=Yaml12Loader)
