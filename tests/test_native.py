"""The native API: C-order (N, H, W) decode, str encode, out buffers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common import pyc_decode_c, pycoco, to_f
from strategies import masks

import fastrle


@given(masks(max_side=80, max_n=5), st.sampled_from([1, 2, 3]))
def test_decode_matches_pycocotools(m: np.ndarray, threads: int) -> None:
    rles = pycoco.encode(to_f(m))
    got = fastrle.decode(rles, threads=threads)
    assert got.dtype == np.uint8 and got.flags.c_contiguous and got.shape == m.shape
    np.testing.assert_array_equal(got, pyc_decode_c(rles))
    np.testing.assert_array_equal(got, m)


@given(masks(max_side=80, max_n=5))
def test_decode_into_out_full_and_zeroed(m: np.ndarray) -> None:
    rles = pycoco.encode(to_f(m))
    out = np.full(m.shape, 7, np.uint8)  # garbage must be overwritten
    assert fastrle.decode(rles, out=out) is out
    np.testing.assert_array_equal(out, m)
    z = np.zeros(m.shape, bool)
    fastrle.decode(rles, out=z, zeroed=True)
    np.testing.assert_array_equal(z, m.astype(bool))


@given(masks(max_side=80, max_n=4), st.sampled_from(["C", "F", "T", "strided"]))
def test_encode_any_order_matches_pycocotools(m: np.ndarray, layout: str) -> None:
    expected = [r["counts"].decode() for r in pycoco.encode(to_f(m))]
    if layout == "F":
        arr = np.asfortranarray(m)
    elif layout == "T":  # (H, W, N) F-order seen as (N, H, W)
        arr = to_f(m).transpose(2, 0, 1)
    elif layout == "strided":
        big = np.zeros((m.shape[0], m.shape[1], m.shape[2] * 2), np.uint8)
        big[:, :, ::2] = m
        arr = big[:, :, ::2]
    else:
        arr = m
    got = fastrle.encode(arr.astype(bool) if layout == "C" else arr)
    assert [g["counts"] for g in got] == expected
    assert all(isinstance(g["counts"], str) and g["size"] == list(m.shape[1:]) for g in got)
    json.dumps(got)  # JSON-ready


def test_encode_nonzero_is_foreground() -> None:
    m = np.array([[[0, 2, 1, 255]]], np.uint8)
    assert fastrle.encode(m) == fastrle.encode(m != 0)


def test_encode_single_and_roundtrip() -> None:
    m = np.zeros((5, 6), bool)
    m[1:3, 2:5] = True
    r = fastrle.encode(m)
    assert isinstance(r, dict) and r["size"] == [5, 6]
    np.testing.assert_array_equal(fastrle.decode(r), m)
    assert fastrle.decode(r).shape == (5, 6)


def test_counts_as_list_of_ints() -> None:
    r = {"size": [3, 4], "counts": [2, 5, 1, 4]}
    expected = np.zeros(12, np.uint8)
    expected[2:7] = 1
    expected[8:] = 1
    np.testing.assert_array_equal(fastrle.decode(r), expected.reshape(4, 3).T)


def test_area_bbox_empty() -> None:
    m = np.zeros((3, 10, 12), np.uint8)
    m[0, 2:5, 3:9] = 1
    m[1, 9, 11] = 1
    rles = fastrle.encode(m)
    np.testing.assert_array_equal(fastrle.area(rles), [18, 1, 0])
    assert fastrle.area(rles)[0].dtype == np.int64
    np.testing.assert_array_equal(fastrle.bbox(rles), [[3, 2, 6, 3], [11, 9, 1, 1], [0, 0, 0, 0]])
    e = fastrle.empty(10, 12)
    assert e == rles[2] and isinstance(e["counts"], str)
    assert fastrle.area(e) == 0
    # empty masks written with zero-length foreground runs: still all zeros
    # (fastrle.mask.toBbox keeps pycocotools' wrapped widths for these instead)
    for counts in ([120, 0], [0, 0, 120], [50, 0, 70, 0]):
        z = {"size": [10, 12], "counts": counts}
        np.testing.assert_array_equal(fastrle.bbox(z), [0, 0, 0, 0])
        np.testing.assert_array_equal(fastrle.bbox([z, rles[1]]), [[0, 0, 0, 0], [11, 9, 1, 1]])
        assert fastrle.area(z) == 0


def test_out_torch_tensor() -> None:
    torch = pytest.importorskip("torch")
    m = np.zeros((2, 6, 7), np.uint8)
    m[0, 1:4, 2:6] = 1
    m[1, 5, :] = 1
    rles = fastrle.encode(m)
    t = torch.empty((2, 6, 7), dtype=torch.uint8)
    assert fastrle.decode(rles, out=t) is t
    np.testing.assert_array_equal(t.numpy(), m)


def test_out_bytearray_buffer_rejected_shape() -> None:
    with pytest.raises(ValueError, match="shape"):
        fastrle.decode([fastrle.empty(2, 2)], out=bytearray(4))


def test_large_image_threads_agree() -> None:
    from fastrle import synthetic

    rles = synthetic.sa1b_like(n=6, h=700, w=900, seed=3)
    ref = pyc_decode_c(rles)
    for t in (1, 2, 4):
        np.testing.assert_array_equal(fastrle.decode(rles, threads=t), ref)
    out = np.empty_like(ref)
    np.testing.assert_array_equal(fastrle.decode(rles, out=out, threads=2), ref)


def test_decode_ragged() -> None:
    m = np.random.default_rng(5).random((4, 9, 11)) < 0.3
    strs = [r["counts"].encode() for r in fastrle.encode(m)]
    data = b"".join(strs)
    offsets = np.cumsum([0] + [len(s) for s in strs])
    np.testing.assert_array_equal(fastrle.decode_ragged(data, offsets, 9, 11), m)
    np.testing.assert_array_equal(fastrle.decode_ragged(data, offsets, 9, 11, indices=[3, 0]), m[[3, 0]])
