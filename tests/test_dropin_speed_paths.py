"""The fast paths of fastrle.mask (fastrle._mask) against pycocotools.

Every fast path must give pycocotools' result to the bit, and must decline
(fall back to the general path, which raises the right error) on anything
else: these tests drive each path with generated input and with inputs that
must be declined, and check the error compatibility of missing keys.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastrle
from fastrle import _mask, synthetic
from fastrle import mask as fm

from common import assert_same, check_same, pycoco as pm, to_f
from strategies import masks

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rles_of(m: np.ndarray) -> list:
    return pm.encode(to_f(m))


@st.composite
def rle_lists(draw, max_side: int = 40, max_n: int = 6, as_str: bool = False) -> list:
    out = rles_of(draw(masks(max_side=max_side, max_n=max_n)))
    if as_str or draw(st.booleans()):
        out = [{"size": r["size"], "counts": r["counts"].decode()} for r in out]
    return out


# --- one dict vs a list, area / toBbox / merge / decode --------------------------


@SETTINGS
@given(rle_lists())
def test_single_dict_and_list_paths_match_pycocotools(rles):
    for r in rles:
        for name in ("area", "toBbox", "decode"):
            check_same(name, r)
        check_same("merge", [r])
    for name in ("area", "toBbox", "decode"):
        check_same(name, rles)
    # the fast path itself answers (declining would hide a slow fast path)
    assert _mask.area(rles[0]) is not None and _mask.toBbox(rles) is not None


@SETTINGS
@given(rle_lists(max_n=8), st.sampled_from([0, 1, True, False, 2]))
def test_merge_many_and_intersect(rles, intersect):
    check_same("merge", rles, intersect)
    assert _mask.merge(rles, bool(intersect)) is not None


def test_merge_bitmap_path_edges():
    """n >= 3 masks go through the bitmap: full, empty, first/last pixel set,
    sizes that are and are not multiples of 64 bits."""
    for h, w in [(1, 1), (8, 8), (7, 9), (64, 1), (1, 65), (33, 31)]:
        full = np.ones((h, w), np.uint8)
        empty = np.zeros((h, w), np.uint8)
        first = empty.copy(); first[0, 0] = 1
        last = empty.copy(); last[-1, -1] = 1
        ms = np.stack([full, empty, first, last, 1 - first, 1 - last])
        rles = rles_of(ms)
        for idx in ([0, 1, 2], [2, 3, 1], [2, 3, 4, 5], [4, 5, 0], [1, 1, 1], [0, 0, 0, 0]):
            for inter in (0, 1):
                check_same("merge", [rles[i] for i in idx], inter)


def test_merge_of_one_rewrites_non_canonical_counts():
    """merge([r]) may hand back r's own string only when writing the counts
    again would give it: not for padded varints or wrapped counts."""
    cases = [b"S0", b"0S0", b"1o?", b"0oooooo1", b"2", b"", b"13", "13", b"6O1", b"0P1"]
    for c in cases:
        for h, w in [(1, 3), (2, 3), (3, 1)]:
            r = {"size": [h, w], "counts": c}
            check_same("merge", [r])
    r = {"size": [1, 3], "counts": b"3"}
    assert fm.merge([r])["counts"] == b"3"


def test_merge_size_mismatch_and_empty_list():
    a = rles_of(np.ones((1, 3, 4), np.uint8))[0]
    b = rles_of(np.ones((1, 4, 3), np.uint8))[0]
    check_same("merge", [a, b, a])
    check_same("merge", [])


# --- iou ----------------------------------------------------------------------------


@st.composite
def iou_case(draw):
    m = draw(masks(max_side=30, max_n=6))
    dt = rles_of(m)
    gt = rles_of(draw(masks(max_side=30, max_n=6)))
    # some gts of dt's size, so that most pairs are compared and some are -1
    if draw(st.booleans()):
        gt = gt + rles_of(m[::-1])
    crowd = draw(st.lists(st.sampled_from([0, 1, True, False, 3]), min_size=len(gt), max_size=len(gt)))
    return dt, gt, crowd


@SETTINGS
@given(iou_case())
def test_iou_with_crowd_and_mixed_sizes(case):
    dt, gt, crowd = case
    check_same("iou", dt, gt, crowd)
    check_same("iou", gt, dt, [0] * len(dt))
    check_same("iou", dt[:1], gt[:1], crowd[:1])
    assert _mask.iou(dt, gt, crowd) is not None
    # one list on both sides (prepared once, each pair walked once), mixed sizes
    both = dt + gt
    crowd_both = [i % 2 for i in range(len(both))]
    check_same("iou", both, both, crowd_both)
    check_same("iou", both, list(both), crowd_both)


def test_iou_empty_sides():
    r = rles_of(np.ones((2, 5, 5), np.uint8))
    check_same("iou", [], r, [0, 0])
    check_same("iou", r, [], [])
    check_same("iou", [], [], [])


@pytest.mark.parametrize("thread_min_chars", [0, 1 << 20])
def test_large_batches_threaded_and_not(thread_min_chars):
    """SA-1B-like masks through the threaded parse and IoU, bit for bit."""
    old = _mask._set_thread_min_chars(thread_min_chars)
    try:
        rles = synthetic.sa1b_like(40, 300, 450, seed=3)
        crowd = [i % 3 == 0 for i in range(len(rles))]
        check_same("iou", rles, rles, crowd)
        check_same("area", rles)
        check_same("toBbox", rles)
        check_same("merge", rles)
        check_same("merge", rles, 1)
        bad = rles[:7] + [{"size": rles[0]["size"], "counts": rles[7]["counts"][:-3]}] + rles[8:]
        with pytest.raises(ValueError, match="mask 7"):
            fm.iou(bad, rles, crowd)
    finally:
        _mask._set_thread_min_chars(old)


# --- declined inputs: the general path answers -----------------------------------------


def test_inputs_the_fast_path_declines_still_match():
    m = np.zeros((3, 4, 5), np.uint8); m[0, 1:3, 2:4] = 1; m[2, :, 0] = 1
    rles = rles_of(m)
    r = rles[0]
    uncompressed = pm.frPyObjects({"size": [4, 5], "counts": [5, 2, 2, 2, 9]}, 4, 5)
    variants = [
        {"size": (4, 5), "counts": r["counts"]},                           # tuple size: fast
        {"size": [np.int64(4), np.int32(5)], "counts": r["counts"]},       # numpy ints: general
        uncompressed,
    ]

    class D(dict):
        pass

    variants.append(D(r))
    for v in variants:
        for name in ("area", "toBbox"):  # pycocotools takes every one of them: no error to excuse
            check_same(name, v)
        ours, theirs = fm.area([v, r]), pm.area([dict(v), r]) if not isinstance(v, D) else pm.area([v, r])
        assert_same(ours, theirs)


def _declined(r: dict) -> dict:
    """r with numpy-int sizes: the fast paths decline it and mask.py's general
    path (with _core) answers; pycocotools takes such sizes too."""
    return {"size": [np.int64(r["size"][0]), np.int64(r["size"][1])], "counts": r["counts"]}


@pytest.mark.parametrize("path", ["fast", "general"])
def test_both_paths_on_sizes_differing_in_one_side_crowds_and_wraps(path):
    """Each function on both paths against pycocotools: the fast path with
    plain dicts, the general path (mask.py and _core) with the same masks as
    dicts the fast path declines (numpy-int sizes). Crowd IoU, -1 for sizes
    that differ in one side only, no gt, merge of sizes that differ in one
    side, and area/toBbox with pycocotools' uint32 wrap and zero-length
    foreground runs."""
    from _fuzzlib import ref_to_string

    form = (lambda r: r) if path == "fast" else _declined
    rng = np.random.default_rng(5)
    rles = rles_of((rng.random((4, 6, 7)) < 0.4).astype(np.uint8))
    taller = rles_of(np.ones((1, 7, 7), np.uint8))[0]  # differs in h only
    wider = rles_of(np.ones((1, 6, 8), np.uint8))[0]   # differs in w only
    dt = [form(r) for r in rles]
    gt = [form(r) for r in rles[::-1] + [taller, wider]]
    assert (_mask.iou(dt, gt, [0] * len(gt)) is None) == (path == "general")
    for crowd in ([0] * 6, [1, 0, 1, 0, 1, 0], [0, 1, 1, 0, 1, 1]):
        got = check_same("iou", dt, gt, crowd)
        assert (got == -1).sum() == 8 and (got > 0).sum() >= 12  # both mismatches hit, most pairs compared
        check_same("iou", gt, gt, crowd)
    check_same("iou", dt, [], [])
    check_same("iou", [], gt, [0] * 6)
    for other in (taller, wider):
        check_same("merge", [dt[0], form(other)])
        check_same("merge", [dt[0], form(other)], 1)
        check_same("merge", [dt[0], dt[1], form(other)])
    check_same("merge", dt)
    check_same("merge", dt[:2], 1)
    # pycocotools' arithmetic: a wrapped run, a run past 2^32, zero-length foreground runs
    for cnts in ([2, 3, 1, -2], [0, 2**32 + 4, 2], [3, 0, 3], [0, 0, 6], [6]):
        r = form({"size": [2, 3], "counts": ref_to_string(cnts)})
        assert (_mask.area(r) is None) == (path == "general")
        for name in ("area", "toBbox"):
            check_same(name, r)
            check_same(name, [r, r])


def test_fast_path_declines_invalid_and_general_path_raises():
    bad = [{"size": [2, 2], "counts": b"!!"}, {"size": [-1, 2], "counts": b"0"},
           {"size": [2], "counts": b"4"}, {"size": [2, 2], "counts": "é"},
           {"size": [2, 2], "counts": b"0R"}]  # truncated varint
    for b in bad:
        assert _mask.area(b) is None and _mask.toBbox(b) is None
        assert _mask.merge([b], False) is None and _mask.iou([b], [b], [0]) is None
        for f in (fm.area, fm.toBbox, fm.decode):
            with pytest.raises((ValueError, TypeError)):
                f(b)
    # runs that do not sum to h*w: area/toBbox/merge of one keep pycocotools'
    # lenient arithmetic; iou and merge of several need valid masks
    short = {"size": [2, 2], "counts": b"3"}
    for name in ("area", "toBbox"):
        check_same(name, short)
    check_same("merge", [short])
    assert _mask.iou([short], [short], [0]) is None and _mask.merge([short, short], False) is None
    for call in (lambda: fm.iou([short], [short], [0]), lambda: fm.merge([short, short]),
                 lambda: fm.decode(short)):
        with pytest.raises(ValueError):
            call()


# --- missing keys: KeyError and ValueError at once ------------------------------------------


@pytest.mark.parametrize("missing", ["counts", "size"])
def test_missing_key_is_keyerror_and_valueerror(missing):
    r = {"size": [2, 2], "counts": b"04"}
    del r[missing]
    calls = [lambda: fm.area(r), lambda: fm.toBbox(r), lambda: fm.decode(r), lambda: fm.decode([r]),
             lambda: fm.merge([r, r]), lambda: fm.iou([r], [r], [0]), lambda: fastrle.decode(r),
             lambda: fastrle.area([r])]
    for call in calls:
        for kind in (KeyError, ValueError, fastrle.RLEError, fastrle.RLEKeyError):
            with pytest.raises(kind):
                call()
        with pytest.raises(KeyError) as info:
            call()
        # readable, not KeyError's repr of the message
        assert str(info.value) == f"mask 0: RLE dict has no {missing!r} field"
        assert info.value.key == missing and info.value.index == 0
        # pycocotools raises a KeyError here too
        with pytest.raises(KeyError):
            pm.area(r) if missing == "counts" else pm.merge([r, r])


def test_encode_reports_layout_before_dtype_like_pycocotools():
    for arr in (np.zeros((3, 3, 2)), np.zeros((3, 3, 2), np.int32), np.zeros((3, 3)),
                np.zeros((3, 3, 2), np.uint8), np.asfortranarray(np.zeros((3, 3, 2)))):
        with pytest.raises(ValueError) as theirs:
            pm.encode(arr)
        with pytest.raises(ValueError) as ours:
            fm.encode(arr)
        if "Fortran" in str(theirs.value):
            assert str(ours.value) == str(theirs.value)
        else:
            assert "dtype" in str(ours.value)


# --- frPyObjects: polygons and boxes ---------------------------------------------------------


@st.composite
def polygons(draw):
    h, w = draw(st.integers(0, 120)), draw(st.integers(0, 120))
    npoly = draw(st.integers(1, 3))
    polys = []
    for _ in range(npoly):
        k = draw(st.integers(3, 25))
        kind = draw(st.sampled_from(["free", "flat", "steep", "int"]))
        seed = draw(st.integers(0, 2**31))
        r = np.random.default_rng(seed)
        xy = np.empty(2 * k)
        xy[0::2] = r.uniform(-10, w + 10, k)
        xy[1::2] = r.uniform(-10, h + 10, k)
        if kind == "flat":
            xy[1::2] = xy[1] + r.normal(0, 2, k)
        elif kind == "steep":
            xy[0::2] = xy[0] + r.normal(0, 2, k)
        elif kind == "int":
            xy = xy.round()
        polys.append(xy.round(draw(st.integers(0, 3))).tolist())
    return polys, h, w


@settings(max_examples=300, deadline=None)
@given(polygons())
def test_polygon_rasteriser_matches_pycocotools(case):
    polys, h, w = case
    check_same("frPyObjects", polys, h, w)
    check_same("frPyObjects", polys[0], h, w)
    # detectron2 hands polygons over as float64 arrays
    assert_same(fm.frPyObjects([np.array(p) for p in polys], h, w), pm.frPyObjects(polys, h, w))
    assert _mask.fr_polys(polys, h, w) is not None


def test_polygon_large_image_and_long_edges():
    r = np.random.default_rng(5)
    for _ in range(40):
        h, w = int(r.integers(500, 3000)), int(r.integers(500, 3000))
        k = int(r.integers(3, 60))
        xy = np.empty(2 * k)
        xy[0::2] = r.uniform(-100, w + 100, k)
        xy[1::2] = r.uniform(-100, h + 100, k)
        check_same("frPyObjects", [xy.tolist()], h, w)


@SETTINGS
@given(st.integers(0, 6), st.integers(1, 60), st.integers(1, 60), st.integers(0, 2**31))
def test_bbox_fast_path(n, h, w, seed):
    # pycocotools reads the array's memory as C-contiguous rows of 4: only
    # such arrays have a defined meaning there
    r = np.random.default_rng(seed)
    bb = np.ascontiguousarray(np.c_[r.uniform(-5, 60, (n, 2)), r.uniform(0, 40, (n, 2))])
    check_same("frPyObjects", bb, h, w)
    assert _mask.fr_bbox(bb, h, w) is not None
    if n:
        check_same("frPyObjects", bb.round(1).tolist()[0], h, w)


def test_swapped_byte_order_arrays():
    """Big-endian float64 is still float64 to numpy: the fast path must not
    read its bytes as native doubles."""
    poly = np.array([1.5, 2, 30, 4, 20, 30.25, 3, 25])
    for h, w in [(40, 50), (7, 9)]:
        want = pm.frPyObjects([poly.tolist()], h, w)
        assert_same(fm.frPyObjects([poly.astype(">f8")], h, w), want)
        bb = np.array([[1.5, 2, 20, 10]]).astype(">f8")
        for mod in (pm, fm):  # a box array must be native float64 in both
            with pytest.raises(ValueError):
                mod.frPyObjects(bb, h, w)


def test_non_finite_coordinates_still_raise():
    for bad in ([0, 0, np.nan, 1, 2, 2], [0, 0, np.inf, 1, 2, 2], [0, 0, 1e12, 1, 2, 2]):
        with pytest.raises(ValueError):
            fm.frPyObjects([bad], 10, 10)
        with pytest.raises(ValueError):
            fm.frPyObjects(np.array([bad[:4]], np.double), 10, 10)


# --- encode, decode and uncompressed RLE on the fast path ---------------------------


@SETTINGS
@given(masks(max_side=30, max_n=5), st.sampled_from(["uint8", "bool", "values"]))
def test_encode_fast_path(m, kind):
    """F-order uint8/bool (H, W, N) and (H, W) arrays are encoded in C with no
    layers; a run boundary is any change of byte value, as in pycocotools."""
    f = to_f(m)
    if kind == "bool":
        f = f.astype(bool)
    elif kind == "values":
        f = np.asfortranarray(f * np.arange(f.size, dtype=np.uint8).reshape(f.shape, order="F"))
    check_same("encode", f)
    check_same("encode", np.asfortranarray(f[:, :, 0]))
    assert _mask.encode(f) is not None and _mask.encode(np.asfortranarray(f[:, :, 0])) is not None


def test_encode_fast_path_declines_what_it_does_not_handle():
    f = to_f(np.ones((2, 3, 4), np.uint8))
    assert _mask.encode(np.ascontiguousarray(f)) is None             # C order: general path raises
    assert _mask.encode(f.astype(np.float64)) is None                # dtype: general path raises
    assert _mask.encode(np.zeros((0, 3, 1), np.uint8, order="F")) is None
    assert _mask.encode(np.zeros((1, 1, 1, 1), np.uint8)) is None
    assert _mask.encode(f.tolist()) is None
    for x in (np.ascontiguousarray(f), f.astype(np.float64), np.zeros((0, 3, 1), np.uint8, order="F"),
              np.ascontiguousarray(f[:, :, 0])):
        check_same("encode", x)


@SETTINGS
@given(rle_lists(max_side=30, max_n=5))
def test_decode_fast_path(rles):
    check_same("decode", rles)
    check_same("decode", rles[0])
    assert _mask.decode(rles) is not None and _mask.decode(rles[0]) is not None


def test_decode_fast_path_declines_what_it_does_not_handle():
    a = rles_of(np.ones((2, 3, 4), np.uint8))
    b = rles_of(np.ones((2, 4, 3), np.uint8))
    bad = {"size": [3, 4], "counts": b"5"}                             # sums short of h*w
    assert _mask.decode([a[0], b[0]]) is None                          # mixed sizes: general path raises
    assert _mask.decode([a[0], bad]) is None
    assert _mask.decode([]) is None
    assert _mask.decode(_declined(a[0])) is None
    with pytest.raises(ValueError, match="mask 1"):
        fm.decode([a[0], bad])
    assert_same(fm.decode(_declined(a[0])), pm.decode(a[0]))


@SETTINGS
@given(st.lists(st.lists(st.integers(0, 40), max_size=12), min_size=1, max_size=4),
       st.integers(1, 9), st.integers(1, 9))
def test_uncompressed_fast_path(counts, h, w):
    # each RLE keeps its own size; frPyObjects' h and w are only checked
    objs = [{"size": [h + k, w], "counts": c} for k, c in enumerate(counts)]
    check_same("frPyObjects", objs, h, w)
    check_same("frPyObjects", objs[0], h, w)
    assert _mask.fr_uncompressed(objs, h, w) is not None


def test_uncompressed_fast_path_declines_what_it_does_not_handle():
    u = {"size": [2, 3], "counts": [1, 2, 3]}
    for objs in ([{"size": [2, 3], "counts": [1, -2, 3]}], [{"size": [2, 3], "counts": [1, 2**32]}],
                 [{"size": [2, 3], "counts": np.array([1, 2, 3])}], [{"size": (2, 3), "counts": [6]}],
                 [{"size": [2, 3], "counts": [1.5, 4.5]}], [u, {"size": [2, 3]}]):
        assert _mask.fr_uncompressed(objs, 2, 3) is None
        check_same("frPyObjects", objs, 2, 3)
    assert _mask.fr_uncompressed([u], 2.0, 3) is None


def test_polygon_fast_path_takes_numpy_scalars():
    """list(array) gives np.float64 items (a float subclass), and lists of
    np.float32 or np.int64 scalars are common too: np.array(p, np.double),
    pycocotools' conversion, reads each as its value, and so does the fast path."""
    xy = np.array([1.5, 2.25, 30.0, 4.0, 28.7, 25.2, 3.1, 20.0])
    for p in (list(xy), list(xy.astype(np.float32)), list(xy.astype(np.int64)), list(xy.astype(np.float16)),
              [bool(v % 2) for v in range(8)], [1, 2.5, np.float32(30), 4, np.int16(28), 25, 3, 20]):
        check_same("frPyObjects", [p], 32, 40)
        assert _mask.fr_polys([p], 32, 40) is not None
    for p in ([1.0, 2.0, "30", 4.0, 28.0, 25.0], [1.0, 2.0, 3 + 0j, 4.0, 28.0, 25.0], [1.0, 2.0, None, 4.0, 5.0, 6.0]):
        assert _mask.fr_polys([p], 32, 40) is None
