"""The package's own import graph has no cycle: each floor depends only on the floors below it.

The graph is built from the source (``ast``), not by importing: a node is a module of
``rankrag_lite``; an edge ``a -> b`` is an ``import b`` / ``from b import x`` / ``from pkg import b``
statement in ``a``, ANYWHERE in the file: at module level and inside functions. The kit imports
heavy or optional things lazily inside functions (torch, a backend, a sibling module); such an
import does not run at import time, so it cannot raise a circular ``ImportError``, but it is still
a dependency a reader follows (``formats`` reaching up into ``data.sources`` is the same tangle at
any indentation), so it counts. Imports under ``if TYPE_CHECKING:`` count too (none today).

``from pkg import name`` is an edge to ``pkg.name`` when that is a module, else to ``pkg`` (its
``__init__``). Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; those implicit
parent edges are NOT counted: a package's ``__init__`` re-exports its submodules, so counting them
would make every package a cycle with its own children (the re-export is the package's front door,
not a dependency of the child on its siblings).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = "rankrag_lite"
ROOT = Path(__file__).resolve().parent.parent / PACKAGE


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def _resolve(module: str, level: int, here: str, is_package: bool) -> str:
    if not level:
        return module
    base = here.split(".") if is_package else here.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_graph() -> dict[str, set[str]]:
    """``{module: {modules of the package it imports}}`` (module level and function level)."""
    modules = _modules()
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                src = _resolve(node.module or "", node.level, name, path.name == "__init__.py")
                for alias in node.names:
                    sub = f"{src}.{alias.name}"
                    targets.append(sub if sub in modules else src)
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component with more than one module (Tarjan), each printed
    as a path ``a -> b -> ... -> a`` found inside the component."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_cycle_in(graph, set(comp)) for comp in components]


def tangles(graph: dict[str, set[str]]) -> list[str]:
    """One line per cycle: the cycle, then every module caught in the same tangle."""
    lines = []
    for cycle in find_cycles(graph):
        comp = _component(graph, cycle[0])
        lines.append(" -> ".join(cycle) + f"   (tangle of {len(comp)}: {', '.join(sorted(comp))})")
    return lines


def _component(graph: dict[str, set[str]], start: str) -> set[str]:
    def reach(v: str, edges) -> set[str]:
        seen, todo = {v}, [v]
        while todo:
            for w in edges(todo.pop()):
                if w not in seen:
                    seen.add(w)
                    todo.append(w)
        return seen

    back = {v: {u for u in graph if v in graph[u]} for v in graph}
    return reach(start, graph.__getitem__) & reach(start, back.__getitem__)


def _cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    start = min(comp)
    # breadth-first from start back to start inside the component: the shortest cycle through it
    paths = {w: [start, w] for w in sorted(graph[start] & comp)}
    frontier = list(paths)
    while start not in paths:
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w not in paths:
                    paths[w] = paths[v] + [w]
                    nxt.append(w)
        if not nxt and start not in paths:
            break
        frontier = nxt
        for v in frontier:
            if start in graph[v]:
                paths[start] = paths[v] + [start]
                break
    return paths.get(start, sorted(comp))


def test_the_graph_sees_both_kinds_of_import():
    graph = import_graph()
    assert "rankrag_lite.errors" in graph["rankrag_lite.formats.corpus"]  # module level
    assert "rankrag_lite.torch" not in graph  # only the package's own modules
    assert "rankrag_lite.modeling.loading" in graph["rankrag_lite.model"]  # inside a function


def test_find_cycles_reports_a_cycle_and_only_cycles():
    g = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert find_cycles(g) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_the_package_has_no_import_cycle():
    lines = tangles(import_graph())
    assert not lines, "import cycles:\n" + "\n".join("  " + line for line in lines)


def test_the_formats_floor_reaches_no_stage_above_it():
    """``formats`` is the bottom floor: it may use ``data.schemas``, ``errors``, ``io``, ``progress``,
    but not the loaders, retrieval or any stage that reads through it."""
    graph = import_graph()
    above = ("rankrag_lite.data.sources", "rankrag_lite.data.blend", "rankrag_lite.retrieval",
             "rankrag_lite.ranking", "rankrag_lite.evaluation", "rankrag_lite.cli", "rankrag_lite.model")
    bad = sorted((m, t) for m in graph if m.startswith("rankrag_lite.formats")
                 for t in graph[m] if t.startswith(above))
    assert not bad, bad
