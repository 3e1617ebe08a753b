"""``fastrle.gpu.encode``: the encode kernels under the CPU emulator.

The kernels (``csrc/kernels/rle_encode.cuh``, as ``kernel_source()`` hands
them to CuPy) run through ``fastrle.gpu.encoder.encode_with`` -- the host code
the GPU path uses -- with an emulator backend. pycocotools' ``mask.encode``
is the oracle, byte for byte. Needs g++, not CuPy.
"""
from __future__ import annotations

import ctypes
import shutil
import sys
import types
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu
from cuda_emu.encode_oracle import gpu_encode, oracle  # shared with test_gpu_encode_pins.py

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
enc = emu.import_fastrle_module("gpu.encoder")
synthetic = emu.import_fastrle_module("synthetic")


@pytest.fixture(scope="module")
def lib():
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    return emu.build_emulator()


def banded(min_rows: int):
    """Cut every column into bands of ``min_rows`` rows or more (``enc.bands``)."""
    class Ctx:
        def __enter__(self):
            self.saved = enc.PARALLEL_THREADS, enc.MIN_BAND_ROWS
            enc.PARALLEL_THREADS, enc.MIN_BAND_ROWS = 1 << 40, min_rows

        def __exit__(self, *a):
            enc.PARALLEL_THREADS, enc.MIN_BAND_ROWS = self.saved
    return Ctx()


def check(lib, masks: np.ndarray, **kw) -> None:
    want = oracle(masks)
    runs = [(emu.ORDER_NORMAL, 0, None), (emu.ORDER_SHUFFLED, 3, None), (emu.ORDER_SHUFFLED, 4, 1),
            (emu.ORDER_NORMAL, 0, 3)]
    for order, seed, min_rows in runs:
        if min_rows is None:
            got, backend = gpu_encode(lib, masks, order=order, seed=seed, **kw)
        else:  # bands of rows: one row per thread, or 3 and a shorter last band
            with banded(min_rows):
                got, backend = gpu_encode(lib, masks, order=order, seed=seed, **kw)
        assert backend.copies == 1
        assert [g["size"] for g in got] == [list(masks.shape[1:])] * len(masks)
        assert [g["counts"] for g in got] == [r["counts"] for r in want], (order, min_rows)
        assert all(type(g["counts"]) is bytes for g in got)


def noise(rng, n, h, w, p=0.5):
    return (rng.random((n, h, w)) < p).astype(np.uint8)


SIZES = [(1, 1), (1, 7), (7, 1), (3, 7), (31, 33), (32, 32), (33, 65), (64, 129), (5, 300), (130, 3)]


