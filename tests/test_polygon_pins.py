"""Pins for fastrle.to_polygons and ring_area (csrc/rle_contour.c,
geometry/polygons.py) where the generated masks rarely go: more than 126
borders in one mask (cv2's mark wraps), rings nested in holes in rings,
spans ending at the last column, 1-pixel spikes, the first corner of a
simplified outline, min_area at its edge and the renumbering after it, and
bridged holes in every order. Oracles: cv2.findContours, pycocotools'
rasteriser (frPyObjects) and hand-written expectations; the corner set of a
simplified outline is checked against the 2x2-neighbourhood rule."""
from __future__ import annotations

import numpy as np
import pytest

from fastrle.geometry import ring_area, to_polygons

cv2 = pytest.importorskip("cv2")
pmask = pytest.importorskip("pycocotools.mask")

MODES = {"external": cv2.RETR_EXTERNAL, "ccomp": cv2.RETR_CCOMP}
APPROX = {"none": cv2.CHAIN_APPROX_NONE, "simple": cv2.CHAIN_APPROX_SIMPLE}


def rle_of(m: np.ndarray) -> dict:
    r = pmask.encode(np.asfortranarray(m.astype(np.uint8)))
    r["counts"] = r["counts"].decode()
    return r


def assert_cv2(m: np.ndarray, mode: str, approx: str) -> None:
    got = to_polygons(rle_of(m), mode=mode, approx=approx, format="cv2")
    want, hier = cv2.findContours(m.astype(np.uint8), MODES[mode], APPROX[approx])
    assert len(got.rings) == len(want)
    for k, (a, b) in enumerate(zip(got.rings, want)):
        np.testing.assert_array_equal(a, b.reshape(-1, 2), err_msg=f"ring {k}")
    if want:
        np.testing.assert_array_equal(got.hierarchy, hier.reshape(-1, 4))
    else:
        assert got.hierarchy.shape == (0, 4)


def rasterise(rings, h: int, w: int) -> np.ndarray:
    """pycocotools' union of the rings' rasters (how a COCO polygon annotation reads)."""
    if not rings:
        return np.zeros((h, w), np.uint8)
    return pmask.decode(pmask.merge(pmask.frPyObjects(rings, h, w)))


