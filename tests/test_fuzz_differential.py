"""Differential fuzzing: every public function of fastrle.mask and the native
API against pycocotools 2.0.11 on valid input.

Bounded profile (default, CI): FASTRLE_FUZZ_EXAMPLES examples per test
(default 300). Long profile: ``pytest -m slow tests/test_fuzz_differential.py -s``
runs FASTRLE_FUZZ_LONG examples per test (default 25000; 5 tests, so 125k
cases) and prints how many cases it checked.
"""
from __future__ import annotations

import collections
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastrle
import fastrle.mask as fm
from common import assert_same_error
from _fuzzlib import MASK_KINDS, dense_iou, make_mask, random_counts, ref_counts, ref_decode, ref_to_string

pm = pytest.importorskip("pycocotools.mask")

BOUNDED = int(os.environ.get("FASTRLE_FUZZ_EXAMPLES", "300"))
LONG = int(os.environ.get("FASTRLE_FUZZ_LONG", "25000"))
CASES: collections.Counter = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_cases():
    yield
    total = sum(CASES.values())
    print(f"\n[fuzz-differential] {total} cases checked: {dict(CASES)}")
    path = os.environ.get("FASTRLE_FUZZ_REPORT")
    if path:
        with open(path, "a") as f:
            f.write(f"differential {total} {dict(CASES)}\n")


def _settings(n):
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


# ------------------------------------------------------------ strategies

@st.composite
def sizes(draw, large=True):
    """Mostly small, some medium, a few large (thousands on one side)."""
    tier = draw(st.integers(0, 19))
    if tier == 0 and large:
        big = draw(st.integers(1000, 3000))
        small = draw(st.integers(1, 400))
        return (big, small) if draw(st.booleans()) else (small, big)
    if tier <= 4:
        return draw(st.integers(1, 300)), draw(st.integers(1, 300))
    return draw(st.integers(1, 40)), draw(st.integers(1, 40))


@st.composite
def mask_batches(draw, max_n=5, large=True):
    h, w = draw(sizes(large))
    n = draw(st.integers(1, max_n))
    out = []
    for _ in range(n):
        kind = draw(st.sampled_from(MASK_KINDS))
        out.append(make_mask(kind, h, w, draw(st.integers(0, 2**32 - 1))))
    return np.stack(out)


def _eq_rle(a, b):
    assert type(a) is type(b)
    if isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            _eq_rle(x, y)
        return
    assert a == b, (a, b)
    assert type(a["counts"]) is type(b["counts"])


def _eq_arr(a, b):
    """Same values, dtype, shape and memory order."""
    assert isinstance(a, np.ndarray) and isinstance(b, np.ndarray)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    assert a.flags.f_contiguous == b.flags.f_contiguous
    np.testing.assert_array_equal(a, b)


def _same(f_call, p_call):
    """fastrle.mask and pycocotools give equal results, or raise exactly the
    same exception type (common.expected_error maps pycocotools' bare
    Exceptions to the TypeError/ValueError the README documents)."""
    try:
        want = p_call()
    except Exception as e:
        assert_same_error(f_call, e)
        return
    got = f_call()
    if isinstance(want, np.ndarray):
        _eq_arr(got, want)
    else:
        _eq_rle(got, want)


def _tight_bbox(m):
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return np.zeros(4)
    return np.array([xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1], float)


# ------------------------------------------------------------ checks

