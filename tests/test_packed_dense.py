"""Pins for the bit-band build and the packed writer on many short runs
(csrc/rle_decode.c: bb_build's tight loop and bb_run_slow, and the packed
bands assembled in cache and streamed out when the rows are contiguous).

Masks of 1 MiB pixels and more (the bit path) with runs of 1-3 pixels
(salt noise, 2% to 90%), runs over column and band ends, empty runs in the
middle of the counts (one exactly at a column end), first and last pixel
set, full and empty masks, and empty bands above and below the foreground.
Every output goes into a buffer full of junk. The expected outputs are
pycocotools' decode of the same runs and np.packbits of it; every FRLE_ISA
cap runs in a subprocess (each picks its kernels once per process)."""
from __future__ import annotations

import pytest

from common import run_probe

pm = pytest.importorskip("pycocotools.mask")

_PROBE = r"""
import numpy as np
import pycocotools.mask as pm
import fastrle

rng = np.random.default_rng(25)


def masks(h, w):
    out = []
    for p in (0.02, 0.5, 0.9):  # salt noise in a box: empty bands around it
        m = np.zeros((h, w), np.uint8)
        y0, y1, x0, x1 = h // 5, h - h // 3, w // 7, w - w // 4
        m[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < p
        out.append(m)
    m = (rng.random((h, w)) < 0.3).astype(np.uint8)  # all over; first and last pixel set
    m[0, 0] = m[-1, -1] = 1
    out.append(m)
    f = np.zeros(h * w, np.uint8)  # column-major runs of 1-3 pixels ending on or crossing column and band ends
    for x in range(0, w, 3):
        for end in (x * h + h, x * h + 64, x * h + 128, x * h + h - h % 64):
            k = int(rng.integers(1, 4))
            a = end - k + int(rng.integers(0, 3))  # ends before, on, or past the end
            f[max(a, 0):min(a + k, h * w)] = 1
    out.append(f.reshape(w, h).T.copy())
    out.append(np.ones((h, w), np.uint8))
    out.append(np.zeros((h, w), np.uint8))
    return out


def check(h, w, ms, rles, tag):
    n, rb = len(ms), (w + 7) // 8
    ref = np.stack(ms)
    for bitorder in ("big", "little"):
        want = np.packbits(ref, axis=-1, bitorder=bitorder)
        for flip in (None, "v"):
            wf = want[:, ::-1] if flip else want
            out = np.full((n, h, rb), 0xA5, np.uint8)
            fastrle.decode(rles, out=out, packed=True, bitorder=bitorder, flip=flip, threads=1)
            bad = np.argwhere(out != wf)
            assert bad.size == 0, (tag, h, w, bitorder, flip, "warm", bad[:5].tolist())
            got = fastrle.decode(rles, packed=True, bitorder=bitorder, flip=flip, threads=1)
            assert np.array_equal(got, wf), (tag, h, w, bitorder, flip, "fresh")
            wide = np.full((n, h, rb + 5), 0x5A, np.uint8)  # strided rows: the rows written one by one
            fastrle.decode(rles, out=wide[:, :, 2:2 + rb], packed=True, bitorder=bitorder, flip=flip, threads=1)
            assert np.array_equal(wide[:, :, 2:2 + rb], wf), (tag, h, w, bitorder, flip, "strided")
            assert (wide[:, :, :2] == 0x5A).all() and (wide[:, :, 2 + rb:] == 0x5A).all(), (tag, "gaps")
            zo = np.zeros((n, h, rb), np.uint8)
            fastrle.decode(rles, out=zo, packed=True, bitorder=bitorder, flip=flip, zeroed=True, threads=1)
            assert np.array_equal(zo, wf), (tag, h, w, bitorder, flip, "zeroed")
    full = np.full((n, h, w), 7, np.uint8)
    fastrle.decode(rles, out=full, threads=1)
    assert np.array_equal(full, ref), (tag, h, w, "unpacked")


# 1 MiB pixels and more, 64 w <= 512 KiB: the bit path. Rows of 38, 65,
# 125 and 128 bytes put the bands at every offset in a cache line; 4097
# rows end in a one-row band of 38 bytes (inside one line, or across two).
for h, w in ((4097, 300), (2048, 513), (1280, 1000), (1025, 1024)):
    ms = masks(h, w)
    rles = pm.encode(np.asfortranarray(np.stack(ms, -1)))
    check(h, w, ms, rles, "masks")

# empty runs in the middle of the counts: one right at a column end (h % 64
# != 0: in the band of the run before it), one inside a column, one at the
# column end of a band-aligned height
for h, w in ((1100, 1000), (1088, 1000)):
    c = [3, 2, 0, 0, h - 5, 0, 0, 5]  # 3 bg, 2 fg, empty bg+fg, bg to the next column's ..., empty, 5 fg
    c += [h - 5 - 1, 1, 0, 1]  # ... fg on the column end, then an empty bg and 1 fg (the next column's first)
    c += [h * w - sum(c) - 2, 2]  # the last two pixels set
    f = np.zeros(h * w, np.uint8)
    pos = 0
    for i, k in enumerate(c):
        if i % 2:
            f[pos:pos + k] = 1
        pos += k
    assert pos == h * w
    m = f.reshape(w, h).T.copy()
    check(h, w, [m], [{"size": [h, w], "counts": c}], "empty runs")
    enc = pm.frPyObjects({"size": [h, w], "counts": c}, h, w)
    check(h, w, [m], [enc], "empty runs, compressed")
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_short_runs_packed_and_unpacked(isa: str) -> None:
    assert run_probe(_PROBE, isa, timeout=600).strip() == "ok"
