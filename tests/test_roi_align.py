"""fastrle.roi_align against torchvision.ops.roi_align on the dense masks:
mask i pooled over box i (batch index i), to 1e-5."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import masks

import fastrle
from fastrle import synthetic

torch = pytest.importorskip("torch")
tv_ops = pytest.importorskip("torchvision.ops")


def tv_roi_align(dense, boxes, output_size, scale, sampling_ratio, aligned):
    """The oracle, one box per mask. torchvision raises for some inverted
    boxes under aligned=True (a negative sampling grid); those give zeros
    here, which is what torchvision returns when its grid is empty."""
    n = len(dense)
    oh, ow = (output_size, output_size) if isinstance(output_size, int) else output_size
    x = torch.from_numpy(np.ascontiguousarray(dense))[:, None].float()
    b = torch.from_numpy(np.asarray(boxes, np.float32))
    rois = torch.cat([torch.arange(n, dtype=torch.float32)[:, None], b], 1)
    try:
        return tv_ops.roi_align(x, rois, output_size, scale, sampling_ratio, aligned)[:, 0].numpy()
    except (ValueError, RuntimeError):
        out = []
        for i in range(n):
            try:
                out.append(tv_ops.roi_align(x[i:i + 1], rois[i:i + 1] * torch.tensor([0, 1, 1, 1, 1.]),
                                            output_size, scale, sampling_ratio, aligned)[:, 0].numpy())
            except (ValueError, RuntimeError):
                out.append(np.zeros((1, oh, ow), np.float32))
        return np.concatenate(out)


def random_boxes(rng, n, h, w, spread=20.0):
    """Boxes inside, partly outside and fully outside the image, some inverted."""
    x = rng.uniform(-spread, w + spread, (n, 2))
    y = rng.uniform(-spread, h + spread, (n, 2))
    b = np.stack([x[:, 0], y[:, 0], x[:, 1], y[:, 1]], 1)
    k = rng.random(n) < 0.7  # mostly well-formed
    b[k] = np.stack([np.minimum(x[k, 0], x[k, 1]), np.minimum(y[k, 0], y[k, 1]),
                     np.maximum(x[k, 0], x[k, 1]), np.maximum(y[k, 0], y[k, 1])], 1)
    return b.astype(np.float32)


@settings(max_examples=80)
@given(masks(max_side=50, max_n=4), st.integers(0, 2**31), st.sampled_from([-1, 0, 1, 2, 3]),
       st.booleans(), st.sampled_from([1.0, 0.5, 2.0]), st.sampled_from([1, 7, 28, (5, 9)]))
def test_equals_torchvision(d, seed, sampling_ratio, aligned, scale, size):
    rng = np.random.default_rng(seed)
    n, h, w = d.shape
    boxes = random_boxes(rng, n, h / scale, w / scale)
    boxes[0] = [0, 0, w / scale, h / scale]
    ref = tv_roi_align(d, boxes, size, scale, sampling_ratio, aligned)
    got = fastrle.roi_align(fastrle.encode(d), boxes, size, spatial_scale=scale,
                            sampling_ratio=sampling_ratio, aligned=aligned)
    assert got.dtype == np.float32 and got.shape == ref.shape
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


@pytest.mark.parametrize("box", [[-50, -50, -10, -10], [500, 500, 600, 600], [-5, -5, 300, 200],
                                 [10, 10, 10, 10], [3.5, 2.25, 3.75, 90], [-1, -1, 0, 0]])
@pytest.mark.parametrize("aligned", [False, True])
@pytest.mark.parametrize("sampling_ratio", [-1, 1, 2])
def test_boxes_inside_partly_and_fully_outside(box, aligned, sampling_ratio):
    rles = synthetic.coco_like(3, 120, 160, seed=6)
    dense = fastrle.decode(rles)
    boxes = np.array([box] * 3, np.float32)
    np.testing.assert_allclose(
        fastrle.roi_align(rles, boxes, 28, sampling_ratio=sampling_ratio, aligned=aligned),
        tv_roi_align(dense, boxes, 28, 1.0, sampling_ratio, aligned), atol=1e-5, rtol=0)


def test_mask_rcnn_targets_own_boxes_sa1b_like():
    """Each mask over its own (jittered) box, SA-1B-like masks, 28x28."""
    rles = synthetic.sa1b_like(8, 300, 450, seed=2)
    dense = fastrle.decode(rles)
    bb = fastrle.bbox(rles)
    boxes = np.concatenate([bb[:, :2], bb[:, :2] + bb[:, 2:]], 1)
    boxes += np.random.default_rng(0).normal(0, 3, boxes.shape)
    for sr in (-1, 2):
        for aligned in (False, True):
            np.testing.assert_allclose(fastrle.roi_align(rles, boxes, 28, sampling_ratio=sr, aligned=aligned),
                                       tv_roi_align(dense, boxes, 28, 1.0, sr, aligned), atol=1e-5, rtol=0)


def test_real_files():
    pm = pytest.importorskip("pycocotools.mask")
    from test_transforms import real_rles

    for _size, rles in sorted(real_rles().items(), key=lambda kv: -len(kv[1]))[:8]:
        dense = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))
        bb = fastrle.bbox(rles)
        boxes = np.concatenate([bb[:, :2], bb[:, :2] + bb[:, 2:]], 1)
        for sr in (-1, 2):
            np.testing.assert_allclose(fastrle.roi_align(rles, boxes, 28, sampling_ratio=sr),
                                       tv_roi_align(dense, boxes, 28, 1.0, sr, False), atol=1e-5, rtol=0)


def test_out_views_torch_boxes_single_dict_and_threads():
    rles = synthetic.coco_like(5, 60, 80, seed=3)
    dense = fastrle.decode(rles)
    boxes = random_boxes(np.random.default_rng(1), 5, 60, 80)
    ref = tv_roi_align(dense, boxes, 14, 1.0, 2, False)
    buf = np.full((5, 20, 20), 7, np.float32)
    res = fastrle.roi_align(rles, torch.from_numpy(boxes), 14, sampling_ratio=2, out=buf[:, :14, :14])
    np.testing.assert_allclose(buf[:, :14, :14], ref, atol=1e-5)
    assert res.shape == (5, 14, 14) and (buf[:, 14:] == 7).all()
    one = fastrle.roi_align(rles[2], boxes[2], 14, sampling_ratio=2)
    np.testing.assert_allclose(one, ref[2], atol=1e-5)
    np.testing.assert_array_equal(fastrle.roi_align(rles, boxes, 14, sampling_ratio=2, threads=3),
                                  fastrle.roi_align(rles, boxes, 14, sampling_ratio=2, threads=1))
    assert fastrle.roi_align([], np.zeros((0, 4)), 7).shape == (0, 7, 7)


GOOD = synthetic.coco_like(3, 20, 30, seed=5)


@pytest.mark.parametrize("boxes,match", [
    (np.zeros((3, 3)), "shape"), (np.zeros((2, 4)), "shape"), (np.zeros(12), "shape"),
    (np.array([[0, 0, 5, 5]] * 2 + [[0, np.nan, 5, 5]]), "box 2"),
    (np.array([[0, 0, 5, 5], [0, 0, np.inf, 5], [0, 0, 5, 5]]), "box 1"),
    (np.array([[0, 0, 5, 5], [0, 0, 1e300, 5], [0, 0, 5, 5]]), "box 1"),
    (np.array([[0, 0, 1e30, 1e30]] * 3), "sampling_ratio"),
])
def test_bad_boxes(boxes, match):
    out = np.full((3, 7, 7), 3, np.float32)
    with pytest.raises(ValueError, match=match):
        fastrle.roi_align(GOOD, boxes, 7, out=out)
    assert (out == 3).all()


@pytest.mark.parametrize("kw,exc,match", [
    (dict(output_size=0), ValueError, "output_size"), (dict(output_size=(7, -1)), ValueError, "output_size"),
    (dict(output_size=7.0), TypeError, "output_size"), (dict(output_size=7, sampling_ratio=1.5), TypeError,
                                                        "sampling_ratio"),
    (dict(output_size=7, spatial_scale=float("nan")), ValueError, "spatial_scale"),
    (dict(output_size=7, out=np.zeros((3, 7, 7), np.uint8)), TypeError, "out"),
    (dict(output_size=7, out=np.zeros((3, 7, 8), np.float32)), ValueError, "out"),
])
def test_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        fastrle.roi_align(GOOD, np.array([[0, 0, 5, 5]] * 3, np.float32), **kw)


def test_malformed_mask_named_nothing_written():
    bad = list(GOOD) + [{"size": [20, 30], "counts": "0"}]
    out = np.full((4, 7, 7), 3, np.float32)
    with pytest.raises(fastrle.RLEError, match="mask 3"):
        fastrle.roi_align(bad, np.array([[0, 0, 5, 5]] * 4, np.float32), 7, out=out)
    assert (out == 3).all()
