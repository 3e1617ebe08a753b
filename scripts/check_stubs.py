#!/usr/bin/env python3
"""Check that every compiled module of fastrle has a ``.pyi`` stub and that the stubs match.

Run from the repository root after an in-place build
(``python setup.py build_ext --inplace``)::

    python scripts/check_stubs.py              # the in-place build under src/
    python scripts/check_stubs.py --installed  # the installed fastrle (what a wheel ships)

1. Every Cython module (``src/fastrle/**/*.pyx``) has a ``.pyi`` next to it (in the
   installed package too, with ``--installed``), and a built extension to compare it with.
2. ``mypy.stubtest`` compares each stub with the imported extension: names, classes,
   argument names, kinds and defaults (Cython's ``binding=True`` signatures), with the
   allowlist ``scripts/stubtest_allowlist.txt``.

Exits non-zero on any difference.
"""
from __future__ import annotations

import argparse
import glob
import importlib.util
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


def _path(mod: str, root: str = SRC) -> str:
    return os.path.join(root, *mod.split("."))


def _built(mod: str, root: str) -> bool:
    base = _path(mod, root)
    folder, name = os.path.dirname(base), os.path.basename(base)
    return any(f.startswith(name + ".") and f.endswith(EXT_SUFFIXES) for f in os.listdir(folder))


def _installed_root() -> str:
    """The folder holding the installed (not the source tree's) fastrle package."""
    spec = importlib.util.find_spec("fastrle")
    if spec is None or spec.origin is None:
        raise SystemExit("check_stubs: --installed, but fastrle is not installed")
    root = os.path.dirname(os.path.dirname(spec.origin))
    if os.path.abspath(root) == SRC:
        raise SystemExit("check_stubs: --installed found the source tree (PYTHONPATH=src?)")
    return root


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--installed", action="store_true",
                    help="check the installed fastrle instead of the in-place build under src/")
    args = ap.parse_args()
    root = _installed_root() if args.installed else SRC
    mods = compiled_modules()
    if not mods:
        print("check_stubs: no .pyx modules found under src/fastrle", file=sys.stderr)
        return 1
    problems = [f"{mod}: no stub {_path(mod, r) + '.pyi'}"
                for r in dict.fromkeys((SRC, root)) for mod in mods if not os.path.isfile(_path(mod, r) + ".pyi")]
    # An extension built from a .pyx that was since removed still imports; flag its stub too.
    for so in glob.glob(os.path.join(root, "fastrle", "**", "*"), recursive=True):
        if so.endswith(EXT_SUFFIXES):
            mod = os.path.relpath(so, root).split(".")[0].replace(os.sep, ".")
            if mod not in mods:
                problems.append(f"{mod}: built extension {os.path.relpath(so, ROOT)} has no .pyx "
                                "(stale build output? delete it)")
    missing = [m for m in mods if not _built(m, root)]
    if missing:
        how = "reinstall fastrle" if args.installed else "run `python setup.py build_ext --inplace` first"
        problems.append(f"not built ({how}): " + ", ".join(missing))
    if problems:
        print("check_stubs: FAILED\n  " + "\n  ".join(problems), file=sys.stderr)
        return 1
    env = dict(os.environ)
    if not args.installed:
        env["PYTHONPATH"] = SRC + os.pathsep + os.environ.get("PYTHONPATH", "")
    # --ignore-disjoint-bases: PEP 800's @disjoint_base marks classes that cannot share a
    # subclass; every cdef class is one, and the stubs do not claim otherwise.
    cmd = [sys.executable, "-m", "mypy.stubtest", "--allowlist", ALLOWLIST, "--ignore-disjoint-bases",
           "--mypy-config-file", os.path.join(ROOT, "pyproject.toml"), *mods]
    print("check_stubs:", " ".join(cmd[1:]))
    rc = subprocess.call(cmd, cwd=ROOT, env=env)
    if rc == 0:
        print(f"check_stubs: OK, {len(mods)} stubs match in {root}: {', '.join(mods)}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
