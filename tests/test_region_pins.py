"""Pins for fastrle.components and remove_small_regions (csrc/rle_components.c,
geometry/regions.py) on hand-made masks at the labeller's edges: corner
contact under both connectivities, columns two apart, cv2's block order of
labels under connectivity 8, background runs over one column end, a full
mask (a background of no pixel), zero-length runs inside a column, regions
of exactly area_thresh, ties for the largest island, all holes small,
diagonal holes, the int32/int64 switch of the stats at 2**31 - 1 pixels and
the defaults. Oracles: cv2.connectedComponentsWithStats, Segment Anything's
remove_small_regions (in test_components.py), pycocotools' encode, and
hand-written expectations."""
from __future__ import annotations

import os
import sys
from typing import Tuple

import numpy as np
import pytest

import fastrle
from fastrle.geometry import components, remove_small_regions

cv2 = pytest.importorskip("cv2")
pm = pytest.importorskip("pycocotools.mask")

sys.path.insert(0, os.path.dirname(__file__))
from test_components import rle_of, sam_remove_small_regions  # noqa: E402  (the oracles, one copy)


def assert_cv2(m: np.ndarray, conn: int, rle=None) -> None:
    """components() equal to cv2 on m: labels in order (each component's RLE),
    stats and centroids."""
    m = m.astype(np.uint8)
    got = components(rle_of(m) if rle is None else rle, connectivity=conn)
    n, labels, stats, cents = cv2.connectedComponentsWithStats(m, connectivity=conn)
    assert got.num_labels == n
    np.testing.assert_array_equal(got.stats, stats)
    np.testing.assert_allclose(got.centroids, cents, rtol=1e-12, atol=0)
    for k in range(1, n):
        want = rle_of(labels == k)
        assert got.rles[k - 1]["counts"] == want["counts"], f"label {k}"


def masks() -> dict:
    out = {}
    m = np.zeros((6, 8), bool)  # corner contacts, and pixels 2 rows apart in adjacent columns
    m[0, 0] = m[1, 1] = m[3, 1] = m[4, 2] = m[0, 3] = m[2, 4] = 1
    m[5, 7] = m[4, 6] = 1
    out["corners"] = m
    m = np.zeros((7, 7), bool)  # columns two apart, rows overlapping
    m[1:6, 0] = m[1:6, 2] = m[0:3, 4] = m[4:7, 4] = m[2:5, 6] = 1
    out["bars"] = m
    m = np.zeros((6, 12), bool)  # cv2's 8-connectivity order is by 2x2 blocks, not raster
    m[1, 5] = m[0, 7] = m[1, 1] = m[0, 3] = m[3, 10] = m[2, 9] = 0
    m[1, 5] = 1
    m[0, 7] = 1
    m[3, 9] = 1
    m[2, 11] = 1
    m[5, 0] = 1
    m[4, 3] = 1
    out["block_order"] = m
    m = np.ones((5, 4), bool)  # one background run over one column end, partial
    m[3:5, 1] = 0
    m[0:2, 2] = 0
    out["bg_wrap"] = m
    m = np.ones((4, 6), bool)  # even width, a background of a few pixels
    m[1, 2] = m[2, 5] = 0
    out["even_width"] = m
    m = np.zeros((8, 9), bool)  # several segments per column, interleaved
    m[0:2, :] = 1
    m[3:5, 1:8:2] = 1
    m[6:8, 0:9:3] = 1
    m[2, 4] = m[5, 3] = 1
    out["combs"] = m
    return out


@pytest.mark.parametrize("name", sorted(masks()))
@pytest.mark.parametrize("conn", [4, 8])
def test_hand_masks_against_cv2(name, conn):
    m = masks()[name]
    assert_cv2(m, conn)
    assert_cv2(m.T.copy(), conn)
    assert_cv2(m[::-1].copy(), conn)


def test_corner_contact_by_hand():
    m = np.zeros((3, 3), bool)
    m[0, 0] = m[1, 1] = m[2, 0] = 1
    assert components(rle_of(m), connectivity=4).num_labels == 4
    assert components(rle_of(m), connectivity=8).num_labels == 2
    assert components(rle_of(m)).num_labels == 2  # the default is 8, as cv2's
    m = np.zeros((3, 2), bool)
    m[0, 0] = m[2, 1] = 1  # two rows apart: apart under both
    assert components(rle_of(m)).num_labels == 3


def test_full_mask_background_row():
    m = np.ones((3, 4), bool)
    got = components(rle_of(m))
    n, _, stats, cents = cv2.connectedComponentsWithStats(m.astype(np.uint8), connectivity=8)
    np.testing.assert_array_equal(got.stats, stats)
    np.testing.assert_array_equal(got.stats[0], [-1, 2**31 - 1, 0, 0, 0])
    assert np.isnan(got.centroids[0]).all() and got.centroids[1].tolist() == [1.5, 1.0]


