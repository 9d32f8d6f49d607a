"""The import direction of the package: layers in the core, no cycles anywhere.

Reads every module of ``runic`` with :mod:`ast` (nothing is imported) and builds the graph of
imports between runic's modules, **imports inside functions included**; imports under
``if TYPE_CHECKING:`` are left out (they exist for type hints only). Then:

* the core (``runic/*.py``) follows :data:`CORE_LAYERS`: a module imports only modules of
  lower layers (modules of one layer are independent of each other);
* the core never imports the subpackages (runner, store, supervisor, actors, cli);
* the subpackages follow :data:`PACKAGE_LAYERS`;
* no module takes part in an import cycle, except through the edges of
  :data:`KNOWN_VIOLATIONS` (today's, outside the core; their owners remove them).

The layer list is the one ``docs/architecture.md`` describes; change both together.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent / "runic"

#: The workflow core, lowest layer first. A module may import modules of lower layers only.
CORE_LAYERS: list[list[str]] = [
    ["runic.errors", "runic.limits"],
    ["runic.hashing", "runic.graph", "runic.coroutines", "runic._version", "runic.telemetry"],
    ["runic.facts"],
    ["runic.codec"],
    ["runic.failures", "runic.functions", "runic.ids", "runic.remote", "runic.telemetry_otel"],
    ["runic.events", "runic.policy", "runic.runnable"],
    ["runic.driver"],
    ["runic.memory"],
    ["runic.folds", "runic.context"],
    ["runic.nodes"],
    ["runic.structure"],
    ["runic.evaluation"],
    ["runic.components"],
    ["runic.recipes"],
    ["runic.replay", "runic.export", "runic.rehydration"],
    ["runic.core"],
    ["runic"],
    ["runic.demo"],  # an application of the public API (the CLI's demo)
]

#: The subpackages above the core, lowest first: a module of one may import the core and the
#: subpackages listed before its own, never those after.
PACKAGE_LAYERS: list[str] = ["runic.actors", "runic.supervisor", "runic.store", "runic.runner", "runic.cli",
                             "runic.ui"]

#: Above everything: ``runic.__main__`` runs the command line; ``runic.testing`` (the pytest
#: plugin, when present) drives runners and actor systems for tests.
TOP = {"runic.__main__", "runic.testing"}

#: Import edges that break the rules today, outside the core: none. (The store adapters'
#: cycle with ``store/actor.py`` went when ``store/registry.py`` took over naming adapters.)
#: An entry names the importing module, the imported one and where, until it is removed.
KNOWN_VIOLATIONS: dict[tuple[str, str], str] = {}


def _module_name(path: pathlib.Path) -> tuple[str, bool]:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    return ".".join(parts), is_package


def _modules() -> dict[str, tuple[pathlib.Path, bool]]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        name, is_package = _module_name(path)
        out[name] = (path, is_package)
    return out


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    out: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
            if name == "TYPE_CHECKING":
                for stmt in node.body:
                    out.update(id(n) for n in ast.walk(stmt))
    return out


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom, known: set[str]) -> list[str]:
    """The runic modules an import statement imports (``from . import x`` names module x)."""
    raw: list[str] = []
    if isinstance(node, ast.Import):
        raw = [a.name for a in node.names]
    else:
        if node.level:
            base = module.split(".")
            if not is_package:
                base = base[:-1]
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
        else:
            target = node.module or ""
        for alias in node.names:
            candidate = f"{target}.{alias.name}"
            raw.append(candidate if candidate in known else target)
    out = []
    for name in raw:
        if name != "runic" and not name.startswith("runic."):
            continue
        while name not in known and "." in name:
            name = name.rsplit(".", 1)[0]
        if name != module:
            out.append(name)
    return out


def import_graph() -> dict[str, set[str]]:
    """``{module: {runic modules it imports}}`` for every module of the package."""
    modules = _modules()
    known = set(modules)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        hidden = _type_checking_nodes(tree)
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in hidden:
                graph[module].update(_targets(module, is_package, node, known))
    return graph


def _package_of(module: str) -> str | None:
    for pkg in PACKAGE_LAYERS:
        if module == pkg or module.startswith(pkg + "."):
            return pkg
    return None


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (iterative Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            v, children = work[-1]
            for w in children:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
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
    return out


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_every_module_has_a_place(graph: dict[str, set[str]]) -> None:
    """A new module must be placed in a layer (here and in docs/architecture.md)."""
    core = {m for layer in CORE_LAYERS for m in layer}
    unplaced = sorted(m for m in graph if m not in core and m not in TOP and _package_of(m) is None)
    assert not unplaced, f"modules in no layer: {unplaced}; add them to CORE_LAYERS (and docs/architecture.md)"
    missing = sorted(core - set(graph))
    assert not missing, f"CORE_LAYERS names modules that do not exist: {missing}"


def test_core_layers(graph: dict[str, set[str]]) -> None:
    """Each core module imports only modules of strictly lower core layers."""
    level = {m: i for i, layer in enumerate(CORE_LAYERS) for m in layer}
    wrong = []
    for module, i in level.items():
        for target in sorted(graph[module]):
            j = level.get(target)
            if j is None:
                wrong.append(f"{module} imports {target}, which is outside the core")
            elif j >= i:
                wrong.append(f"{module} (layer {i}) imports {target} (layer {j})")
    assert not wrong, "core layer violations:\n  " + "\n  ".join(wrong)


def test_packages_depend_downwards(graph: dict[str, set[str]]) -> None:
    """A subpackage imports the core and the subpackages below it, never those above it."""
    rank = {pkg: i for i, pkg in enumerate(PACKAGE_LAYERS)}
    wrong = []
    for module, targets in graph.items():
        pkg = _package_of(module)
        if pkg is None:
            continue
        for target in sorted(targets):
            tpkg = _package_of(target)
            if target in TOP or (tpkg is not None and rank[tpkg] > rank[pkg]):
                wrong.append(f"{module} imports {target}")
    assert not wrong, "imports against the package order " + " < ".join(PACKAGE_LAYERS) + ":\n  " + "\n  ".join(wrong)


def test_no_import_cycles(graph: dict[str, set[str]]) -> None:
    """No cycle anywhere in the package, once the known violations are set aside."""
    pruned = {m: {t for t in ts if (m, t) not in KNOWN_VIOLATIONS} for m, ts in graph.items()}
    cycles = _cycles(pruned)
    assert not cycles, f"import cycles: {cycles}"


def test_known_violations_still_exist(graph: dict[str, set[str]]) -> None:
    """An allow-list entry whose import is gone must be removed from the list."""
    stale = [edge for edge in KNOWN_VIOLATIONS if edge[1] not in graph.get(edge[0], set())]
    assert not stale, f"these imports are gone: remove them from KNOWN_VIOLATIONS: {stale}"


def test_the_checker_sees_function_level_imports_and_cycles(tmp_path: pathlib.Path) -> None:
    """The checker itself: an import inside a function counts, one under TYPE_CHECKING does not,
    and a cycle is found."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from .b import X\n"
        "def f():\n    from .c import Y\n"
    )
    tree = ast.parse(source)
    hidden = _type_checking_nodes(tree)
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in hidden:
            found.update(_targets("runic.a", False, node, {"runic.a", "runic.b", "runic.c"}))
    assert found == {"runic.c"}
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []
