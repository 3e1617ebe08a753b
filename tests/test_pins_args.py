"""Pins for the argument rules (fastrle._args) and the Python layer of the
transforms (fastrle.transforms) where no outside oracle exists (issue 24):
every limit on both sides, the order in which checks run (which problem is
named first), the exception types and messages, and small transformed
decodes (flips, packing, single masks) computed by hand."""
from __future__ import annotations

import numpy as np
import pytest

import fastrle
from fastrle import _args as A
from fastrle import transforms as T

M = 2**32 - 1


def test_size_limits_both_sides():
    for h, w in ((0, 0), (M, 1), (1, M), (65535, 65537), (0, M)):
        A.check_size(h, w)
        assert A.size_ok(h, w)
    for h, w, msg in ((-1, 0, "is negative"), (0, -1, "is negative"), (M + 1, 0, "more than 2\\^32-1"),
                      (0, M + 1, "more than 2\\^32-1"), (65536, 65536, "more than 2\\^32-1")):
        with pytest.raises(ValueError, match=msg):
            A.check_size(h, w)
        assert not A.size_ok(h, w)


def test_dim_and_mask_size_rules():
    assert A.dim_arg(np.int64(5), 3, "height") == 5 and A.dim_arg(7.0, 0, "width") == 7
    assert A.dim_arg(M, 0, "width") == M and A.dim_arg(0, 0, "width") == 0
    for v, exc, msg in ((7.5, TypeError, r"mask 2: size\[height\] must be an integer, got 7.5"),
                        ("7", TypeError, r"mask 2: size\[height\] must be an integer, got '7'"),
                        (float("inf"), TypeError, "must be an integer"), (None, TypeError, "must be an integer"),
                        (-1, ValueError, "mask 2: size has a negative height: -1"),
                        (M + 1, ValueError, f"mask 2: size height {M + 1} exceeds 2\\^32-1")):
        with pytest.raises(exc, match=msg):
            A.dim_arg(v, 2, "height")
    assert A.mask_size([3, 4], 0) == (3, 4) and A.mask_size(np.array([3, 4]), 0) == (3, 4)
    for bad in ([3], [3, 4, 5], 5, None, "abc"):
        with pytest.raises(ValueError, match=r"mask 1: 'size' must be \[height, width\]"):
            A.mask_size(bad, 1)
    with pytest.raises(TypeError, match=r"size\[width\]"):
        A.mask_size([3, 4.5], 0)
    assert str(A.differing_size(2, 3, 4, 5, 6)) == \
        "mask 2: size [3, 4] differs from mask 0's size [5, 6]; all masks in one call must have the same size"


def test_positive_int_and_size_arg():
    assert A.positive_int(1, "x") == 1 and A.positive_int(np.uint32(M), "x") == M
    for v, exc, msg in ((0, ValueError, "x must be positive, got 0"), (M + 1, ValueError, f"x {M + 1} exceeds"),
                        (True, TypeError, "x must be an int, got True"), (2.0, TypeError, "x must be an int")):
        with pytest.raises(exc, match=msg):
            A.positive_int(v, "x")
    assert A.size_arg((2, 3)) == (2, 3) and A.size_arg([M, 1]) == (M, 1) and A.size_arg(np.array([4, 5])) == (4, 5)
    for bad in ("ab", b"ab", (1, 2, 3), 5, {1: 2, 3: 4}, None):
        with pytest.raises(TypeError, match="size must be a pair of ints"):
            A.size_arg(bad)
    with pytest.raises(ValueError, match=r"size\[1\] must be positive"):
        A.size_arg((1, 0))
    with pytest.raises(TypeError, match=r"out_size\[0\] must be an int"):
        A.size_arg((1.0, 2), "out_size")
    with pytest.raises(ValueError, match="size 65536x65536 has more than 2\\^32-1 pixels"):
        A.size_arg((65536, 65536))


