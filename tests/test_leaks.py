"""Leaks: 100k decode/encode/iou/merge calls, valid and invalid, leave RSS
flat; valgrind memcheck finds no error or leak in the C core's own test."""
from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import pytest

import fastrle
import fastrle.mask as fm
from _fuzzlib import make_mask, rss_bytes

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CALLS = int(os.environ.get("FASTRLE_LEAK_CALLS", "100000"))
SANITIZED = os.environ.get("FASTRLE_SANITIZED") == "1"
MB = 1 << 20


def _ops():
    ms = np.stack([make_mask("blob", 40, 30, 1), make_mask("random", 40, 30, 2)])
    rles = fastrle.encode(ms)
    fr = fm.encode(np.asfortranarray(ms.transpose(1, 2, 0)))
    bad = {"size": [40, 30], "counts": rles[0]["counts"] + "1"}
    out = np.empty((2, 40, 30), np.uint8)
    big = [make_mask("runs", 300, 300, 3)] * 4
    bigr = fastrle.encode(np.stack(big))

    def expect(exc, f, *a, **k):
        try:
            f(*a, **k)
        except exc:
            return
        raise AssertionError("no error")

    return [
        lambda: fastrle.decode(rles),
        lambda: fastrle.decode(rles, out=out, threads=2),
        lambda: fastrle.encode(ms),
        lambda: fastrle.encode(ms.transpose(0, 2, 1)),
        lambda: fm.decode(fr),
        lambda: fm.encode(np.asfortranarray(ms.transpose(1, 2, 0))),
        lambda: fm.iou(fr, fr, [0, 1]),
        lambda: fm.merge(fr),
        lambda: fm.merge(fr, 1),
        lambda: fm.area(fr),
        lambda: fm.toBbox(fr),
        lambda: fm.frPyObjects([[1, 1, 20, 5, 10, 30]], 40, 30),
        lambda: fastrle.decode_ragged(b"".join(r["counts"] for r in fr), [0, len(fr[0]["counts"]),
                                      len(fr[0]["counts"]) + len(fr[1]["counts"])], 40, 30),
        lambda: fastrle.decode(bigr, threads=3),
        # invalid input: every error path must free what it took
        lambda: expect(ValueError, fastrle.decode, [rles[0], bad]),
        lambda: expect(ValueError, fastrle.decode, [rles[0], bad], threads=2),
        lambda: expect(ValueError, fm.decode, [bad]),
        lambda: expect(ValueError, fm.iou, [bad], [bad], [0]),
        lambda: expect(ValueError, fm.merge, [bad, bad]),
        lambda: expect(ValueError, fastrle.area, [rles[0], {"size": [40, 30], "counts": "0\x001"}]),
        lambda: expect(TypeError, fastrle.decode, [rles[0], {"size": [40, 30], "counts": None}]),
        lambda: expect(ValueError, fastrle.decode, [rles[0], {"size": [40, 30], "counts": [5, -1]}]),
        lambda: expect(ValueError, fastrle.decode, rles, out=np.empty((3, 40, 30), np.uint8)),
    ]


def _run(ops, n):
    for i in range(n):
        ops[i % len(ops)]()


def _in_fresh_process(body: str) -> None:
    """Run this module's function ``body`` in a fresh interpreter. An RSS
    measurement must not depend on earlier tests: free space they left in
    this process's heap absorbs new allocations without growing RSS."""
    tests = os.path.dirname(os.path.abspath(__file__))
    code = f"import sys; sys.path.insert(0, {tests!r}); import test_leaks; test_leaks.{body}()"
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    print(p.stdout)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]


@pytest.mark.skipif(SANITIZED, reason="ASan's quarantine holds freed memory: RSS is not meaningful")
def test_rss_flat_over_100k_calls():
    _in_fresh_process("_rss_flat")


def test_rss_check_detects_a_leak():
    """The measurement can fail: a deliberate 100 B/call leak is caught."""
    _in_fresh_process("_detects_leak")


def _rss_flat():
    ops = _ops()
    _run(ops, 3 * len(ops) * 20)  # warm up caches, pools, numpy's allocator
    gc.collect()
    before = rss_bytes()
    checkpoints = []
    step = CALLS // 4
    for _ in range(4):
        _run(ops, step)
        gc.collect()
        checkpoints.append(rss_bytes())
    growth = (checkpoints[-1] - before) / MB
    late = (checkpoints[-1] - checkpoints[0]) / MB
    print(f"\n[leaks] {4 * step} calls: RSS {before / MB:.1f} MB -> {[round(c / MB, 1) for c in checkpoints]}")
    assert growth < 8, f"RSS grew {growth:.1f} MB over {4 * step} calls"
    assert late < 4, f"RSS still growing: {late:.1f} MB over the last {3 * step} calls"


def _detects_leak():
    hoard = []
    before = rss_bytes()
    for _ in range(CALLS):
        hoard.append(bytes(100))
    assert (rss_bytes() - before) / MB > 8


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
@pytest.mark.skipif(shutil.which("make") is None, reason="make not installed")
def test_valgrind_memcheck_c_core():
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["make", "-s", "-C", os.path.join(ROOT, "csrc"), f"BUILD={tmp}",
                        "EXTRA_CFLAGS=-O1 -g", f"{tmp}/test_core"],  # after build_flags.txt
                       check=True, capture_output=True, timeout=300)
        p = subprocess.run(["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
                            "--errors-for-leak-kinds=definite,indirect,possible", "--track-origins=yes",
                            "-q", f"{tmp}/test_core"], capture_output=True, text=True, timeout=600,
                           env={**os.environ, "FRLE_TEST_NO_FORK": "1"})
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-6000:]
