"""Large images: h*w above 2^31 and near 2^32-1. Tiny RLEs of huge images
go through every count-only path (area, bbox, merge, iou, parse, empty,
frPyObjects); dense paths use lazily mapped zero pages, so that memory stays
far below 4 GiB. Results are checked against pure-Python references on the
runs, and against pycocotools where it is well defined and needs no dense
buffer. Over 2^32-1 pixels is a clear ValueError. scripts/sanitize.sh runs
this file under UBSan, so no overflow goes unnoticed."""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import fastrle
import fastrle.mask as fm
from _fuzzlib import ref_parse, ref_to_string, rss_bytes

pm = pytest.importorskip("pycocotools.mask")

H, W = 65535, 65537  # h*w = 4294836225, 131070 below 2^32-1
HW = H * W
MB = 1 << 20


def _rle(cnts, h=H, w=W):
    assert sum(cnts) == h * w
    return {"size": [h, w], "counts": ref_to_string(cnts)}


def _pm_safe(rle):
    """pycocotools reads varints with int shifts: defined up to 6 chars."""
    return max(ref_parse(rle["counts"], None)[1], default=0) <= 6


def _ref_bbox(cnts, h):
    pos = 0
    boxes = []
    for j, c in enumerate(cnts):
        if j % 2 and c:
            s, e = pos, pos + c - 1
            x0, x1 = s // h, e // h
            y0, y1 = (s % h, e % h) if x0 == x1 else (0, h - 1)
            boxes.append((x0, y0, x1, y1))
        pos += c
    if not boxes:
        return np.zeros(4)
    x0 = min(b[0] for b in boxes)
    x1 = max(b[2] for b in boxes)
    y0 = min(b[1] for b in boxes)
    y1 = max(b[3] for b in boxes)
    return np.array([x0, y0, x1 - x0 + 1, y1 - y0 + 1], float)


def _intervals(cnts):
    pos, out = 0, []
    for j, c in enumerate(cnts):
        if j % 2 and c:
            out.append((pos, pos + c))
        pos += c
    return out


def _overlap(a, b):
    return sum(max(0, min(e1, e2) - max(s1, s2)) for s1, e1 in a for s2, e2 in b)


CASES = [
    [HW],                                   # empty
    [0, HW],                                # full
    [HW - 1, 1],                            # last pixel
    [0, 1, HW - 1],                         # first pixel
    [2**31, 5, HW - 2**31 - 5],             # run start above 2^31
    [2**32 - 2**20, 2**19, HW - 2**32 + 2**19],  # run start near 2^32
    [H - 1, 2, HW - H - 1],                 # across a column boundary
    [1, HW - 2, 1],                         # nearly full: widths of 65537 columns
    [7, 3 * H, 2**31, 12345, HW - 7 - 3 * H - 2**31 - 12345],
]


@pytest.mark.parametrize("cnts", CASES, ids=range(len(CASES)))
def test_count_only_paths(cnts):
    r = _rle(cnts)
    assert fastrle.area(r) == sum(cnts[1::2])
    assert fm.area(r) == np.uint32(sum(cnts[1::2]))
    np.testing.assert_array_equal(fastrle.bbox(r), _ref_bbox(cnts, H))
    np.testing.assert_array_equal(fm.toBbox(r), _ref_bbox(cnts, H))
    # string round trip through frPyObjects (uncompressed -> compressed)
    assert fm.frPyObjects({"size": [H, W], "counts": cnts}, H, W)["counts"] == r["counts"]
    # strict parse through the iou path
    iou = fm.iou([r], [r], [0])
    assert iou[0, 0] == (1.0 if sum(cnts[1::2]) else 0.0)
    if _pm_safe(r):
        assert pm.area(r) == fm.area(r)
        np.testing.assert_array_equal(pm.toBbox(r), fm.toBbox(r))
        np.testing.assert_array_equal(pm.iou([r], [r], [0]), iou)


@pytest.mark.parametrize("i,j", [(2, 3), (4, 5), (4, 8), (6, 8), (1, 4), (7, 8)])
def test_merge_and_iou_on_huge_images(i, j):
    a, b = CASES[i], CASES[j]
    ra, rb = _rle(a), _rle(b)
    ia, ib = _intervals(a), _intervals(b)
    inter = _overlap(ia, ib)
    union = sum(e - s for s, e in ia) + sum(e - s for s, e in ib) - inter
    u = fm.merge([ra, rb])
    x = fm.merge([ra, rb], 1)
    assert u["size"] == [H, W] and x["size"] == [H, W]
    assert fm.area(u) == union and fm.area(x) == inter
    assert fastrle.area({"size": [H, W], "counts": u["counts"]}) == union
    got = fm.iou([ra], [rb], [0])[0, 0]
    want = inter / union if inter else 0.0
    assert got == pytest.approx(want, rel=1e-15)
    crowd = fm.iou([ra], [rb], [1])[0, 0]
    assert crowd == pytest.approx(inter / sum(e - s for s, e in ia) if inter else 0.0, rel=1e-15)