def test_flip_mode_bitorder_and_transform():
    assert [A.flip_arg(f) for f in (None, "h", "v", "hv")] == [(False, False), (True, False), (False, True),
                                                                (True, True)]
    for bad in ("vh", "H", "", ["h"], 1):
        with pytest.raises(ValueError, match="flip must be None, 'h', 'v' or 'hv'"):
            A.flip_arg(bad)
    assert A.mode_arg("area", False) == "area" and A.mode_arg("nearest-exact", True) == "nearest-exact"
    with pytest.raises(ValueError, match="packed=True needs binary output"):
        A.mode_arg("area", True)
    for bad in ("bilinear", None, ("nearest",)):
        with pytest.raises(ValueError, match="mode must be one of"):
            A.mode_arg(bad, False)
    assert (A.bitorder_arg("little"), A.bitorder_arg("big")) == (True, False)
    for bad in ("Big", None, b"big"):
        with pytest.raises(ValueError, match="bitorder must be 'big' or 'little'"):
            A.bitorder_arg(bad)
    t = A.transform_args(4, 9, 1, (2, 9), "nearest", "v", 1, "little")
    assert t == (2, 9, "nearest", False, True, True, True) and t.last == 2 and t.dtype == np.uint8
    assert A.transform_args(4, 9, 1, None, "nearest", None, False, "big").last == 9
    assert A.transform_args(4, 16, 1, None, "nearest", None, True, "big").last == 2
    assert A.transform_args(4, 9, 1, (4, 9), "area", None, False, "big").dtype == np.float32


def test_transform_checks_run_in_one_order():
    """With several problems at once, the first in the documented order is named."""
    order = [
        (dict(mode="area", packed=True, flip="x", bitorder="x", size=(0, 0)), "packed=True needs binary"),
        (dict(mode="nearest", packed=False, flip="x", bitorder="x", size=(0, 0)), "flip must be"),
        (dict(mode="nearest", packed=False, flip=None, bitorder="x", size=(0, 0)), "bitorder must be"),
        (dict(mode="nearest", packed=False, flip=None, bitorder="big", size=(0, 0)), r"size\[0\] must be positive"),
    ]
    for kw, msg in order:
        with pytest.raises(ValueError, match=msg):
            A.transform_args(3, 3, 1, kw["size"], kw["mode"], kw["flip"], kw["packed"], kw["bitorder"])
    with pytest.raises(ValueError, match="mask size -1x3 is negative"):
        A.transform_args(-1, 3, 1, (0, 0), "nearest", None, False, "big")
    with pytest.raises(ValueError, match="cannot resize masks of size 0x3: they have no pixels"):
        A.transform_args(0, 3, 1, (2, 2), "nearest", None, False, "big")
    A.transform_args(0, 3, 0, (2, 2), "nearest", None, False, "big")  # no masks: nothing to resize
    A.transform_args(0, 3, 1, None, "nearest", None, False, "big")  # no resize asked
    for size in ((4, 3), (3, 4)):
        with pytest.raises(ValueError, match=f"mode='area' only downscales: size {size[0]}x{size[1]}"):
            A.transform_args(3, 3, 1, size, "area", None, False, "big")
    A.transform_args(3, 3, 0, (4, 4), "area", None, False, "big")  # no masks: allowed
    A.transform_args(3, 3, 1, (3, 3), "area", None, False, "big")  # the same size: allowed
    with pytest.raises(ValueError, match="only downscales"):  # the size rule comes before the GPU's lack
        A.transform_args(3, 3, 1, (4, 4), "area", None, False, "big", area="fastrle.gpu.decode")
    with pytest.raises(NotImplementedError, match="fastrle.gpu.decode does not support mode='area'"):
        A.transform_args(3, 3, 1, (2, 2), "area", None, False, "big", area="fastrle.gpu.decode")


