"""Synthetic data: deterministic, realistic, and valid COCO RLE."""

import numpy as np
import pytest

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


def test_full_size_generation_is_fast():
    import time

    t0 = time.perf_counter()
    rles = synthetic.sa1b_like()  # 100 masks of 1500x2250
    dt = time.perf_counter() - t0
    assert len(rles) == 100
    # Target is < 2 s on a 2-core machine; slack for a busy CI box.
    assert dt < 4.0, dt
