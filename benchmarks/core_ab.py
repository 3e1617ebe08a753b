"""A/B of two builds' decode in one process, call by call.

Loads ``fastrle._core`` from two trees built in place (``OLD`` and ``NEW``,
each with ``python setup.py build_ext --inplace``) under two package names,
checks that both give the same output (and, with ``--check``, pycocotools'),
then times ``--rounds`` rounds of the same decode on each, alternating which
goes first, and prints the medians and the median of the per-round NEW/OLD
ratios. The Python layer (``fastrle.api``) is not in the timing: each call is
``_core.sources`` plus ``_core.decode_into``, as ``fastrle.decode`` runs them.

Why in one process: on the project's VM the same build's zeroed decode of 100
blobs took 2.1 ms in one process and 3.1 ms in the next (memory placement,
the host), so two builds timed in separate processes differed by more than
the change being measured; alternating calls in one process put both under
the same conditions (spread of the per-round ratio: a few percent).

    python benchmarks/core_ab.py OLD NEW --family blobs --mode zeroed
    python benchmarks/core_ab.py /tmp/base . --family stars --mode full --rounds 41

``--mode full`` rewrites the buffer with ones before each call (a warm,
dirty buffer, as ``fastrle bench``'s warm case); ``zeroed`` re-zeroes it and
passes ``zeroed=True``. Both untimed. FRLE_ISA applies to both builds.
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import importlib.machinery
import importlib.util
import os
import statistics
import sys
import time
import types
from typing import Any, List


def load_core(tree: str, pkg: str) -> Any:
    """``fastrle._core`` of the tree at ``tree``, imported as ``pkg._core``."""
    found = glob.glob(os.path.join(tree, "src", "fastrle", "_core.*.so")) + \
        glob.glob(os.path.join(tree, "src", "fastrle", "_core.*.pyd"))
    if not found:
        raise SystemExit(f"{tree}: no built fastrle._core (run python setup.py build_ext --inplace there)")
    mod = types.ModuleType(pkg)
    mod.__path__ = []
    sys.modules[pkg] = mod
    name = f"{pkg}._core"
    loader = importlib.machinery.ExtensionFileLoader(name, found[0])
    spec = importlib.util.spec_from_file_location(name, found[0], loader=loader)
    assert spec is not None
    core = importlib.util.module_from_spec(spec)
    loader.exec_module(core)
    return core


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--family", default="blobs", help="a fastrle.synthetic family (default blobs)")
    ap.add_argument("--mode", choices=("full", "zeroed"), default="zeroed")
    ap.add_argument("--masks", type=int, default=100)
    ap.add_argument("--size", type=int, nargs=2, default=(1500, 2250), metavar=("H", "W"))
    ap.add_argument("--rounds", type=int, default=31)
    ap.add_argument("--check", action="store_true", help="also check the output against pycocotools")
    a = ap.parse_args()

    import numpy as np

    # the Python package (errors, argument rules) that _core imports: OLD's
    sys.path.insert(0, os.path.join(a.old, "src"))
    from fastrle import synthetic

    cores = [load_core(a.old, "fastrle_ab_old"), load_core(a.new, "fastrle_ab_new")]
    h, w = a.size
    rles = synthetic.family_masks(a.family, a.masks, h, w, seed=0)
    buf = np.zeros(a.masks * h * w, np.uint8)
    zeroed = a.mode == "zeroed"

    def call(core: Any) -> None:
        core.decode_into(core.sources(rles), buf, h, w, "C", zeroed, 1)

    def setup() -> None:
        ctypes.memset(buf.ctypes.data, 0 if zeroed else 1, buf.nbytes)

    ref = None
    for core in cores:
        ctypes.memset(buf.ctypes.data, 0 if zeroed else 7, buf.nbytes)  # 7: a byte left unwritten shows
        call(core)
        if ref is None:
            ref = buf.copy()
        elif not np.array_equal(ref, buf):
            raise SystemExit("OLD and NEW decode differently")
    if a.check:
        import pycocotools.mask as pm
        want = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1)).reshape(-1)
        if not np.array_equal(want, buf):
            raise SystemExit("the output differs from pycocotools")

    times: List[List[float]] = [[], []]
    for k in range(a.rounds):
        for i in ((0, 1) if k % 2 == 0 else (1, 0)):
            setup()
            t = time.perf_counter()
            call(cores[i])
            times[i].append(time.perf_counter() - t)
    med = [statistics.median(t) for t in times]
    ratio = statistics.median(b / o for o, b in zip(times[0], times[1]))
    print(f"{a.family} {a.mode}, {a.masks} masks of {h}x{w}, {a.rounds} rounds: "
          f"OLD {med[0] * 1e3:.3f} ms, NEW {med[1] * 1e3:.3f} ms; NEW/OLD per round, median {ratio:.3f}")


if __name__ == "__main__":
    main()