def check_masks(ms: np.ndarray, iscrowd, intersect, threads) -> None:
    n, h, w = ms.shape
    F = np.asfortranarray(ms.transpose(1, 2, 0))  # (h, w, n) like pycocotools wants
    pr = pm.encode(F)
    fr = fm.encode(F)
    _eq_rle(fr, pr)
    # single-mask paths: 2-D encode, dict decode, scalar area/toBbox
    p0, f0 = pm.encode(np.asfortranarray(ms[0])), fm.encode(np.asfortranarray(ms[0]))
    _eq_rle(f0, p0)
    _eq_arr(fm.decode(p0), pm.decode(p0))
    a_p, a_f = pm.area(p0), fm.area(p0)
    assert type(a_f) is type(a_p) and a_f == a_p
    _eq_arr(fm.toBbox(p0), pm.toBbox(p0))
    # lists
    _eq_arr(fm.decode(pr), pm.decode(pr))
    strs = [{"size": r["size"], "counts": r["counts"].decode()} for r in pr]
    _eq_arr(fm.decode(strs), pm.decode(pr))
    _eq_arr(fm.area(pr), pm.area(pr))
    _eq_arr(fm.toBbox(pr), pm.toBbox(pr))
    _eq_rle(fm.merge(pr, intersect), pm.merge(pr, intersect))
    _eq_rle(fm.merge(pr[:1]), pm.merge(pr[:1]))
    k = max(1, n // 2)
    dt, gt = pr[:k], pr[k:] or pr[:1]
    crowd = iscrowd[:len(gt)]
    _eq_arr(fm.iou(dt, gt, crowd), pm.iou(dt, gt, crowd))
    unc = [{"size": [h, w], "counts": ref_counts(m)} for m in ms]
    _eq_rle(fm.frPyObjects(unc, h, w), pm.frPyObjects(unc, h, w))
    _eq_rle(fm.frPyObjects(unc[0], h, w), pm.frPyObjects(unc[0], h, w))

    # native API: C-order (N, H, W), str counts, any memory order in
    want_counts = [r["counts"].decode() for r in pr]
    for arr in (ms, F.transpose(2, 0, 1), ms.astype(bool)):
        got = fastrle.encode(arr, threads=threads)
        assert [g["counts"] for g in got] == want_counts
        assert all(g["size"] == [h, w] for g in got)
    wide = np.zeros((n, h, 2 * w), np.uint8)
    wide[:, :, ::2] = ms * 7  # strided view, non-binary values
    assert [g["counts"] for g in fastrle.encode(wide[:, :, ::2])] == want_counts
    assert fastrle.encode(ms[0])["counts"] == want_counts[0]
    for rles in (pr, strs, unc):
        d = fastrle.decode(rles, threads=threads)
        assert d.dtype == np.uint8 and d.flags.c_contiguous and d.shape == (n, h, w)
        np.testing.assert_array_equal(d, ms)
    d1 = fastrle.decode(strs[0])
    assert d1.shape == (h, w) and d1.flags.c_contiguous
    np.testing.assert_array_equal(d1, ms[0])
    out = np.full((n, h, w), 0xCD, np.uint8)
    assert fastrle.decode(pr, out=out, threads=threads) is out
    np.testing.assert_array_equal(out, ms)
    outb = np.zeros((n, h, w), bool)
    fastrle.decode(strs, out=outb, zeroed=True)
    np.testing.assert_array_equal(outb, ms.astype(bool))
    data = b"".join(r["counts"] for r in pr)
    offs = np.cumsum([0] + [len(r["counts"]) for r in pr])
    np.testing.assert_array_equal(fastrle.decode_ragged(data, offs, h, w, threads=threads), ms)
    rev = np.arange(n)[::-1]
    np.testing.assert_array_equal(fastrle.decode_ragged(data, offs, h, w, indices=rev), ms[rev])
    np.testing.assert_array_equal(fastrle.area(strs), ms.reshape(n, -1).sum(1))
    assert fastrle.area(strs[0]) == int(ms[0].sum())
    np.testing.assert_array_equal(fastrle.bbox(strs), np.stack([_tight_bbox(m) for m in ms]))
    CASES["masks"] += 1


def check_counts(h, w, cnts_list, iscrowd, intersect) -> None:
    """Arbitrary valid counts (zero-length runs, odd lengths), which
    pycocotools' encoder never writes but everyone may read."""
    rles = [{"size": [h, w], "counts": ref_to_string(c)} for c in cnts_list]
    unc = [{"size": [h, w], "counts": list(c)} for c in cnts_list]
    _eq_rle(fm.frPyObjects(unc, h, w), pm.frPyObjects(unc, h, w))
    assert pm.frPyObjects(unc, h, w) == rles  # the reference encoder agrees
    _eq_arr(fm.decode(rles), pm.decode(rles))
    _eq_arr(fm.area(rles), pm.area(rles))
    _eq_arr(fm.toBbox(rles), pm.toBbox(rles))
    dense = np.stack([ref_decode(c, h, w) for c in cnts_list])
    crowd = iscrowd[:len(rles)]
    # pycocotools' merge sizes its buffer h*w+1, which zero-length runs past
    # index 0 overflow (heap corruption, then a hang or a crash), and both
    # merge and iou read cnts[0] of an empty list. There the oracle is dense.
    canonical = all(len(c) >= 1 and all(x > 0 for x in c[1:]) for c in cnts_list)
    if canonical:
        _eq_rle(fm.merge(rles, intersect), pm.merge(rles, intersect))
    else:  # pycocotools is wrong here (README): the dense masks are the oracle
        merged = fm.merge(rles, intersect)
        assert merged["size"] == [h, w] and isinstance(merged["counts"], bytes)
        op = np.logical_and if intersect else np.logical_or
        np.testing.assert_array_equal(fastrle.decode(merged), op.reduce(dense.astype(bool), axis=0))
    if canonical:
        _eq_arr(fm.iou(rles, rles, crowd), pm.iou(rles, rles, crowd))
    else:
        got = fm.iou(rles, rles, crowd)
        assert got.dtype == np.float64 and got.flags.f_contiguous
        np.testing.assert_array_equal(got, dense_iou(dense, dense, crowd))
    np.testing.assert_array_equal(fastrle.decode(rles), dense)
    np.testing.assert_array_equal(fastrle.decode(unc), dense)
    np.testing.assert_array_equal(fastrle.area(rles), [sum(c[1::2]) for c in cnts_list])
    np.testing.assert_array_equal(fastrle.bbox(rles), np.stack([_tight_bbox(m) for m in dense]))
    CASES["counts"] += 1


def check_mixed_sizes(rles_a, rles_b, iscrowd) -> None:
    """iou across sizes gives -1 (after the bbox prefilter), merge gives the
    empty [0, 0] RLE, both as pycocotools."""
    _eq_arr(fm.iou(rles_a, rles_b, iscrowd), pm.iou(rles_a, rles_b, iscrowd))
    both = rles_a + rles_b
    _eq_rle(fm.merge(both), pm.merge(both))
    _eq_arr(fm.area(both), pm.area(both))
    _eq_arr(fm.toBbox(both), pm.toBbox(both))
    CASES["mixed_sizes"] += 1


def check_boxes(dt, gt, iscrowd, h, w) -> None:
    crowd = iscrowd[:len(gt)]
    _eq_arr(fm.iou(dt, gt, crowd), pm.iou(dt, gt, crowd))
    _eq_arr(fm.iou(dt.tolist(), gt.tolist(), crowd), pm.iou(dt.tolist(), gt.tolist(), crowd))
    _eq_rle(fm.frPyObjects(dt, h, w), pm.frPyObjects(dt, h, w))
    # pycocotools raises TypeError for both of these lists; so must we
    _same(lambda: fm.frPyObjects(dt[0].tolist(), h, w), lambda: pm.frPyObjects(dt[0].tolist(), h, w))
    _same(lambda: fm.frPyObjects(dt.tolist(), h, w), lambda: pm.frPyObjects(dt.tolist(), h, w))
    CASES["boxes"] += 1


def check_polys(polys, h, w) -> None:
    _eq_rle(fm.frPyObjects(polys, h, w), pm.frPyObjects(polys, h, w))
    _same(lambda: fm.frPyObjects(polys[0], h, w), lambda: pm.frPyObjects(polys[0], h, w))
    rles = pm.frPyObjects(polys, h, w)
    _eq_rle(fm.merge(rles), pm.merge(rles))
    CASES["polys"] += 1


# ------------------------------------------------------------ strategies for the other inputs

crowds = st.lists(st.integers(0, 1), min_size=8, max_size=8)


@st.composite
def counts_cases(draw):
    h, w = draw(sizes(large=False))
    if draw(st.integers(0, 9)) == 0:
        h, w = draw(st.sampled_from([(0, 0), (0, 5), (5, 0), (1, 1)]))
    n = draw(st.integers(1, 4))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    return h, w, [random_counts(r, h * w) for _ in range(n)]


@st.composite
def mixed_cases(draw):
    (h1, w1), (h2, w2) = draw(sizes(large=False)), draw(sizes(large=False))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    a = [{"size": [h1, w1], "counts": ref_to_string(random_counts(r, h1 * w1, False))}
         for _ in range(draw(st.integers(1, 3)))]
    b = [{"size": [h2, w2], "counts": ref_to_string(random_counts(r, h2 * w2, False))}
         for _ in range(draw(st.integers(1, 3)))]
    return a, b


@st.composite
def box_cases(draw):
    h, w = draw(sizes(large=False))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))

    def boxes(k):
        xy = r.uniform(-0.3, 1.1, size=(k, 2)) * [w, h]
        wh = r.uniform(0, 0.8, size=(k, 2)) * [w, h]
        b = np.concatenate([xy, wh], 1)
        if r.random() < 0.3:
            b = np.round(b)
        return b.astype(np.float64)
    return boxes(draw(st.integers(1, 6))), boxes(draw(st.integers(1, 6))), h, w