def tricky_masks() -> dict:
    """Hand-made masks at the parser's edges."""
    out = {}
    m = np.zeros((40, 60), bool)  # rings in holes in rings, off the origin
    m[3:37, 5:55] = 1
    m[6:34, 8:52] = 0
    m[9:31, 11:49] = 1
    m[12:28, 14:30] = 0
    m[12:28, 33:46] = 0
    m[15:20, 17:22] = 1
    m[22:25, 36:40] = 1
    out["nested"] = m
    m = np.zeros((12, 16), bool)  # spans ending at the last column, holes beside the edge
    m[1:11, 8:16] = 1
    m[3:5, 10:14] = 0
    m[6:9, 14] = 0
    m[4:6, 0:3] = 1
    out["right_edge"] = m
    m = np.zeros((25, 25), bool)  # diagonal contacts between holes and islands
    m[2:23, 2:23] = 1
    for y in range(4, 21, 2):
        for x in range(4 + (y // 2) % 2, 21, 2):
            m[y, x] = 0
    out["lattice"] = m
    m = np.zeros((20, 20), bool)  # 1-pixel spikes in every direction
    m[8:12, 8:12] = 1
    m[2:8, 9] = 1
    m[12:18, 10] = 1
    m[9, 2:8] = 1
    m[10, 12:18] = 1
    m[5, 5] = m[4, 4] = 1
    out["spikes"] = m
    m = np.zeros((30, 30), bool)  # holes whose borders share marks with siblings
    m[1:29, 1:29] = 1
    for k, (y, x) in enumerate([(3, 3), (3, 15), (15, 3), (15, 15), (9, 9)]):
        m[y:y + 5 + k % 2, x:x + 6] = 0
        m[y + 2, x + 2] = 1
    out["siblings"] = m
    return out


@pytest.mark.parametrize("name", sorted(tricky_masks()))
@pytest.mark.parametrize("mode", ["external", "ccomp"])
@pytest.mark.parametrize("approx", ["none", "simple"])
def test_tricky_masks_against_cv2(name, mode, approx):
    m = tricky_masks()[name]
    assert_cv2(m, mode, approx)
    assert_cv2(m[::-1, ::-1].copy(), mode, approx)


def test_more_borders_than_marks():
    # 15 x 12 squares each with a hole: 360 borders, past cv2's 127 marks
    m = np.zeros((15 * 5 + 1, 12 * 5 + 1), bool)
    for y in range(15):
        for x in range(12):
            m[5 * y + 1:5 * y + 5, 5 * x + 1:5 * x + 5] = 1
            m[5 * y + 2:5 * y + 4, 5 * x + 2:5 * x + 3 + (x + y) % 2] = 0
    # and one big ring holding some of them, so a hole's parent is searched across marks
    m[0, :] = m[-1, :] = m[:, 0] = m[:, -1] = 1
    assert_cv2(m, "ccomp", "none")
    assert_cv2(m, "ccomp", "simple")
    assert_cv2(m, "external", "none")


def turning_corners(m: np.ndarray) -> set:
    """Lattice points (x - 0.5, y - 0.5) where a pixel outline turns: their 2x2
    neighbourhood holds 1 or 3 set pixels, or 2 diagonal ones."""
    p = np.pad(m.astype(np.int8), 1)
    out = set()
    for y in range(p.shape[0] - 1):
        for x in range(p.shape[1] - 1):
            q = p[y:y + 2, x:x + 2]
            s = int(q.sum())
            if s in (1, 3) or (s == 2 and q[0, 0] == q[1, 1]):
                out.add((x - 0.5, y - 0.5))
    return out


@pytest.mark.parametrize("name", sorted(tricky_masks()))
def test_simple_outlines_keep_exactly_the_turning_corners(name):
    m = tricky_masks()[name]
    got = to_polygons(rle_of(m), mode="ccomp", approx="simple", format="coco")
    pts = set()
    for ring in got.rings:
        xy = np.asarray(ring).reshape(-1, 2)
        n = len(xy)
        for k in range(n):  # no point on a straight line between its neighbours, the first included
            a, b, c = xy[k - 1], xy[k], xy[(k + 1) % n]
            cross = (b[0] - a[0]) * (c[1] - b[1]) - (b[1] - a[1]) * (c[0] - b[0])
            dot = (b[0] - a[0]) * (c[0] - b[0]) + (b[1] - a[1]) * (c[1] - b[1])
            assert not (cross == 0 and dot > 0), f"ring point {k} {tuple(b)} is on a straight edge"
        pts |= {(float(x), float(y)) for x, y in xy}
    assert pts == turning_corners(m)


@pytest.mark.parametrize("name", sorted(tricky_masks()))
@pytest.mark.parametrize("approx", ["none", "simple"])
def test_bridged_outlines_rasterise_back(name, approx):
    m = tricky_masks()[name]
    h, w = m.shape
    got = to_polygons(rle_of(m), mode="ccomp", approx=approx, bridge_holes=True)
    assert (got.parents == -1).all()
    hier = cv2.findContours(m.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)[1]
    assert len(got.rings) == int((hier.reshape(-1, 4)[:, 3] == -1).sum())  # cv2's outer rings
    np.testing.assert_array_equal(rasterise(got.rings, h, w), m.astype(np.uint8))


def test_one_component_with_holes_bridges_into_one_ring():
    m = np.zeros((10, 12), bool)
    m[1:9, 1:11] = 1
    m[3:5, 3:5] = 0
    m[3:7, 7:9] = 0
    got = to_polygons(rle_of(m), mode="ccomp", bridge_holes=True)
    assert len(got.rings) == 1 and list(got.parents) == [-1]
    np.testing.assert_array_equal(got.hierarchy, [[-1, -1, -1, -1]])
    np.testing.assert_array_equal(rasterise(got.rings, 10, 12), m.astype(np.uint8))


def test_spike_outline_goes_round_the_tip():
    m = np.zeros((7, 7), bool)
    m[1:6, 3] = 1  # a vertical line, 1 px wide
    got = to_polygons(rle_of(m), approx="simple")
    assert sorted(map(tuple, np.asarray(got.rings[0]).reshape(-1, 2).tolist())) == \
        sorted([(2.5, 0.5), (3.5, 0.5), (3.5, 5.5), (2.5, 5.5)])
    got = to_polygons(rle_of(m), approx="none")
    assert ring_area(got.rings[0]) == 5.0
    np.testing.assert_array_equal(rasterise(got.rings, 7, 7), m.astype(np.uint8))


def test_ring_area_by_hand():
    assert ring_area(np.array([[0, 0], [4, 0], [0, 3]])) == 6.0
    assert ring_area([0, 0, 4, 0, 4, 3, 0, 3]) == 12.0
    assert ring_area([[1, 1], [2, 2]]) == 0.0
    tri = np.array([[0, 0], [4, 0], [0, 3]], np.int32)
    assert ring_area(tri) == cv2.contourArea(tri.reshape(-1, 1, 2))


def test_min_area_keeps_a_ring_equal_to_it_and_renumbers():
    m = np.zeros((20, 20), bool)
    m[1, 1] = 1  # ring 0: one pixel (outline area 1): dropped by min_area 6
    m[5:7, 2:5] = 1  # a 2x3 block: outline area 6, kept at min_area 6
    m[10:18, 8:18] = 1  # a block with a hole
    m[12:15, 10:13] = 0
    got = to_polygons(rle_of(m), mode="ccomp", min_area=6)
    areas = [ring_area(r) for r in got.rings]
    assert areas == [80.0, 9.0, 6.0]
    assert list(got.parents) == [-1, 0, -1]
    np.testing.assert_array_equal(got.hierarchy, [[2, -1, 1, -1], [-1, -1, -1, 0], [-1, 0, -1, -1]])
    got = to_polygons(rle_of(m), mode="ccomp", min_area=6.5)
    assert [ring_area(r) for r in got.rings] == [80.0, 9.0]
    got = to_polygons(rle_of(m), mode="ccomp", min_area=9.5)
    assert [ring_area(r) for r in got.rings] == [80.0]
    assert list(got.parents) == [-1]


def test_min_area_bad_values():
    r = rle_of(np.ones((3, 3), bool))
    for bad in (float("nan"), -1, -0.5):
        with pytest.raises(ValueError, match="min_area must be a number >= 0"):
            to_polygons(r, min_area=bad)
    for bad in (True, np.bool_(False), "1", b"1", None):  # the one rule for real numbers: _args.real_arg
        with pytest.raises(TypeError, match="min_area must be a number, got"):
            to_polygons(r, min_area=bad)


@pytest.mark.parametrize("seed", range(4))
def test_noise_with_hundreds_of_borders(seed):
    # random masks with holes in islands in holes: hundreds of borders, so the marks wrap
    # (more than once), share values and sit next to each other in every way
    rng = np.random.default_rng(seed)
    p = (0.35, 0.5, 0.6, 0.45)[seed]
    m = rng.random((70, 90)) < p
    m[:, -1] |= rng.random(70) < 0.5  # spans ending at the last column
    want, _ = cv2.findContours(m.astype(np.uint8), cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    assert len(want) > 300
    for mode in ("ccomp", "external"):
        for approx in ("none", "simple"):
            assert_cv2(m, mode, approx)
