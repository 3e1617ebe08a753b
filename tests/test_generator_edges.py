"""Inputs the generators never make (issue 24), each against pycocotools or a
brute force written here: 4-, 5- and odd-length polygons, non-binary and bool
masks of every memory layout, long counts strings (>= 48 chars, so the vector
parse kernels run) with 5- and 6-char varints and deltas around 2^31 and 2^32,
and buffers reused from earlier calls. Seeds are fixed and printed."""
from __future__ import annotations

import numpy as np
import pytest

import fastrle
from fastrle import mask as fm

pm = pytest.importorskip("pycocotools.mask")

SEEDS = (3, 17, 2024)


def outcome(fn, *a):
    """fn's result, or its exception type (pycocotools raises different types)."""
    try:
        return fn(*a)
    except Exception as e:  # the type is the answer compared
        return type(e)


@pytest.mark.parametrize("poly", [
    [[1.0, 1.0, 7.0, 2.0, 4.0]],                   # 5 numbers: a polygon (pycocotools: len > 4)
    [[1.0, 1.0, 7.0, 2.0, 4.0, 8.0, 2.5]],         # 7 numbers: odd
    [[0.5, 0.5, 9.5, 0.5, 9.5, 9.5], [3, 3, 6, 3, 6]],  # a 6- and a 5-number polygon in one object
])
def test_short_and_odd_polygons_like_pycocotools(poly):
    ours, theirs = outcome(fm.frPyObjects, poly, 10, 12), outcome(pm.frPyObjects, poly, 10, 12)
    if isinstance(theirs, type):
        assert isinstance(ours, type), (ours, theirs)
        return
    assert [r["counts"] for r in ours] == [r["counts"] for r in theirs]


def test_four_numbers_are_a_box_and_five_a_polygon():
    # a list of 4-number lists is a box, which pycocotools takes only as an array (both raise TypeError)
    box = [[1.0, 2.0, 5.0, 4.0]]
    assert outcome(fm.frPyObjects, box, 10, 12) is TypeError is outcome(pm.frPyObjects, box, 10, 12)
    arr = np.array(box)
    got_box = fm.frPyObjects(arr, 10, 12)
    assert [r["counts"] for r in got_box] == [r["counts"] for r in pm.frPyObjects(arr, 10, 12)]
    five = [[1.0, 2.0, 5.0, 4.0, 3.0]]
    got = fm.frPyObjects(five, 10, 12)
    assert [r["counts"] for r in got] == [r["counts"] for r in pm.frPyObjects(five, 10, 12)]
    assert got[0]["counts"] != got_box[0]["counts"]


def _layouts(m):
    """(N, H, W) views of one mask stack in every memory layout encode takes."""
    yield "C", np.ascontiguousarray(m)
    yield "F", np.asfortranarray(m)
    yield "HW-fortran", np.ascontiguousarray(m.transpose(0, 2, 1)).transpose(0, 2, 1)
    big = np.zeros((m.shape[0], m.shape[1] * 2, m.shape[2] * 3), m.dtype)
    big[:, ::2, ::3] = m
    yield "strided", big[:, ::2, ::3]


@pytest.mark.parametrize("seed", SEEDS)
def test_non_binary_and_bool_masks_every_layout(seed):
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    for h, w in ((1, 9), (9, 1), (5, 7), (33, 20)):
        vals = rng.choice(np.array([0, 0, 1, 2, 255], np.uint8), size=(3, h, w))
        want = pm.encode(np.asfortranarray((vals != 0).astype(np.uint8).transpose(1, 2, 0)))
        for dtype in (np.uint8, np.bool_):
            m = vals.astype(dtype) if dtype is np.uint8 else vals != 0
            for name, view in _layouts(m):
                got = fastrle.encode(view)
                assert [r["counts"] for r in got] == [r["counts"].decode() for r in want], (seed, h, w, dtype, name)
        # the drop-in keeps pycocotools' rule for non-binary bytes: a run ends at every change of value
        f = np.asfortranarray(vals.transpose(1, 2, 0))
        assert [r["counts"] for r in fm.encode(f)] == [r["counts"] for r in pm.encode(f)]


