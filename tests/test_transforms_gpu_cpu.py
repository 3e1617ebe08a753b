"""The GPU transforms (under the CPU emulator) and the CPU transforms are one
contract: fastrle.gpu.decode(size=, mode=, flip=, packed=) must equal
fastrle.decode(...) bit for bit. Each side is also checked against torch in its
own tests; this file needs no torch, so the two paths agree even without it."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu
from test_gpu_emulated import blobs, decode, fake_gpu, lib  # noqa: F401

import fastrle

L = emu.launch_mod


def cpu_index_map(n_in: int, n_out: int, mode: str) -> np.ndarray:
    """The source column of each output column, read back from fastrle.decode:
    mask k holds bit k of every column's index (one row), so the resized masks
    spell out the index map the CPU path used."""
    k = max(1, int(n_in - 1).bit_length())
    idx = np.arange(n_in)
    planes = ((idx[None, :] >> np.arange(k)[:, None]) & 1).astype(np.uint8)[:, None, :]
    out = fastrle.decode(fastrle.encode(planes), size=(1, n_out), mode=mode)[:, 0, :]
    return (out.astype(np.int64) << np.arange(k)[:, None]).sum(0)


def test_cpu_index_map_reader_can_tell_maps_apart():
    assert np.array_equal(cpu_index_map(5, 5, "nearest"), np.arange(5))
    assert not np.array_equal(cpu_index_map(7, 3, "nearest"), cpu_index_map(7, 3, "nearest-exact"))


PAIRS = [(1500, 1024), (2250, 1024), (1500, 683), (2250, 1536), (1024, 1024), (1024, 256),
         (300, 700), (700, 300), (127, 128), (128, 127), (255, 128), (129, 257), (1, 300), (300, 1)]
PAIRS += [tuple(int(v) for v in p) for p in np.random.default_rng(0).integers(1, 5000, (120, 2))]
# pairs where the GPU's old numpy map differed from the C rule (issue 19)
PAIRS += [(2, 141), (2, 159), (4, 166), (14, 287), (2, 41)]


def gpu_col_map(n_in: int, n_out: int, mode: str) -> np.ndarray:
    """The column map the GPU path uploads for a (1, n_in) -> (1, n_out) resize."""
    return L.Transform(1, n_out, mode).maps(1, n_in)[1:1 + n_out].astype(np.int64)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_gpu_host_maps_equal_cpu_maps(mode):
    bad = [(a, b) for a, b in PAIRS if not np.array_equal(gpu_col_map(a, b, mode), cpu_index_map(a, b, mode))]
    assert not bad, f"{mode}: GPU and CPU index maps differ for {bad[:10]}"


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_gpu_host_maps_are_the_c_rule(mode):
    """Both axes of 2-D outputs on both sides of torch's oh + ow = 128 kernel
    switch, out sizes 1..300: Transform.maps is nearest_map (the C rule).
    (tests/test_nearest_rule.py checks both against torch for every pair.)"""
    from fastrle.transforms import nearest_map

    bad = []
    for a in range(1, 301, 7):
        for b in range(1, 301):
            for other in (1, 128 - b, 129 - b):
                if other < 1:
                    continue
                got = L.Transform(b, other, mode).maps(a, 3)[:b + other]
                want = np.concatenate([nearest_map(a, b, mode, other_size=other),
                                       nearest_map(3, other, mode, other_size=b)])
                if not np.array_equal(got, want):
                    bad.append((a, b, other))
    assert not bad, f"{mode}: GPU maps are not the C rule's for {bad[:10]}"


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_same_size_takes_the_fast_kernels_only_where_torch_maps_are_the_identity(mode):
    """Past 2**23 (nearest-exact) or 2**24 (nearest) samples torch's float32
    index map for in == out is not the identity; the CPU follows it, so the
    GPU must not take its identity (plain decode) kernels there."""
    assert L.Transform(1500, 2250, mode).is_identity(1500, 2250)
    n = 2**24 + 3
    from fastrle.transforms import nearest_map

    assert not np.array_equal(nearest_map(n, n, mode), np.arange(n))
    assert not L.Transform(1, n, mode).is_identity(1, n)
    assert not L.Transform(n, 1, mode).is_identity(n, 1)


@pytest.mark.parametrize("size", [(1, 141), (100, 41), (87, 41), (3, 287)])
def test_issue19_small_source_upscaled_gpu_equals_cpu(lib, size):
    """A 1x2 mask [0, 1] upscaled: the GPU (emulated) gives the CPU's mask,
    which is torch's (column 70 of 141 is 1; the old GPU map said 0)."""
    rles = fastrle.encode(np.array([[[0, 1]]], np.uint8))
    want = fastrle.decode(rles, size=size, mode="nearest-exact")
    if size == (1, 141):
        assert want[0, 0, 70] == 1
    got = decode(lib, rles, size=size, mode="nearest-exact")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("flip", [None, "h", "v", "hv"])