def test_zero_length_runs_inside_a_column():
    # counts 0,3,0,2,5: column 0 all set (split by an empty run), column 1 empty
    rle = {"size": [5, 2], "counts": [0, 3, 0, 2, 5]}
    m = np.zeros((5, 2), bool)
    m[:, 0] = 1
    for conn in (4, 8):
        assert_cv2(m, conn, rle=rle)
    got, changed = remove_small_regions(rle, 6, "islands")
    assert changed  # SAM: one island of 5 < 6, all small: the largest is kept
    assert pm.decode({"size": got["size"], "counts": got["counts"].encode()}).astype(bool).tolist() == m.tolist()


def test_areas_and_num_labels():
    m = np.zeros((4, 5), bool)
    m[0, 0] = 1
    m[2:4, 3] = 1
    got = components(rle_of(m))
    assert got.num_labels == 3
    assert got.areas.tolist() == [1, 2] and got.areas.dtype == np.int64
    assert got.bboxes.tolist() == [[0, 0, 1, 1], [3, 2, 1, 2]]


def test_stats_dtype_switches_above_int32_max_pixels():
    n = 2**31 - 1
    got = components({"size": [n, 1], "counts": [n]})
    assert got.stats.dtype == np.int32 and got.stats.tolist() == [[0, 0, 1, n, n]]
    got = components({"size": [n + 1, 1], "counts": [n + 1]})
    assert got.stats.dtype == np.int64 and got.stats.tolist() == [[0, 0, 1, n + 1, n + 1]]


# --- remove_small_regions -----------------------------------------------------------------

def check_sam(m: np.ndarray, thresh: float, mode: str) -> Tuple[np.ndarray, bool]:
    want, want_changed = sam_remove_small_regions(m.astype(bool), thresh, mode)
    rle = rle_of(m)
    got, changed = remove_small_regions(rle, thresh, mode)
    assert changed == want_changed
    if not changed:
        assert got is rle  # the input itself, as SAM returns its input
    dec = pm.decode({"size": got["size"], "counts": got["counts"].encode()
                     if isinstance(got["counts"], str) else got["counts"]})
    np.testing.assert_array_equal(dec.astype(bool), want)
    return want, changed


def test_region_of_exactly_the_threshold_is_not_small():
    m = np.zeros((6, 6), bool)
    m[0:2, 0:2] = 1  # 4 pixels
    m[4:6, 3:6] = 1  # 6 pixels
    _, changed = check_sam(m, 4, "islands")
    assert not changed
    want, changed = check_sam(m, 5, "islands")
    assert changed and want.sum() == 6


def test_all_islands_small_the_largest_first_label_wins():
    m = np.zeros((6, 9), bool)
    m[0:2, 0] = 1  # 2 pixels, label 1
    m[4, 3:5] = 1  # 2 pixels, label 2
    m[0, 7] = 1  # 1 pixel
    want, changed = check_sam(m, 10, "islands")
    assert changed and want[0:2, 0].all() and want.sum() == 2
    want, changed = check_sam(m[:, ::-1].copy(), 10, "islands")
    assert changed and want.sum() == 2


def test_all_holes_small_fills_them_all():
    m = np.ones((8, 8), bool)
    m[1:3, 1:3] = 0  # 4
    m[5, 5:7] = 0  # 2
    want, changed = check_sam(m, 10, "holes")
    assert changed and want.all()


def test_diagonal_holes_are_one_region():
    m = np.ones((6, 6), bool)
    m[2, 2] = m[3, 3] = 0
    _, changed = check_sam(m, 2, "holes")  # one 8-connected hole of 2: not small
    assert not changed
    want, changed = check_sam(m, 3, "holes")
    assert changed and want.all()


def test_defaults_and_argument_types():
    m = np.ones((5, 5), bool)
    m[2, 2] = 0
    got, changed = remove_small_regions(rle_of(m), 2)  # mode defaults to "holes"
    assert changed and pm.area({"size": got["size"], "counts": got["counts"].encode()}) == 25
    for bad in (True, "3", None):
        with pytest.raises(TypeError):
            remove_small_regions(rle_of(m), bad)
    with pytest.raises(TypeError):
        components(rle_of(m), connectivity=True)
    rles = [rle_of(m), rle_of(~m)]
    out, flags = fastrle.remove_small_regions(rles, 2, "islands")
    assert out[0] is rles[0] and flags.tolist() == [False, True]
