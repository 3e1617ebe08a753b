"""A/B of the C core's thread pool spin (fastrle.pool.set_spin_us) in one process.

Per round, in alternating order, spin on (``--spin`` us) and spin off (0):
to_polygons on ``--masks`` SA-1B-like blobs with threads=1 and threads=2, and
decode threads=2 into a reused buffer. Each sample first runs ``--idle-ms``
of single-thread work (as the bench's other comparators do between samples:
the second vCPU idles), then ``--calls`` calls back to back. Prints medians
and the 1-thread / 2-thread ratio of each spin setting. Outputs are checked
against threads=1 first. Run: ``PYTHONPATH=src python benchmarks/pool_ab.py``.
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Any, Callable, Dict, List

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=30)
    ap.add_argument("--masks", type=int, default=100)
    ap.add_argument("--calls", type=int, default=6)
    ap.add_argument("--idle-ms", type=float, default=20.0)
    ap.add_argument("--spin", type=int, default=200)
    a = ap.parse_args()

    import fastrle
    from fastrle import pool, synthetic

    rles = synthetic.family_masks("blobs", a.masks, 1500, 2250, seed=0)
    out = np.empty((len(rles), 1500, 2250), np.uint8)
    ref = fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=1)
    got = fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=2)
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        assert all(np.array_equal(x, y) for x, y in zip(r.rings, g.rings)) and len(r.rings) == len(g.rings)
    fastrle.decode(rles, out, threads=2)
    assert np.array_equal(out, fastrle.decode(rles, threads=1))

    work: Dict[str, Callable[[], Any]] = {
        "poly-1t": lambda: fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=1),
        "poly-2t": lambda: fastrle.to_polygons(rles, mode="ccomp", format="cv2", threads=2),
        "decode-2t": lambda: fastrle.decode(rles, out, threads=2),
    }
    filler = np.random.default_rng(0).random(200_000)

    def idle_other() -> None:  # one thread busy, the other vCPU idle
        end = time.perf_counter() + a.idle_ms / 1000
        while time.perf_counter() < end:
            np.sort(filler[:20_000])

    res: Dict[str, List[float]] = {}
    for rnd in range(a.rounds):
        order = [a.spin, 0] if rnd % 2 == 0 else [0, a.spin]
        for spin in order:
            pool.set_spin_us(spin)
            for name, fn in work.items():
                idle_other()
                t0 = time.perf_counter()
                for _ in range(a.calls):
                    fn()
                res.setdefault(f"{name} spin={spin}", []).append((time.perf_counter() - t0) / a.calls)
    med = {k: statistics.median(v) for k, v in res.items()}
    for k in sorted(med):
        print(f"{k:24s} {med[k] * 1e3:8.3f} ms  (median of {len(res[k])})")
    for spin in (a.spin, 0):
        print(f"spin={spin}: to_polygons 1 thread / 2 threads = "
              f"{med[f'poly-1t spin={spin}'] / med[f'poly-2t spin={spin}']:.2f}")
    print(f"decode 2 threads, spin off / spin on = {med['decode-2t spin=0'] / med[f'decode-2t spin={a.spin}']:.2f}")


if __name__ == "__main__":
    main()
