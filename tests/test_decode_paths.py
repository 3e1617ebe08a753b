"""Dense decode of outputs of 1 MiB and more, on each of its paths, against
pycocotools: the bit-band decode (AVX-512 and scalar block kernels) and the
row spans it falls back to (masks of long runs without AVX-512, stages wider
than its limit, masks over its pixel limit). Every FRLE_ISA cap runs in a
subprocess, since each extension picks its kernels once per process.

The sizes cut bands (64 rows) and blocks (64 columns) short, and reach the
stage's width limit (64 * w <= 512 KiB) from both sides; the shape
families give many thin spans (stripes, strokes, noise) and few long ones
(blobs), so both sides of the scalar path's choice run too."""
from __future__ import annotations


import pytest

from common import run_probe

_PROBE = r"""
import sys
import numpy as np
import pycocotools.mask as pm
import fastrle
from fastrle import synthetic

sizes = [(1025, 1023), (1089, 963), (1088, 1000), (257, 4096), (128, 8192), (129, 8193), (1000, 1047)]
checked = 0
for k, (h, w) in enumerate(sizes):
    for fam in synthetic.FAMILIES:
        rles = synthetic.family_masks(fam, 2, h, w, seed=100 + k)
        ref = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))
        for threads in (1, 2):
            got = fastrle.decode(rles, threads=threads)
            assert np.array_equal(got, ref), (h, w, fam, threads, "fresh")
        out = np.full(ref.shape, 7, np.uint8)
        fastrle.decode(rles, out=out, threads=1)
        assert np.array_equal(out, ref), (h, w, fam, "out")
        out[:] = 0
        fastrle.decode(rles, out=out, zeroed=True, threads=2)
        assert np.array_equal(out, ref), (h, w, fam, "zeroed")
        for bitorder in ("big", "little"):
            for flip in (None, "v", "h", "hv"):
                want = ref[:, ::-1] if flip in ("v", "hv") else ref
                want = want[:, :, ::-1] if flip in ("h", "hv") else want
                want = np.packbits(want, axis=-1, bitorder=bitorder)
                got = fastrle.decode(rles, packed=True, bitorder=bitorder, flip=flip, threads=2)
                assert np.array_equal(got, want), (h, w, fam, "packed", bitorder, flip)
            pk = np.full(want.shape, 0, np.uint8)
            fastrle.decode(rles, out=pk, packed=True, bitorder=bitorder, zeroed=True)
            assert np.array_equal(pk, np.packbits(ref, axis=-1, bitorder=bitorder)), (h, w, fam, "packed zeroed")
        checked += len(rles)
# full columns, a whole first band and single corner pixels (1-pixel runs at both ends)
h, w = 1031, 1033
f = np.zeros((h, w), np.uint8)
f[:, ::5] = 1
f[64:128, :] = 1
f[0, 1] = f[h - 1, w - 2] = 1
for m in (f, 1 - f, np.zeros_like(f), np.ones_like(f)):
    r = pm.encode(np.asfortranarray(m))
    assert np.array_equal(fastrle.decode(r), m)
    checked += 1
print(checked)
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512", "neon"])
def test_big_outputs_match_pycocotools_on_every_kernel(isa: str) -> None:
    assert int(run_probe(_PROBE, isa).strip()) == 7 * 6 * 2 + 4


def test_empty_mask_with_a_huge_side_allocates_nothing_per_column() -> None:
    """A fuzzed decode_ragged of a 0 x 3238067965 mask (h*w == 0, which
    decode_ragged accepts) once reserved memory per column and raised
    MemoryError; the row spans now grow with the runs only."""
    import numpy as np

    import fastrle

    out = fastrle.decode_ragged(b"", np.array([0, 0]), 0, 3238067965)
    assert out.shape == (1, 0, 3238067965) and out.size == 0