def long_counts(seed, h, w, near):
    """Counts of an h x w mask: 40 small runs (a string of >= 48 chars), then
    runs that make 5- and 6-char varints, then deltas near -2^31 and 2^30 (near=31)
    or one near 2^32 - 2^10 after a small one (near=32)."""
    rng = np.random.default_rng(seed)
    small = [int(v) for v in rng.integers(0, 40, 40)]
    mid = [2**20 + seed, 3, 2**25, 5]  # deltas needing 5- and 6-char varints
    if near == 31:
        big = mid + [2**31 - 1 - seed, 2**30 + 1, 3, 2**29 + seed, 5]
    else:
        big = mid + [7, 2**32 - 2**10 - sum(small) - sum(mid) - seed, 9]
    rest = h * w - sum(small) - sum(big)
    assert rest > 0
    return small + big + [rest]


def spec_write(cnts):
    """COCO's counts string, written from its definition: from the fourth count on
    the delta to counts[i-2]; 5 bits per char plus 48, 0x20 = more, 0x10 of the
    last char = the sign."""
    out = []
    for i, x in enumerate(cnts):
        if i > 2:
            x -= cnts[i - 2]
        more = True
        while more:
            c = x & 0x1F
            x >>= 5
            more = (x != -1) if c & 0x10 else (x != 0)
            out.append(chr((c | 0x20 if more else c) + 48))
    return "".join(out)


def canonical(cnts):
    """The same mask without interior zero-length runs (what merge writes)."""
    out = [cnts[0]]
    i = 1
    while i < len(cnts):
        if cnts[i] == 0 and i + 1 < len(cnts):
            out[-1] += cnts[i + 1]
            i += 2
        else:
            out.append(cnts[i])
            i += 1
    return out


@pytest.mark.parametrize("near", [31, 32])
@pytest.mark.parametrize("seed", SEEDS)
def test_long_strings_with_huge_deltas(seed, near):
    print(f"seed {seed}")
    h, w = 65535, 65537  # 2^32 - 1 pixels
    counts = long_counts(seed, h, w, near)
    s = spec_write(counts)
    ends = [i for i, ch in enumerate(s) if not (ord(ch) - 48) & 0x20]
    lengths = {b - a for a, b in zip([-1] + ends, ends)}
    assert len(s) >= 48 and {5, 6, 7} <= lengths, lengths  # 5-, 6- and 7-char varints in a vector-kernel string
    ref = {"size": [h, w], "counts": s}
    assert int(fm.area(ref)) == int(fastrle.area([ref])[0]) == sum(counts[1::2])
    # fastrle's writer and pycocotools' write the string of the definition
    assert fm.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"].decode() == s
    assert pm.frPyObjects({"size": [h, w], "counts": counts}, h, w)["counts"].decode() == s
    if near == 31:  # pycocotools parses these right
        rle = dict(ref, counts=s.encode())
        assert int(pm.area(rle)) == sum(counts[1::2])
        assert fm.toBbox(ref).tolist() == pm.toBbox(rle).tolist()
    # else pycocotools' parser loses the high bits of a 7-char varint (an int shift past
    # 31 bits, undefined in C): its area is off, fastrle's is the definition's
    for inter in (True, False):
        assert fm.merge([ref, ref], intersect=inter)["counts"].decode() == spec_write(canonical(counts))


def test_reused_out_buffers_are_overwritten():
    rng = np.random.default_rng(7)
    masks = (rng.random((4, 37, 29)) < 0.4).astype(np.uint8)
    rles = fastrle.encode(masks)
    out = np.full((4, 37, 29), 0xEE, np.uint8)
    assert np.array_equal(fastrle.decode(rles, out=out), masks)
    out[:] = 1  # all ones, then zeroed=False must clear the background
    assert np.array_equal(fastrle.decode(rles, out=out, zeroed=False), masks)
    small = np.full((4, 10, 8), 7, np.uint8)
    want = fastrle.decode(rles, size=(10, 8))
    assert np.array_equal(fastrle.decode(rles, out=small, size=(10, 8)), want)
    small[:] = 0
    assert np.array_equal(fastrle.decode(rles, out=small, size=(10, 8), zeroed=True), want)
