"""decode(size=, mode=, flip=, packed=, out=view) against real oracles:
torch.nn.functional.interpolate (nearest, nearest-exact), cv2.resize
INTER_AREA and np.packbits; plus the SA-1B integration and bad input."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import masks

import fastrle
from fastrle import sa1b, synthetic
from fastrle.transforms import nearest_map

torch = pytest.importorskip("torch")
F = torch.nn.functional
DATA = os.path.join(os.path.dirname(__file__), "data")


def torch_resize(dense: np.ndarray, size, mode: str) -> np.ndarray:
    """The oracle: torch's 2-D interpolate of the (N, 1, H, W) float batch."""
    x = torch.from_numpy(np.ascontiguousarray(dense))[:, None].float()
    return F.interpolate(x, size=tuple(size), mode=mode)[:, 0].numpy().astype(np.uint8)


def cv2_area(dense: np.ndarray, size) -> np.ndarray:
    cv2 = pytest.importorskip("cv2")
    oh, ow = size
    return np.stack([cv2.resize(m.astype(np.float32), (ow, oh), interpolation=cv2.INTER_AREA).reshape(oh, ow)
                     for m in dense])


def flipped(a: np.ndarray, flip) -> np.ndarray:
    if flip and "h" in flip:
        a = a[..., ::-1]
    if flip and "v" in flip:
        a = a[..., ::-1, :]
    return a


# --- the index rule -------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_nearest_map_equals_torch_exhaustively(mode):
    """Every (in, out) pair up to 96 x 150, plus 2x/3x and large targets:
    the source index of each output pixel is torch's, through its 2-D kernel
    on float32 (as masks are fed to it; float64 input computes in double)."""
    torch.set_num_threads(1)
    bad = []
    for n in range(1, 97):
        x = torch.arange(n, dtype=torch.float32)[None, None, None]
        for m in list(range(1, 151)) + [2 * n, 3 * n, 2 * n + 1, 997, 4096]:
            ref = F.interpolate(x, size=(1, m), mode=mode)[0, 0, 0].long().numpy()
            if not np.array_equal(nearest_map(n, m, mode), ref):
                bad.append((n, m))
    assert not bad, f"{mode}: index maps differ from torch for (in, out) = {bad[:10]}"


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("n,m", [(1500, 683), (2250, 1024), (1500, 256), (480, 1024), (2047, 4093),
                                 (3000, 7), (7, 3000)])
def test_nearest_map_equals_torch_at_image_sizes(mode, n, m):
    x = torch.arange(n, dtype=torch.float32)[None, None, None]
    ref = F.interpolate(x, size=(1, m), mode=mode)[0, 0, 0].long().numpy()
    np.testing.assert_array_equal(nearest_map(n, m, mode), ref)


def test_nearest_map_rejects_bad_mode():
    with pytest.raises(ValueError, match="mode"):
        nearest_map(3, 4, "area")


# --- nearest and nearest-exact ------------------------------------------------------------


@settings(max_examples=80)
@given(masks(max_side=40, max_n=3), st.integers(1, 90), st.integers(1, 90),
       st.sampled_from(["nearest", "nearest-exact"]), st.sampled_from([None, "h", "v", "hv"]))
def test_nearest_equals_torch(d, oh, ow, mode, flip):
    rles = fastrle.encode(d)
    ref = flipped(torch_resize(d, (oh, ow), mode), flip)
    got = fastrle.decode(rles, size=(oh, ow), mode=mode, flip=flip)
    assert got.dtype == np.uint8 and got.shape == (len(d), oh, ow) and got.flags.c_contiguous
    np.testing.assert_array_equal(got, ref)


@settings(max_examples=60)
@given(masks(max_side=40, max_n=3), st.integers(1, 70), st.integers(1, 70),
       st.sampled_from(["nearest", "nearest-exact"]), st.sampled_from([None, "h", "v", "hv"]),
       st.sampled_from(["big", "little"]), st.booleans())
