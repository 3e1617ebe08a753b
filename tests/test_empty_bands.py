"""The bit-band decode writes a band of 64 rows without foreground as zero
lines alone (no scan of its line words): into a dirty buffer, every byte of
such bands, their edge lines shared with a neighbour band included, must come
out zero, on every kernel cap (each in a subprocess: kernels are picked once
per process)."""
from __future__ import annotations


import pytest

from common import run_probe

_PROBE = r"""
import numpy as np
import fastrle
checked = 0
# widths not a multiple of 64: bands start and end inside a 64-byte line
for h, w in ((1500, 2250), (1030, 1023), (700, 1601)):
    for rows in ((0, 1), (64, 128), (h - 1, h), (100, 101), (300, 370)):
        m = np.zeros((3, h, w), np.uint8)
        m[0, rows[0]:rows[1], 5:w - 3] = 1          # one band (or two) with foreground
        m[1, rows[0]:rows[1], ::7] = 1               # thin columns: many runs
        # mask 2 stays empty: no band has foreground
        rles = fastrle.encode(m)
        out = np.full(m.shape, 7, np.uint8)
        fastrle.decode(rles, out=out, threads=1)
        assert np.array_equal(out, m), (h, w, rows)
        out[:] = 9
        fastrle.decode(rles, out=out, threads=2)
        assert np.array_equal(out, m), (h, w, rows, 2)
        checked += 1
print(checked)
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_bands_without_foreground_are_zeroed_in_a_dirty_buffer(isa: str) -> None:
    assert int(run_probe(_PROBE, isa).strip()) == 15