@pytest.mark.parametrize("h,w", SIZES)
def test_noise_and_special_masks(lib, h, w):
    rng = np.random.default_rng(h * 1000 + w)
    masks = [noise(rng, 3, h, w), noise(rng, 2, h, w, 0.05), noise(rng, 2, h, w, 0.95),
             np.zeros((1, h, w), np.uint8), np.ones((1, h, w), np.uint8)]
    one = np.zeros((4, h, w), np.uint8)
    one[0, 0, 0] = one[1, h - 1, w - 1] = one[2, h // 2, w // 2] = one[3, 0, w - 1] = 1
    masks.append(one)
    inv = 1 - one
    masks.append(inv)
    check(lib, np.concatenate(masks))


def test_rows_columns_and_stripes(lib):
    h, w = 40, 37
    m = np.zeros((6, h, w), np.uint8)
    m[0, 5, :] = 1          # one row
    m[1, :, 6] = 1          # one column
    m[2, :, ::2] = 1        # every other column: long equal counts
    m[3, ::2, :] = 1        # every other row: counts of 1
    m[4, :h // 2, :] = 1    # top half
    m[5, :, w // 2:] = 1    # right half: one long run to the end
    check(lib, m)


def test_long_runs_and_big_deltas(lib):
    # counts of every varint length, growing and shrinking (negative deltas)
    h, w = 97, 411
    flat = np.zeros(h * w, np.uint8)
    pos, val = 0, 0
    for run in [1, 0, 40, 3, 2000, 1, 1, 17000, 5, 31, 32, 33, 1023, 1024, 1025, 2, 9000]:
        flat[pos:pos + run] = val
        pos += run
        val ^= 1
    flat[pos:] = val
    m = flat.reshape(w, h).T[None]  # column-major runs
    check(lib, np.ascontiguousarray(m))


def test_sa1b_like(lib):
    _, dense = synthetic.sa1b_like(12, 75, 112, seed=7, dense=True)
    check(lib, dense)  # bool
    check(lib, dense.view(np.uint8))


def test_all_real_rles(lib):
    """The 734 real RLEs of tests/data, decoded by pycocotools, encode back to their strings."""
    import json
    from collections import defaultdict

    path = Path(__file__).resolve().parent / "data" / "cocoapi_instances_val2014_fakesegm100_results.json"
    rles = [d["segmentation"] for d in json.loads(path.read_text())]
    assert len(rles) == 734
    groups = defaultdict(list)
    for r in rles:
        groups[tuple(r["size"])].append(r)
    for group in groups.values():
        dense = np.ascontiguousarray(mask_api.decode(group).transpose(2, 0, 1))
        got, backend = gpu_encode(lib, dense, order=emu.ORDER_SHUFFLED, seed=len(group))
        assert [g["counts"] for g in got] == [r["counts"].encode() for r in group]


def test_many_masks_cross_warps(lib):
    # more than 32 masks: the offsets scan carries across warp steps
    rng = np.random.default_rng(5)
    check(lib, noise(rng, 70, 6, 9, 0.3))


def test_strided_inputs(lib):
    rng = np.random.default_rng(11)
    base = noise(rng, 5, 23, 41, 0.4)
    want = oracle(base)
    views = {
        "fortran (N,H,W)": np.asfortranarray(base),
        "per-mask column-major": np.ascontiguousarray(base.transpose(0, 2, 1)).transpose(0, 2, 1),
        "sliced": np.pad(base, ((0, 2), (3, 1), (2, 5)))[:5, 3:26, 2:43],
        "stepped": np.repeat(np.repeat(base, 2, axis=1), 3, axis=2)[:, ::2, ::3],
    }
    for name, v in views.items():
        assert (v == base).all()
        got, backend = gpu_encode(lib, v)
        assert [g["counts"] for g in got] == [r["counts"] for r in want], name
    flipped = base[::-1, ::-1, ::-1]
    assert flipped.strides[1] < 0
    got, _ = gpu_encode(lib, flipped)
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(np.ascontiguousarray(flipped))]


def test_layout_hwn_matches_pycocotools_input(lib):
    rng = np.random.default_rng(2)
    f = np.asfortranarray(noise(rng, 4, 19, 50, 0.2).transpose(1, 2, 0))  # pycocotools' (H, W, N)
    want = mask_api.encode(f)
    got, backend = gpu_encode(lib, f, layout="hwn")
    assert [g["counts"] for g in got] == [r["counts"] for r in want]
    assert [g["size"] for g in got] == [r["size"] for r in want]


def test_torch_strides(lib):
    torch = pytest.importorskip("torch")
    t = (torch.rand(3, 20, 30, generator=torch.Generator().manual_seed(0)) > 0.6)
    for v in (t, t.permute(0, 2, 1), t.transpose(1, 2).contiguous().transpose(1, 2), t[:, 2:, ::2]):
        a = np.from_dlpack(v)  # the tensor's own strides, as DLPack hands them to CuPy
        got, _ = gpu_encode(lib, a)
        assert [g["counts"] for g in got] == [r["counts"] for r in oracle(np.ascontiguousarray(a))]


def test_single_mask_gives_a_dict(lib):
    m = np.zeros((5, 6), np.uint8)
    m[1:3, 2:4] = 1
    got, _ = gpu_encode(lib, m)
    want = mask_api.encode(np.asfortranarray(m))
    assert got == {"size": [5, 6], "counts": want["counts"]}


def test_empty_sizes_and_batch(lib):
    for h, w in ((0, 5), (5, 0), (0, 0)):
        m = np.zeros((2, h, w), np.uint8)
        got, _ = gpu_encode(lib, m)
        want = oracle(m)
        assert [g["counts"] for g in got] == [r["counts"] for r in want] == [b"0", b"0"]
    got, backend = gpu_encode(lib, np.zeros((0, 4, 4), np.uint8))
    assert got == [] and backend.copies == 0


def test_values_other_than_0_1(lib):
    rng = np.random.default_rng(9)
    m = rng.choice(np.array([0, 1, 2, 255], np.uint8), size=(4, 13, 17), p=[0.5, 0.2, 0.2, 0.1])
    m[0] = 0
    m[0, 3:6, 4:9] = 7  # one blob of another value: still 0/1 after nonzero
    # default: a boundary at any change of byte value, as pycocotools
    got, _ = gpu_encode(lib, m)
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    # nonzero=True: zero / nonzero, as fastrle.encode
    got, _ = gpu_encode(lib, m, nonzero=True)
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m, nonzero=True)]
    # int8 as its bytes, wider integers as nonzero (fastrle.encode's dtype rule)
    got, _ = gpu_encode(lib, m.view(np.int8))
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    got, _ = gpu_encode(lib, m.astype(np.int32) * 1000)
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m, nonzero=True)]