def test_packed_equals_packbits(d, oh, ow, mode, flip, bitorder, resize):
    rles = fastrle.encode(d)
    size = (oh, ow) if resize else None
    dense = torch_resize(d, size, mode) if resize else d.astype(np.uint8)
    ref = np.packbits(flipped(dense, flip), axis=-1, bitorder=bitorder)
    got = fastrle.decode(rles, size=size, mode=mode, flip=flip, packed=True, bitorder=bitorder)
    assert got.dtype == np.uint8
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("h,w", [(1, 1), (1, 17), (17, 1), (1, 1000), (1000, 1), (3, 7), (7, 3)])
@pytest.mark.parametrize("size", [(1, 1), (1, 9), (9, 1), (5, 5), (3, 7), (64, 3)])
def test_edge_sizes(h, w, size):
    rng = np.random.default_rng(h * 1000 + w)
    d = np.stack([rng.random((h, w)) < 0.5, np.zeros((h, w), bool), np.ones((h, w), bool)]).astype(np.uint8)
    rles = fastrle.encode(d)
    for mode in ("nearest", "nearest-exact"):
        np.testing.assert_array_equal(fastrle.decode(rles, size=size, mode=mode), torch_resize(d, size, mode))
    if size[0] <= h and size[1] <= w:
        np.testing.assert_allclose(fastrle.decode(rles, size=size, mode="area"), cv2_area(d, size), atol=1e-5)


@pytest.mark.parametrize("size", [(30, 70), (3, 7), (70, 30), (300, 700), (700, 300), (1, 700), (2, 2)])
def test_factors_and_borders(size):
    """Masks that touch every border, and non-integer factors both ways."""
    h, w = 70, 30
    d = np.zeros((4, h, w), np.uint8)
    d[0, 0, :] = 1
    d[0, -1, :] = 1
    d[1, :, 0] = 1
    d[1, :, -1] = 1
    d[2, 10:60, 5:25] = 1
    d[3] = np.indices((h, w)).sum(0) % 3 == 0
    rles = fastrle.encode(d)
    for mode in ("nearest", "nearest-exact"):
        for flip in (None, "hv"):
            np.testing.assert_array_equal(fastrle.decode(rles, size=size, mode=mode, flip=flip),
                                          flipped(torch_resize(d, size, mode), flip))


def real_rles():
    """RLE segmentations from the real COCO files in tests/data, by size."""
    by_size = {}
    for path in sorted(glob.glob(os.path.join(DATA, "*.json"))):
        with open(path) as f:
            obj = json.load(f)
        anns = obj["annotations"] if isinstance(obj, dict) else obj
        for a in anns:
            seg = a.get("segmentation")
            if isinstance(seg, dict) and isinstance(seg.get("counts"), str):
                by_size.setdefault(tuple(seg["size"]), []).append(seg)
    return by_size


