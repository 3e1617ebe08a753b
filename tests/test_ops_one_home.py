"""pycocotools' IoU, merge, box prefilter and the batch parse each have one
C implementation (csrc/rle_ops.c, frle_parse_many in csrc/rle_parse_batch.c),
behind both paths of fastrle.mask. These tests pin the cases a second,
"equivalent" formula would get wrong: NaN, infinite and signed-zero boxes
(bit for bit, NaN signs included), many masks merged through the general
path (the bitmap branch), and the batch parse's errors for given counts.
"""
from __future__ import annotations

import numpy as np
import pytest

from fastrle import _core, _mask
from fastrle import mask as fm

from common import assert_same, pycoco as pm

SPECIAL = [np.nan, -np.nan, 0.0, -0.0, 1.0, 2.5, -1.0, np.inf, -np.inf, 5.0, 1e-200]


def test_box_iou_special_values_bit_for_bit():
    """fmin/fmax semantics (which operand a NaN or -0 gives back) and the
    NaN that comes out: pycocotools' bbIou to the byte."""
    rng = np.random.default_rng(1)
    for _ in range(400):
        dt = rng.choice(SPECIAL, size=(3, 4))
        gt = rng.choice(SPECIAL, size=(4, 4))
        crowd = [int(c) for c in rng.integers(0, 2, 4)]
        assert_same(fm.iou(dt, gt, crowd), pm.iou(dt, gt, crowd), "iou of boxes")


def _boxes_rles(n: int, h: int, w: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    m = np.zeros((h, w, n), np.uint8, order="F")
    for i in range(n):
        y, x = rng.integers(0, h - 4), rng.integers(0, w - 4)
        m[y:y + rng.integers(1, h - y), x:x + rng.integers(1, w - x), i] = 1
    return pm.encode(m)


@pytest.mark.parametrize("intersect", [0, 1])
def test_general_path_merge_of_many_masks(intersect):
    """numpy-int sizes make the fast path decline; the general path then
    merges 40 masks through the same bitmap as the fast path."""
    rles = _boxes_rles(40, 30, 50, seed=3 + intersect)
    gen = [{"size": [np.int64(30), np.int64(50)], "counts": r["counts"]} for r in rles]
    assert _mask.merge(gen, intersect) is None
    want = pm.merge(rles, intersect)
    assert_same(fm.merge(gen, intersect), want, "general merge")
    assert_same(fm.merge(rles, intersect), want, "fast merge")


def test_general_path_iou_matches_fast_path():
    """-1 for other sizes where boxes meet, crowd IoU, list counts: the
    general path gives what the fast path and pycocotools give."""
    dt = _boxes_rles(7, 20, 30, seed=5) + _boxes_rles(3, 30, 20, seed=6)
    gt = _boxes_rles(6, 20, 30, seed=7)
    crowd = [0, 1, 0, 1, 1, 0]
    gen_dt = [{"size": [np.int32(r["size"][0]), r["size"][1]], "counts": r["counts"]} for r in dt]
    gen_gt = [{"size": r["size"], "counts": _uncompressed(r)["counts"]} for r in gt]
    assert _mask.iou(gen_dt, gen_gt, crowd) is None
    want = pm.iou(dt, gt, crowd)
    assert (want == -1).any() and ((want > 0) & (want < 1)).any()
    assert_same(fm.iou(gen_dt, gen_gt, crowd), want, "general iou")
    assert_same(fm.iou(dt, gt, crowd), want, "fast iou")


def test_general_path_iou_reads_each_side_height():
    """A 4x6 mask and a 6x4 one whose boxes only touch: 0, not -1. Read with
    the other side's height, the boxes would overlap (and give -1)."""
    d = np.zeros((4, 6), np.uint8, order="F")
    d.T.flat[:8] = 1  # columns 0 and 1
    g = np.zeros((6, 4), np.uint8, order="F")
    g.T.flat[4] = 1   # row 4 of column 0: below d's box
    dt, gt = [pm.encode(d)], [pm.encode(g)]
    gen = [{"size": [np.int64(r["size"][0]), np.int64(r["size"][1])], "counts": r["counts"]} for r in dt + gt]
    want = pm.iou(dt, gt, [0])
    assert want.tolist() == [[0.0]]
    assert_same(fm.iou(gen[:1], gen[1:], [0]), want, "general iou")
    assert_same(fm.iou(dt, gt, [0]), want, "fast iou")


def _uncompressed(r: dict) -> dict:
    """The list counts of an RLE dict (the runs of its decoded mask)."""
    flat = pm.decode(r).flatten(order="F")
    edges = np.flatnonzero(np.diff(np.concatenate([[0], flat, [2]])) != 0)
    counts = np.diff(np.concatenate([[0], edges]))
    return {"size": r["size"], "counts": [int(c) for c in counts]}


def test_batch_parse_given_counts_errors():
    """Given (list) counts are checked by the batch parse: a short or long
    sum names its mask, and an earlier mask's error wins over a later bad
    size."""
    ok = {"size": [2, 3], "counts": [1, 2, 3]}
    short = {"size": [2, 3], "counts": [1, 2, 2]}
    long = {"size": [2, 3], "counts": [1, 2, 4]}
    huge = {"size": [70000, 70000], "counts": "0"}
    for bad, why in ((short, "they sum to 5"), (long, "they reach 7 at run 3")):
        with pytest.raises(_core.RLEError, match=f"mask 1: .*{why}") as e:
            _core.parse(_core.sources([ok, bad], False), True)
        assert e.value.index == 1
        with pytest.raises(_core.RLEError, match="mask 1: ") as e:
            _core.parse(_core.sources([ok, bad, huge], False), True)
        assert e.value.index == 1
    with pytest.raises(ValueError, match="mask 1: size 70000x70000"):
        _core.parse(_core.sources([ok, huge, short], False), True)
    # not strict: the sum is pycocotools' business (area keeps its wrap)
    r = _core.parse(_core.sources([ok, short, long], False), False)
    assert r.offsets.tolist() == [0, 3, 6, 9]
    assert r.arena[:9].tolist() == [1, 2, 3, 1, 2, 2, 1, 2, 4]