@st.composite
def poly_cases(draw):
    h, w = draw(sizes(large=False))
    r = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    polys = []
    for _ in range(draw(st.integers(1, 4))):
        k = int(r.integers(3, 13))
        pts = r.uniform(-0.3, 1.3, size=(k, 2)) * [w, h]
        if r.random() < 0.3:
            pts = np.round(pts * 2) / 2
        polys.append(pts.reshape(-1).tolist())
    return polys, h, w


# ------------------------------------------------------------ tests: bounded and long profiles

def _make(n, marks=()):
    @_settings(n)
    @given(mask_batches(), crowds, st.integers(0, 1), st.sampled_from([1, 2, 3, None]))
    def t_masks(ms, iscrowd, intersect, threads):
        check_masks(ms, iscrowd, intersect, threads)

    @_settings(n)
    @given(counts_cases(), crowds, st.integers(0, 1))
    def t_counts(case, iscrowd, intersect):
        check_counts(*case, iscrowd, intersect)

    @_settings(n)
    @given(mixed_cases(), crowds)
    def t_mixed(case, iscrowd):
        a, b = case
        check_mixed_sizes(a, b, iscrowd[:len(b)])

    @_settings(n)
    @given(box_cases(), crowds)
    def t_boxes(case, iscrowd):
        dt, gt, h, w = case
        check_boxes(dt, gt, iscrowd, h, w)

    @_settings(n)
    @given(poly_cases())
    def t_polys(case):
        check_polys(*case)

    return t_masks, t_counts, t_mixed, t_boxes, t_polys