def test_cpu_encode_agrees(lib):
    """fastrle.encode (the CPU's nonzero rule) gives the same strings."""
    fastrle = pytest.importorskip("fastrle")
    try:
        fastrle.encode(np.zeros((1, 1), np.uint8))
    except Exception:
        pytest.skip("compiled CPU core not built")
    rng = np.random.default_rng(4)
    m = noise(rng, 6, 29, 31, 0.3) * 3
    got, _ = gpu_encode(lib, m, nonzero=True)
    assert [g["counts"].decode() for g in got] == [r["counts"] for r in fastrle.encode(m)]


def test_result_larger_than_guess_takes_a_second_copy(lib, monkeypatch):
    monkeypatch.setattr(enc, "_chars_per_col", 0.0)
    rng = np.random.default_rng(1)
    m = noise(rng, 3, 70, 64)  # ~13k characters: more than the 4 KiB first guess
    got, backend = gpu_encode(lib, m)
    assert backend.copies == 2
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    assert enc._chars_per_col > 0  # the next call sizes for it
    got, backend = gpu_encode(lib, m)
    assert backend.copies == 1


def test_one_copy_and_the_launch_plan(lib):
    rng = np.random.default_rng(0)
    m = noise(rng, 3, 10, 300)
    _, backend = gpu_encode(lib, m)
    assert backend.copies == 1
    names = [lc.kernel for lc in backend.launches]
    assert names == ["fastrle_encode_cols", "fastrle_encode_scan", "fastrle_encode_len", "fastrle_encode_sum",
                     "fastrle_encode_offs", "fastrle_encode_write"]
    cols = backend.launches[0]
    assert cols.grid == (3, 3, 1) and cols.block == (128, 1, 1)  # ceil(300 / 128) column blocks x 3 masks


def test_bands():
    assert enc.bands(100, 1500, 2250) == (1, 1500)  # 225,000 columns: enough threads
    assert enc.bands(2, 1500, 100) == (23, 66)       # 200 columns: bands of >= 64 rows
    assert enc.bands(2, 100, 100) == (1, 100)        # too short to cut
    nb, rows = enc.bands(1, 1000, 1)
    assert nb * rows >= 1000 and (nb - 1) * rows < 1000 and rows >= enc.MIN_BAND_ROWS


def test_banded_launch_geometry(lib):
    rng = np.random.default_rng(12)
    m = noise(rng, 2, 300, 5, 0.5)
    got, backend = gpu_encode(lib, m)
    cols = backend.launches[0]
    assert cols.args[8:10] == (4, 75) and cols.grid == (1, 2, 1)  # 4 bands of 75 rows: 20 threads per mask
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]


def test_masks_chunked_by_grid_y():
    count, write = enc.plan_encode(65535 + 10, 2, 3, (6, 3, 1), 0, 4096)
    cols = [lc for lc in count if lc.kernel == "fastrle_encode_cols"]
    assert [(lc.grid[1], lc.args[-1]) for lc in cols] == [(65535, 0), (10, 65535)]
    assert [lc.kernel for lc in write].count("fastrle_encode_write") == 2


