"""The house's contracts (DESIGN.md's layout table), checked over the import graph on every run.

Read from the source with `ast`, imports made inside functions included, so a lazy import cannot hide
a loop or a layer crossing. An import names a module; `from package import name` counts as importing
`package.name` when that is a module, else `package`. A package's own `__init__` importing its
submodules is not a loop (that is how a package lists its parts).
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "connectors", "bot", "console")
# Who may import whom: a package may import itself and the packages listed for it, nothing else of ours.
MAY_IMPORT = {
    "models": {"models"},
    "connectors": {"connectors", "models"},
    "bot": {"bot", "models", "connectors"},
    "console": {"console", "bot", "models", "connectors"},
}
WEB_ONLY = ("flask", "flask_socketio", "socketio", "engineio")
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    found = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(path: Path) -> list[tuple[str, int]]:
    """(imported name, line) for every import of the file, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out += [(a.name, node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [(f"{node.module}.{a.name}", node.lineno) for a in node.names]
            out.append((node.module, node.lineno))
    return out


def _ours(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _graph() -> dict[str, set[str]]:
    edges: dict[str, set[str]] = defaultdict(set)
    for mod, path in MODULES.items():
        for name, _ in _imports(path):
            target = _ours(name)
            if target is None or target == mod:
                continue
            if mod.startswith(target + "."):
                continue  # importing one's own package: runs its __init__, which is not a loop by itself
            if path.name == "__init__.py" and target.startswith(mod + "."):
                continue  # a package listing its own parts
            edges[mod].add(target)
    return edges


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(MODULES):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_loops_anywhere_counting_imports_inside_functions() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_loop() -> None:
    """The contract above is only as good as the finder: a loop planted in a copy of the graph is seen."""
    edges = _graph()
    edges["models.db"].add("models.events")
    edges["models.events"].add("models.db")
    assert ["models.db", "models.events"] in _cycles(edges)


def test_each_package_imports_only_the_layers_below_it() -> None:
    crossings = []
    for mod, path in MODULES.items():
        allowed = MAY_IMPORT[mod.split(".")[0]]
        for name, line in _imports(path):
            top = name.split(".")[0]
            if top in PACKAGES and top not in allowed:
                crossings.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert crossings == []


def test_flask_and_socketio_live_in_console_only() -> None:
    found = [f"{path.relative_to(ROOT)}:{line} imports {name}"
             for mod, path in MODULES.items() if not mod.startswith("console")
             for name, line in _imports(path) if name.split(".")[0] in WEB_ONLY]
    assert found == []


def test_no_production_module_is_over_500_lines() -> None:
    long = {str(path.relative_to(ROOT)): n for path in MODULES.values()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert long == {}


def test_no_test_module_imports_another_or_conftest() -> None:
    tests = ROOT / "tests"
    found = []
    for path in tests.rglob("*.py"):
        for name, line in _imports(path):
            parts = name.split(".")
            if parts[0] == "tests" and len(parts) > 1 and (parts[1] == "conftest" or parts[1].startswith("test_")):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
            if parts[0] == "conftest" or parts[0].startswith("test_"):
                found.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert found == []
