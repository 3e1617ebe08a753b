"""The GIL is released while decoding, and concurrent calls stay correct."""
from __future__ import annotations

import threading

import numpy as np

from common import pyc_decode_c

import fastrle
from fastrle import synthetic


def test_two_threads_decode_at_once_and_gil_is_released() -> None:
    a = synthetic.sa1b_like(n=12, h=900, w=1200, seed=1)
    b = synthetic.sa1b_like(n=12, h=900, w=1200, seed=2)
    ref = {0: pyc_decode_c(a), 1: pyc_decode_c(b)}
    results: dict = {}
    errors: list = []
    ticks = [0]
    stop = threading.Event()

    def ticker() -> None:  # runs only when decode has let go of the GIL
        while not stop.is_set():
            ticks[0] += 1

    def work(k: int, rles: list) -> None:
        try:
            out = np.empty_like(ref[k])
            for _ in range(8):
                fastrle.decode(rles, out=out, threads=1)
                if not np.array_equal(out, ref[k]):
                    errors.append(k)
            results[k] = out
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    t = threading.Thread(target=ticker)
    t.start()
    before = ticks[0]
    workers = [threading.Thread(target=work, args=(k, r)) for k, r in ((0, a), (1, b))]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    stop.set()
    t.join()
    assert not errors
    np.testing.assert_array_equal(results[0], ref[0])
    np.testing.assert_array_equal(results[1], ref[1])
    assert ticks[0] - before > 1000, "another Python thread could not run while decoding"


def test_native_thread_counts_agree() -> None:
    rles = synthetic.sa1b_like(n=7, h=333, w=517, seed=4)
    ref = pyc_decode_c(rles)
    for t in (1, 2, 3, 7, 16):
        np.testing.assert_array_equal(fastrle.decode(rles, threads=t), ref)
        enc = fastrle.encode(ref, threads=t)
        assert [e["counts"] for e in enc] == [r["counts"] if isinstance(r["counts"], str)
                                              else r["counts"].decode() for r in rles]