def test_errors_match_the_cpu_encode(lib):
    fastrle = pytest.importorskip("fastrle")
    cases = [np.zeros((2, 3), np.float32), np.zeros((2, 3, 4, 5), np.uint8), np.zeros(5, np.uint8)]
    for bad in cases:
        with pytest.raises((TypeError, ValueError)) as cpu:
            fastrle.encode(bad)
        with pytest.raises(type(cpu.value)) as gpu:
            gpu_encode(lib, bad)
        assert str(gpu.value) == str(cpu.value)
    # too many pixels: a zero-stride view, nothing allocated or launched
    big = np.lib.stride_tricks.as_strided(np.zeros(1, np.uint8), (1, 2**16, 2**16 + 1), (0, 0, 0))
    with pytest.raises(ValueError, match="2\\^32-1") as gpu:
        _, backend = gpu_encode(lib, big)
    with pytest.raises(ValueError, match="layout"):
        gpu_encode(lib, np.zeros((1, 2, 2), np.uint8), layout="nwh")
    with pytest.raises(ValueError, match=r"\(H, W, N\)"):
        gpu_encode(lib, np.zeros((2, 2, 2, 2), np.uint8), layout="hwn")


def test_kernel_source_lists_the_encode_kernels():
    src = emu.launch_mod.kernel_source()
    sigs = emu.kernel_signatures(src)
    for name in ("fastrle_encode_cols", "fastrle_encode_scan", "fastrle_encode_len", "fastrle_encode_sum",
                 "fastrle_encode_offs", "fastrle_encode_write"):
        assert [emu.type_code(t) for t in sigs[name]] == list(emu.launch_mod.KERNEL_ARGS[name]), name


SANITIZER_SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from cuda_emu import emu
import test_gpu_encode as t
lib = emu.build_sanitized()
rng = np.random.default_rng(3)
for n, h, w in [(3, 33, 65), (2, 1, 40), (2, 40, 1), (1, 0, 5)]:
    t.check(lib, t.noise(rng, n, h, w))
