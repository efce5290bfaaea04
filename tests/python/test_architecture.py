"""The package's structure (ARCHITECTURE.md), checked from the source: no database, fast.

* no import cycle between the modules of ``crm_funnel`` (imports inside functions and
  ``TYPE_CHECKING`` blocks count: a cycle hidden in a function is still a cycle);
* the layers: errors <- warehouse <- ingest <- ops / serve; devtools may import anything;
  nothing outside serve and devtools imports them;
* no Python module over ``MAX_LINES`` lines;
* no ``isinstance(..., *Target)`` outside ``warehouse/``: every engine difference is there.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "loaders" / "crm_funnel"
MAX_LINES = 600
# What each part of the package may import (besides itself). "": the package's root
# (``crm_funnel/__init__.py``, ``errors.py``).
ALLOWED = {
    "": {""},
    "warehouse": {""},
    "ingest": {"", "warehouse"},
    "ops": {"", "warehouse", "ingest"},
    "serve": {"", "warehouse", "ingest"},
    "devtools": {"", "warehouse", "ingest", "ops", "serve"},
}
TARGET_CHECK = re.compile(r"isinstance\([^)]*Target\b")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def part(module: str) -> str:
    """The part of the package a module belongs to ("" for the root modules)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in ALLOWED) else ""


def imports(module: str) -> set[str]:
    """The crm_funnel modules ``module`` imports, anywhere in its code."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # ``from package import module`` imports the module
            names = [
                f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                for alias in node.names
            ]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # ``import a.b.c`` -> the module a.b.c
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {module: imports(module) for module in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path (first module repeated at the end), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)) is not None:
            return cycle
    return None


def test_the_graph_sees_imports_inside_functions() -> None:
    # the check itself: a cycle hidden in a function, and a package import, are found
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
    assert "crm_funnel.warehouse.open" in GRAPH["crm_funnel.ops.erasure"]
    assert "crm_funnel.ingest.svix" in GRAPH["crm_funnel.ingest.formats"]


def test_no_import_cycle() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_layers() -> None:
    wrong = [
        f"{module} imports {target}"
        for module, targets in GRAPH.items()
        for target in sorted(targets)
        if part(target) != part(module) and part(target) not in ALLOWED[part(module)]
    ]
    assert not wrong, "imports against the layers (ARCHITECTURE.md):\n" + "\n".join(wrong)


def test_no_module_over_the_size_limit() -> None:
    sizes = {m: len(p.read_text(encoding="utf-8").splitlines()) for m, p in MODULES.items()}
    over = [f"{m}: {n} lines" for m, n in sorted(sizes.items()) if n > MAX_LINES]
    assert not over, f"modules over {MAX_LINES} lines: split them by concern: {over}"


def test_target_checks_only_in_warehouse() -> None:
    found = [
        f"{module}:{number}: {line.strip()}"
        for module, path in MODULES.items()
        if part(module) != "warehouse"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if TARGET_CHECK.search(line)
    ]
    assert not found, "engine differences belong in crm_funnel/warehouse/:\n" + "\n".join(found)
