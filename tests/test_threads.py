"""The GIL is released while decoding, and concurrent calls stay correct."""
from __future__ import annotations

import sys
import threading

import numpy as np
import pytest

from common import gil_holding_ticks, pyc_decode_c, scaled_call, ticks_inside

import fastrle
from fastrle import synthetic


def test_two_threads_decode_at_once() -> None:
    """Two Python threads decode into their own buffers at the same time and
    both get the right masks. A barrier starts every round of both together.
    (Whether the GIL is released inside a call is test_gil_released_inside_one_call's
    job: ticks counted across several calls, as here before, come between
    the calls whatever the GIL does, so that check could not fail.)"""
    a = synthetic.sa1b_like(n=12, h=900, w=1200, seed=1)
    b = synthetic.sa1b_like(n=12, h=900, w=1200, seed=2)
    ref = {0: pyc_decode_c(a), 1: pyc_decode_c(b)}
    results: dict = {}
    errors: list = []
    start = threading.Barrier(2, timeout=300)  # a broken barrier fails the test; it never hangs

    def work(k: int, rles: list) -> None:
        try:
            out = np.empty_like(ref[k])
            for _ in range(8):
                start.wait()
                fastrle.decode(rles, out=out, threads=1)
                if not np.array_equal(out, ref[k]):
                    errors.append(k)
            results[k] = out
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
            start.abort()

    workers = [threading.Thread(target=work, args=(k, r)) for k, r in ((0, a), (1, b))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors
    np.testing.assert_array_equal(results[0], ref[0])
    np.testing.assert_array_equal(results[1], ref[1])


def test_native_thread_counts_agree() -> None:
    rles = synthetic.sa1b_like(n=7, h=333, w=517, seed=4)
    ref = pyc_decode_c(rles)
    for t in (1, 2, 3, 7, 16):
        np.testing.assert_array_equal(fastrle.decode(rles, threads=t), ref)
        enc = fastrle.encode(ref, threads=t)
        assert [e["counts"] for e in enc] == [r["counts"] if isinstance(r["counts"], str)
                                              else r["counts"].decode() for r in rles]


# --- the GIL is released *during* each long call ---------------------------------------

def _random_rles(n: int, size: int = 1000) -> list:
    from _fuzzlib import make_mask

    r = fastrle.encode(make_mask("random", size, size, 1))  # ~0.5 M runs: slow to decode
    return [r] * n


def _gil_cases():
    def dec(n):
        rles = _random_rles(n)
        out = np.empty((n, 1000, 1000), np.uint8)
        return lambda: fastrle.decode(rles, out=out, threads=1)

    def ragged(n):
        s = _random_rles(1)[0]["counts"].encode()
        data, offs = s, np.array([0, len(s)])
        idx = np.zeros(n, np.int64)
        out = np.empty((n, 1000, 1000), np.uint8)
        return lambda: fastrle.decode_ragged(data, offs, 1000, 1000, out=out, indices=idx, threads=1)

    def enc(n):
        from _fuzzlib import make_mask

        ms = np.stack([make_mask("random", 1000, 1000, 1)] * n)
        return lambda: fastrle.encode(ms, threads=1)

    def dropin(n):
        import fastrle.mask as fm
        from fastrle._args import THREAD_MIN_BYTES, THREAD_MIN_CHARS

        one = _random_rles(1)[0]
        # By design mask.decode holds the GIL for outputs under THREAD_MIN_BYTES
        # and parses batches under THREAD_MIN_CHARS count characters holding it:
        # at least enough masks to pass both, however slow the machine
        n = max(n, THREAD_MIN_BYTES // (1000 * 1000) + 1, THREAD_MIN_CHARS // len(one["counts"]) + 1)
        rles = [{"size": one["size"], "counts": one["counts"].encode()}] * n
        return lambda: fm.decode(rles)

    def _dropin_rles(n, size=1000):
        return [{"size": r["size"], "counts": r["counts"].encode()} for r in _random_rles(n, size)]

    # fastrle.mask's fast paths (_mask.pyx). Parsing takes the GIL off only
    # for batches of over 2^20 count characters; iou and merge then run in C
    # without it. So that a GIL held by iou or merge alone is seen, their C
    # part must fill the middle of the call: here it costs 10-25x the parse.
    def dropin_area(n):  # 4n masks of ~0.5 M runs: nearly all threaded parse
        import fastrle.mask as fm

        rles = _dropin_rles(4 * n)
        return lambda: fm.area(rles)

    # 7680n pairs for 64n + 120 parses of 400x400 blobs (614 characters each): the pairs
    # take ~60x the parse (many-run masks would intersect bitmaps at vector speed, and
    # the threaded parse, GIL released, would fill the middle of the call instead)
    def dropin_iou(n):
        import fastrle.mask as fm
        from _fuzzlib import make_mask

        r = fastrle.encode(make_mask("blob", 400, 400, 1))
        rles = [{"size": r["size"], "counts": r["counts"].encode()}] * (64 * n + 120)
        dt, gt = rles[120:], rles[:120]
        return lambda: fm.iou(dt, gt, [0] * 120)

    def dropin_merge(n):  # the bitmap merge of 64n tall boxes: ~0.8 M words set each, 1.8 K runs parsed
        import fastrle.mask as fm

        box = fm.frPyObjects(np.array([[50.0, 500.0, 900.0, 59000.0]]), 60000, 1000)[0]
        return lambda: fm.merge([box] * (64 * n))

    return {"decode": dec, "decode_ragged": ragged, "encode": enc, "mask.decode": dropin,
            "mask.area": dropin_area, "mask.iou": dropin_iou, "mask.merge": dropin_merge}


@pytest.mark.parametrize("name", list(_gil_cases()))
def test_gil_released_inside_one_call(name: str) -> None:
    """A ticker thread keeps running inside a single ~150 ms call. With the GIL
    held (e.g. `with nogil:` dropped in _core.pyx) it gets no tick in the
    middle of the call, as inside sum() over a range; released, it gets one
    per ~0.5 ms (common.ticks_inside).

    A held GIL lets no tick into the middle of any call, so retrying cannot
    pass a GIL-holding call; each try sizes its call afresh, because a load
    that comes or goes after the sizing leaves the call too long or too
    short, and a busy machine may starve the ticker for a while."""
    held = gil_holding_ticks(0.15)
    best = (0, 0.0)
    for _ in range(5):
        best = max(best, ticks_inside(scaled_call(_gil_cases()[name])))
        if best[0] >= held + 10:
            break
    ticks, secs = best
    assert ticks >= held + 10, (f"{name}: only {ticks} ticks of another thread inside a {secs * 1e3:.0f} ms "
                                f"call (a GIL-holding call allows {held}): the GIL is not released")


def test_ticker_baseline_sees_a_held_gil() -> None:
    """The method can fail: a call that holds the GIL for 150 ms lets the
    ticker in only at its edges, which ticks_inside leaves out."""
    if not getattr(sys, "_is_gil_enabled", lambda: True)():
        pytest.skip("free-threaded build: no GIL to hold")
    assert gil_holding_ticks(0.15) == 0
