"""The shape of the code (DESIGN.md "Layout", STYLE.md rules 7 and 8), read from the source.

Every import is an edge: at module level, under ``TYPE_CHECKING`` and inside functions (a lazy
import for start-up speed is still a dependency). So:
- arrows point one way, ``engine -> projections -> events``;
- the import graph of our modules has no cycle, not even one that ``TYPE_CHECKING`` hides;
- no module imports another module's private name (``from x import _y``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("events", "projections", "engine")


def modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = path
    return out


def imports(name: str, path: Path) -> Iterator[tuple[str, tuple[str, ...], int]]:
    """(module imported, names taken from it, line) for every import in the file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield a.name, (), node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield target, tuple(a.name for a in node.names), node.lineno


def graph() -> dict[str, set[str]]:
    mods = modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for m, path in mods.items():
        for target, names, _ in imports(m, path):
            # ``from pkg import mod`` imports the submodule when there is one
            subs = [f"{target}.{n}" for n in names if f"{target}.{n}" in mods]
            for t in subs or ([target] if target in mods else []):
                if t != m:
                    edges[m].add(t)
            if subs and len(subs) < len(names) and target in mods and target != m:
                edges[m].add(target)
    return edges


def cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the graph, or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return [*stack[stack.index(t):], t]
            if t not in state and (found := visit(t)) is not None:
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)) is not None:
            return found
    return None


def test_arrows_point_one_way() -> None:
    """events imports neither projections nor engine; projections does not import engine."""
    below = {"events": ("projections", "engine"), "projections": ("engine",)}
    wrong = [f"{path.relative_to(ROOT)}:{line} imports {target}"
             for m, path in modules().items() for pkg, banned in below.items() if m.split(".")[0] == pkg
             for target, _, line in imports(m, path) if target.split(".")[0] in banned]
    assert wrong == []


def test_the_import_graph_has_no_cycle() -> None:
    found = cycle(graph())
    assert found is None, " -> ".join(found or [])


def test_the_cycle_finder_finds_one() -> None:
    """Given a graph with a cycle hidden behind a chain, then it is named in order."""
    edges = {"a": {"b"}, "b": {"c"}, "c": {"b"}, "d": set()}
    assert cycle(edges) == ["b", "c", "b"]
    assert cycle({"a": {"b"}, "b": set()}) is None


def test_no_private_name_is_imported_across_modules() -> None:
    taken = [f"{path.relative_to(ROOT)}:{line} takes {target}.{n}"
             for m, path in modules().items() for target, names, line in imports(m, path)
             if target.split(".")[0] in PACKAGES for n in names if n.startswith("_") and not n.startswith("__")]
    assert taken == []