def test_real_files():
    pm = pytest.importorskip("pycocotools.mask")
    groups = real_rles()
    assert sum(len(v) for v in groups.values()) > 100
    checked = 0
    for (h, w), rles in sorted(groups.items(), key=lambda kv: -len(kv[1]))[:12]:
        dense = np.ascontiguousarray(pm.decode(rles).transpose(2, 0, 1))
        for size in [(h // 3, w * 3 // 7), (256, 256), (h * 2, w + 1), (683, 1024)]:
            for mode in ("nearest", "nearest-exact"):
                np.testing.assert_array_equal(fastrle.decode(rles, size=size, mode=mode),
                                              torch_resize(dense, size, mode))
            if size[0] <= h and size[1] <= w:
                np.testing.assert_allclose(fastrle.decode(rles, size=size, mode="area"),
                                           cv2_area(dense, size), atol=1e-5, rtol=0)
        np.testing.assert_array_equal(fastrle.decode(rles, packed=True, flip="h"),
                                      np.packbits(dense[:, :, ::-1], axis=-1))
        checked += len(rles)
    assert checked > 100


# --- area ----------------------------------------------------------------------------


@settings(max_examples=80)
@given(masks(max_side=60, max_n=3), st.data())
def test_area_equals_cv2_inter_area(d, data):
    n, h, w = d.shape
    oh = data.draw(st.integers(1, h))
    ow = data.draw(st.integers(1, w))
    flip = data.draw(st.sampled_from([None, "h", "v", "hv"]))
    got = fastrle.decode(fastrle.encode(d), size=(oh, ow), mode="area", flip=flip)
    assert got.dtype == np.float32 and got.shape == (n, oh, ow)
    np.testing.assert_allclose(got, flipped(cv2_area(d, (oh, ow)), flip), atol=1e-5, rtol=0)


@pytest.mark.parametrize("size", [(50, 50), (25, 20), (10, 10), (1, 1), (100, 100), (99, 41), (43, 3)])
def test_area_integer_and_fractional_factors(size):
    rng = np.random.default_rng(7)
    d = (rng.random((3, 100, 100)) < 0.3).astype(np.uint8)
    d[2] = 1
    got = fastrle.decode(fastrle.encode(d), size=size, mode="area")
    np.testing.assert_allclose(got, cv2_area(d, size), atol=1e-5, rtol=0)
    # exact: the fraction of each cell, computed densely in float64
    if 100 % size[0] == 0 and 100 % size[1] == 0:
        fy, fx = 100 // size[0], 100 // size[1]
        ref = d.reshape(3, size[0], fy, size[1], fx).mean(axis=(2, 4))
        np.testing.assert_allclose(got, ref, atol=1e-7, rtol=0)
    np.testing.assert_array_equal(got[2], 1.0)


# --- out views, zeroed, threads, ragged ----------------------------------------------------------


def test_out_top_left_of_padded_batch_buffer():
    """SAM style: long side to 1024, into the corner of a padded batch."""
    rles = synthetic.sa1b_like(5, 150, 225, seed=3)
    dense = fastrle.decode(rles)
    batch = np.full((5, 1024, 1024), 7, np.uint8)
    view = batch[:, :683, :1024]
    res = fastrle.decode(rles, out=view, size=(683, 1024))
    assert res is view
    np.testing.assert_array_equal(batch[:, :683], torch_resize(dense, (683, 1024), "nearest"))
    assert (batch[:, 683:] == 7).all()
    # a column-padded corner, packed, flipped
    pb = np.full((5, 100, 40), 9, np.uint8)
    fastrle.decode(rles, out=pb[:, :60, :13], size=(60, 100), packed=True, flip="v")
    np.testing.assert_array_equal(pb[:, :60, :13], np.packbits(torch_resize(dense, (60, 100), "nearest")[:, ::-1],
                                                               axis=-1))
    assert (pb[:, 60:] == 9).all() and (pb[:, :, 13:] == 9).all()


def test_out_torch_tensor_and_bool_and_single_dict():
    rles = synthetic.coco_like(3, 48, 64, seed=1)
    dense = fastrle.decode(rles)
    t = torch.zeros((3, 100, 100), dtype=torch.uint8)
    fastrle.decode(rles, out=t[:, :24, :32], size=(24, 32))
    np.testing.assert_array_equal(t[:, :24, :32].numpy(), torch_resize(dense, (24, 32), "nearest"))
    assert int(t[:, 24:].sum()) == 0
    b = np.zeros((3, 24, 32), bool)
    fastrle.decode(rles, out=b, size=(24, 32), mode="nearest-exact")
    np.testing.assert_array_equal(b, torch_resize(dense, (24, 32), "nearest-exact").astype(bool))
    one = fastrle.decode(rles[1], size=(24, 32))
    assert one.shape == (24, 32)
    np.testing.assert_array_equal(one, torch_resize(dense[1:2], (24, 32), "nearest")[0])
    f = np.ones((24, 32), np.float32)
    fastrle.decode(rles[1], out=f, size=(24, 32), mode="area")
    np.testing.assert_allclose(f, cv2_area(dense[1:2], (24, 32))[0], atol=1e-5)


def test_plain_decode_into_strided_view():
    rles = synthetic.coco_like(4, 30, 40, seed=2)
    buf = np.full((4, 64, 64), 5, np.uint8)
    fastrle.decode(rles, out=buf[:, :30, :40])
    np.testing.assert_array_equal(buf[:, :30, :40], fastrle.decode(rles))
    assert (buf[:, 30:] == 5).all() and (buf[:, :, 40:] == 5).all()
    # every other row, and rows in reverse (negative stride)
    even = np.full((4, 60, 40), 5, np.uint8)
    fastrle.decode(rles, out=even[:, ::2])
    np.testing.assert_array_equal(even[:, ::2], fastrle.decode(rles))
    assert (even[:, 1::2] == 5).all()
    rev = np.full((4, 30, 40), 5, np.uint8)
    fastrle.decode(rles, out=rev[:, ::-1])
    np.testing.assert_array_equal(rev[:, ::-1], fastrle.decode(rles))
    one = np.full((60, 40), 5, np.uint8)
    fastrle.decode(rles[0], out=one[::-2], size=(30, 40), flip="v")
    np.testing.assert_array_equal(one[::-2], fastrle.decode(rles[0])[::-1])
    assert (one[::2] == 5).all()


def test_zeroed_threads_and_ragged_agree():
    rles = synthetic.sa1b_like(9, 300, 450, seed=4)
    ref = fastrle.decode(rles, size=(137, 205), threads=1)
    for threads in (2, 3):
        np.testing.assert_array_equal(fastrle.decode(rles, size=(137, 205), threads=threads), ref)
    z = np.zeros_like(ref)
    fastrle.decode(rles, out=z, size=(137, 205), zeroed=True)
    np.testing.assert_array_equal(z, ref)
    np.testing.assert_array_equal(fastrle.decode(rles, size=(137, 205), zeroed=True), ref)  # no out: ignored
    data = "".join(r["counts"] for r in rles).encode()
    offs = np.cumsum([0] + [len(r["counts"]) for r in rles])
    np.testing.assert_array_equal(
        fastrle.decode_ragged(data, offs, 300, 450, size=(137, 205), indices=[8, 0]), ref[[8, 0]])
    a = fastrle.decode(rles, size=(137, 205), mode="area", threads=2)
    np.testing.assert_allclose(a, fastrle.decode(rles, size=(137, 205), mode="area", threads=1), atol=0)


def test_no_masks():
    assert fastrle.decode([], size=(5, 6)).shape == (0, 5, 6)
    assert fastrle.decode([], size=(5, 6), mode="area").dtype == np.float32
    assert fastrle.decode([], size=(5, 16), packed=True).shape == (0, 5, 2)


# --- bad input: a clear error, nothing written ------------------------------------------------------


GOOD = synthetic.coco_like(3, 20, 30, seed=5)


@pytest.mark.parametrize("size,exc", [
    ((0, 5), ValueError), ((5, -1), ValueError), ((5,), TypeError), ((1, 2, 3), TypeError),
    ((5.0, 6), TypeError), (("5", 6), TypeError), (5, TypeError), ((True, 5), TypeError),
    ((2**33, 1), ValueError), ((2**20, 2**20), ValueError),
])
def test_bad_size(size, exc):
    out = np.full((3, 5, 6), 3, np.uint8)
    with pytest.raises(exc, match="size"):
        fastrle.decode(GOOD, out=out, size=size)
    assert (out == 3).all()


@pytest.mark.parametrize("kw,exc,match", [
    (dict(size=(21, 30), mode="area"), ValueError, "downscales"),
    (dict(size=(20, 31), mode="area"), ValueError, "downscales"),
    (dict(size=(5, 6), mode="bilinear"), ValueError, "mode"),
    (dict(size=(5, 6), flip="x"), ValueError, "flip"),
    (dict(size=(5, 6), packed=True, bitorder="middle"), ValueError, "bitorder"),
    (dict(size=(5, 6), packed=True, mode="area"), ValueError, "packed"),
])
def test_bad_arguments(kw, exc, match):
    with pytest.raises(exc, match=match):
        fastrle.decode(GOOD, **kw)


@pytest.mark.parametrize("kw,shape,dtype,exc", [
    (dict(size=(5, 6)), (3, 5, 6), np.float32, TypeError),
    (dict(size=(5, 6), mode="area"), (3, 5, 6), np.uint8, TypeError),
    (dict(size=(5, 6)), (3, 6, 5), np.uint8, ValueError),
    (dict(size=(5, 6), packed=True), (3, 5, 6), np.uint8, ValueError),
    (dict(size=(5, 6)), (2, 5, 6), np.uint8, ValueError),
])
def test_bad_out(kw, shape, dtype, exc):
    out = np.full(shape, 3, dtype)
    with pytest.raises(exc, match="out"):
        fastrle.decode(GOOD, out=out, **kw)
    assert (out == 3).all()


def test_out_with_strided_last_axis_rejected():
    buf = np.full((3, 5, 12), 3, np.uint8)
    with pytest.raises(ValueError, match="C-contiguous along its last axis"):
        fastrle.decode(GOOD, out=buf[:, :, ::2], size=(5, 6))
    ro = np.zeros((3, 5, 6), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fastrle.decode(GOOD, out=ro, size=(5, 6))


@pytest.mark.parametrize("kw", [dict(size=(5, 6)), dict(size=(5, 6), mode="area"),
                                dict(packed=True), dict(flip="h"), dict(size=(40, 60), packed=True)])
def test_malformed_mask_named_and_nothing_written(kw):
    bad = list(GOOD) + [{"size": [20, 30], "counts": GOOD[0]["counts"][:-2]}]
    ref = fastrle.decode(GOOD, **kw)
    out = np.full((4,) + ref.shape[1:], 3, ref.dtype)
    with pytest.raises(fastrle.RLEError, match="mask 3") as ei:
        fastrle.decode(bad, out=out, **kw)
    assert ei.value.index == 3
    assert (out == 3).all()


def test_size_of_empty_source_rejected():
    with pytest.raises(ValueError, match="no pixels"):
        fastrle.decode([fastrle.empty(0, 5)], size=(3, 3))


# --- SA-1B integration -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def ann():
    return sa1b.load(synthetic.sa1b_image_dict(synthetic.sa1b_like(12, 150, 225, seed=1), image_id=1, seed=1))


def test_sa1b_annotation_decode_at_size(ann):
    full = ann.decode(top_k=5)
    for mode in ("nearest", "nearest-exact"):
        np.testing.assert_array_equal(ann.decode(top_k=5, size=(100, 150), mode=mode),
                                      torch_resize(full, (100, 150), mode))
    np.testing.assert_allclose(ann.decode(top_k=5, size=(100, 150), mode="area"),
                               cv2_area(full, (100, 150)), atol=1e-5)
    np.testing.assert_array_equal(ann.decode(top_k=5, packed=True, flip="v"),
                                  np.packbits(full[:, ::-1], axis=-1))


def test_sa1b_dataset_output_size_decodes_at_size(tmp_path, ann):
    obj = synthetic.sa1b_image_dict(synthetic.sa1b_like(12, 150, 225, seed=1), image_id=1, seed=1)
    (tmp_path / "sa_1.json").write_text(json.dumps(obj))
    ds = sa1b.SA1BDataset(tmp_path, output_size=(64, 96), format="numpy", image="none")
    it = ds[0]
    full = ann.decode(indices=it["indices"])
    np.testing.assert_array_equal(it["masks"], sa1b.resize_nearest(full, (64, 96)))
    np.testing.assert_array_equal(it["masks"], torch_resize(full, (64, 96), "nearest-exact"))
    ds2 = sa1b.SA1BDataset(tmp_path, output_size=(64, 96), format="numpy", image="none", mask_mode="area")
    np.testing.assert_allclose(ds2[0]["masks"], cv2_area(full, (64, 96)), atol=1e-5)
    with pytest.raises(ValueError, match="mask_mode"):
        sa1b.SA1BDataset(tmp_path, mask_mode="cubic")


def test_sa1b_mask_decoder_size(ann):
    dec = sa1b.SA1BMaskDecoder(max_masks=4, size=(75, 112))
    res = dec(ann)
    full = ann.decode(indices=res.indices)
    np.testing.assert_array_equal(res.masks, torch_resize(full, (75, 112), "nearest"))
    with pytest.raises(ValueError, match="size"):
        sa1b.SA1BMaskDecoder(size=(0, 4))