def test_buffers_lists_threads_dtypes():
    a = np.zeros((2, 3), np.uint8)
    assert A.out_array(a) is a
    assert A.out_array(bytearray(6)).shape == (6,)
    with pytest.raises(TypeError, match="out must be a numpy array, a torch CPU tensor or a writable buffer, got int"):
        A.out_array(5)
    # check_out's order: dtype, shape, layout, writable
    f = np.zeros((2, 3), np.float32)
    with pytest.raises(TypeError, match="out must have dtype uint8 or bool, got float32"):
        A.check_out(f[:, :2], (2, 3))
    with pytest.raises(ValueError, match=r"out has shape \(2, 2\), expected \(2, 3\) for x"):
        A.check_out(a[:, :2], (2, 3), what=" for x")
    pad = np.zeros((2, 5), np.uint8)[:, :3]
    assert A.check_out(pad, (2, 3)) is pad
    with pytest.raises(ValueError, match="out must be C-contiguous for y"):
        A.check_out(pad, (2, 3), strided=False, what=" for y")
    with pytest.raises(NotImplementedError, match="^caller needs a C-contiguous out"):
        A.check_out(pad, (2, 3), strided="caller")
    with pytest.raises(ValueError, match="C-contiguous along its last axis"):
        A.check_out(np.zeros((3, 2), np.uint8).T, (2, 3))
    ro = np.zeros((2, 3), np.uint8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="out is read-only"):
        A.check_out(ro, (2, 3))
    lst = [{"a": 1}]
    assert A.as_list(lst) is lst and A.as_list(({"a": 1},)) == lst and A.as_list(np.array([1, 2])) == [1, 2]
    for bad in ("ab", b"ab", {"size": [1, 1]}, 5):
        with pytest.raises(TypeError, match="rles must be an RLE dict or a list of RLE dicts"):
            A.as_list(bad)
    assert A.resolve_threads(None, A.THREAD_MIN_BYTES) == A.ALL_CPUS == 0
    assert A.resolve_threads(None, A.THREAD_MIN_BYTES - 1) == 1
    assert A.resolve_threads(np.int64(3), 0) == 3 and A.resolve_threads(2**40, 0) == 2**31 - 1
    assert A.resolve_threads(1, 10**12) == 1
    for bad, exc in ((0, ValueError), (-1, ValueError), (True, TypeError), (2.0, TypeError), ("2", TypeError)):
        with pytest.raises(exc, match="threads must be"):
            A.resolve_threads(bad, 0)
    assert A.THREAD_MIN_BYTES == 8 << 20 and A.MAX_PIXELS == M
    assert [A.mask_dtype_rule(d) for d in (np.uint8, bool, np.int8, np.int16, np.uint32, np.int64)] == \
        ["bytes", "bytes", "bytes", "nonzero", "nonzero", "nonzero"]
    for d in (np.float32, np.float16, np.complex64, object):
        with pytest.raises(TypeError, match="masks must be bool or integer"):
            A.mask_dtype_rule(d)
    assert A.masks_ndim((3, 4)) is True and A.masks_ndim((1, 3, 4)) is False
    for shape in ((3,), (1, 1, 3, 4)):
        with pytest.raises(ValueError, match=r"masks must be \(H, W\) or \(N, H, W\)"):
            A.masks_ndim(shape)


# --- transformed decodes by hand -------------------------------------------------------------------


def _rle(m):
    return fastrle.encode(np.asarray(m, np.uint8))


def test_flips_packing_and_single_masks_by_hand():
    m = np.array([[1, 0, 0, 0, 0, 0, 0, 0, 1, 1],
                  [0, 1, 1, 0, 0, 0, 0, 0, 0, 0]], np.uint8)
    r = _rle(m)
    assert fastrle.decode(r, flip="h").tolist() == [m[0, ::-1].tolist(), m[1, ::-1].tolist()]
    assert fastrle.decode(r, flip="v").tolist() == [m[1].tolist(), m[0].tolist()]
    assert fastrle.decode(r, flip="hv").tolist() == m[::-1, ::-1].tolist()
    # packed rows: 10 columns -> 2 bytes, the last padded with zeros
    assert fastrle.decode(r, packed=True).tolist() == [[0b10000000, 0b11000000], [0b01100000, 0]]
    assert fastrle.decode(r, packed=True, bitorder="little").tolist() == [[0b00000001, 0b00000011],
                                                                         [0b00000110, 0]]
    assert fastrle.decode([r, r], packed=True, flip="h").tolist()[1] == [[0b11000000, 0b01000000],
                                                                        [0b00000001, 0b10000000]]
    out = np.full((2, 2), 7, np.uint8)
    assert fastrle.decode(r, out=out, packed=True) is out and out.tolist()[1] == [0b01100000, 0]
    # nearest to 1 x 5: row 0, columns 0, 2, 4, 6, 8
    assert fastrle.decode(r, size=(1, 5)).tolist() == [[1, 0, 0, 0, 1]]
    assert fastrle.decode([r], size=(1, 5)).shape == (1, 1, 5)
    area = fastrle.decode(r, size=(1, 5), mode="area")
    assert area.dtype == np.float32 and area.tolist() == [[0.5, 0.25, 0.0, 0.0, 0.5]]  # 2x2 cells: 2/4, 1/4, 0, 0, 2/4
    assert fastrle.decode([], size=(3, 3)).shape == (0, 3, 3)


