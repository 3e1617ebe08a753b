#!/usr/bin/env python3
"""Check that every compiled module of fastrle has a ``.pyi`` stub and that the stubs match.

Run from the repository root after an in-place build
(``python setup.py build_ext --inplace``)::

    python scripts/check_stubs.py

1. Every Cython module (``src/fastrle/**/*.pyx``) has a ``.pyi`` next to it, and a
   built extension to compare it with.
2. ``mypy.stubtest`` compares each stub with the imported extension: names, classes,
   argument names, kinds and defaults (Cython's ``binding=True`` signatures), with the
   allowlist ``scripts/stubtest_allowlist.txt``.

Exits non-zero on any difference.
"""
from __future__ import annotations

import glob
import os
import subprocess
import sys
from typing import List

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "src")
ALLOWLIST = os.path.join(ROOT, "scripts", "stubtest_allowlist.txt")
EXT_SUFFIXES = (".so", ".pyd")


def compiled_modules() -> List[str]:
    """Dotted names of the Cython modules under src/ (from their .pyx sources)."""
    mods = []
    for pyx in sorted(glob.glob(os.path.join(SRC, "fastrle", "**", "*.pyx"), recursive=True)):
        rel = os.path.relpath(pyx, SRC)[:-len(".pyx")]
        mods.append(rel.replace(os.sep, "."))
    return mods


def _path(mod: str) -> str:
    return os.path.join(SRC, *mod.split("."))


def _built(mod: str) -> bool:
    base = _path(mod)
    folder, name = os.path.dirname(base), os.path.basename(base)
    return any(f.startswith(name + ".") and f.endswith(EXT_SUFFIXES) for f in os.listdir(folder))


def main() -> int:
    mods = compiled_modules()
    if not mods:
        print("check_stubs: no .pyx modules found under src/fastrle", file=sys.stderr)
        return 1
    problems = [f"{mod}: no stub {os.path.relpath(_path(mod) + '.pyi', ROOT)}"
                for mod in mods if not os.path.isfile(_path(mod) + ".pyi")]
    # An extension built from a .pyx that was since removed still imports; flag its stub too.
    for so in glob.glob(os.path.join(SRC, "fastrle", "**", "*"), recursive=True):
        if so.endswith(EXT_SUFFIXES):
            mod = os.path.relpath(so, SRC).split(".")[0].replace(os.sep, ".")
            if mod not in mods:
                problems.append(f"{mod}: built extension {os.path.relpath(so, ROOT)} has no .pyx "
                                "(stale build output? delete it)")
    missing = [m for m in mods if not _built(m)]
    if missing:
        problems.append("not built (run `python setup.py build_ext --inplace` first): "
                        + ", ".join(missing))
    if problems:
        print("check_stubs: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    env = dict(os.environ, PYTHONPATH=SRC + os.pathsep + os.environ.get("PYTHONPATH", ""))
    # --ignore-disjoint-bases: PEP 800's @disjoint_base marks classes that cannot share a
    # subclass; every cdef class is one, and the stubs do not claim otherwise.
    cmd = [sys.executable, "-m", "mypy.stubtest", "--allowlist", ALLOWLIST, "--ignore-disjoint-bases",
           "--mypy-config-file", os.path.join(ROOT, "pyproject.toml"), *mods]
    print("check_stubs:", " ".join(cmd[1:]))
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    if rc == 0:
        print(f"check_stubs: OK, {len(mods)} stubs match: {', '.join(mods)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
