"""fastrle.to_polygons against cv2.findContours (the oracle) on generated
masks, the pixel outlines and bridged rings against pycocotools'
rasterisation, and hand-written expected rings; both stores of the C core
(the box as bytes, the sparse rows) against cv2, and the sparse one's
memory on a frame-sized ring."""
import os
import subprocess
import sys

import numpy as np
import pytest

import fastrle
from fastrle import _contours, _core
from fastrle.geometry import ring_area, to_polygons

cv2 = pytest.importorskip("cv2")
pmask = pytest.importorskip("pycocotools.mask")

MODES = {"external": cv2.RETR_EXTERNAL, "ccomp": cv2.RETR_CCOMP}
APPROX = {"none": cv2.CHAIN_APPROX_NONE, "simple": cv2.CHAIN_APPROX_SIMPLE}


def rle_of(m):
    r = pmask.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def nested_squares(h, w, rng):
    """Rings inside rings: holes with islands with holes..."""
    m = np.zeros((h, w), bool)
    step = int(rng.integers(1, 3))
    for k, r in enumerate(range(0, min(h, w) // 2, step)):
        m[r:h - r, r:w - r] = k % 2 == (1 if rng.random() < 0.5 else 0)
    return m


def thin_lines(h, w, rng):
    m = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        p0 = tuple(int(v) for v in (rng.integers(0, w), rng.integers(0, h)))
        p1 = tuple(int(v) for v in (rng.integers(0, w), rng.integers(0, h)))
        cv2.line(m, p0, p1, 1, 1, lineType=cv2.LINE_8 if rng.random() < 0.5 else cv2.LINE_4)
    return m.astype(bool)


def generated_masks(n, seed):
    """n masks of many kinds: noise, holes in holes, 1-px lines, diagonal
    contact, checkerboards, border contact, 1xN, Nx1, empty, full, one pixel."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        kind = i % 10
        h, w = int(rng.integers(1, 40)), int(rng.integers(1, 40))
        if kind == 0:
            m = rng.random((h, w)) < rng.uniform(0.2, 0.8)
        elif kind == 1:
            m = nested_squares(h, w, rng)
        elif kind == 2:
            m = thin_lines(h, w, rng)
        elif kind == 3:  # checkerboard with defects: diagonal contact everywhere
            yy, xx = np.mgrid[:h, :w]
            m = ((yy + xx) % 2 == 0) ^ (rng.random((h, w)) < 0.05)
        elif kind == 4:  # blobs with holes, touching the borders
            g = rng.random((h // 4 + 2, w // 4 + 2)) < 0.55
            m = cv2.resize(g.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
            m[0, :] |= rng.random(w) < 0.5
            m[:, -1] |= rng.random(h) < 0.5
        elif kind == 5:  # 1xN and Nx1
            m = rng.random((1, w) if rng.random() < 0.5 else (h, 1)) < 0.5
        elif kind == 6:  # empty, full, one pixel
            m = np.zeros((h, w), bool)
            c = int(rng.integers(0, 3))
            if c == 1:
                m[:] = True
            elif c == 2:
                m[int(rng.integers(0, h)), int(rng.integers(0, w))] = True
        elif kind == 7:  # a frame with a 1-px hole and an island in it
            m = np.zeros((h, w), bool)
            if h >= 5 and w >= 5:
                m[1:-1, 1:-1] = True
                m[2:-2, 2:-2] = False
                m[h // 2, w // 2] = True
            else:
                m[:] = rng.random((h, w)) < 0.5
        elif kind == 8:  # sparse noise: many single pixels and diagonal pairs
            m = rng.random((h, w)) < 0.15
        else:  # dense noise: many small holes
            m = rng.random((h, w)) < 0.85
        out.append(np.ascontiguousarray(m, np.uint8))
    return out


def cv2_rings(m, mode, approx):
    cs, hier = cv2.findContours(m, MODES[mode], APPROX[approx])
    return [c.reshape(-1, 2) for c in cs], (hier.reshape(-1, 4) if hier is not None else np.zeros((0, 4)))


def mismatches(masks, rles, mode, approx, threads=None):
    got = to_polygons(rles, mode=mode, approx=approx, format="cv2", threads=threads)
    bad = []
    for i, (m, g) in enumerate(zip(masks, got)):
        cs, hier = cv2_rings(m, mode, approx)
        same = len(cs) == len(g.rings) and all(np.array_equal(a, b) for a, b in zip(cs, g.rings))
        same = same and np.array_equal(hier, g.hierarchy)
        same = same and np.array_equal(g.parents, hier[:, 3])
        if not same:
            bad.append(i)
    return bad


@pytest.fixture(scope="module")
def generated():
    masks = generated_masks(10_000, seed=22)
    return masks, [rle_of(m) for m in masks]


@pytest.mark.parametrize("mode", ["external", "ccomp"])
@pytest.mark.parametrize("approx", ["none", "simple"])
def test_equal_to_cv2_on_generated_masks(generated, mode, approx):
    masks, rles = generated
    assert mismatches(masks, rles, mode, approx) == []


def test_equal_to_cv2_with_many_rings_and_marks_wrapping():
    """More than 127 borders: cv2's marks wrap and share table slots, and a
    hole's parent is then found by following borders."""
    rng = np.random.default_rng(5)
    masks = [np.ascontiguousarray(rng.random((90, 110)) < p, np.uint8) for p in (0.3, 0.5, 0.7)]
    masks.append(np.ascontiguousarray(nested_squares(120, 100, rng), np.uint8))
    rles = [rle_of(m) for m in masks]
    for mode in MODES:
        for approx in APPROX:
            assert mismatches(masks, rles, mode, approx) == []


def raw_contours(rles, mode, approx, outline, store, threads=1):
    """The C core's rings with the pixel store forced (STORE_CROP / STORE_SPARSE),
    per mask: (points, ring offsets from 0, hierarchy)."""
    runs = _core.parse(_core.sources(rles, same_size=False), True)
    pts, roff, hier, mr = _contours.contours(runs.arena, runs.offsets, runs.heights, runs.widths,
                                             {"external": _contours.EXTERNAL, "ccomp": _contours.CCOMP}[mode],
                                             {"none": _contours.APPROX_NONE, "simple": _contours.APPROX_SIMPLE}[approx],
                                             outline, threads, store)
    return [(pts[roff[a]:roff[b]], roff[a:b + 1] - roff[a], hier[a:b]) for a, b in zip(mr[:-1], mr[1:])]


def store_mismatches(masks, rles, mode, approx, threads=1):
    """Masks where the sparse store's rings differ from cv2's, or its pixel
    outlines from the crop's."""
    sp = raw_contours(rles, mode, approx, False, _contours.STORE_SPARSE, threads)
    bad = []
    for i, (m, (pts, offs, hier)) in enumerate(zip(masks, sp)):
        cs, want = cv2_rings(m, mode, approx)
        if not (len(cs) == len(offs) - 1 and np.array_equal(hier, want)
                and all(np.array_equal(c, pts[offs[r]:offs[r + 1]]) for r, c in enumerate(cs))):
            bad.append(i)
    a = raw_contours(rles, mode, approx, True, _contours.STORE_SPARSE, threads)
    b = raw_contours(rles, mode, approx, True, _contours.STORE_CROP, threads)
    bad += [i for i, (x, y) in enumerate(zip(a, b)) if not all(np.array_equal(p, q) for p, q in zip(x, y))]
    return bad


@pytest.mark.parametrize("mode", ["external", "ccomp"])
@pytest.mark.parametrize("approx", ["none", "simple"])
def test_sparse_store_equal_to_cv2_on_generated_masks(generated, mode, approx):
    """The store that keeps only the spans and the marks of edge pixels
    (chosen for masks whose box is big for their runs) gives cv2's rings,
    and the crop's outlines, on the 10,000 masks; and with marks wrapping."""
    masks, rles = generated
    assert store_mismatches(masks, rles, mode, approx, threads=2) == []
    rng = np.random.default_rng(5)
    many = [np.ascontiguousarray(rng.random((90, 110)) < p, np.uint8) for p in (0.3, 0.5, 0.7)]
    assert store_mismatches(many, [rle_of(m) for m in many], mode, approx) == []


def ring_rle(n, t):
    """An n x n frame of thickness t: the square ring on every border, as
    column-major counts written out by hand."""
    return {"size": [n, n], "counts": [0, t * n + t] + [n - 2 * t, 2 * t] * (n - 2 * t - 1)
            + [n - 2 * t, t + t * n]}


def ring_by_hand(n, t=2):
    """cv2's rings (RETR_CCOMP, CHAIN_APPROX_SIMPLE) of ring_rle(n, t): the
    outer square from (0, 0) counter-clockwise on screen; the hole from the
    pixel left of its first one, clockwise, cutting each corner diagonally."""
    outer = [[0, 0], [0, n - 1], [n - 1, n - 1], [n - 1, 0]]
    hole = [[t - 1, t], [t, t - 1], [n - t - 1, t - 1], [n - t, t], [n - t, n - t - 1], [n - t - 1, n - t],
            [t, n - t], [t - 1, n - t - 1]]
    return [outer, hole], [[-1, -1, 1, -1], [-1, -1, -1, 0]]


def test_ring_on_every_border_by_hand():
    for n in (7, 10, 31):
        rle = ring_rle(n, 2)
        m = np.ones((n, n), np.uint8)
        m[2:-2, 2:-2] = 0
        assert np.array_equal(pmask.decode(pmask.frPyObjects(rle, n, n)), m)
        rings, hier = ring_by_hand(n)
        cs, want = cv2_rings(m, "ccomp", "simple")
        assert [c.tolist() for c in cs] == rings and want.tolist() == hier  # the hand-written rings are cv2's
        for store in (_contours.STORE_CROP, _contours.STORE_SPARSE, _contours.STORE_AUTO):
            pts, offs, h = raw_contours([rle], "ccomp", "simple", False, store)[0]
            assert [pts[offs[r]:offs[r + 1]].tolist() for r in range(2)] == rings and h.tolist() == hier


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="peak RSS from /proc/self/status")
def test_frame_sized_ring_in_little_memory():
    """A 20000 x 20000 ring touching all four borders: its box is the frame
    (400 MB as bytes), its runs and border a few MB. In a fresh process,
    to_polygons' peak RSS grows by < 64 MB (the box as bytes: 400 MB), and
    the rings are the hand-written ones."""
    code = f"""
import json, sys
sys.path.insert(0, {os.path.dirname(__file__)!r})
from test_polygons import ring_rle, ring_by_hand
import fastrle
rle = ring_rle(20000, 2)
fastrle.to_polygons(ring_rle(64, 2))  # the modules and their first allocations
def status(key):
    with open("/proc/self/status") as f:
        return next(int(v.split()[1]) for v in f if v.startswith(key + ":")) * 1024
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
before = status("VmRSS")
got = fastrle.to_polygons(rle, mode="ccomp", approx="simple", format="cv2", threads=1)
grew = status("VmHWM") - before
rings, hier = ring_by_hand(20000)
assert [r.tolist() for r in got.rings] == rings and got.hierarchy.tolist() == hier
print(grew)
"""
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert int(p.stdout.split()[-1]) < 64 << 20


def test_large_sparse_mask_equal_to_cv2():
    """A small blob far inside a big frame: only its crop is decoded."""
    m = np.zeros((3000, 4000), np.uint8)
    m[2000:2040, 3100:3130] = 1
    m[2010:2020, 3110:3115] = 0
    m[2015, 3112] = 1
    m[2999, 0] = 1
    for mode in MODES:
        for approx in APPROX:
            assert mismatches([m], [rle_of(m)], mode, approx) == []


def test_threads_on_and_off_equal(generated):
    masks, rles = generated
    a = to_polygons(rles[:3000], mode="ccomp", format="cv2", threads=1)
    b = to_polygons(rles[:3000], mode="ccomp", format="cv2", threads=2)
    for x, y in zip(a, b):
        assert len(x.rings) == len(y.rings)
        assert all(np.array_equal(p, q) for p, q in zip(x.rings, y.rings))
        assert np.array_equal(x.hierarchy, y.hierarchy)


def rasterise(rings, h, w):
    if not rings:
        return np.zeros((h, w), np.uint8)
    return pmask.decode(pmask.frPyObjects(rings, h, w)).max(axis=2)


def test_bridged_rings_rasterise_back_to_the_mask(generated):
    """IoU >= 0.999 on every mask of area >= 100 (the outlines make it exact),
    one ring per outer ring (no component lost)."""
    masks, rles = generated
    big = [i for i, m in enumerate(masks) if m.sum() >= 100][::2]
    checked = 0
    for i, got in zip(big, to_polygons([rles[i] for i in big], mode="ccomp", bridge_holes=True)):
        m = masks[i]
        n_outer = int((cv2_rings(m, "ccomp", "none")[1][:, 3] < 0).sum())
        assert len(got.rings) == n_outer
        assert (got.parents == -1).all()
        d = rasterise(got.rings, *m.shape)
        iou = (d & m).sum() / (d | m).sum()
        assert iou >= 0.999, iou
        checked += 1
    assert checked > 500


def test_outlines_of_external_rings_fill_each_component():
    """Each outer ring's outline rasterises to its component with holes
    filled: cv2's own filled drawing of that ring, as the brute force."""
    rng = np.random.default_rng(3)
    for m in generated_masks(400, seed=9):
        if not m.any():
            continue
        cs, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        got = to_polygons(rle_of(m), mode="external")
        for c, ring in zip(cs, got.rings):
            want = np.zeros_like(m)
            cv2.drawContours(want, [c], 0, 1, thickness=cv2.FILLED)
            assert np.array_equal(rasterise([ring], *m.shape), want)
    assert rng is not None


def test_hand_written_rings():
    # a 4x4 square with a 1-pixel hole, and a lone pixel
    m = np.zeros((6, 7), np.uint8)
    m[1:5, 1:5] = 1
    m[2, 2] = 0
    m[5, 6] = 1
    r = rle_of(m)
    got = to_polygons(r, mode="ccomp", approx="simple", format="cv2")
    # cv2's order: the last outer ring found first, then the other with its hole
    assert [g.tolist() for g in got.rings] == [
        [[6, 5]],
        [[1, 1], [1, 4], [4, 4], [4, 1]],
        [[1, 2], [2, 1], [3, 2], [2, 3]],  # a hole starts left of its first pixel
    ]
    assert got.hierarchy.tolist() == [[1, -1, -1, -1], [-1, 0, 2, -1], [-1, -1, -1, 1]]
    assert got.parents.tolist() == [-1, -1, 1]
    coco = to_polygons(r, mode="ccomp", approx="simple")
    assert coco.rings == [
        [5.5, 4.5, 5.5, 5.5, 6.5, 5.5, 6.5, 4.5],
        [0.5, 0.5, 0.5, 4.5, 4.5, 4.5, 4.5, 0.5],
        [1.5, 2.5, 1.5, 1.5, 2.5, 1.5, 2.5, 2.5],
    ]
    # external: no hole; the hole's ring is absent
    ext = to_polygons(r, format="cv2", approx="simple")
    assert [g.tolist() for g in ext.rings] == [[[6, 5]], [[1, 1], [1, 4], [4, 4], [4, 1]]]
    # bridged: the hole joined from its start (1.5, 2.5) to the nearest outer corner (0.5, 0.5)
    br = to_polygons(r, mode="ccomp", approx="simple", bridge_holes=True)
    assert br.rings[1] == [0.5, 0.5, 1.5, 2.5, 1.5, 1.5, 2.5, 1.5, 2.5, 2.5, 1.5, 2.5,
                           0.5, 0.5, 0.5, 4.5, 4.5, 4.5, 4.5, 0.5]
    assert br.hierarchy.tolist() == [[1, -1, -1, -1], [-1, 0, -1, -1]]


def test_outline_by_hand():
    # a 1x2 bar: the rectangle round both pixels, from the first pixel's top-right corner
    bar = rle_of(np.array([[1, 1]]))
    assert to_polygons(bar).rings == [[0.5, -0.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 1.5, 0.5, 1.5, -0.5]]
    assert to_polygons(bar, approx="simple").rings == [[-0.5, -0.5, -0.5, 0.5, 1.5, 0.5, 1.5, -0.5]]
    # two pixels touching at a corner: one ring, a figure eight through (0.5, 0.5)
    diag = rle_of(np.array([[1, 0], [0, 1]]))
    assert to_polygons(diag).rings == [[0.5, 0.5, 0.5, -0.5, -0.5, -0.5, -0.5, 0.5,
                                        0.5, 0.5, 0.5, 1.5, 1.5, 1.5, 1.5, 0.5]]
    # one pixel: its square, counter-clockwise on screen from the top-left corner
    one = rle_of(np.array([[0, 0], [0, 1]]))
    assert to_polygons(one).rings == [[0.5, 0.5, 0.5, 1.5, 1.5, 1.5, 1.5, 0.5]]


def test_min_area():
    m = np.zeros((12, 12), np.uint8)
    m[1:9, 1:9] = 1     # 64 pixels, outline area 64, cv2 ring area 49
    m[3:5, 3:5] = 0     # hole of 4 pixels (outline area 4)
    m[10, 10] = 1       # a lone pixel: outline area 1, cv2 area 0
    r = rle_of(m)
    assert ring_area([[0, 0], [2, 0], [2, 3], [0, 3]]) == 6.0
    assert [ring_area(x) for x in to_polygons(r, mode="ccomp").rings] == [1.0, 64.0, 4.0]
    got = to_polygons(r, mode="ccomp", min_area=2)
    assert [ring_area(x) for x in got.rings] == [64.0, 4.0]
    assert got.parents.tolist() == [-1, 0]
    assert got.hierarchy.tolist() == [[-1, -1, 1, -1], [-1, -1, -1, 0]]
    got = to_polygons(r, mode="ccomp", min_area=5)
    assert [ring_area(x) for x in got.rings] == [64.0]
    assert got.hierarchy.tolist() == [[-1, -1, -1, -1]]
    # an outer ring dropped takes its hole with it
    assert to_polygons(r, mode="ccomp", min_area=100).rings == []
    cv = to_polygons(r, mode="ccomp", format="cv2", min_area=1)
    # the lone pixel (area 0) goes; the hole ring runs through the pixels round it
    assert [ring_area(x) for x in cv.rings] == [49.0, 7.0]


def test_empty_inputs_and_single_dict():
    assert to_polygons([]) == []
    e = to_polygons(fastrle.empty(5, 7))
    assert e.rings == [] and e.hierarchy.shape == (0, 4) and e.parents.shape == (0,)
    z = to_polygons({"size": [0, 4], "counts": ""})
    assert z.rings == []
    assert fastrle.to_polygons is to_polygons


def test_masks_of_different_sizes_in_one_call():
    a = np.ones((3, 5), np.uint8)
    b = np.zeros((9, 2), np.uint8)
    b[4:, 1] = 1
    got = to_polygons([rle_of(a), rle_of(b)], format="cv2")
    assert [g.tolist() for g in got[0].rings] == [c.tolist() for c in cv2_rings(a, "external", "none")[0]]
    assert [g.tolist() for g in got[1].rings] == [c.tolist() for c in cv2_rings(b, "external", "none")[0]]


def test_malformed_rle_names_the_mask():
    good = rle_of(np.ones((4, 4), np.uint8))
    bad = {"size": [4, 4], "counts": "0!"}
    short = {"size": [4, 4], "counts": [3, 2]}
    with pytest.raises(fastrle.RLEError) as e:
        to_polygons([good, good, bad, good])
    assert e.value.index == 2
    with pytest.raises(fastrle.RLEError) as e:
        to_polygons([good, short])
    assert e.value.index == 1 and e.value.reason == "sum_short"
    with pytest.raises(fastrle.RLEKeyError):
        to_polygons([good, {"size": [4, 4]}])


@pytest.mark.parametrize("threads", [1, 2])
def test_masks_parsed_on_threads_name_the_lowest_bad_one(threads):
    """to_polygons parses each mask on the C core's threads, longest string
    first: a long bad string at index 3 fails before a short one at index 1
    is reached, yet the error is the parse's for mask 1, as decode's; a
    bad string before a side too long for int32 points comes first too."""
    big = rle_of((np.random.default_rng(5).random((40, 40)) < 0.5).astype(np.uint8))
    bad_long = {"size": [40, 40], "counts": big["counts"][:-1] + "!"}
    bad_short = {"size": [4, 4], "counts": "0!"}
    good = rle_of(np.ones((4, 4), np.uint8))
    with pytest.raises(fastrle.RLEError) as want:
        fastrle.decode([bad_short], threads=1)
    with pytest.raises(fastrle.RLEError) as e:
        to_polygons([good, bad_short, good, bad_long], threads=threads)
    assert e.value.index == 1 and e.value.reason == want.value.reason
    long = {"size": [1, 2**31 - 2], "counts": [2**31 - 2]}
    with pytest.raises(fastrle.RLEError) as e:
        to_polygons([long, bad_short], threads=threads)
    assert e.value.index == 1 and e.value.reason == want.value.reason


def test_glue_rejects_a_table_whose_counts_do_not_sum():
    from fastrle import _contours
    arena = np.array([3, 2], np.uint32)
    with pytest.raises(fastrle.RLEError) as e:
        _contours.contours(arena, np.array([0, 2], np.int64), np.array([4], np.int64),
                           np.array([4], np.int64), _contours.EXTERNAL, _contours.APPROX_NONE, False, 1)
    assert e.value.index == 0


def test_glue_names_the_lowest_bad_sum_on_threads():
    """Sums are checked on the worker threads, which take the masks with the
    most runs first: mask 3 (long, many runs) fails first there, yet mask 1
    (short, one run) is the one named, as the parse would, with its sum."""
    from fastrle import _contours
    masks = [[2, 2], [3], [4], [1] * 40 + [5], [1, 3]]  # 2x2 masks; 3 sums to 45
    arena = np.array([c for m in masks for c in m], np.uint32)
    offs = np.cumsum([0] + [len(m) for m in masks]).astype(np.int64)
    hw = np.full(len(masks), 2, np.int64)
    for threads in (1, 2):
        with pytest.raises(fastrle.RLEError) as e:
            _contours.contours(arena, offs, hw, hw, _contours.CCOMP, _contours.APPROX_NONE, False, threads)
        assert e.value.index == 1 and e.value.reason == "sum_short" and "3" in str(e.value)


@pytest.mark.parametrize("kw", [dict(mode="tree"), dict(approx="tc89"), dict(format="yolo"),
                                dict(bridge_holes=True), dict(min_area=-1), dict(threads=0)])
def test_bad_arguments(kw):
    with pytest.raises(ValueError):
        to_polygons([fastrle.empty(2, 2)], **kw)


def test_repeated_calls_leave_rss_flat():
    """The glue frees the C core's per-mask buffers, on success and on error:
    each call makes about 1.3 MB of rings in C, so a leak would show."""
    import gc

    from _fuzzlib import rss_bytes

    rng = np.random.default_rng(31)
    rles = [rle_of(rng.random((300, 300)) < 0.5) for _ in range(2)]
    bad = rles + [{"size": [4, 4], "counts": [3, 2]}]

    def once():
        to_polygons(rles, mode="ccomp", format="cv2", threads=2)
        with pytest.raises(fastrle.RLEError):
            to_polygons(bad)

    for _ in range(5):
        once()
    gc.collect()
    r0 = rss_bytes()
    for _ in range(40):
        once()
    gc.collect()
    assert rss_bytes() - r0 < 8 << 20


def test_side_too_long_for_int32_points():
    """Points are int32, as cv2's: a side of 2^31 - 2 is refused, naming the
    mask; 2^31 - 3 works (and its rings are written by hand)."""
    ok = {"size": [1, 2**31 - 3], "counts": [2**31 - 4, 1]}
    got = to_polygons(ok, format="cv2")
    assert [r.tolist() for r in got.rings] == [[[2**31 - 4, 0]]]
    long = {"size": [1, 2**31 - 2], "counts": [2**31 - 2]}
    with pytest.raises(ValueError) as e:
        to_polygons([ok, long])
    assert getattr(e.value, "index", None) == 1
