"""Pins for the bit-band decode (csrc/rle_decode.c, outputs of 1 MiB and
more) where the generated masks of test_decode_paths.py do not go: runs that
cross a column end by exactly one pixel out of a one-row last band, a run
ending on a band boundary, and a staging band that must start zeroed on heap
memory that held ones. The expected outputs are the numpy masks themselves
(encoded by pycocotools) and np.packbits of them; every FRLE_ISA cap runs in
a subprocess (each picks its kernels once per process)."""
from __future__ import annotations


import pytest

from common import run_probe

pytest.importorskip("pycocotools.mask")

_PROBE = r"""
import numpy as np
import pycocotools.mask as pm
import fastrle

# glibc: a freed mmapped block raises the mmap threshold, so the next large
# blocks come from the heap; fill heap memory with ones and give it back, so
# a buffer the decoder does not zero shows up as foreground
big = np.ones(16 << 20, np.uint8)
del big
junk = np.ones(6 << 20, np.uint8)
del junk

h, w = 1025, 1024          # 1,049,600 pixels: the bit path; the last band is row 1024 alone
m = np.zeros((h, w), np.uint8)
for x in range(3, w - 1, 7):
    m[h - 1, x] = 1        # a 2-pixel run: the last row of column x ...
    m[0, x + 1] = 1        # ... and the first of column x + 1
m[0:64, 1] = 1             # ends on the first band's last row
m[64:128, 2] = 1           # a whole second band
m[128:, w - 1] = 1         # down to the column end, in the last column
r = pm.encode(np.asfortranarray(m))
assert pm.decode(r).sum() == m.sum()
got = fastrle.decode(r, threads=1)
assert np.array_equal(got, m), ("fresh", np.argwhere(got != m)[:5].tolist())
out = np.full((2, h, w), 9, np.uint8)
fastrle.decode([r, r], out=out, threads=1)
assert np.array_equal(out[0], m) and np.array_equal(out[1], m), "out"
out[:] = 0
fastrle.decode([r, r], out=out, zeroed=True, threads=2)
assert np.array_equal(out[0], m) and np.array_equal(out[1], m), "zeroed"
for bitorder in ("big", "little"):
    want = np.packbits(m, axis=-1, bitorder=bitorder)
    got = fastrle.decode(r, packed=True, bitorder=bitorder, threads=1)
    assert np.array_equal(got, want), ("packed", bitorder)
    got = fastrle.decode(r, packed=True, bitorder=bitorder, flip="v", threads=1)
    assert np.array_equal(got, want[::-1]), ("packed flip v", bitorder)
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_runs_over_column_and_band_ends(isa: str) -> None:
    assert run_probe(_PROBE, isa, timeout=300).strip() == "ok"


_ZEROED_PROBE = r"""
import numpy as np
import pycocotools.mask as pm
import fastrle
from fastrle import synthetic

# zeroed: the output holds 7s where a decoder that wrote more than the lines
# holding foreground would leave 0s (the contract lets it write zeros there,
# so this pins the cost, not the result: issue 25's zeroed >= 3x full)
for fam in ("blobs", "strokes", "noise"):
    for h, w in ((1089, 963), (1500, 2250)):
        rles = synthetic.family_masks(fam, 2, h, w, seed=7)
        ref = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))
        out = np.full(ref.shape, 7, np.uint8)
        fastrle.decode(rles, out=out, zeroed=True, threads=1)
        assert np.array_equal(out == 1, ref == 1), (fam, h, w, "foreground")
        for i in range(2):
            o, r = out[i].reshape(-1), ref[i].reshape(-1)
            line = (out[i].ctypes.data + np.arange(o.size)) >> 6
            fg_lines = np.unique(line[r == 1])
            in_fg = np.isin(line, fg_lines)
            # the mask's first and last lines may take the row spans' zeros
            in_fg |= (line == line[0]) | (line == line[-1])
            bad = np.flatnonzero(~in_fg & (o != 7))
            assert bad.size == 0, (fam, h, w, i, "wrote a line without foreground", bad[:5].tolist())
            assert np.all(np.isin(o[r == 0], (0, 7))), (fam, h, w, i, "background")
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_zeroed_writes_only_lines_with_foreground(isa: str) -> None:
    assert run_probe(_ZEROED_PROBE, isa, timeout=300).strip() == "ok"
