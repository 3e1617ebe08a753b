"""fastrle.gpu.decode(size=, mode=, flip=, packed=, bitorder=) under emulation,
bit for bit against torch.nn.functional.interpolate (CPU) + np.flip + np.packbits."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu
from test_gpu_emulated import blobs, decode, encode, fake_gpu, lib  # noqa: F401

torch = pytest.importorskip("torch", reason="torch is the resize oracle")
F = torch.nn.functional
L = emu.launch_mod


def torch_reference(masks: np.ndarray, size, mode: str, flip, packed: bool, bitorder: str) -> np.ndarray:
    out = masks
    if size is not None:
        t = torch.from_numpy(np.ascontiguousarray(masks))[:, None]
        out = F.interpolate(t, size=tuple(size), mode=mode)[:, 0].numpy()
    if flip and "v" in flip:
        out = out[:, ::-1]
    if flip and "h" in flip:
        out = out[:, :, ::-1]
    out = np.ascontiguousarray(out)
    return np.packbits(out, axis=-1, bitorder=bitorder) if packed else out


@pytest.mark.parametrize("n_in,n_out", [(1, 1), (1, 7), (7, 1), (3, 7), (7, 3), (5, 10), (10, 5), (9, 9),
                                        (1500, 1024), (2250, 1333), (17, 34), (1000, 3), (3, 1000),
                                        (4095, 4097), (100003, 77777)])
@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
def test_index_maps_match_torch(n_in, n_out, mode):
    """The host maps give torch's source indices for uint8 input (masks): a
    ramp of indices in base 256 over 3 uint8 channels, interpolated in 2-D
    as masks are (torch's 1-D kernel rounds nearest-exact differently).  (float64
    tensors take a double-precision path in torch and differ for large sizes.)"""
    idx = np.arange(n_in)
    ramp = np.stack([(idx >> 16) & 255, (idx >> 8) & 255, idx & 255]).astype(np.uint8)
    r = F.interpolate(torch.from_numpy(ramp)[None, :, None], size=(1, n_out), mode=mode)[0, :, 0]
    r = r.numpy().astype(np.int64)
    got = L.Transform(1, n_out, mode).maps(1, n_in)[1:1 + n_out]
    np.testing.assert_array_equal(got, (r[0] << 16) | (r[1] << 8) | r[2])


SIZES = [(1, 1), (1, 9), (9, 1), (3, 7), (7, 3), (40, 100), (61, 17), (5, 300)]


@pytest.mark.parametrize("mode", ["nearest", "nearest-exact"])
@pytest.mark.parametrize("flip", [None, "h", "v", "hv"])
def test_resize_flip_pack_match_torch(lib, mode, flip):
    rng = np.random.default_rng(hash((mode, flip)) % 2**32)
    for h, w in [(1, 1), (1, 13), (13, 1), (20, 30), (33, 71)]:
        masks = blobs(rng, 3, h, w) if h * w > 20 else (rng.random((3, h, w)) < 0.5).astype(np.uint8)
        rles = encode(masks)
        for size in [None, (h, w), (2 * h, 2 * w), (3 * h, 7 * w // 3 + 1), (max(1, h // 3), max(1, w // 7)),
                     *SIZES[::3]]:
            for packed, bitorder in [(False, "big"), (True, "big"), (True, "little")]:
                ref = torch_reference(masks, size, mode, flip, packed, bitorder)
                got = decode(lib, rles, size=size, mode=mode, flip=flip, packed=packed, bitorder=bitorder,
                             order=emu.ORDER_SHUFFLED, seed=h)
                np.testing.assert_array_equal(got, ref, err_msg=f"{h}x{w} -> {size} {packed} {bitorder}")


def test_transform_edge_cases(lib):
    rng = np.random.default_rng(9)
    masks = blobs(rng, 2, 45, 60)
    rles = encode(masks)
    # single dict: (H2, W2); bands smaller than the output; empty output sizes
    got = decode(lib, rles[0], size=(91, 13), flip="v", band_rows=7)
    np.testing.assert_array_equal(got, torch_reference(masks[:1], (91, 13), "nearest", "v", False, "big")[0])
    # sizes are positive, as on the CPU (fastrle._args.size_arg)
    for size in [(0, 5), (4, 0)]:
        with pytest.raises(ValueError, match="must be positive"):
            decode(lib, rles, size=size, packed=True)
    # a malformed mask comes out as zeros with check=False, and raises with check=True
    bad = [rles[0], {"size": [45, 60], "counts": b"1"}]
    got = decode(lib, bad, size=(30, 30), check=False)
    assert not got[1].any()
    with pytest.raises(ValueError, match="mask 1"):
        decode(lib, bad, size=(30, 30))
    for kw, err in [(dict(mode="bilinear"), ValueError), (dict(flip="x"), ValueError),
                    (dict(bitorder="middle", packed=True), ValueError), (dict(size=(3,)), TypeError),
                    (dict(size=(-1, 3)), ValueError)]:
        with pytest.raises(err):
            decode(lib, rles, **kw)
    with pytest.raises(ValueError, match="no pixels"):
        decode(lib, [{"size": [0, 5], "counts": b""}], size=(3, 3))


def test_transforms_through_fastrle_gpu(fake_gpu):
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(12)
    masks = blobs(rng, 3, 50, 70)
    rles = encode(masks)
    for kw in [dict(size=(25, 140)), dict(flip="h"), dict(size=(99, 33), mode="nearest-exact", flip="hv",
                                                         packed=True, bitorder="little")]:
        ref = torch_reference(masks, kw.get("size"), kw.get("mode", "nearest"), kw.get("flip"),
                              kw.get("packed", False), kw.get("bitorder", "big"))
        np.testing.assert_array_equal(np.asarray(gpu.decode(rles, **kw)), ref)
    strs = [r["counts"] for r in rles]
    offsets = np.cumsum([0] + [len(s) for s in strs])
    got = gpu.decode_ragged(b"".join(strs), offsets, 50, 70, size=(10, 10), flip="v")
    np.testing.assert_array_equal(np.asarray(got), torch_reference(masks, (10, 10), "nearest", "v", False, "big"))


@pytest.mark.parametrize("flip", [None, "h"])
def test_wide_resizes_take_the_slab_kernels(lib, flip):
    """Without a vertical flip, resizes run in fastrle_expand(_packed) with
    maps: interior tiles, many source rows per slab (downscale) or repeated
    rows (upscale), against torch."""
    rng = np.random.default_rng(21)
    for (h, w), size in [((40, 100), (70, 600)), ((300, 700), (33, 260)), ((64, 250), (64, 251)),
                         ((97, 311), (200, 311))]:
        masks = blobs(rng, 2, h, w)
        rles = encode(masks)
        for mode in ("nearest", "nearest-exact"):
            for packed, bitorder in [(False, "big"), (True, "big"), (True, "little")]:
                got = decode(lib, rles, size=size, mode=mode, flip=flip, packed=packed,
                                       bitorder=bitorder, band_rows=64)
                ref = torch_reference(masks, size, mode, flip, packed, bitorder)
                np.testing.assert_array_equal(got, ref, err_msg=f"{h}x{w}->{size} {mode} {packed}")
    plan = L.plan_launches(L.pack_rles(rles), L.Config(), False, L.make_transform(h, w, (50, 50), "nearest",
                                                                                   "h", False, "big"))
    assert plan[1].kernel == "fastrle_expand" and plan[1].args[10] & L.MAP_MAPPED


class _CountingBackend(emu.EmuBackend):
    """The emulator backend, recording what each call uploads as maps."""

    def __init__(self, lib):
        super().__init__(lib)
        self.uploaded_maps: list = []

    def buffers(self, batch, maps):
        self.uploaded_maps.append(maps)
        return super().buffers(batch, maps)


def test_little_bitorder_at_the_same_size_needs_no_maps(lib):
    """issue 21, finding 6: packed=True, bitorder="little" at the masks' own
    size is a flag of the plain packed kernel: no maps built or uploaded, no
    mapped kernel."""
    rng = np.random.default_rng(61)
    masks = blobs(rng, 3, 37, 250)
    rles = encode(masks)
    t = L.make_transform(37, 250, None, "nearest", None, True, "little", 3)
    assert t is not None and not t.mapped(37, 250) and not t.is_identity(37, 250)
    for size, mode in [(None, "nearest"), ((37, 250), "nearest"), ((37, 250), "nearest-exact")]:
        plan = L.plan_launches(L.pack_rles(rles), L.Config(), True,
                               L.make_transform(37, 250, size, mode, None, True, "little", 3))
        assert [lc.kernel for lc in plan] == ["fastrle_parse_warp", "fastrle_expand_packed"]
        assert plan[1].args[10] == L.MAP_LITTLE and plan[1].args[4] != "maps"
        backend = _CountingBackend(lib)
        got = L.decode_with(backend, rles, packed=True, bitorder="little", size=size, mode=mode)
        assert backend.uploaded_maps == [None]
        np.testing.assert_array_equal(got, np.packbits(masks, axis=-1, bitorder="little"))
    # a resize still maps, little or big
    backend = _CountingBackend(lib)
    got = L.decode_with(backend, rles, packed=True, bitorder="little", size=(40, 250))
    assert backend.uploaded_maps[0] is not None and backend.launches[1].args[10] == L.MAP_LITTLE | L.MAP_MAPPED
    np.testing.assert_array_equal(got, torch_reference(masks, (40, 250), "nearest", None, True, "little"))


def test_transform_maps_are_built_once_per_shape():
    t = L.Transform(700, 900, "nearest-exact", "h")
    a = t.maps(1500, 2250)
    assert a is L.Transform(700, 900, "nearest-exact", "h").maps(1500, 2250)  # cached
    assert not a.flags.writeable
    assert a is not L.Transform(700, 900, "nearest-exact", "v").maps(1500, 2250)
    # the same transform arguments give the same (cached) Transform; a bool is not taken for an int
    assert L.make_transform(1500, 2250, (700, 900), "nearest", "h", False, "big", 3) is \
        L.make_transform(1500, 2250, (700, 900), "nearest", "h", False, "big", 5)
    L.make_transform(1500, 2250, (1, 3), "nearest", None, False, "big")
    with pytest.raises(TypeError, match="must be an int"):
        L.make_transform(1500, 2250, (True, 3), "nearest", None, False, "big")
