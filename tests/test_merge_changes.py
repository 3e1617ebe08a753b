"""mask.merge of many-run masks: the union/intersection bitmap's runs at every
ISA level (FRLE_ISA), against pycocotools.

The AVX-512 path writes each 64-pixel word's change positions by a byte
compress, 16 at a time, then takes differences; the scalar path walks the
bits. Cases reach: words with 0, 1-16, 17-32 and 64 changes (alternating
pixels), sizes that are not multiples of 64 (the last word's padding bits),
the first and the last pixel set, full and empty results, and uncompressed
input with empty runs inside ([0, 5, 0, 3, ...]; pycocotools' merge hangs on
those, so its decode and encode give the expected runs there).
"""

from __future__ import annotations

import pytest

from common import run_probe

pytest.importorskip("pycocotools.mask")

PROBE = r"""
import numpy as np
import pycocotools.mask as pm
import fastrle.mask as fm

rng = np.random.default_rng(25)

def check(masks, what):
    fr = [fm.encode(np.asfortranarray(m[:, :, None]))[0] for m in masks]
    pr = [pm.encode(np.asfortranarray(m[:, :, None]))[0] for m in masks]
    for inter in (0, 1):
        got, want = fm.merge(fr, intersect=inter), pm.merge(pr, intersect=inter)
        assert got["counts"] == want["counts"], (what, inter, got["counts"][:80], want["counts"][:80])

for h, w in ((37, 41), (64, 64), (16, 48), (129, 67), (300, 7)):
    for p in (0.03, 0.3, 0.5, 0.9):
        check([(rng.random((h, w)) < p).astype(np.uint8) for _ in range(3)], ("noise", h, w, p))
    alt = np.zeros(h * w, np.uint8)
    alt[::2] = 1  # 64 changes a word, pixel 0 set
    alt = alt.reshape((w, h)).T
    check([alt, np.zeros((h, w), np.uint8), alt], ("alternating", h, w))
    last = np.zeros((h, w), np.uint8)
    last[-1, -1] = 1  # the last pixel: the tail word's padding must add no change
    check([last, last, (rng.random((h, w)) < 0.5).astype(np.uint8)], ("last", h, w))
    full = np.ones((h, w), np.uint8)
    check([full, full], ("full", h, w))
    check([full, (rng.random((h, w)) < 0.4).astype(np.uint8), full], ("full+noise", h, w))
    check([np.zeros((h, w), np.uint8)] * 2 + [(rng.random((h, w)) < 0.5).astype(np.uint8)], ("empty", h, w))

# uncompressed input with empty runs inside (valid RLE, pycocotools accepts it)
h, w = 5, 13
hw = h * w
for seed in range(20):
    r = np.random.default_rng(seed)
    masks = []
    for _ in range(3):
        counts, left = [], hw
        while left:
            c = int(r.integers(0, 4))
            c = min(c, left)
            counts.append(c)
            left -= c
        masks.append({"size": [h, w], "counts": counts})
    fr = fm.frPyObjects(masks, h, w)
    pr = pm.frPyObjects(masks, h, w)
    # pycocotools' merge loops forever on empty runs: its decode and encode are the oracle here
    dense = pm.decode(pr)
    for inter, op in ((0, np.any), (1, np.all)):
        want = pm.encode(np.asfortranarray(op(dense, axis=2).astype(np.uint8)))["counts"]
        assert fm.merge(fr, intersect=inter)["counts"] == want, (seed, inter)
print("ok")
"""


@pytest.mark.parametrize("isa", ["scalar", "avx2", "avx512"])
def test_merge_runs_match_pycocotools(isa: str) -> None:
    assert run_probe(PROBE, isa).strip() == "ok"
