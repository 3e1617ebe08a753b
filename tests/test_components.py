"""fastrle.components and fastrle.remove_small_regions against outside oracles:
``cv2.connectedComponentsWithStats`` on the decoded mask (labels and their order,
stats, centroids bit for bit, and each component's mask, encoded by pycocotools) and
Segment Anything's ``remove_small_regions``, written out below, on 10,000+ generated
masks of many shape families; plus errors, threads and a few SA-1B-size masks."""
from __future__ import annotations

from typing import Callable, Dict, List, Tuple

import numpy as np
import pytest

import fastrle
from fastrle import _components, _core

cv2 = pytest.importorskip("cv2")
pm = pytest.importorskip("pycocotools.mask")


# Segment Anything's remove_small_regions, copied from segment_anything/utils/amg.py
# (https://github.com/facebookresearch/segment-anything, Apache License 2.0,
# Copyright (c) Meta Platforms, Inc. and affiliates). The oracle of remove_small_regions.
def sam_remove_small_regions(mask: np.ndarray, area_thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    assert mode in ["holes", "islands"]
    correct_holes = mode == "holes"
    working_mask = (correct_holes ^ mask).astype(np.uint8)
    n_labels, regions, stats, _ = cv2.connectedComponentsWithStats(working_mask, 8)
    sizes = stats[:, -1][1:]  # Row 0 is background label
    small_regions = [i + 1 for i, s in enumerate(sizes) if s < area_thresh]
    if len(small_regions) == 0:
        return mask, False
    fill_labels = [0] + small_regions
    if not correct_holes:
        fill_labels = [i for i in range(n_labels) if i not in fill_labels]
        # If every region is below threshold, keep largest
        if len(fill_labels) == 0:
            fill_labels = [int(np.argmax(sizes)) + 1]
    mask = np.isin(regions, fill_labels)
    return mask, True


# ---- shape families: each makes one uint8 (h, w) 0/1 mask from rng ----------------------

def _size(rng: np.random.Generator, lo: int = 1, hi: int = 24) -> Tuple[int, int]:
    return int(rng.integers(lo, hi + 1)), int(rng.integers(lo, hi + 1))


def noise(rng):
    h, w = _size(rng)
    return (rng.random((h, w)) < rng.random()).astype(np.uint8)


def holes(rng):
    """A filled box or disc with random holes punched in it, sometimes at its edge."""
    h, w = _size(rng, 3, 32)
    yy, xx = np.mgrid[:h, :w]
    if rng.random() < 0.5:
        m = np.zeros((h, w), np.uint8)
        m[int(rng.integers(0, h // 3 + 1)):h - int(rng.integers(0, h // 3 + 1)),
          int(rng.integers(0, w // 3 + 1)):w - int(rng.integers(0, w // 3 + 1))] = 1
    else:
        cy, cx, r = rng.random() * h, rng.random() * w, (0.3 + rng.random()) * max(h, w) / 2
        m = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r).astype(np.uint8)
    for _ in range(int(rng.integers(1, 6))):
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        m[y:y + int(rng.integers(1, 4)), x:x + int(rng.integers(1, 4))] = 0
    return m


def nested(rng):
    """Concentric square or round rings: holes inside holes inside holes."""
    h, w = _size(rng, 4, 40)
    yy, xx = np.mgrid[:h, :w]
    cy, cx = rng.integers(0, h), rng.integers(0, w)
    t = int(rng.integers(1, 4))
    d = np.maximum(abs(yy - cy), abs(xx - cx)) if rng.random() < 0.5 else np.hypot(yy - cy, xx - cx).astype(int)
    return ((d // t) % 2 == int(rng.integers(0, 2))).astype(np.uint8)


def lines(rng):
    """1-pixel-wide lines: rows, columns and diagonals (8- but not 4-connected)."""
    h, w = _size(rng, 1, 32)
    m = np.zeros((h, w), np.uint8)
    for _ in range(int(rng.integers(1, 5))):
        kind = rng.integers(0, 4)
        y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
        n = int(rng.integers(1, max(h, w) + 1))
        if kind == 0:
            m[y, x:x + n] = 1
        elif kind == 1:
            m[y:y + n, x] = 1
        else:
            step = 1 if kind == 2 else -1
            for k in range(n):
                if 0 <= y + k < h and 0 <= x + step * k < w:
                    m[y + k, x + step * k] = 1
    return m


def diagonal(rng):
    """Pixels that touch only at corners: random pixels of one checkerboard colour."""
    h, w = _size(rng)
    yy, xx = np.mgrid[:h, :w]
    return (((yy + xx) % 2 == int(rng.integers(0, 2))) & (rng.random((h, w)) < 0.3 + 0.7 * rng.random())
            ).astype(np.uint8)


def checker(rng):
    """Checkerboards of k x j cells (k = j = 1: one component for 8, all apart for 4)."""
    h, w = _size(rng)
    k, j = (1, 1) if rng.random() < 0.5 else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    yy, xx = np.mgrid[:h, :w]
    return ((yy // k + xx // j) % 2 == int(rng.integers(0, 2))).astype(np.uint8)


def border(rng):
    """Noise or blobs with whole border rows and columns set."""
    m = noise(rng) if rng.random() < 0.5 else holes(rng)
    for side in range(4):
        if rng.random() < 0.5:
            if side == 0:
                m[0] = 1
            elif side == 1:
                m[-1] = 1
            elif side == 2:
                m[:, 0] = 1
            else:
                m[:, -1] = 1
    return m


def row(rng):
    """1 x N."""
    w = int(rng.integers(1, 64))
    return (rng.random((1, w)) < rng.random()).astype(np.uint8)


def column(rng):
    """N x 1."""
    h = int(rng.integers(1, 64))
    return (rng.random((h, 1)) < rng.random()).astype(np.uint8)


def constant(rng):
    """Empty or full, any size (1x1 included)."""
    h, w = _size(rng)
    return np.full((h, w), int(rng.integers(0, 2)), np.uint8)


def pixel(rng):
    """One foreground pixel, or one background pixel in a full mask."""
    h, w = _size(rng)
    v = int(rng.integers(0, 2))
    m = np.full((h, w), v, np.uint8)
    m[int(rng.integers(0, h)), int(rng.integers(0, w))] = 1 - v
    return m


def wide(rng):
    """Sparser noise on wider masks: many columns, segments crossing column ends."""
    h, w = int(rng.integers(1, 8)), int(rng.integers(20, 90))
    return (rng.random((h, w)) < rng.random()).astype(np.uint8)


FAMILIES: Dict[str, Callable[[np.random.Generator], np.ndarray]] = {
    f.__name__: f for f in (noise, holes, nested, lines, diagonal, checker, border, row, column, constant, pixel,
                            wide)}
PER_FAMILY = 900  # 12 families: 10,800 masks


def family_masks(name: str, seed: int, count: int = PER_FAMILY) -> List[np.ndarray]:
    rng = np.random.default_rng([seed, sorted(FAMILIES).index(name)])
    return [FAMILIES[name](rng) for _ in range(count)]


def rle_of(m: np.ndarray) -> dict:
    """The mask's RLE by pycocotools (str counts): the input comes from the oracle's side."""
    r = pm.encode(np.asfortranarray(m.astype(np.uint8)[:, :, None]))[0]  # bool masks too
    return {"size": [int(m.shape[0]), int(m.shape[1])], "counts": r["counts"].decode()}


# ---- the cv2 check --------------------------------------------------------------------

def reference_counts(lab: np.ndarray, n: int) -> List[str]:
    """pycocotools' counts string of each label 1..n-1's mask, built from its
    column-major runs (no (h, w, n) stack: fine for many labels)."""
    h, w = lab.shape
    if n <= 1:
        return []
    f = lab.ravel(order="F")
    pos = np.flatnonzero(f)
    pos = pos[np.argsort(f[pos], kind="stable")]  # grouped by label, increasing within
    labs = f[pos]
    cut = np.flatnonzero((np.diff(labs) != 0) | (np.diff(pos) != 1)) + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(pos)]])
    out: List[List[int]] = [[] for _ in range(n)]
    last = [0] * n
    for s, e in zip(starts.tolist(), ends.tolist()):
        k, p, q = int(labs[s]), int(pos[s]), int(pos[e - 1]) + 1
        out[k] += [p - last[k], q - p]
        last[k] = q
    res = []
    for k in range(1, n):
        c = out[k] + ([h * w - last[k]] if h * w > last[k] else [])
        res.append(pm.frPyObjects({"size": [h, w], "counts": c}, h, w)["counts"].decode())
    return res


def check_components(m: np.ndarray, got: fastrle.geometry.Components, conn: int, where: str) -> None:
    n, lab, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=conn)
    assert got.num_labels == n, f"{where}: {got.num_labels} labels, cv2 {n}"
    assert got.stats.dtype == stats.dtype and got.stats.shape == stats.shape, where
    assert got.stats.tobytes() == stats.tobytes(), f"{where}: stats\n{got.stats}\ncv2\n{stats}"
    assert got.centroids.tobytes() == cents.tobytes(), f"{where}: centroids\n{got.centroids}\ncv2\n{cents}"
    h, w = m.shape
    assert all(r["size"] == [h, w] for r in got.rles), where
    if n > 1 and h * w * (n - 1) <= 1 << 16:
        stack = np.asfortranarray((lab[:, :, None] == np.arange(1, n)).astype(np.uint8))
        ref = [r["counts"].decode() for r in pm.encode(stack)]
    else:
        ref = reference_counts(lab, n)
    assert [r["counts"] for r in got.rles] == ref, f"{where}: component masks differ"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_components_equal_cv2(family):
    masks = family_masks(family, 1)
    rles = [rle_of(m) for m in masks]
    for conn in (8, 4):
        got = fastrle.components(rles, connectivity=conn)
        assert len(got) == len(masks)
        for i, (m, g) in enumerate(zip(masks, got)):
            check_components(m, g, conn, f"{family} mask {i} connectivity {conn}")


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_remove_small_regions_equal_sam(family):
    masks = family_masks(family, 2)
    rles = [rle_of(m) for m in masks]
    rng = np.random.default_rng(len(family))
    # 0: nothing small; large: everything small (islands keeps the largest, ties to the lowest label)
    for thresh in (0, 2.5, float(rng.integers(3, 12)), 1e9):
        for mode in ("holes", "islands"):
            got, changed = fastrle.remove_small_regions(rles, thresh, mode)
            assert isinstance(changed, np.ndarray) and changed.dtype == bool and changed.shape == (len(masks),)
            for i, (m, r, g) in enumerate(zip(masks, rles, got)):
                ref, ref_changed = sam_remove_small_regions(m.astype(bool), thresh, mode)
                where = f"{family} mask {i} {mode} {thresh}"
                assert bool(changed[i]) == ref_changed, where
                if not ref_changed:
                    assert g is r, where  # SAM returns its input unchanged
                else:
                    assert g == rle_of(ref.astype(np.uint8)), where


def test_islands_all_small_ties_keep_lowest_label():
    # four single pixels (equal sizes) apart: SAM keeps label 1, cv2's first in block order
    m = np.zeros((6, 7), np.uint8)
    m[1, 5] = m[0, 3] = m[4, 1] = m[5, 6] = 1
    ref, ch = sam_remove_small_regions(m.astype(bool), 5, "islands")
    got, gch = fastrle.remove_small_regions(rle_of(m), 5, "islands")
    assert ch and gch is True and got == rle_of(ref.astype(np.uint8))
    assert ref.sum() == 1 and ref[0, 3]  # by hand: (0, 3) is in the first 2x2 block row, left of (1, 5)


def test_label_order_is_cv2_block_order_by_hand():
    # (1, 0) comes after (0, 2) in raster order but first in cv2's 2x2 block order (8-conn);
    # 4-conn numbers pixels in raster order
    m = np.zeros((2, 4), np.uint8)
    m[1, 0] = m[0, 2] = 1
    c8 = fastrle.components(rle_of(m), connectivity=8)
    c4 = fastrle.components(rle_of(m), connectivity=4)
    assert [r["counts"] for r in c8.rles] == [rle_of(m * (np.arange(4) == 0))["counts"],
                                              rle_of(m * (np.arange(4) == 2))["counts"]]
    assert c8.stats.tolist() == [[0, 0, 4, 2, 6], [0, 1, 1, 1, 1], [2, 0, 1, 1, 1]]
    assert c4.stats.tolist() == [[0, 0, 4, 2, 6], [2, 0, 1, 1, 1], [0, 1, 1, 1, 1]]
    assert c8.centroids.tolist() == [[(0 + 1 + 3 + 1 + 2 + 3) / 6, 3 / 6], [0.0, 1.0], [2.0, 0.0]]


def test_result_type_and_helpers():
    m = np.zeros((5, 6), np.uint8)
    m[0:2, 0:3] = 1
    m[4, 5] = 1
    c = fastrle.components(rle_of(m))
    rles, stats, cents = c  # unpacks like cv2's result, less the label image
    assert isinstance(c, fastrle.geometry.Components) and rles is c.rles
    assert c.num_labels == 3 and c.areas.dtype == np.int64 and c.areas.tolist() == [6, 1]
    assert c.bboxes.dtype == np.float64 and c.bboxes.tolist() == [[0, 0, 3, 2], [5, 4, 1, 1]]
    assert np.array_equal(c.bboxes, fastrle.bbox(c.rles)) and np.array_equal(c.areas, fastrle.area(c.rles))
    assert stats.dtype == np.int32 and cents.dtype == np.float64
    assert fastrle.components is fastrle.geometry.components is fastrle.geometry.regions.components


def test_empty_and_full_by_hand():
    empty = fastrle.components({"size": [3, 4], "counts": "<"})  # 12 zeros
    assert empty.rles == [] and empty.stats.tolist() == [[0, 0, 4, 3, 12]]
    assert empty.centroids.tolist() == [[1.5, 1.0]]
    full = fastrle.components({"size": [3, 4], "counts": [0, 12]})
    assert full.stats.tolist() == [[-1, 2**31 - 1, 0, 0, 0], [0, 0, 4, 3, 12]]  # cv2's row for no background
    assert full.centroids[0].view(np.uint64).tolist() == [0x7FF8000000000000] * 2
    for size in ([0, 5], [5, 0], [0, 0]):  # no pixel at all (cv2 refuses these): no component
        z = fastrle.components({"size": size, "counts": [0]})
        assert z.rles == [] and z.stats.tolist() == [[-1, 2**31 - 1, 0, 0, 0]]
        assert fastrle.remove_small_regions({"size": size, "counts": ""}, 10, "islands")[1] is False


def test_uncompressed_and_non_canonical_counts():
    # zero-length runs inside: [2, 1, 0, 2] is two foreground runs that touch, one segment
    m = np.array([[0], [0], [1], [1], [1]], np.uint8)
    c = fastrle.components({"size": [5, 1], "counts": [2, 1, 0, 2]})
    check_components(m, c, 8, "split run")
    c = fastrle.components({"size": [5, 1], "counts": _core.to_string(np.array([2, 1, 0, 2], np.uint32))})
    check_components(m, c, 4, "split run, bytes")
    out, ch = fastrle.remove_small_regions({"size": [5, 1], "counts": [0, 1, 0, 1, 0, 3]}, 9, "islands")
    assert ch and out == rle_of(np.ones((5, 1), np.uint8))  # one run of 5 after the merge


def test_mixed_sizes_and_single_dict():
    masks = [np.eye(3, 5, dtype=np.uint8), np.ones((2, 7), np.uint8), np.zeros((1, 1), np.uint8)]
    rles = [rle_of(m) for m in masks]
    got = fastrle.components(rles, connectivity=4)
    for i, (m, g) in enumerate(zip(masks, got)):
        check_components(m, g, 4, f"mask {i}")
        check_components(m, fastrle.components(rles[i], connectivity=4), 4, f"single {i}")
    out, ch = fastrle.remove_small_regions(tuple(rles), 4, "islands")  # the diagonal (8-connected) is small
    assert isinstance(out, list) and ch.tolist() == [True, False, False]
    one, flag = fastrle.remove_small_regions(rles[0], 4, "islands")
    assert one == out[0] and flag is True


@pytest.mark.parametrize("bad", [
    {"size": [4, 4], "counts": "0a!"},        # a character outside '0'..'o'
    {"size": [4, 4], "counts": [3, 4]},        # sums to 7, not 16
    {"size": [4, 4], "counts": "01"},         # too short
])
def test_malformed_raises_like_decode(bad):
    good = rle_of(np.eye(4, dtype=np.uint8))
    rles = [good, good, good, bad, good, bad]
    with pytest.raises(fastrle.RLEError) as ref:
        fastrle.decode(rles)
    for call in (lambda: fastrle.components(rles), lambda: fastrle.components(rles, connectivity=4, threads=3),
                 lambda: fastrle.remove_small_regions(rles, 3), lambda: fastrle.remove_small_regions(rles, 3, "islands",
                                                                                                  threads=2)):
        with pytest.raises(fastrle.RLEError) as exc:
            call()
        assert exc.value.index == 3 == ref.value.index
        assert str(exc.value) == str(ref.value) and exc.value.reason == ref.value.reason


def test_core_checks_the_sums_itself():
    # a table whose runs do not add up (not from the parse): an error naming the mask, no read past
    arena = np.array([3, 4, 5, 11, 5], np.uint32)
    offs = np.array([0, 2, 5], np.int64)
    hs, ws = np.array([1, 4], np.int64), np.array([7, 4], np.int64)
    for call in (lambda: _components.components(arena, offs, hs, ws, 8, 2),
                 lambda: _components.remove_small(arena, offs, hs, ws, 3.0, True, 2)):
        with pytest.raises(fastrle.RLEError) as exc:
            call()
        assert exc.value.index == 1 and exc.value.reason == "sum_long"
    with pytest.raises(ValueError, match="offsets"):
        _components.components(arena, np.array([0, 6], np.int64), hs[:1], ws[:1], 8, 1)


def test_bad_arguments():
    r = rle_of(np.ones((2, 2), np.uint8))
    with pytest.raises(ValueError, match="connectivity"):
        fastrle.components(r, connectivity=6)
    with pytest.raises(TypeError, match="connectivity"):
        fastrle.components(r, connectivity=True)
    with pytest.raises(ValueError, match="mode"):
        fastrle.remove_small_regions(r, 3, "both")
    with pytest.raises(TypeError, match="area_thresh"):
        fastrle.remove_small_regions(r, "3")
    with pytest.raises(ValueError, match="threads"):
        fastrle.components([r], threads=0)
    with pytest.raises(TypeError):
        fastrle.components(r["counts"])
    assert fastrle.components([]) == []
    assert fastrle.remove_small_regions([], 3)[0] == []


@pytest.mark.parametrize("n", [1, 7, 13, 64])
def test_threads_equal(n):
    # mask counts that thread counts do not divide; masks of very different work
    rng = np.random.default_rng(n)
    masks = [FAMILIES[sorted(FAMILIES)[i % len(FAMILIES)]](rng) for i in range(n)]
    rles = [rle_of(m) for m in masks]
    one = fastrle.components(rles, threads=1)
    s1, c1 = fastrle.remove_small_regions(rles, 3, "holes", threads=1)
    for t in (None, 2, 3, 5, 8):
        many = fastrle.components(rles, threads=t)
        for a, b in zip(one, many):
            assert a.rles == b.rles and a.stats.tobytes() == b.stats.tobytes()
            assert a.centroids.tobytes() == b.centroids.tobytes()
        s, c = fastrle.remove_small_regions(rles, 3, "holes", threads=t)
        assert s == s1 and np.array_equal(c, c1)


def test_large_masks_equal_cv2():
    """SA-1B-size masks: cv2 takes its parallel path here; a noisy one has thousands of labels."""
    from fastrle import synthetic

    rles = synthetic.sa1b_like(3, 1500, 2250, seed=5)
    rng = np.random.default_rng(7)
    noisy = (rng.random((300, 500)) < 0.45).astype(np.uint8)
    big = np.zeros((1501, 2251), np.uint8)  # odd sides: the last block row and column are half blocks
    yy, xx = np.ogrid[:1501, :2251]
    big[((yy - 700) ** 2 + (xx - 1000) ** 2) // 40000 % 2 == 1] = 1  # rings: holes in holes
    big[:, -1] = 1
    masks = [fastrle.decode(r) for r in rles] + [noisy, big]
    rles = rles + [rle_of(noisy), rle_of(big)]
    for conn in (8, 4):
        got = fastrle.components(rles, connectivity=conn, threads=2)
        for i, (m, g) in enumerate(zip(masks, got)):
            check_components(m, g, conn, f"large mask {i} connectivity {conn}")
    for mode in ("holes", "islands"):
        out, changed = fastrle.remove_small_regions(rles, 100, mode, threads=2)
        for i, (m, r, g) in enumerate(zip(masks, rles, out)):
            ref, ch = sam_remove_small_regions(m.astype(bool), 100, mode)
            assert bool(changed[i]) == ch and (g is r if not ch else g == rle_of(ref.astype(np.uint8))), (mode, i)


def test_component_rles_are_encode_output():
    # the strings are fastrle.encode's too (its str counts), not only pycocotools' bytes
    m = FAMILIES["nested"](np.random.default_rng(3))
    c = fastrle.components(fastrle.encode(m))
    n, lab, _, _ = cv2.connectedComponentsWithStats(m, connectivity=8)
    assert [r for r in c.rles] == [fastrle.encode((lab == k).astype(np.uint8)) for k in range(1, n)]


def test_glue_runs_table_from_core():
    # the glue takes the Runs table of _core.parse as it is
    r = _core.parse(_core.sources([rle_of(np.eye(3, dtype=np.uint8))], same_size=False), True)
    (stats, cents, strs), = _components.components(r.arena, r.offsets, r.heights, r.widths, 4, 1)
    assert stats.tolist() == [[0, 0, 3, 3, 6], [0, 0, 1, 1, 1], [1, 1, 1, 1, 1], [2, 2, 1, 1, 1]]
    assert len(strs) == 3


def test_bench_case_verifies():
    """``fastrle bench --case components`` at quick sizes: its check passes and every comparator runs."""
    import contextlib

    from fastrle import bench

    with contextlib.ExitStack() as stack:
        comps, ratios, notes, verify = bench.CASES["components"].builder(
            bench.BenchData(bench.BenchConfig.quick_config()), stack)
    assert verify is not None and verify() is True
    keys = {c.key for c in comps}
    assert {"fastrle", "fastrle-threads", "dense-cv2", "fastrle-rsr", "sam-rsr"} <= keys
    assert all(r[1] in keys and r[2] in keys for r in ratios)
    for c in comps:
        c.fn()
