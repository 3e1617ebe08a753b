"""Synthetic data: deterministic, realistic, and valid COCO RLE."""

import numpy as np
import pytest

import fastrle
from fastrle import synthetic

pm = pytest.importorskip("pycocotools.mask")


@pytest.fixture(scope="module")
def sa1b():
    # Smaller than SA-1B so the module stays fast; same statistics.
    return synthetic.sa1b_like(n=40, h=300, w=450, seed=0, dense=True)


def test_deterministic():
    assert synthetic.coco_like(seed=3) == synthetic.coco_like(seed=3)
    assert synthetic.coco_like(seed=3) != synthetic.coco_like(seed=4)


def test_rles_are_str_and_match_dense(sa1b):
    rles, dense = sa1b
    assert dense.shape == (40, 300, 450) and dense.dtype == bool
    assert all(isinstance(r["counts"], str) and r["size"] == [300, 450] for r in rles)
    # The dense stack is what the RLEs decode to (pycocotools as reference).
    assert np.array_equal(pm.decode(rles).transpose(2, 0, 1), dense)
    # dense=True must not change the RLEs.
    assert synthetic.sa1b_like(n=40, h=300, w=450, seed=0) == rles


def test_counts_to_string_matches_pycocotools(sa1b):
    rles, dense = sa1b
    for r, m in zip(rles[:10], dense[:10]):
        counts = synthetic._region_counts(m, 0, 0, 300, 450)
        assert synthetic.counts_to_string(counts) == r["counts"]


@pytest.mark.parametrize("seed", range(30))
def test_region_counts_edge_cases(seed):
    # Tiny images hit the awkward spots: runs across columns, first/last pixel.
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(1, 7, 2))
    bh, bw = int(rng.integers(1, h + 1)), int(rng.integers(1, w + 1))
    y0, x0 = int(rng.integers(0, h - bh + 1)), int(rng.integers(0, w - bw + 1))
    local = rng.random((bh, bw)) < rng.random()
    full = np.zeros((h, w), np.uint8)
    full[y0:y0 + bh, x0:x0 + bw] = local
    ref = pm.encode(np.asfortranarray(full))["counts"].decode()
    assert synthetic.counts_to_string(synthetic._region_counts(local, y0, x0, h, w)) == ref


def test_sa1b_statistics(sa1b):
    rles, dense = sa1b
    frac = dense.reshape(len(dense), -1).mean(axis=1)
    assert 0.015 < frac.mean() < 0.09          # about 4% on average
    assert frac.max() > 0.15                   # a few large ones
    assert np.median(frac) < 0.02              # most are small
    assert (frac > 0).all()                    # none empty


def test_not_rectangles(sa1b):
    _, dense = sa1b
    for m in dense:
        ys, xs = np.nonzero(m)
        box = np.zeros_like(m)
        box[ys.min():ys.max() + 1, xs.min():xs.max() + 1] = True
        assert not np.array_equal(m, box)
        # Irregular: the blob fills clearly less than its bounding box.
        assert m.sum() < 0.9 * box.sum()


def test_some_holes_and_components(sa1b):
    ndimage = pytest.importorskip("scipy.ndimage")
    _, dense = sa1b
    comps = sum(ndimage.label(m)[1] > 1 for m in dense)
    holes = sum((ndimage.binary_fill_holes(m) & ~m).any() for m in dense)
    assert comps >= 2 and holes >= 2


def test_coco_like_shape():
    rles = synthetic.coco_like()
    assert len(rles) == 10 and all(r["size"] == [480, 640] for r in rles)
    a = pm.area(rles) / (480 * 640)
    assert (a > 0).all() and a.max() < 0.5


def test_full_size_generation():
    """The default SA-1B-like set: 100 masks of 1500x2250 whose counts sum to
    h*w. Its speed is a benchmark (benchmarks/test_sa1b_bench.py), not a
    timed unit test."""
    rles = synthetic.sa1b_like()
    assert len(rles) == 100
    for r in rles:
        assert list(r["size"]) == [1500, 2250]
    assert sum(fastrle.area(rles[:3]) > 0) == 3


# --- shape families -------------------------------------------------------------
# Each family's defining property is checked on the pycocotools decode of its
# RLEs, by a computation that shares no code with the generator.

FAM_N, FAM_H, FAM_W = 12, 300, 450


