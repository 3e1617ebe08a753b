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

# zeroed: the output holds 7s where a decoder that wrote more than it may
# would leave 0s. The contract lets it write zeros anywhere, so this pins
# the cost, not the result (issue 25's zeroed >= 3x full): the bit-band
# decode writes whole 64-byte lines, zeros too, but only lines holding a
# byte of a row with foreground in a 64-column group that has foreground
# in the row's band of 64 rows, or the line just after one.
for fam in ("blobs", "strokes", "noise", "stars"):
    for h, w in ((1089, 963), (1500, 2250)):
        rles = synthetic.family_masks(fam, 2, h, w, seed=7)
        ref = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))
        out = np.full(ref.shape, 7, np.uint8)
        fastrle.decode(rles, out=out, zeroed=True, threads=1)
        assert np.array_equal(out == 1, ref == 1), (fam, h, w, "foreground")
        nb, ng = (h + 63) // 64, (w + 63) // 64
        for i in range(2):
            fg = ref[i].astype(bool)
            pad = np.zeros((nb * 64, ng * 64), bool)
            pad[:h, :w] = fg
            touched = pad.reshape(nb, 64, ng, 64).any(axis=(1, 3))
            near = np.repeat(np.repeat(touched, 64, 0), 64, 1)[:h, :w] & fg.any(axis=1)[:, None]
            line = ((out[i].ctypes.data + np.arange(h * w)) >> 6).reshape(h, w)
            ok = np.unique(line[near])
            ok = np.union1d(ok, ok + 1)
            # the mask's first and last lines may take the row spans' zeros
            ok = np.union1d(ok, [line[0, 0], line[-1, -1]])
            bad = np.flatnonzero(~np.isin(line, ok) & (out[i] != 7))
            assert bad.size == 0, (fam, h, w, i, "wrote a line far from foreground", bad[:5].tolist())
            assert np.all(np.isin(out[i][ref[i] == 0], (0, 7))), (fam, h, w, i, "background")
            # and it is not the whole band: most background stays untouched
            if fam in ("blobs", "stars"):
                assert (out[i] == 7).mean() > 0.5, (fam, h, w, i, (out[i] == 7).mean())
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_zeroed_writes_only_lines_with_foreground(isa: str) -> None:
    assert run_probe(_ZEROED_PROBE, isa, timeout=300).strip() == "ok"


_ROWS_PROBE = r"""
import numpy as np
import pycocotools.mask as pm
import fastrle

# The bit-band decode writes each band row by row, a row's line words
# being its 64-column group words shifted by where the row starts in its
# first line. Pinned here, each against the numpy mask itself:
# - a line two rows share: every row has foreground in its first and last
#   columns, so each shared line takes bits from both rows;
# - the last row of a band, and of the mask, whose last group runs past the
#   row's end with padding bits: the line past the band's end is not
#   written (it is the next band's, or the next mask's, or past the buffer:
#   the batch sits in a larger buffer of 7s);
# - bands of many separate runs of groups: up to 64 in an 8192-wide band;
# each zeroed and not, on one thread and two (masks out of order).
def check(m, label):
    h, w = m.shape
    r = pm.encode(np.asfortranarray(m))
    n = 3
    for zeroed in (False, True):
        for threads in (1, 2):
            buf = np.full(n * h * w + 256, 7, np.uint8)
            out = buf[64:64 + n * h * w].reshape(n, h, w)  # 64-aligned or not: buf's own offset
            if zeroed:
                out[:] = 0
            fastrle.decode([r] * n, out=out, zeroed=zeroed, threads=threads)
            for i in range(n):
                bad = np.argwhere(out[i] != m)
                assert bad.size == 0, (label, h, w, zeroed, threads, i, bad[:4].tolist())
            assert np.all(buf[:64] == 7) and np.all(buf[64 + n * h * w:] == 7), (label, h, w, zeroed, "outside")

for h, w in ((1031, 1017), (1025, 1090), (1089, 963), (600, 2250), (300, 4001)):
    m = np.zeros((h, w), np.uint8)
    m[:, 0] = m[:, w - 1] = 1          # both ends of every row
    m[5:h - 5, w // 3:w // 2] = 1
    check(m, "row ends")
    m = np.zeros((h, w), np.uint8)
    m[63::64, w - 9:] = 1              # each band's last row, up to the row's end
    m[h - 1, w - 2:] = 1               # and the mask's last row
    m[0, :3] = 1                       # and its first pixels
    check(m, "band ends")
for w in (8192, 8191, 8129):
    m = np.zeros((130, w), np.uint8)
    for g in range(0, (w + 63) // 64, 2):
        m[3 + g % 60, 64 * g:64 * g + 5] = 1  # every other group: separate runs of groups
    m[100:130, ::128] = 1
    check(m, "many runs")
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_band_rows_share_lines_and_stop_at_band_ends(isa: str) -> None:
    assert run_probe(_ROWS_PROBE, isa, timeout=300).strip() == "ok"