def test_roi_align_argument_rules():
    r = _rle(np.ones((4, 4)))
    box = [0.0, 0.0, 4.0, 4.0]
    one = T.roi_align(r, box, 2)
    assert one.shape == (2, 2) and one.dtype == np.float32 and np.allclose(one, 1.0)
    assert np.array_equal(T.roi_align(r, [box], 2), one) and np.array_equal(T.roi_align(r, np.array(box), 2), one)
    assert T.roi_align([r, r], [box, box], (3, 1)).shape == (2, 3, 1)
    for kw, exc, msg in (
            (dict(output_size=True), TypeError, "output_size must be a pair"),
            (dict(output_size=(2, 0)), ValueError, r"output_size\[1\] must be positive"),
            (dict(sampling_ratio=1.0), TypeError, "sampling_ratio must be an int, got 1.0"),
            (dict(sampling_ratio=True), TypeError, "sampling_ratio must be an int"),
            (dict(sampling_ratio=1 << 31), ValueError, f"sampling_ratio {1 << 31} out of range"),
            (dict(sampling_ratio=-(1 << 31) - 1), ValueError, "out of range"),
            (dict(sampling_ratio=(1 << 20) + 1), ValueError, f"sampling_ratio {(1 << 20) + 1} exceeds {1 << 20}"),
            (dict(spatial_scale="x"), TypeError, "spatial_scale must be a number"),
            (dict(spatial_scale=float("nan")), ValueError, "spatial_scale must be finite"),
            (dict(spatial_scale=1e39), ValueError, "spatial_scale must be finite")):
        kw = dict(dict(output_size=2), **kw)
        with pytest.raises(exc, match=msg):
            T.roi_align([r], [box], **kw)
    T.roi_align([r], [box], 2, sampling_ratio=1 << 20)
    T.roi_align([r], [box], 2, sampling_ratio=-(1 << 31))
    for boxes, exc, msg in (([box, box], ValueError, r"boxes must have shape \(N, 4\) = \(1, 4\), got \(2, 4\)"),
                            ([[0, 0, 4]], ValueError, r"got \(1, 3\)"),
                            ([["a", 0, 0, 0]], TypeError, "boxes must be a \\(N, 4\\) array of numbers, got list"),
                            ([[0, 0, float("inf"), 4]], ValueError, r"box 0 is not finite"),
                            ([[0, 0, 1e39, 4]], ValueError, r"box 0 overflows float32")):
        with pytest.raises(exc, match=msg):
            T.roi_align([r], boxes, 2)
    with pytest.raises(ValueError, match=r"^box 1 \["):  # the first bad box is named
        T.roi_align([r, r, r], [box, [0, 0, 1e12, 4], [0, 0, 1e13, 4]], 1, sampling_ratio=0)
    T.roi_align([r], [[0, 0, 1.0 * (1 << 20), 4]], 1, sampling_ratio=0)  # exactly 2^20 samples: allowed
    with pytest.raises(ValueError, match="needs 1048577.0 samples per bin"):
        T.roi_align([r], [[0, 0, 1.0 * (1 << 20) + 1, 4]], 1, sampling_ratio=0)
    out = np.zeros((1, 5, 2 + 3), np.float32)[:, :2, :2]
    assert T.roi_align([r], [box], 2, out=out) is out and np.allclose(out, 1.0)
    with pytest.raises(TypeError, match="out must have dtype float32 for roi_align"):
        T.roi_align([r], [box], 2, out=np.zeros((1, 2, 2), np.uint8))
    assert T.roi_align([], np.zeros((0, 4)), 2).shape == (0, 2, 2)
