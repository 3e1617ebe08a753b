"""fastrle.gpu on a real GPU (skipped without CuPy and a CUDA device).

The oracle is pycocotools when installed, else a small numpy decoder.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu.emu import import_fastrle_module

gpu = import_fastrle_module("gpu.api")
L = import_fastrle_module("gpu.launch")
pytestmark = pytest.mark.skipif(not gpu.available(), reason="no CuPy or no CUDA GPU")


def np_encode(mask: np.ndarray) -> dict:
    """(H, W) 0/1 -> compressed RLE dict, column-major like pycocotools."""
    flat = mask.T.reshape(-1)
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], change, [flat.size]])
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {"size": list(mask.shape), "counts": L.counts_to_string(counts)}


def masks_for(seed: int, n: int, h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.zeros((n, h, w), np.uint8)
    for i in range(n):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0.1, 0.4) * min(h, w)
        out[i] = ((yy - cy) ** 2 + (xx - cx) ** 2) < r * r
        out[i] ^= rng.random((h, w)) < 0.01
    return out


@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 1, 50), (3, 50, 1), (5, 97, 131), (2, 1500, 2250)])
def test_decode_matches(shape):
    import cupy

    masks = masks_for(0, *shape)
    rles = [np_encode(m) for m in masks]
    np.testing.assert_array_equal(cupy.asnumpy(gpu.decode(rles)), masks)
    np.testing.assert_array_equal(cupy.asnumpy(gpu.decode(rles, packed=True)), np.packbits(masks, axis=-1))


def test_malformed_raises_with_index():
    rles = [np_encode(m) for m in masks_for(1, 3, 20, 30)]
    rles[1] = {"size": [20, 30], "counts": b"1"}
    with pytest.raises(ValueError, match="mask 1"):
        gpu.decode(rles)


def test_torch_interop():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    masks = masks_for(2, 4, 64, 80)
    rles = [np_encode(m) for m in masks]
    t = torch.from_dlpack(gpu.decode(rles))
    assert t.is_cuda and t.dtype == torch.uint8
    np.testing.assert_array_equal(t.cpu().numpy(), masks)
    buf = torch.empty((4, 64, 80), dtype=torch.uint8, device="cuda")
    gpu.decode(rles, out=buf, stream=torch.cuda.current_stream())
    torch.cuda.current_stream().synchronize()
    np.testing.assert_array_equal(buf.cpu().numpy(), masks)


def test_transforms_match_torch_interpolate():
    torch = pytest.importorskip("torch")
    import cupy

    masks = masks_for(3, 3, 97, 131)
    rles = [np_encode(m) for m in masks]
    for size, mode, flip, packed, bitorder in [((50, 300), "nearest", "h", False, "big"),
                                               ((194, 262), "nearest", None, True, "little"),
                                               ((33, 77), "nearest-exact", "hv", True, "big")]:
        ref = torch.nn.functional.interpolate(torch.from_numpy(masks)[:, None], size=size, mode=mode)[:, 0]
        ref = ref.numpy()
        if flip and "v" in flip:
            ref = ref[:, ::-1]
        if flip and "h" in flip:
            ref = ref[:, :, ::-1]
        ref = np.packbits(np.ascontiguousarray(ref), axis=-1, bitorder=bitorder) if packed else ref
        got = gpu.decode(rles, size=size, mode=mode, flip=flip, packed=packed, bitorder=bitorder)
        np.testing.assert_array_equal(cupy.asnumpy(got), ref)


def test_concurrent_streams_and_misaligned_out():
    import threading

    import cupy

    masks = masks_for(4, 6, 301, 517)
    rles = [np_encode(m) for m in masks]
    errors = []

    def work():
        with cupy.cuda.Stream(non_blocking=True) as s:
            for _ in range(20):
                raw = cupy.empty(masks.size + 3, cupy.uint8)
                out = raw[3:].reshape(masks.shape)
                gpu.decode(rles, out=out, check=False, stream=s)
                s.synchronize()
                if not (cupy.asnumpy(out) == masks).all():
                    errors.append(1)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
