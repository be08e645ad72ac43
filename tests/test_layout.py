"""The package's layout: no import cycles among vlm_robot's modules.

The import graph is read from the source with ``ast`` (nothing is imported): every ``import`` and
``from ... import`` statement of every module, at module level and inside functions and classes alike
(a function-level import is a cycle that waits for its first call), with relative imports resolved and
``from pkg import name`` counted as an import of ``pkg.name`` when that is a module, else of ``pkg``.
Imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
import itertools
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "vlm_robot"


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    where: str  # path:line of the import statement


def module_files(root: Path = ROOT, package: str = PACKAGE) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under the package (``pkg/__init__.py`` is ``pkg``)."""
    out = {}
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        if all(p.isidentifier() for p in parts):  # skips folders that cannot be imported
            out[".".join(parts)] = path
    return out


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) blocks."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    return skip


def imports(name: str, path: Path, modules: dict[str, Path]) -> list[tuple[str, int]]:
    """Every module ``name`` (at ``path``) imports, with the line: one of ``modules`` where the import names one
    (``import a.b.c`` where only ``a.b`` is ours, ``c`` a name in it, is ``a.b``), else the dotted name as written
    (``torch``, ``llama_cpp.llama``). Imports under ``if TYPE_CHECKING:`` are left out."""
    tree = ast.parse(path.read_text(), str(path))
    is_pkg = path.name == "__init__.py"
    skip = _type_checking_only(tree)
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = name.split(".") if is_pkg else name.split(".")[:-1]
                base_parts = base_parts[:len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.append(sub if sub in modules else base)
        for target in targets:
            resolved = target
            while resolved and resolved not in modules and "." in resolved:
                resolved = resolved.rsplit(".", 1)[0]
            out.append((resolved if resolved in modules else target, node.lineno))
    return out


def import_edges(modules: dict[str, Path], root: Path = ROOT, package: str = PACKAGE) -> list[Edge]:
    """Every import of one of ``modules`` by another, with where it is written."""
    edges = []
    for name, path in modules.items():
        where = path.relative_to(root)
        for target, line in imports(name, path, modules):
            if target in modules and target != name and (target == package or target.startswith(package + ".")):
                edges.append(Edge(name, target, f"{where}:{line}"))
    return edges


def cycles(edges: list[Edge]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out = []

    def visit(v: str) -> None:  # iterative would be overkill: the package is a few hundred modules deep at most
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
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def describe(component: list[str], edges: list[Edge]) -> str:
    """One cycle through the component, each step with the import that makes it."""
    inside = set(component)
    step = {}
    for e in edges:
        if e.source in inside and e.target in inside:
            step.setdefault(e.source, {}).setdefault(e.target, e.where)
    # shortest path back to the start (BFS) from the component's first module
    start = component[0]
    prev: dict[str, str] = {}
    frontier = [start]
    seen = {start}
    found = None
    while frontier and found is None:
        nxt = []
        for v in frontier:
            for w in sorted(step.get(v, {})):
                if w == start:
                    found = v
                    break
                if w not in seen:
                    seen.add(w)
                    prev[w] = v
                    nxt.append(w)
            if found is not None:
                break
        frontier = nxt
    path = [start]
    v = found
    while v is not None and v != start:
        path.insert(1, v)
        v = prev.get(v)
    path.append(start)
    lines = [f"cycle among {', '.join(component)}:"]
    lines += [f"  {a} -> {b}  ({step[a][b]})" for a, b in itertools.pairwise(path)]
    return "\n".join(lines)


def test_the_import_graph_is_read():
    modules = module_files()
    edges = import_edges(modules)
    pairs = {(e.source, e.target) for e in edges}
    # a module-level absolute import, a function-level one, and `from pkg import module`
    assert ("vlm_robot.graph", "vlm_robot.nodes.registry") in pairs
    assert ("vlm_robot.tools.cli", "vlm_robot.sim.face_reading") in pairs  # inside cmd_sim
    assert ("vlm_robot.tools.cli", "vlm_robot.graph") in pairs  # `from vlm_robot import graph`
    assert len(modules) > 50 and len(edges) > 100


def test_relative_imports_and_cycles_are_found(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .. import a\n")
    (pkg / "sub" / "c.py").write_text("from ..a import something\nimport pkg.sub\n")
    modules = module_files(tmp_path, "pkg")
    edges = import_edges(modules, tmp_path, "pkg")
    assert {(e.source, e.target) for e in edges} == {
        ("pkg.a", "pkg.b"), ("pkg.b", "pkg.sub.c"), ("pkg.sub.c", "pkg.a"), ("pkg.sub.c", "pkg.sub")}
    (found,) = cycles(edges)
    assert found == ["pkg.a", "pkg.b", "pkg.sub.c"]
    text = describe(found, edges)
    assert "pkg.a -> pkg.b  (pkg/a.py:1)" in text and "pkg.b -> pkg.sub.c  (pkg/b.py:2)" in text


def test_no_import_cycles():
    edges = import_edges(module_files())
    found = cycles(edges)
    assert not found, "import cycles in vlm_robot (move the shared piece down into a module both can import):\n" + \
        "\n".join(describe(c, edges) for c in found)


# what the safety gate and actuation must never load, however indirectly: a language model or a VLM backend
MODEL_IMPORTS = ("vlm_robot.reasoning.llm", "vlm_robot.vlm", "llama_cpp", "transformers", "torch")


def reached(start: str, modules: dict[str, Path], root: Path = ROOT) -> dict[str, tuple[str, str]]:
    """Every module importing ``start`` can load (ours and others'), each with ``(importer, where)`` of the first
    import found (breadth first). Importing ``a.b.c`` also runs ``a/__init__`` and ``a/b/__init__``; imports
    inside functions count too (they run at their first call)."""
    via: dict[str, tuple[str, str]] = {start: ("", "")}
    frontier = [start]
    while frontier:
        nxt = []
        for name in frontier:
            parents = (".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1))
            found = [(p, "its package") for p in parents if p in modules]
            if name in modules:
                where = modules[name].relative_to(root)
                found += [(target, f"{where}:{line}") for target, line in imports(name, modules[name], modules)]
            for target, where in found:
                if target not in via:
                    via[target] = (name, where)
                    nxt.append(target)
        frontier = nxt
    return via


def _chain(target: str, via: dict[str, tuple[str, str]]) -> str:
    steps = []
    while via[target][0]:
        importer, where = via[target]
        steps.insert(0, f"  {importer} -> {target}  ({where})")
        target = importer
    return "\n".join(steps)


def _model_imports(start: str, modules: dict[str, Path]) -> list[str]:
    via = reached(start, modules)
    bad = sorted(m for m in via if any(m == f or m.startswith(f + ".") for f in MODEL_IMPORTS))
    return [f"{start} loads {m}:\n{_chain(m, via)}" for m in bad]


def test_the_safety_gate_has_no_path_to_a_language_model():
    modules = module_files()
    safety = sorted(m for m in modules if m == f"{PACKAGE}.safety" or m.startswith(f"{PACKAGE}.safety."))
    assert {f"{PACKAGE}.safety.gate", f"{PACKAGE}.safety.actuation"} <= set(safety)
    # the check sees such a path where there is one: the reasoning node loads the chat model
    assert _model_imports(f"{PACKAGE}.nodes.reasoning_node", modules)
    problems = [p for m in [*safety, f"{PACKAGE}.nodes.safety_gate_node"] for p in _model_imports(m, modules)]
    assert not problems, "the safety gate must not reach a language model or VLM backend:\n" + "\n".join(problems)