def test_empty_and_boxes_on_huge_images():
    e = fastrle.empty(H, W)
    assert e["size"] == [H, W] and fastrle.area(e) == 0
    np.testing.assert_array_equal(fastrle.bbox(e), np.zeros(4))
    assert ref_parse(e["counts"].encode(), HW)[0] == [HW]
    boxes = np.array([[0, 0, 10, 10], [W - 5, H - 5, 5, 5], [30000.5, 100.25, 2000, 60000]], np.float64)
    got = fm.frPyObjects(boxes, H, W)
    assert got == pm.frPyObjects(boxes, H, W)
    assert list(fm.area(got)) == [100, 25, list(pm.area(got))[2]]
    poly = [[1.0, 1.0, 60000.0, 5.0, 30000.0, 65000.0]]
    assert fm.frPyObjects(poly, H, W) == pm.frPyObjects(poly, H, W)


def test_over_2_32_pixels_is_value_error():
    for size in ([65536, 65536], [2**32 - 1, 2], [1, 2**32]):
        r = {"size": size, "counts": "0"}
        for f in (fastrle.area, fastrle.bbox, fm.area, fm.toBbox):
            with pytest.raises(ValueError):
                f(r)
        with pytest.raises(ValueError):
            fm.iou([r], [r], [0])
        with pytest.raises(ValueError):
            fm.merge([r, r])
    with pytest.raises(ValueError):
        fastrle.empty(65536, 65536)
    assert fastrle.empty(2**32 - 1, 1)["size"] == [2**32 - 1, 1]


# 1 x (2^31 + 5) and 2 x (2^30 + 3) masks: the dense paths with 64-bit offsets.
LONG_W = 2**31 + 5


def _fg_runs(hw):
    starts = [0, 5, 2**31 - 3, 2**31 + 1, hw - 2]
    lens = [1, 7, 3, 1, 1]
    cnts, pos = [], 0
    for s, n in zip(starts, lens):
        cnts += [s - pos, n]
        pos = s + n
    cnts.append(hw - pos)
    return cnts, list(zip(starts, lens))


def test_decode_and_encode_over_2_31_pixels():
    """Fresh output comes from lazily mapped zero pages and only the
    foreground is written, so this touches a few pages of a 2 GiB mask."""
    before = rss_bytes()
    cnts, fg = _fg_runs(LONG_W)
    r = _rle(cnts, 1, LONG_W)
    d = fastrle.decode(r)
    assert d.shape == (1, LONG_W) and d.dtype == np.uint8
    for s, n in fg:
        assert d[0, s - 1] == 0 if s else True
        assert (d[0, s:s + n] == 1).all()
        assert s + n == LONG_W or d[0, s + n] == 0
    assert int(np.count_nonzero(d)) == sum(n for _, n in fg)
    del d
    f = fm.decode(r)
    assert f.shape == (1, LONG_W) and int(np.count_nonzero(f)) == sum(n for _, n in fg)
    assert fm.encode(f)["counts"] == r["counts"]
    del f
    # two rows: the row-major decode transposes runs across a 2^31-pixel image
    w2 = 2**30 + 3
    cnts2, fg2 = _fg_runs(2 * w2)
    r2 = _rle(cnts2, 2, w2)
    d2 = fastrle.decode(r2)
    flat_f = d2.T.reshape(-1)  # column-major order (a copy-free view is not possible; check pixels)
    for s, n in fg2:
        for p in (s, s + n - 1):
            assert d2[p % 2, p // 2] == 1
    assert int(np.count_nonzero(d2)) == sum(n for _, n in fg2)
    del d2, flat_f
    grown = (rss_bytes() - before) / MB
    assert grown < 600, f"RSS grew {grown:.0f} MB"


@pytest.mark.skipif(os.environ.get("FASTRLE_SANITIZED") == "1", reason="needs RLIMIT_AS (not under ASan)")
def test_native_encode_over_2_31_pixels_wide_row():
    code = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
sys.path.insert(0, {os.path.dirname(os.path.abspath(__file__))!r})
import numpy as np, fastrle
from test_large_sizes import _fg_runs, _rle, LONG_W
cnts, fg = _fg_runs(LONG_W)
r = _rle(cnts, 1, LONG_W)
d = fastrle.decode(r)
assert fastrle.encode(d)["counts"] == r["counts"].decode()
print("OK")
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0 and "OK" in p.stdout, p.stderr[-2000:]
