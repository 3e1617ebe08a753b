"""The package layout rules: no import cycles (lazy, function-level imports included), no
module imports its own package back (a package's ``__init__`` re-exports; its modules never
import it), and no module uses another module's underscore names."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from typing import Dict, Iterator, List, Optional, Set, Tuple

import pytest

import fastrle

PKG_DIR = os.path.dirname(fastrle.__file__)


def _modules(pkg_dir: str = PKG_DIR) -> Dict[str, str]:
    """Dotted module name -> source path, for every .py file of the package."""
    out = {}
    for root, _, files in os.walk(pkg_dir):
        for f in files:
            if not f.endswith(".py"):
                continue
            rel = os.path.relpath(os.path.join(root, f), os.path.dirname(pkg_dir))
            parts = rel[:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = os.path.join(root, f)
    return out


def _extensions(pkg_dir: str = PKG_DIR) -> Set[str]:
    """Compiled extensions (fastrle._core, ...), from their .pyx or built files: leaves of the graph."""
    top = os.path.basename(pkg_dir)
    out = set()
    for root, _, files in os.walk(pkg_dir):
        for f in files:
            if f.startswith("_") and f.endswith((".so", ".pyd", ".pyx")):
                rel = os.path.relpath(os.path.join(root, f.split(".")[0]), pkg_dir)
                out.add(".".join([top] + rel.split(os.sep)))
    return out


MODULES = _modules()
EXTENSIONS = _extensions()


def _is_package(name: str, modules: Dict[str, str] = MODULES) -> bool:
    return modules[name].endswith("__init__.py")


def _resolve(importer: str, node: ast.ImportFrom, modules: Dict[str, str] = MODULES) -> str:
    if node.level == 0:
        return node.module or ""
    base = importer.split(".")
    if not _is_package(importer, modules):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _is_type_checking(n: ast.AST) -> bool:
    return isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n.test)


def _import_nodes(tree: ast.Module, module_level_only: bool) -> Iterator[ast.AST]:
    """The nodes of ``tree`` to read imports from. Module level includes ``if``/``try``
    blocks, not function bodies; either way ``if TYPE_CHECKING:`` blocks are skipped
    (they never run)."""
    stack: List[ast.AST] = list(tree.body)
    while stack:
        n = stack.pop()
        if _is_type_checking(n):
            continue
        yield n
        if not module_level_only or isinstance(n, (ast.If, ast.Try)):
            stack.extend(ast.iter_child_nodes(n))


def _parse(path: str) -> ast.Module:
    with open(path, encoding="utf-8") as f:
        return ast.parse(f.read())


def _targets(importer: str, module_level_only: bool, modules: Dict[str, str] = MODULES,
             extensions: Set[str] = EXTENSIONS) -> Set[str]:
    """fastrle modules that ``importer`` imports (resolving ``from P import sub``)."""
    out: Set[str] = set()
    for n in _import_nodes(_parse(modules[importer]), module_level_only):
        if isinstance(n, ast.Import):
            out.update(a.name for a in n.names if a.name in modules)
        elif isinstance(n, ast.ImportFrom):
            src = _resolve(importer, n, modules)
            for a in n.names:
                sub = f"{src}.{a.name}"
                if sub in extensions:
                    continue
                if sub in modules:
                    out.add(sub)
                elif src in modules:
                    out.add(src)
    out.discard(importer)
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _underscore_uses(importer: str, modules: Dict[str, str] = MODULES,
                     extensions: Set[str] = EXTENSIONS) -> List[str]:
    """Where ``importer`` uses another fastrle module's underscore name, at any level:
    ``from X import _name`` or ``X._name`` with ``X`` bound to a fastrle module. Importing
    a module whose own name starts with ``_`` (``from . import _core``, ``from ._args import
    check_size``) is fine, and so is a package's ``__init__`` re-exporting from its own
    submodules."""
    known = set(modules) | extensions
    top = importer.split(".")[0]
    tree = _parse(modules[importer])
    bound: Dict[str, str] = {}  # local name -> fastrle module it is bound to (any scope)
    bad: List[str] = []
    for n in _import_nodes(tree, module_level_only=False):
        if isinstance(n, ast.Import):
            for a in n.names:
                if a.name in known:
                    # `import fastrle.api` binds `fastrle`; `import fastrle.api as x` binds x
                    local = a.asname or a.name.split(".")[0]
                    bound[local] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(n, ast.ImportFrom):
            src = _resolve(importer, n, modules)
            if src.split(".")[0] != top:
                continue
            for a in n.names:
                sub = f"{src}.{a.name}"
                if sub in known:
                    bound[a.asname or a.name] = sub
                elif _private(a.name) and src != importer:
                    reexport = _is_package(importer, modules) and src.startswith(importer + ".")
                    if not reexport:
                        bad.append(f"{importer}:{n.lineno} from {src} import {a.name}")

    def module_of(e: ast.expr) -> Optional[str]:
        """The fastrle module an expression names (``api``, ``fastrle.sa1b.shard``), if any."""
        if isinstance(e, ast.Name):
            return bound.get(e.id)
        if isinstance(e, ast.Attribute):
            base = module_of(e.value)
            if base is not None and f"{base}.{e.attr}" in known:
                return f"{base}.{e.attr}"
        return None

    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and _private(n.attr):
            owner = module_of(n.value)
            if owner is not None and owner != importer and f"{owner}.{n.attr}" not in known:
                bad.append(f"{importer}:{n.lineno} {owner}.{n.attr}")
    return sorted(set(bad), key=lambda b: (b.split(":")[0], int(b.split(":")[1].split()[0]), b))


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


def _plant(tmp_path, files: Dict[str, str]) -> Tuple[Dict[str, str], Set[str]]:
    pkg = tmp_path / "pkg"
    for rel, text in files.items():
        path = pkg / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return _modules(str(pkg)), _extensions(str(pkg))


def test_readers_find_planted_lazy_cycle_and_underscore_uses(tmp_path) -> None:
    """The scanners on a planted package: a cycle closed by a function-level import, one
    hidden under TYPE_CHECKING (not a cycle), and each kind of underscore use."""
    mods, exts = _plant(tmp_path, {
        "__init__.py": "from .a import _reexported\nfrom . import a, b\n",
        "a.py": "from . import b\n_reexported = 1\n_y = 2\ndef pub(): pass\n",
        "b.py": ("from typing import TYPE_CHECKING\n"
                 "if TYPE_CHECKING:\n    from . import c\n"
                 "def f():\n    from .a import pub, _y\n    return pub, _y\n"),
        "c.py": ("from . import b\nfrom . import _ext\nfrom ._ext import ok\n"
                 "import pkg.a as aa\nimport pkg.sub.d\n"
                 "def g():\n    return aa._y, aa.__name__, _ext._hidden, pkg.sub.d._z, b.f\n"),
        "sub/__init__.py": "from .d import _z\n",
        "sub/d.py": "_z = 3\n",
        "_ext.pyx": "",
    })
    assert exts == {"pkg._ext"}
    top = {m: _targets(m, True, mods, exts) for m in mods}
    lazy = {m: _targets(m, False, mods, exts) for m in mods}
    assert "pkg.a" not in top["pkg.b"] and "pkg.a" in lazy["pkg.b"]
    assert "pkg.c" not in lazy["pkg.b"]  # TYPE_CHECKING only
    assert _find_cycle({m: t - {"pkg"} for m, t in top.items()}) is None
    assert _find_cycle(lazy) in (["pkg.a", "pkg.b", "pkg.a"], ["pkg.b", "pkg.a", "pkg.b"])
    assert _underscore_uses("pkg.b", mods, exts) == ["pkg.b:5 from pkg.a import _y"]
    assert _underscore_uses("pkg.c", mods, exts) == [
        "pkg.c:7 pkg._ext._hidden", "pkg.c:7 pkg.a._y", "pkg.c:7 pkg.sub.d._z"]
    for clean in ("pkg", "pkg.a", "pkg.sub", "pkg.sub.d"):
        assert _underscore_uses(clean, mods, exts) == [], clean


def test_no_module_level_import_cycle() -> None:
    graph = {m: _targets(m, module_level_only=True) for m in MODULES}
    # A package's __init__ importing its own submodules is how it re-exports;
    # the cycle rule is about everything else, so those edges stay in.
    assert _find_cycle(graph) is None


def test_no_import_cycle_lazy_imports_included() -> None:
    """A function-level import runs on first call: a cycle through it is a cycle."""
    graph = {m: _targets(m, module_level_only=False) for m in MODULES}
    assert _find_cycle(graph) is None


def test_no_module_uses_another_modules_underscore_names() -> None:
    bad = [b for m in sorted(MODULES) for b in _underscore_uses(m)]
    assert not bad, "\n".join(bad)


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
