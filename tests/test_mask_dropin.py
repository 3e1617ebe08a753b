"""fastrle.mask against pycocotools.mask, function by function."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import BARE_EXCEPTION_TYPES, assert_same_error, check_same, pycoco, to_f
from _fuzzlib import ref_to_string
from strategies import masks

import fastrle
import fastrle.mask as fm

EDGE_SHAPES = [(1, 1), (1, 9), (9, 1), (2, 2), (3, 7), (64, 64), (65, 63), (480, 640)]


def edge_masks(h: int, w: int) -> np.ndarray:
    """Empty, full, first pixel, last pixel, one column, one row, checkerboard."""
    out = [np.zeros((h, w)), np.ones((h, w))]
    m = np.zeros((h, w)); m[0, 0] = 1; out.append(m)
    m = np.zeros((h, w)); m[-1, -1] = 1; out.append(m)
    m = np.zeros((h, w)); m[:, w // 2] = 1; out.append(m)
    m = np.zeros((h, w)); m[h // 2, :] = 1; out.append(m)
    out.append(np.indices((h, w)).sum(0) % 2)
    return np.stack(out).astype(np.uint8)


@pytest.mark.parametrize("h,w", EDGE_SHAPES)
def test_edge_cases_all_functions(h: int, w: int) -> None:
    f = to_f(edge_masks(h, w))
    rles = check_same("encode", f)
    check_same("decode", rles)
    check_same("decode", rles[3])
    check_same("area", rles)
    check_same("area", rles[0])
    check_same("toBbox", rles)
    check_same("toBbox", rles[1])
    check_same("merge", rles)
    check_same("merge", rles, intersect=1)
    check_same("merge", rles[:1])
    check_same("iou", rles, rles, [0, 1] * (len(rles) // 2) + [0] * (len(rles) % 2))
    check_same("encode", f[:, :, 0])


@given(masks())
def test_encode_decode_equivalence(m: np.ndarray) -> None:
    f = to_f(m)
    rles = check_same("encode", f)
    check_same("decode", rles)
    check_same("area", rles)
    check_same("toBbox", rles)


@given(masks(max_n=5), st.booleans())
def test_merge_equivalence(m: np.ndarray, intersect: bool) -> None:
    rles = pycoco.encode(to_f(m))
    check_same("merge", rles, intersect=intersect)
    check_same("merge", rles[:1], intersect=intersect)


@given(masks(max_n=4), masks(max_n=4), st.data())
def test_iou_equivalence(a: np.ndarray, b: np.ndarray, data) -> None:
    dt = pycoco.encode(to_f(a))
    gt = pycoco.encode(to_f(b))  # often another size: -1 where boxes overlap
    crowd = data.draw(st.lists(st.integers(0, 1), min_size=len(gt), max_size=len(gt)))
    check_same("iou", dt, gt, crowd)
    check_same("iou", dt, dt, [0] * len(dt))


@given(st.lists(st.lists(st.floats(-5, 120, allow_nan=False), min_size=4, max_size=4), min_size=1, max_size=6),
       st.lists(st.lists(st.floats(-5, 120, allow_nan=False), min_size=4, max_size=4), min_size=1, max_size=6),
       st.data())
def test_bbox_iou_equivalence(dt, gt, data) -> None:
    crowd = data.draw(st.lists(st.integers(0, 1), min_size=len(gt), max_size=len(gt)))
    check_same("iou", dt, gt, crowd)
    check_same("iou", np.array(dt), np.array(gt), crowd)


@given(st.lists(st.lists(st.floats(-10, 110, allow_nan=False, width=32), min_size=6, max_size=24)
                .filter(lambda p: len(p) % 2 == 0), min_size=1, max_size=3),
       st.integers(1, 100), st.integers(1, 100))
def test_polygons_equivalence(polys, h: int, w: int) -> None:
    check_same("frPyObjects", polys, h, w)
    check_same("frPyObjects", polys[0], h, w)


@given(st.lists(st.lists(st.floats(-10, 110, allow_nan=False, width=32), min_size=4, max_size=4),
                min_size=1, max_size=4), st.integers(1, 100), st.integers(1, 100))
def test_boxes_equivalence(boxes, h: int, w: int) -> None:
    check_same("frPyObjects", np.array(boxes, dtype=np.float64), h, w)


@given(masks(max_n=3))
def test_uncompressed_equivalence(m: np.ndarray) -> None:
    """frPyObjects on uncompressed counts (lists of ints), dict and list."""
    f = to_f(m)
    h, w = m.shape[1:]
    unc = []
    for i in range(m.shape[0]):
        col = f[:, :, i].ravel(order="F")
        change = np.flatnonzero(np.diff(np.concatenate([[0], col, [2]])) != 0)
        unc.append({"size": [h, w], "counts": np.diff(np.concatenate([[0], change])).tolist()})
    check_same("frPyObjects", unc, h, w)
    check_same("frPyObjects", unc[0], h, w)


def test_pycocotools_quirks_reproduced() -> None:
    """Documented pycocotools behaviours that callers may rely on."""
    # C-order input is refused, bool is accepted, other dtypes are refused
    with pytest.raises(ValueError, match="Fortran"):
        fm.encode(np.zeros((4, 5, 2), np.uint8))
    check_same("encode", np.zeros((4, 5, 2), bool, order="F"))
    check_same("encode", np.zeros((4, 5, 2), np.int8, order="F"))
    # non-binary values: every change of value starts a run
    check_same("encode", np.asfortranarray(np.array([[0, 2, 1, 1, 255]], np.uint8)))
    # merge of different sizes, and of nothing
    a = pycoco.encode(np.zeros((4, 5), np.uint8, order="F"))
    b = pycoco.encode(np.zeros((5, 4), np.uint8, order="F"))
    check_same("merge", [a, b])
    check_same("merge", [])
    # iou: -1 only where boxes overlap and sizes differ; [] for empty sides
    full_a = pycoco.encode(np.ones((4, 5), np.uint8, order="F"))
    full_b = pycoco.encode(np.ones((5, 4), np.uint8, order="F"))
    check_same("iou", [full_a], [full_b], [0])
    check_same("iou", [], [full_b], [0])
    check_same("iou", [full_a], [], [])
    # an explicit zero-length foreground run wraps toBbox's widths
    check_same("toBbox", pycoco.frPyObjects({"size": [4, 5], "counts": [20, 0]}, 4, 5))
    # frPyObjects dispatch quirks
    check_same("frPyObjects", [[10, 10, 5, 5]], 100, 100)  # list of boxes: TypeError
    with pytest.raises(IndexError):
        fm.frPyObjects([], 10, 10)
    assert fm.encode(np.zeros(3, np.uint8)) is None
    # empty areas and boxes keep their dtypes and shapes
    check_same("area", [])
    check_same("toBbox", [])


def test_decode_empty_list_returns_empty_list() -> None:
    assert fm.decode([]) == []


def test_counts_str_and_bytes_agree() -> None:
    r = pycoco.encode(to_f(edge_masks(9, 7)))[6]
    s = {"size": r["size"], "counts": r["counts"].decode()}
    np.testing.assert_array_equal(fm.decode(s), pycoco.decode(r))


# Counts whose runs do not fit in uint32: pycocotools wraps them mod 2^32.
# README: decode, merge and iou raise; area and toBbox keep the wrap. The
# expected values are worked out by hand with uint32 arithmetic (and agree
# with pycocotools 2.0.11).
WRAPPED = [
    # runs 2, 3, 1, -2: the -2 is 2^32-2, so area = 3 + 2^32-2 = 1 (mod 2^32);
    # box: first run covers pixels 2..4 (columns 1-2), the wrapped run ends
    # at pixel 6 + 2^32-2 = 4 (mod 2^32), column 1 -> x 1..2, y 0..1
    ([2, 3, 1, -2], 1, [1.0, 0.0, 2.0, 2.0]),
    # a run of 2^32+4 is 4: pixels 0..3 of a 2x3 mask, columns 0-1
    ([0, 2**32 + 4, 2], 4, [0.0, 0.0, 2.0, 2.0]),
]


@pytest.mark.parametrize("cnts,area,box", WRAPPED)
def test_area_and_tobbox_keep_the_wrap(cnts, area, box) -> None:
    rle = {"size": [2, 3], "counts": ref_to_string(cnts)}
    a = fm.area(rle)
    assert type(a) is np.uint32 and a == area
    np.testing.assert_array_equal(fm.area([rle, rle]), np.array([area, area], np.uint32))
    assert fm.area([rle]).dtype == np.uint32
    np.testing.assert_array_equal(fm.toBbox(rle), box)
    np.testing.assert_array_equal(fm.toBbox([rle]), [box])
    check_same("area", [rle])
    check_same("toBbox", [rle])
    # ... while decode, merge and iou refuse it, and the native API is strict
    with pytest.raises(ValueError, match="mask 0"):
        fm.decode(rle)
    with pytest.raises(ValueError):
        fm.merge([rle, rle])
    with pytest.raises(ValueError):
        fm.iou([rle], [rle], [0])
    with pytest.raises(fastrle.RLEError):
        fastrle.area(rle)
    with pytest.raises(fastrle.RLEError):
        fastrle.bbox(rle)


def test_bare_exceptions_become_documented_types() -> None:
    """pycocotools raises a bare Exception for these; fastrle.mask raises
    exactly the TypeError/ValueError of common.BARE_EXCEPTION_TYPES, with the
    same message (README: deliberate differences)."""
    box = np.zeros((1, 4))
    rle = pycoco.encode(np.zeros((2, 2), np.uint8, order="F"))
    cases = [
        (lambda m: m.iou(np.zeros((2, 3)), np.zeros((2, 3)), [0, 0]), ValueError),
        (lambda m: m.iou([[1, 2]], [[1, 2]], [0]), TypeError),
        (lambda m: m.iou("abc", "abc", [0, 0, 0]), TypeError),
        (lambda m: m.iou(box, [rle], [0]), TypeError),
        (lambda m: m.frPyObjects(5, 2, 2), TypeError),
        (lambda m: m.frPyObjects({"a": 1}, 2, 2), TypeError),
    ]
    seen = set()
    for call, kind in cases:
        with pytest.raises(Exception) as theirs:
            call(pycoco)
        assert type(theirs.value) is Exception, theirs.value
        with pytest.raises(kind) as ours:
            call(fm)
        assert type(ours.value) is kind and str(ours.value) == str(theirs.value)
        assert_same_error(lambda: call(fm), theirs.value)  # noqa: B023 (runs at once)
        seen.add(next(p for p in BARE_EXCEPTION_TYPES if str(theirs.value).startswith(p)))
    assert seen == set(BARE_EXCEPTION_TYPES)


def test_error_comparison_is_exact() -> None:
    """The helper fails on a different exception type: ValueError for
    TypeError, an unmapped bare Exception, or a changed message."""
    with pytest.raises(AssertionError):
        assert_same_error(lambda: fm.iou([[1, 2]], [[1, 2]], [0]), ValueError("x"))
    with pytest.raises(AssertionError):
        assert_same_error(lambda: (_ for _ in ()).throw(TypeError("list input can be bounding box (Nx4) "
                                                                   "or RLEs ([RLE])")),
                          Exception("numpy ndarray input is only for *bounding boxes* and ..."))
    with pytest.raises(AssertionError):
        assert_same_error(lambda: (_ for _ in ()).throw(TypeError("another message")),
                          Exception("input type is not supported."))
    with pytest.raises(AssertionError, match="no documented mapping"):
        assert_same_error(lambda: None, Exception("something new"))


def _naive_pixels(counts, h, w):
    """Column-major pixels of uncompressed counts, by repeat: the oracle for
    counts pycocotools itself merges wrongly (interior zero-length runs)."""
    vals = np.repeat(np.arange(len(counts)) % 2, counts).astype(np.uint8)
    return vals.reshape(w, h).T


@pytest.mark.parametrize("intersect", [0, 1])
def test_merge_skips_every_interior_empty_run(intersect):
    """Pairwise merge (few runs on a big frame, so not the bitmap path) of
    masks holding one, two and three empty runs in a row: pixel for pixel the
    union or intersection. pycocotools steps over one empty run at a time and
    gets these wrong, so the oracle is a brute force."""
    h, w = 100, 100
    cases = [[30, 0, 0, 40, 9930], [0, 0, 0, 5, 20, 0, 0, 0, 0, 7, 9968], [25, 10, 0, 0, 0, 10, 9955],
             [20, 5, 9975], [0, 50, 0, 0, 50, 9900]]
    for ca in cases:
        for cb in cases:
            rs = [pycoco.frPyObjects({"size": [h, w], "counts": c}, h, w) for c in (ca, cb)]
            got = pycoco.decode(fastrle.mask.merge(rs, intersect=intersect))
            a, b = _naive_pixels(ca, h, w), _naive_pixels(cb, h, w)
            want = (a & b) if intersect else (a | b)
            np.testing.assert_array_equal(got, want, err_msg=f"{ca} {cb}")