(test_masks, test_counts, test_mixed_sizes, test_boxes, test_polys) = _make(BOUNDED)
_long = _make(LONG)
test_masks_long, test_counts_long, test_mixed_sizes_long, test_boxes_long, test_polys_long = (
    pytest.mark.slow(t) for t in _long)


def test_checks_can_fail():
    """The comparisons above are not vacuous: a one-pixel change is caught."""
    m = make_mask("blob", 20, 30, 1)[None]
    r = pm.encode(np.asfortranarray(m.transpose(1, 2, 0)))
    bad = m.copy()
    bad[0, 0, 0] ^= 1
    with pytest.raises(AssertionError):
        np.testing.assert_array_equal(fastrle.decode(r), bad)
    with pytest.raises(AssertionError):  # memory order is compared too
        _eq_arr(fm.decode(r[0]), np.ascontiguousarray(pm.decode(r[0])))


# Zero-length runs after the first are valid RLE (the counts sum to h*w, and
# decode/area/toBbox handle them), but pycocotools' merge/iou loop stops as
# soon as both cursors sit on a zero-length run at once: iou(a, a) is 0 and
# merge returns counts that sum to less than h*w (which decode then rejects).
# fastrle copies that loop (csrc/rle_ops.c cur_take). Oracle here: dense.
ZERO_RUN_CASES = [
    (2, 2, [[0, 0, 0, 1, 3], [0, 0, 2, 2, 0]]),
    (3, 1, [[1, 0, 0, 1, 1], [0, 1, 0, 0, 2]]),
    (2, 3, [[2, 2, 0, 0, 2], [2, 0, 0, 3, 1]]),
]


# pycocotools gets these wrong (it steps over one empty run at a time); fastrle.mask is right.
@pytest.mark.parametrize("h,w,cl", ZERO_RUN_CASES)
def test_merge_iou_zero_length_runs(h, w, cl):
    rles = [{"size": [h, w], "counts": ref_to_string(c)} for c in cl]
    dense = np.stack([ref_decode(c, h, w) for c in cl]).astype(bool)
    for intersect, op in ((0, np.logical_or), (1, np.logical_and)):
        merged = fm.merge(rles, intersect)
        np.testing.assert_array_equal(fastrle.decode(merged), op(dense[0], dense[1]))
    inter = (dense[0] & dense[1]).sum()
    union = (dense[0] | dense[1]).sum()
    want = np.array([[1.0, inter / union if inter else 0.0], [inter / union if inter else 0.0, 1.0]])
    np.testing.assert_array_equal(fm.iou(rles, rles, [0, 0]), want)
    np.testing.assert_array_equal(want, dense_iou(dense, dense, [0, 0]))
    # crowd gt: divided by the dt's area
    crowd = fm.iou(rles, rles, [1, 1])
    np.testing.assert_array_equal(crowd, dense_iou(dense, dense, [1, 1]))
    a0, a1 = dense[0].sum(), dense[1].sum()
    assert crowd[1, 0] == (inter / a1 if inter else 0.0) and crowd[0, 1] == (inter / a0 if inter else 0.0)