@pytest.fixture(scope="module", params=synthetic.FAMILIES)
def family(request):
    f = request.param
    rles, dense = synthetic.family_masks(f, FAM_N, FAM_H, FAM_W, seed=5, dense=True)
    return f, rles, dense


def _row_spans(m):
    """Number of foreground spans in each row."""
    p = np.zeros((m.shape[0], m.shape[1] + 1), np.int8)
    p[:, 1:] = m
    return (np.diff(p, axis=1) == 1).sum(axis=1)


def test_family_valid_and_deterministic(family):
    f, rles, dense = family
    assert dense.shape == (FAM_N, FAM_H, FAM_W)
    assert all(isinstance(r["counts"], str) and r["size"] == [FAM_H, FAM_W] for r in rles)
    assert np.array_equal(pm.decode(rles).transpose(2, 0, 1), dense)
    assert dense.reshape(FAM_N, -1).any(axis=1).all()
    assert synthetic.family_masks(f, FAM_N, FAM_H, FAM_W, seed=5) == rles
    assert synthetic.family_masks(f, FAM_N, FAM_H, FAM_W, seed=6) != rles


def test_family_unknown():
    with pytest.raises(ValueError, match="shape family"):
        synthetic.family_masks("squares", 1, 10, 10)


def test_stars_match_an_independent_fill():
    cv2 = pytest.importorskip("cv2")
    rles, dense = synthetic.family_masks("stars", FAM_N, FAM_H, FAM_W, seed=1, dense=True)
    many = 0
    for i, m in enumerate(dense):
        xy = synthetic.star_vertices(np.random.default_rng((1, synthetic.FAMILIES.index("stars"), i)),
                                     FAM_H, FAM_W)
        assert 20 <= len(xy) <= 60 and len(xy) % 2 == 0
        ref = np.zeros((FAM_H, FAM_W), np.uint8)
        # cv2 fills at 1/256 px; shift by half a pixel to sample pixel centres like the generator
        pts = np.round((xy - 0.5) * 256).astype(np.int32)
        cv2.fillPoly(ref, [pts], 1, lineType=cv2.LINE_8, shift=8)
        # the two fills may differ along the boundary only: under a pixel per unit of perimeter
        perimeter = np.hypot(*(np.roll(xy, -1, axis=0) - xy).T).sum()
        assert (m ^ (ref > 0)).sum() <= 0.75 * perimeter, i  # 0.4-0.5 seen
        many += _row_spans(m).max() >= 3
    # spikes: most stars have rows crossing three or more of them
    assert many >= FAM_N // 2


@pytest.mark.parametrize("f", ["stripes", "strokes"])
def test_many_short_spans_per_row(f):
    # half SA-1B size: at 300x450 the smallest boxes hold only a glyph or two
    _, dense = synthetic.family_masks(f, 8, 750, 1125, seed=2, dense=True)
    spans = np.stack([_row_spans(m) for m in dense])
    assert spans.sum() / (spans > 0).sum() >= 5     # spans per occupied row
    assert dense.sum() / spans.sum() <= 8           # mean span length in pixels


def test_noise_density():
    assert synthetic.noise_density(0, 10) == pytest.approx(0.01)
    assert synthetic.noise_density(9, 10) == pytest.approx(0.90)
    _, dense = synthetic.family_masks("noise", FAM_N, FAM_H, FAM_W, seed=3, dense=True)
    for i, m in enumerate(dense):
        ys, xs = np.nonzero(m)
        box = m[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        p = 0.01 * 90 ** (i / (FAM_N - 1))
        tol = 0.05 * p + 5 * np.sqrt(p * (1 - p) / box.size)
        assert abs(box.mean() - p) < tol, (i, box.mean(), p)


def test_rings_are_nested_annuli():
    ndimage = pytest.importorskip("scipy.ndimage")
    _, dense = synthetic.family_masks("rings", FAM_N, FAM_H, FAM_W, seed=4, dense=True)
    for i, m in enumerate(dense):
        k = 2 + i % 5
        assert synthetic.ring_count(i) == k
        assert ndimage.label(m)[1] == k  # 4-connected components
        # nested: filling the holes of the outer ring covers every other ring
        lab = ndimage.label(m)[0]
        sizes = np.bincount(lab.ravel())[1:]
        outer = lab == (np.argmax(sizes) + 1)
        assert (ndimage.binary_fill_holes(outer) >= m).all()
