"""Thread stress: 8 Python threads decode and encode different and identical
inputs concurrently (the C work runs without the GIL), with and without the
native thread pool. Every result must equal the serial result; nothing may
deadlock (every wait has a timeout). FASTRLE_STRESS_ITERS sets the
per-thread iteration count (default 1500, so 12000 operations per test; -m slow runs 5000).
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fastrle
import fastrle.mask as fm
from _fuzzlib import MASK_KINDS, make_mask

ITERS = int(os.environ.get("FASTRLE_STRESS_ITERS", "1500"))
THREADS = 8
TIMEOUT = 300


def _inputs(seed):
    r = np.random.default_rng(seed)
    sets = []
    for _ in range(6):
        h, w = int(r.integers(1, 90)), int(r.integers(1, 90))
        n = int(r.integers(1, 6))
        ms = np.stack([make_mask(MASK_KINDS[int(r.integers(0, len(MASK_KINDS)))], h, w, int(r.integers(0, 2**31)))
                       for _ in range(n)])
        sets.append(ms)
    return sets


SETS = _inputs(7)
SERIAL = []
for _ms in SETS:
    _rles = fastrle.encode(_ms, threads=1)
    _F = np.asfortranarray(_ms.transpose(1, 2, 0))
    _fr = fm.encode(_F)
    SERIAL.append(dict(rles=_rles, dec=fastrle.decode(_rles, threads=1), fr=_fr, fdec=fm.decode(_fr),
                       iou=fm.iou(_fr, _fr, [0] * len(_fr)), merge=fm.merge(_fr), area=fm.area(_fr)))


def _work(tid, iters, native_threads, identical):
    """One Python thread's loop; returns the number of checked operations."""
    r = np.random.default_rng(tid)
    done = 0
    for it in range(iters):
        k = 0 if identical else int(r.integers(0, len(SETS)))
        ms, want = SETS[k], SERIAL[k]
        nt = native_threads if native_threads else 1
        op = (it + tid) % 5
        if op == 0:
            got = fastrle.encode(ms, threads=nt)
            assert got == want["rles"]
        elif op == 1:
            np.testing.assert_array_equal(fastrle.decode(want["rles"], threads=nt), want["dec"])
        elif op == 2:
            out = np.empty_like(want["dec"])
            fastrle.decode(want["rles"], out=out, threads=nt)
            np.testing.assert_array_equal(out, want["dec"])
        elif op == 3:
            np.testing.assert_array_equal(fm.decode(want["fr"]), want["fdec"])
            assert fm.encode(np.asfortranarray(ms.transpose(1, 2, 0))) == want["fr"]
        else:
            np.testing.assert_array_equal(fm.iou(want["fr"], want["fr"], [0] * len(ms)), want["iou"])
            assert fm.merge(want["fr"]) == want["merge"]
            np.testing.assert_array_equal(fm.area(want["fr"]), want["area"])
            with pytest.raises(fastrle.RLEError):  # errors are per call, not shared state
                fastrle.decode([want["rles"][0], {"size": want["rles"][0]["size"], "counts": "0"}], threads=nt)
        done += 1
    return done


def _stress(native_threads, identical, iters=ITERS):
    with ThreadPoolExecutor(THREADS) as ex:
        futs = [ex.submit(_work, t, iters, native_threads, identical) for t in range(THREADS)]
        total = sum(f.result(timeout=TIMEOUT) for f in futs)
    assert total == THREADS * iters


@pytest.mark.parametrize("identical", [False, True], ids=["different", "identical"])
@pytest.mark.parametrize("native_threads", [None, 4], ids=["pool1", "pool4"])
def test_python_threads(native_threads, identical):
    _stress(native_threads, identical)


@pytest.mark.slow
@pytest.mark.parametrize("native_threads", [None, 3, 8])
def test_python_threads_long(native_threads):
    _stress(native_threads, False, iters=5000)
    _stress(native_threads, True, iters=5000)


def test_native_pool_large_batches_concurrently():
    """Batches big enough that the pool splits them, from 4 Python threads."""
    ms = np.stack([make_mask(k, 301, 257, i) for i, k in enumerate(MASK_KINDS)] * 3)
    rles = fastrle.encode(ms, threads=1)
    want = fastrle.decode(rles, threads=1)
    strs = [r["counts"] for r in rles]
    data = "".join(strs).encode()
    offs = np.cumsum([0] + [len(s) for s in strs])

    def job(t):
        for i in range(max(4, ITERS // 40)):
            nt = 2 + (i + t) % 6
            np.testing.assert_array_equal(fastrle.decode(rles, threads=nt), want)
            np.testing.assert_array_equal(fastrle.decode_ragged(data, offs, 301, 257, threads=nt), want)
            assert fastrle.encode(ms, threads=nt) == rles
        return True

    with ThreadPoolExecutor(4) as ex:
        assert all(f.result(timeout=TIMEOUT) for f in [ex.submit(job, t) for t in range(4)])


def test_gil_is_released_during_decode():
    """A second Python thread makes progress inside one big pooled decode
    (not just between calls): see common.ticks_inside."""
    from common import gil_holding_ticks, scaled_call, ticks_inside

    ms = np.stack([make_mask("random", 1500, 1000, i) for i in range(6)])
    rles = fastrle.encode(ms)
    box = {}

    def make(n):  # n copies of the 6 masks: one call long enough to count ticks in, on any machine
        box["want"] = np.concatenate([ms] * n)
        box["out"] = out = np.empty_like(box["want"])
        batch = rles * n
        return lambda: fastrle.decode(batch, out=out, threads=4)

    call = scaled_call(make, 0.15, 48)
    call()
    held = gil_holding_ticks(0.15)
    ticks, secs = max(ticks_inside(call) for _ in range(3))
    np.testing.assert_array_equal(box["out"], box["want"])
    assert secs > 0.03, f"the call took {secs:.3f} s: too short to measure"
    assert ticks >= held + 10, (ticks, held, secs)
