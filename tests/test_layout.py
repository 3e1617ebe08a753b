"""The package layout rules: no import cycles, and no module imports its own
package back (a package's ``__init__`` re-exports; its modules never import it)."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from typing import Dict, List, Optional, Set

import pytest

import fastrle

PKG_DIR = os.path.dirname(fastrle.__file__)


def _modules() -> Dict[str, str]:
    """Dotted module name -> source path, for every .py file of the package."""
    out = {}
    for root, _, files in os.walk(PKG_DIR):
        for f in files:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(root, f), os.path.dirname(PKG_DIR))
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = os.path.join(root, f)
    return out


MODULES = _modules()
# Compiled extensions (fastrle._core, ...): leaves of the graph.
EXTENSIONS = {"fastrle." + f.split(".")[0] for f in os.listdir(PKG_DIR)
              if f.startswith("_") and f.endswith((".so", ".pyd", ".pyx"))}


def _is_package(name: str) -> bool:
    return MODULES[name].endswith("__init__.py")


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(importer: str, module_level_only: bool) -> Set[str]:
    """fastrle modules that ``importer`` imports (resolving ``from P import sub``)."""
    tree = ast.parse(open(MODULES[importer], encoding="utf-8").read())
    nodes: List[ast.AST] = list(tree.body) if module_level_only else list(ast.walk(tree))
    if module_level_only:  # module level includes `if`/`try` blocks, not function bodies
        stack, nodes = list(tree.body), []
        while stack:
            n = stack.pop()
            nodes.append(n)
            if isinstance(n, (ast.If, ast.Try)):
                stack.extend(ast.iter_child_nodes(n))
    out: Set[str] = set()
    for n in nodes:
        if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n.test):
            continue
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names if a.name in MODULES)
        elif isinstance(n, ast.ImportFrom):
            src = _resolve(importer, n)
            for a in n.names:
                sub = f"{src}.{a.name}"
                if sub in EXTENSIONS:
                    continue
                if sub in MODULES:
                    out.add(sub)
                elif src in MODULES:
                    out.add(src)
    out.discard(importer)
    return out


def _find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    state: Dict[str, int] = {}
    path: List[str] = []

    def visit(n: str) -> Optional[List[str]]:
        state[n] = 1
        path.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return path[path.index(m):] + [m]
            if m not in state:
                c = visit(m)
                if c:
                    return c
        path.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n)
            if c:
                return c
    return None


def test_static_graph_finds_a_planted_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_module_level_import_cycle() -> None:
    graph = {m: _targets(m, module_level_only=True) for m in MODULES}
    # A package's __init__ importing its own submodules is how it re-exports;
    # the cycle rule is about everything else, so those edges stay in.
    assert _find_cycle(graph) is None


def test_modules_never_import_their_own_package() -> None:
    """Inside package P, no module imports P itself (at any level, lazy included)."""
    bad = []
    for m in MODULES:
        if _is_package(m):
            continue
        pkg = m.rsplit(".", 1)[0]
        if pkg in _targets(m, module_level_only=False):
            bad.append(f"{m} imports {pkg}")
    assert not bad, bad


def test_subpackages_by_concern_exist() -> None:
    for pkg in ("fastrle.sa1b", "fastrle.bench", "fastrle.gpu", "fastrle.cli"):
        assert pkg in MODULES and _is_package(pkg), pkg
    assert not [m for m in MODULES if m.startswith("fastrle.sa1b_")]


@pytest.mark.parametrize("name", sorted(MODULES))
def test_each_module_imports_first_in_a_fresh_interpreter(name: str) -> None:
    """A cycle that only bites when a given module is imported first shows here."""
    if name == "fastrle.__main__":
        pytest.skip("runs the CLI on import")
    p = subprocess.run([sys.executable, "-c", f"import {name}"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