_, dense = t.synthetic.sa1b_like(4, 40, 60, seed=1, dense=True)
t.check(lib, dense)
print("clean")
"""


def test_under_asan_and_ubsan():
    res = emu.run_sanitized(SANITIZER_SCRIPT.format(tests=str(Path(__file__).resolve().parent)))
    if res is None:
        pytest.skip("g++ not found")
    assert res.returncode == 0 and "clean" in res.stdout, res.stderr[-3000:]


# ------------------------------------------- the CuPy path, on a fake CuPy
# CuPy replaced by a fake whose arrays are numpy arrays and whose kernels run
# in the emulator: fastrle.gpu.encode, CupyEncodeBackend (pointers, pinned
# copies, streams) and the bench run end to end without a GPU.

class _FakeArr(np.ndarray):
    @property
    def data(self):
        arr = self

        class Ptr:
            ptr = arr.ctypes.data

            @staticmethod
            def copy_to_host_async(dst, nbytes, stream=None):
                assert nbytes <= arr.nbytes
                ctypes.memmove(dst, arr.ctypes.data, nbytes)
                fake_copies.append(nbytes)

        return Ptr()

    def get(self):
        return np.asarray(self).copy()


fake_copies: list[int] = []


def _fake_cupy(lib):
    L = emu.launch_mod

    class Stream:
        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

        def record(self):
            return types.SimpleNamespace(done=True, synchronize=lambda: None)

        def wait_event(self, e):
            pass

        def synchronize(self):
            pass

    stream = Stream()

    def get_function(name):
        def run(grid, block, args, shared_mem=0):
            holders = []
            for code, v in zip(L.KERNEL_ARGS[name], args):
                if code == "p":
                    holders.append(ctypes.c_void_p(v.ctypes.data if isinstance(v, np.ndarray) else int(v)))
                else:
                    holders.append(emu._CTYPES[code](int(v)))
            params = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
            rc = lib.emu_launch(name.encode(), *grid, *block, shared_mem, params, emu.ORDER_SHUFFLED, 1)
            assert rc == 0, lib.emu_last_error().decode()
        return run

    def empty(shape, dtype=np.uint8):
        return np.full(shape, 0xCD, np.uint8).view(dtype).view(_FakeArr) if np.dtype(dtype).itemsize == 1 \
            else np.empty(shape, dtype).view(_FakeArr)

    cp = types.SimpleNamespace(
        ndarray=_FakeArr, empty=empty, asarray=lambda a: np.asarray(a).view(_FakeArr),
        from_dlpack=lambda a: np.from_dlpack(a).view(_FakeArr),
        RawModule=lambda code, options=(): types.SimpleNamespace(get_function=get_function),
        cuda=types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0),
            Stream=Stream, ExternalStream=Stream, get_current_stream=lambda: stream),
        __version__="fake")
    cupyx = types.SimpleNamespace(empty_pinned=lambda shape, dtype: np.zeros(shape, dtype))
    return cp, cupyx


@pytest.fixture
def fake_gpu(lib, monkeypatch):
    fastrle = pytest.importorskip("fastrle")
    try:
        import fastrle.gpu.api as gapi
        fastrle.encode(np.zeros((1, 1), np.uint8))
    except Exception:
        pytest.skip("compiled fastrle not importable")
    cp, cupyx = _fake_cupy(lib)
    monkeypatch.setitem(sys.modules, "cupy", cp)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setattr(gapi, "_module", None)
    monkeypatch.setattr(gapi, "_functions", {})
    monkeypatch.setattr(gapi, "_device_ok", False)
    monkeypatch.setattr(enc.CupyEncodeBackend, "_pinned", {})
    fake_copies.clear()
    return fastrle.gpu


def test_cupy_path_end_to_end(fake_gpu):
    rng = np.random.default_rng(8)
    m = noise(rng, 4, 21, 45, 0.3)
    dev = m.view(_FakeArr)
    got = fake_gpu.encode(dev)
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    assert len(fake_copies) == 1
    got = fake_gpu.encode(dev.transpose(1, 2, 0), layout="hwn")  # strided, pycocotools' axes
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    got = fake_gpu.encode(dev[2])
    assert got["counts"] == oracle(m[2:3])[0]["counts"]
    got = fake_gpu.encode((m.astype(np.int16) * 300).view(_FakeArr))  # nonzero, on the "device"
    assert [g["counts"] for g in got] == [r["counts"] for r in oracle(m)]
    with pytest.raises(TypeError, match="on the GPU"):
        fake_gpu.encode(m)  # a numpy array: use fastrle.encode


def test_bench_runs_on_the_fake_gpu(fake_gpu, capsys):
    bench = emu.import_fastrle_module("bench.gpu_encode")
    rc = bench.main(["--masks", "3", "--height", "30", "--width", "41", "--repeat", "1", "--warmup", "0",
                     "--strict"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    assert "device-to-host copies per gpu.encode call: 1 (target 1) -> PASS" in out.out
    assert ".cpu() + pycocotools.mask.encode" in out.out


def test_sam_reference_matches_pycocotools():
    torch = pytest.importorskip("torch")
    bench = emu.import_fastrle_module("bench.gpu_encode")
    rng = np.random.default_rng(6)
    m = noise(rng, 5, 17, 23, 0.3)
    m[0] = 0
    m[1] = 1
    m[2, 0, 0] = 1
    got = [bench.sam_coco_encode_rle(r) for r in bench.sam_mask_to_rle_pytorch(torch.from_numpy(m.astype(bool)))]
    assert [g["counts"].encode() for g in got] == [r["counts"] for r in oracle(m)]


def test_no_cupy_raises_gpu_unavailable(monkeypatch):
    fastrle = pytest.importorskip("fastrle")
    try:
        import fastrle.gpu.api as gapi
    except ImportError:
        pytest.skip("compiled fastrle not importable")
    monkeypatch.setitem(sys.modules, "cupy", None)  # import cupy -> ImportError
    monkeypatch.setattr(gapi, "_device_ok", False)
    with pytest.raises(fastrle.gpu.GPUUnavailableError, match="CuPy"):
        fastrle.gpu.encode(np.zeros((1, 2, 2), np.uint8))
