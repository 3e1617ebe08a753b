"""Spatial features on runs (fastrle.features) against the dense numpy computation."""
import numpy as np
import pytest

import fastrle
from fastrle import features, sa1b, synthetic
from fastrle.synthetic import sa1b_image_dict as make_sa1b_dict

TOL = 1e-9


def dense_reference(masks):
    """Straightforward dense definitions, independent of fastrle.bench.sa1b."""
    m = masks.reshape(len(masks), -1).astype(np.int64)
    inter = m @ m.T
    area = np.diag(inter).astype(np.float64)
    cent = np.full((len(masks), 2), np.nan)
    for i, mk in enumerate(masks):
        yx = np.argwhere(mk)
        if len(yx):
            cent[i] = yx[:, ::-1].mean(axis=0)
    cont = np.zeros(inter.shape)
    iou = np.zeros(inter.shape)
    for i in range(len(masks)):
        for j in range(len(masks)):
            if area[j] > 0:
                cont[i, j] = inter[i, j] / area[j]
            u = area[i] + area[j] - inter[i, j]
            if u > 0:
                iou[i, j] = inter[i, j] / u
    return cent, inter, cont, iou


def check_all(rles, masks):
    cent, inter, cont, iou = dense_reference(masks)
    np.testing.assert_allclose(features.centroids(rles), cent, rtol=0, atol=TOL)
    np.testing.assert_array_equal(features.intersections(rles), inter)
    np.testing.assert_allclose(features.containment(rles), cont, rtol=0, atol=TOL)
    np.testing.assert_allclose(features.iou_matrix(rles), iou, rtol=0, atol=TOL)
    np.testing.assert_array_equal(features.areas(rles), masks.reshape(len(masks), -1).sum(1))


def test_blobs_match_dense():
    rles, masks = synthetic.sa1b_like(25, 150, 225, seed=3, dense=True)
    check_all(rles, masks)


@pytest.mark.parametrize("shape", [(7, 5), (1, 40), (40, 1), (33, 64)])
def test_noise_masks_match_dense(shape):
    # Noise gives many short runs, and runs that wrap from one column to the next.
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    masks = np.stack([rng.random(shape) < p for p in (0.02, 0.3, 0.5, 0.9, 1.0)]).astype(np.uint8)
    masks[0, -1, -1] = 1  # foreground on the very last pixel
    check_all(fastrle.encode(masks), masks)


def test_empty_masks_defined():
    h, w = 20, 30
    full = np.zeros((h, w), np.uint8)
    full[5:10, 3:8] = 1
    rles = [fastrle.empty(h, w), fastrle.encode(full), fastrle.empty(h, w)]
    c = features.centroids(rles)
    assert np.isnan(c[0]).all() and np.isnan(c[2]).all()
    np.testing.assert_allclose(c[1], [5.0, 7.0])
    cont = features.containment(rles)
    assert cont[1, 1] == 1.0 and cont[0, 1] == 0.0
    assert (cont[:, 0] == 0).all() and (cont[:, 2] == 0).all()  # |j| = 0 gives 0
    iou = features.iou_matrix(rles)
    assert iou[0, 2] == 0.0 and iou[0, 0] == 0.0 and iou[1, 1] == 1.0


def test_ragged_table_equals_dict_list():
    rles = synthetic.sa1b_like(15, 150, 225, seed=5)
    ann = sa1b.load(make_sa1b_dict(rles))
    np.testing.assert_array_equal(features.centroids(ann), features.centroids(rles))
    np.testing.assert_array_equal(features.containment(ann), features.containment(rles))
    np.testing.assert_array_equal(ann.iou_matrix(), features.iou_matrix(rles))
    np.testing.assert_array_equal(ann.centroids(), features.centroids(rles))
    np.testing.assert_array_equal(ann.containment(), features.containment(rles))


def test_containment_is_directional():
    big = np.zeros((10, 10), np.uint8)
    big[1:9, 1:9] = 1
    small = np.zeros((10, 10), np.uint8)
    small[2:4, 2:4] = 1
    c = features.containment(fastrle.encode(np.stack([big, small])))
    assert c[0, 1] == 1.0  # small lies inside big
    assert c[1, 0] == pytest.approx(4 / 64)


def test_no_masks():
    assert features.centroids([]).shape == (0, 2)
    assert features.containment([]).shape == (0, 0)
    assert features.iou_matrix([]).shape == (0, 0)


def test_mixed_sizes_rejected():
    with pytest.raises(ValueError, match="differs"):
        features.iou_matrix([fastrle.empty(4, 5), fastrle.empty(5, 4)])


def test_malformed_counts_rejected():
    with pytest.raises(fastrle.RLEError, match="mask 1"):
        features.centroids([fastrle.empty(4, 5), {"size": [4, 5], "counts": "3"}])


def test_low_level_checks_offsets():
    from fastrle import _features

    arena = np.array([3, 2], np.uint32)
    with pytest.raises(ValueError, match="outside"):
        _features.moments(arena, np.array([0, 5], np.int64), 5)
    with pytest.raises(ValueError, match="non-decreasing"):
        _features.intersections(arena, np.array([0, 2, 1, 2], np.int64), 5, 1)


def test_large_sums_exact():
    # One tall run: its y sum (~h^2/2) comes from the closed form, not a loop.
    h = 3_000_000
    rle = {"size": [h, 1], "counts": [1, h - 1]}
    (x, y), = features.centroids([rle])
    assert x == 0.0 and y == (1 + h - 1) / 2