def test_gpu_decode_equals_cpu_decode(lib, mode, flip):
    # a fixed seed per case (hash() of a str is salted per process: failures would not reproduce)
    seed = 100 * ["nearest", "nearest-exact"].index(mode) + [None, "h", "v", "hv"].index(flip)
    print(f"seed {seed}")
    rng = np.random.default_rng(seed)
    masks = blobs(rng, 3, 150, 225)
    rles = fastrle.encode(masks)
    for size in [(150, 225), (300, 450), (64, 96), (129, 200), (47, 331)]:
        for packed, bitorder in [(False, "big"), (True, "big"), (True, "little")]:
            kw = dict(size=size, mode=mode, flip=flip, packed=packed, bitorder=bitorder)
            want = fastrle.decode(rles, **kw)
            got = decode(lib, rles, order=emu.ORDER_SHUFFLED, seed=size[0], **kw)
            np.testing.assert_array_equal(got, want, err_msg=str(kw))


def test_sa1b_cuda_decode_with_transforms_equals_cpu(fake_gpu):
    """SA1BAnnotation.decode(device="cuda", size=..., flip=..., packed=...) passes the
    transform on to the GPU decoder, and gives the CPU's masks."""
    from fastrle import sa1b, synthetic

    ann = sa1b.load(synthetic.sa1b_image_dict(synthetic.sa1b_like(6, 90, 140, seed=4), seed=4))
    for kw in [dict(size=(45, 70)), dict(size=(200, 33), mode="nearest-exact", flip="h"),
               dict(size=(64, 64), flip="hv", packed=True), dict(top_k=3, size=(30, 31), flip="v")]:
        np.testing.assert_array_equal(np.asarray(ann.decode(device="cuda", **kw)), ann.decode(**kw),
                                      err_msg=str(kw))


def test_area_mode_equals_the_cpu(lib):
    """issue 21, finding 4: mode="area" on the GPU (rle_area.cuh), float32
    bit for bit equal to fastrle.decode(mode="area"), flips and padded out
    views included; its argument errors are the CPU's."""
    rng = np.random.default_rng(2121)
    cases = [((37, 250), (5, 31)), ((37, 250), (37, 250)), ((64, 64), (7, 9)), ((61, 17), (1, 1)),
             ((33, 71), (33, 10)), ((20, 30), (19, 29)), ((1, 40), (1, 3))]
    for (h, w), size in cases:
        masks = blobs(rng, 3, h, w) if h * w > 40 else (rng.random((3, h, w)) < 0.5).astype(np.uint8)
        masks[0, :, : w // 2] = 1  # big runs across cells
        rles = fastrle.encode(masks)
        for flip in (None, "h", "v", "hv"):
            cpu = fastrle.decode(rles, size=size, mode="area", flip=flip)
            backend = emu.EmuBackend(lib, order=emu.ORDER_SHUFFLED, seed=h)
            gpu = L.decode_with(backend, rles, size=size, mode="area", flip=flip)
            assert gpu.dtype == np.float32 and cpu.dtype == np.float32
            np.testing.assert_array_equal(gpu.view(np.uint32), cpu.view(np.uint32), err_msg=f"{h}x{w}->{size} {flip}")
            assert L.MAP_MAPPED not in [lc.args[-2] for lc in backend.launches[1:]]
            assert [lc.kernel for lc in backend.launches] == ["fastrle_parse_warp", "fastrle_expand_area"]
    # a padded float32 view, as the CPU takes it
    buf_cpu = np.full((4, 9, 40), -1, np.float32)
    buf_gpu = buf_cpu.copy()
    fastrle.decode(rles, out=buf_cpu[:3, :1, :3], size=(1, 3), mode="area")
    L.decode_with(emu.EmuBackend(lib), rles, out=buf_gpu[:3, :1, :3], size=(1, 3), mode="area")
    np.testing.assert_array_equal(buf_gpu, buf_cpu)
    # a bad mask: the CPU's error, out untouched; check=False: zeros
    bad = rles[:1] + [{"size": [1, 40], "counts": b"1"}] + rles[2:]
    out = np.full((3, 1, 3), 5, np.float32)
    with pytest.raises(fastrle.RLEError, match="^mask 1: counts sum to less"):
        L.decode_with(emu.EmuBackend(lib), bad, out=out, size=(1, 3), mode="area")
    assert (out == 5).all()
    got = L.decode_with(emu.EmuBackend(lib), bad, size=(1, 3), mode="area", check=False)
    assert not got[1].any()
    np.testing.assert_array_equal(got[[0, 2]], fastrle.decode([rles[0], rles[2]], size=(1, 3), mode="area"))
    # the CPU's argument errors
    for kw in (dict(size=(2, 80), mode="area"), dict(size=(1, 3), mode="area", packed=True),
               dict(size=(1, 3), mode="area", out=np.zeros((3, 1, 3), np.uint8))):
        with pytest.raises(Exception) as cpu_err:
            fastrle.decode(rles, **kw)
        with pytest.raises(Exception) as gpu_err:
            L.decode_with(emu.EmuBackend(lib), rles, **kw)
        assert (type(gpu_err.value), str(gpu_err.value)) == (type(cpu_err.value), str(cpu_err.value))
