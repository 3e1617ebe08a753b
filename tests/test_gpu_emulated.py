"""The CUDA kernels, run on the CPU through the emulator in tests/cuda_emu.

The kernel source is the one CuPy compiles, and every decode goes through
``fastrle.gpu.launch.decode_with`` -- the host code ``fastrle.gpu`` uses -- with the
emulator as backend.  pycocotools is the oracle.  Needs g++, not CuPy.
"""

from __future__ import annotations

import ctypes
import shutil
import sys
import threading
import time
import types
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
L = emu.launch_mod

PARSERS = ["serial", "warp"]
ORDERS = [emu.ORDER_NORMAL, emu.ORDER_REVERSED, emu.ORDER_SHUFFLED]


@pytest.fixture(scope="module")
def lib():
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    return emu.build_emulator()


def decode(lib, rles, *, parser="warp", order=emu.ORDER_NORMAL, seed=0, **kw):
    config = L.Config(parser=parser, **{k: kw.pop(k) for k in list(kw) if k in
                                        ("parse_block", "expand_block", "band_rows")})
    backend = emu.EmuBackend(lib, order=order, seed=seed)
    return L.decode_with(backend, rles, config=config, **kw)


def encode(masks: np.ndarray) -> list[dict]:
    """(N, H, W) 0/1 masks -> pycocotools RLE dicts."""
    return mask_api.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))


def reference(rles: list[dict]) -> np.ndarray:
    """pycocotools' decode as (N, H, W); uncompressed counts go through frPyObjects."""
    rles = [mask_api.frPyObjects(r, *r["size"]) if isinstance(r["counts"], list) else r for r in rles]
    return np.ascontiguousarray(mask_api.decode(rles).transpose(2, 0, 1))


def blobs(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """SA-1B-like masks: thresholded sums of a few random gaussians."""
    out = np.zeros((n, h, w), np.uint8)
    ys, xs = np.arange(h, dtype=np.float32), np.arange(w, dtype=np.float32)
    for i in range(n):
        acc = np.zeros((h, w), np.float32)
        for _ in range(rng.integers(1, 5)):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            sy, sx = rng.uniform(0.03, 0.2) * h, rng.uniform(0.03, 0.2) * w
            acc += np.outer(np.exp(-((ys - cy) / sy) ** 2), np.exp(-((xs - cx) / sx) ** 2))
        out[i] = acc > rng.uniform(0.3, 0.8)
    return out


def raw_string(values: list[int]) -> bytes:
    """Encode stored varint values as-is (no delta rule), to craft bad strings."""
    out = bytearray()
    for x in values:
        while True:
            c = x & 0x1F
            x >>= 5
            more = x != -1 if c & 0x10 else x != 0
            out.append((c | (0x20 if more else 0)) + 48)
            if not more:
                break
    return bytes(out)


def py_parse(s: bytes, hw: int) -> tuple[int, int, int, list[int]]:
    """Spec of the strict parser: (status, runs parsed, error offset, run ends)."""
    ends: list[int] = []
    cnts: list[int] = []
    x = k = total = 0
    for j, c in enumerate(s):
        if c < 48 or c > 111:
            return 1, len(ends), j, ends
        c -= 48
        if k == 12:
            return 7, len(ends), j, ends
        x |= (c & 0x1F) << (5 * k)
        k += 1
        if c & 0x20:
            continue
        if c & 0x10:
            x -= 1 << (5 * k)
        i = len(cnts)
        cnt = x + (cnts[i - 2] if i > 2 else 0)
        total += cnt
        st = 3 if cnt < 0 else 4 if cnt > 0xFFFFFFFF else 6 if total > hw else 0
        if st:
            return st, len(ends), j, ends
        cnts.append(cnt)
        ends.append(total)
        x = k = 0
    if k:
        return 2, len(ends), len(s), ends
    if total < hw:
        return 5, len(ends), len(s), ends
    return 0, len(ends), len(s), ends


def run_parse(lib, strings: list[bytes], hw: int, parser: str, order=emu.ORDER_NORMAL, seed=0,
              parse_block=128):
    """Run only the parse launch of the plan; return (meta (N,3), ends, offsets)."""
    lengths = np.array([len(s) for s in strings], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    batch = L.Batch(h=hw, w=1, single=False, offsets=offsets,
                    chars=np.frombuffer(b"".join(strings), np.uint8))
    launch = L.plan_launches(batch, L.Config(parser=parser, parse_block=parse_block), False)[0]
    backend = emu.EmuBackend(lib, order=order, seed=seed)
    bufs = backend.buffers(batch, None)
    backend.launch(launch, bufs)
    return bufs["meta"].reshape(-1, 3).copy(), bufs["ends"].copy(), offsets


# ---------------------------------------------------------------- valid input


def edge_cases() -> list[tuple[str, list[dict]]]:
    cases = []
    for h, w in [(1, 1), (1, 17), (17, 1), (1, 40), (40, 1), (3, 3)]:
        zeros = np.zeros((1, h, w), np.uint8)
        ones = np.ones((1, h, w), np.uint8)
        first = zeros.copy()
        first[0, 0, 0] = 1
        last = zeros.copy()
        last[0, -1, -1] = 1
        cases.append((f"{h}x{w}", encode(np.concatenate([zeros, ones, first, last]))))
    # Zero-length runs anywhere, via uncompressed counts (valid, never emitted by encode).
    cases.append(("zero-length runs", [
        {"size": [3, 4], "counts": [0, 12]},
        {"size": [3, 4], "counts": [0, 0, 0, 5, 0, 7]},
        {"size": [3, 4], "counts": [4, 0, 0, 0, 8, 0]},
        {"size": [3, 4], "counts": [12, 0, 0]},
    ]))
    # Long runs: multi-chunk varints and large deltas.
    big = np.zeros((2, 300, 500), np.uint8)
    big[0, :, 1:] = 1
    big[1, :150, 250:] = 1
    cases.append(("long runs", encode(big)))
    return cases


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("name,rles", edge_cases(), ids=[c[0] for c in edge_cases()])
def test_edge_cases_match_pycocotools(lib, parser, name, rles):
    ref = reference(rles)
    np.testing.assert_array_equal(decode(lib, rles, parser=parser), ref)
    np.testing.assert_array_equal(decode(lib, rles, parser=parser, packed=True), np.packbits(ref, axis=-1))


CONFIGS = [
    dict(parser="serial", parse_block=32, expand_block=32, band_rows=1),
    dict(parser="serial", parse_block=128, expand_block=32, band_rows=7),
    dict(parser="warp", parse_block=32, expand_block=64, band_rows=64),
    dict(parser="warp", parse_block=96, expand_block=128, band_rows=5),
    dict(parser="warp", parse_block=256, expand_block=96, band_rows=1000),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(str(v) for v in c.values()))
@pytest.mark.parametrize("order", ORDERS)
def test_random_shapes_and_configs(lib, config, order):
    rng = np.random.default_rng(1234)
    for trial in range(4):
        n, h, w = int(rng.integers(1, 7)), int(rng.integers(1, 70)), int(rng.integers(1, 90))
        if trial % 2:
            masks = blobs(rng, n, h, w)
        else:
            masks = (rng.random((n, h, w)) < rng.uniform(0.05, 0.95)).astype(np.uint8)
        rles = encode(masks)
        ref = reference(rles)
        np.testing.assert_array_equal(ref, masks)
        got = decode(lib, rles, order=order, seed=trial, **config)
        np.testing.assert_array_equal(got, ref)
        got_packed = decode(lib, rles, order=order, seed=trial, packed=True, **config)
        np.testing.assert_array_equal(got_packed, np.packbits(ref, axis=-1))


def test_thread_and_block_order_does_not_matter(lib):
    rng = np.random.default_rng(7)
    rles = encode(blobs(rng, 5, 61, 83))
    results = []
    for parser in PARSERS:
        for order in ORDERS:
            for seed in (0, 1, 2):
                results.append(decode(lib, rles, parser=parser, order=order, seed=seed, band_rows=16))
                results.append(decode(lib, rles, parser=parser, order=order, seed=seed, packed=True))
    for r in results[2::2]:
        np.testing.assert_array_equal(r, results[0])
    for r in results[3::2]:
        np.testing.assert_array_equal(r, results[1])


def test_full_size_sa1b_masks(lib):
    rng = np.random.default_rng(2024)
    masks = blobs(rng, 3, 1500, 2250)
    rles = encode(masks)
    t0 = time.perf_counter()
    got = decode(lib, rles)
    dt = time.perf_counter() - t0
    print(f"\nemulated decode of 3 x 1500x2250: {dt:.2f} s ({dt / masks.size * 1e9:.1f} ns/pixel)")
    np.testing.assert_array_equal(got, reference(rles))
    np.testing.assert_array_equal(decode(lib, rles, parser="serial", packed=True),
                                  np.packbits(masks, axis=-1))


def test_input_forms(lib):
    masks = np.zeros((2, 4, 5), np.uint8)
    masks[0, 1:3, 2:] = 1
    masks[1, 0, :] = 1
    rles = encode(masks)
    single = decode(lib, rles[0])
    assert single.shape == (4, 5)
    np.testing.assert_array_equal(single, masks[0])
    as_str = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    np.testing.assert_array_equal(decode(lib, as_str), masks)
    out = np.full((2, 4, 5), 7, np.uint8)
    assert decode(lib, rles, out=out) is out
    np.testing.assert_array_equal(out, masks)
    assert decode(lib, []).shape == (0, 0, 0)
    empty = decode(lib, [{"size": [0, 5], "counts": b""}] * 2)
    assert empty.shape == (2, 0, 5)


def test_bad_arguments(lib):
    rles = encode(np.zeros((2, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="differs"):
        decode(lib, [rles[0], {"size": [5, 4], "counts": rles[1]["counts"]}])
    with pytest.raises(ValueError, match="2\\^32-1"):
        decode(lib, [{"size": [65536, 65536], "counts": b"0"}])
    with pytest.raises(ValueError, match="shape"):
        decode(lib, rles, out=np.zeros((2, 5, 4), np.uint8))
    with pytest.raises(TypeError, match="uint8"):  # the CPU's class (fastrle._args.check_out)
        decode(lib, rles, out=np.zeros((2, 4, 5), np.int32))
    with pytest.raises(ValueError, match="C-contiguous"):
        decode(lib, rles, out=np.zeros((2, 5, 4), np.uint8).transpose(0, 2, 1))
    with pytest.raises((TypeError, KeyError)):  # the CPU's RLEKeyError; the GPU's TypeError without the core
        decode(lib, [{"counts": b"0"}])


# ------------------------------------------------------------- launch limits


def test_plan_respects_grid_limits():
    batch = L.pack_rles([{"size": [3, 2], "counts": b"6"}] * 70000)
    launches = L.plan_launches(batch, L.Config(), False)
    expands = launches[1:]
    assert [lc.grid[2] for lc in expands] == [65535, 70000 - 65535]
    assert [lc.args[-1] for lc in expands] == [0, 65535]
    tall = L.Batch(h=5_000_000, w=3, single=False, offsets=np.zeros(2, np.int64),
                   chars=np.zeros(0, np.uint8))
    (expand,) = L.plan_launches(tall, L.Config(band_rows=64), True)[1:]
    assert expand.grid[1] <= 65535 and expand.grid[1] * expand.args[9] >= 5_000_000


def test_batch_chunking_executes(lib, monkeypatch):
    monkeypatch.setattr(L, "MAX_GRID_YZ", 3)
    rng = np.random.default_rng(5)
    masks = blobs(rng, 8, 300, 7)  # 300 rows with band 64 -> 5 bands > 3: band grows
    rles = encode(masks)
    backend = emu.EmuBackend(lib)
    got = L.decode_with(backend, rles)
    assert len(backend.launches) == 1 + 3
    assert all(lc.grid[1] <= 3 and lc.grid[2] <= 3 for lc in backend.launches)
    np.testing.assert_array_equal(got, masks)


# ---------------------------------------------------------------- bad input

H, W = 3, 4  # h*w = 12
BAD_CASES = [
    # name, counts, expected status, expected error offset
    ("ok", raw_string([12]), 0, 1),
    ("char below 48", b"/", 1, 0),
    ("char above 111", raw_string([5]) + b"p", 1, 1),
    ("NUL", raw_string([5, 7])[:1] + b"\x00" + raw_string([7]), 1, 1),
    ("high byte", b"\xff", 1, 0),
    ("truncated varint", raw_string([5]) + b"P", 2, 2),
    ("truncated long varint", raw_string([5, 1000])[:-1], 2, 3),
    ("negative first run", raw_string([-1, 13]), 3, 0),
    ("negative via delta", raw_string([2, 3, 4, -9]), 3, 3),
    ("run >= 2**32", raw_string([2**32]), 4, 6),
    ("13-char varint", b"P" * 12 + b"0", 7, 12),
    ("sum too small", raw_string([5, 6]), 5, 2),
    ("empty string", b"", 5, 0),
    ("sum too large", raw_string([5, 8]), 6, 1),
    ("sum too large later", raw_string([5, 7, 0, 1]), 6, 3),
]


@pytest.mark.parametrize("parser", PARSERS)
@pytest.mark.parametrize("name,counts,status,pos", BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_malformed_status(lib, parser, name, counts, status, pos):
    assert py_parse(counts, H * W)[0] == status and py_parse(counts, H * W)[2] == pos
    good = raw_string([3, 4, 5])
    rles = [{"size": [H, W], "counts": c} for c in (good, good, counts, good)]
    meta, _, _ = run_parse(lib, [r["counts"] for r in rles], H * W, parser)
    assert meta[2, 0] == status and meta[2, 2] == pos
    if status == 0:
        np.testing.assert_array_equal(decode(lib, rles, parser=parser), reference(rles))
        return
    fastrle = pytest.importorskip("fastrle")  # the CPU's error to compare with
    with pytest.raises(fastrle.RLEError) as gpu_err:
        decode(lib, rles, parser=parser)
    with pytest.raises(fastrle.RLEError) as cpu_err:  # the GPU raises what the CPU raises
        fastrle.decode(rles)
    assert (gpu_err.value.index, gpu_err.value.reason, str(gpu_err.value)) == \
        (2, cpu_err.value.reason, str(cpu_err.value))
    # the kernels' status 1 is the C core's bad_char or nul
    assert L.STATUS_REASONS[status] == {"nul": "bad_char"}.get(cpu_err.value.reason, cpu_err.value.reason)
    # check=False: no exception; the bad mask is zeros, the others decode.
    got = decode(lib, rles, parser=parser, check=False)
    assert not got[2].any()
    ok_ref = reference([rles[0]])[0]
    for i in (0, 1, 3):
        np.testing.assert_array_equal(got[i], ok_ref)


def _fuzz_strings(rng: np.random.Generator, hw: int, count: int) -> list[bytes]:
    out = []
    for _ in range(count):
        # A valid split of hw into runs, zero-length runs included.
        k = int(rng.integers(1, 60))
        cuts = np.sort(rng.integers(0, hw + 1, k))
        counts = np.diff(np.concatenate([[0], cuts, [hw]])).tolist()
        s = bytearray(L.counts_to_string(counts))
        kind = rng.integers(0, 7)
        if kind == 1 and s:
            s[int(rng.integers(len(s)))] = int(rng.choice([0, 47, 112, 200, int(rng.integers(48, 112))]))
        elif kind == 2 and s:
            del s[int(rng.integers(len(s))):]
        elif kind == 3:
            s += bytes(rng.integers(48, 112, int(rng.integers(1, 40))).astype(np.uint8))
        elif kind == 4:
            s = bytearray(rng.integers(44, 116, int(rng.integers(0, 100))).astype(np.uint8))
        elif kind == 5 and s:
            i = int(rng.integers(len(s)))
            s[i:i] = b"P" * int(rng.integers(1, 16))  # long continuation chains
        elif kind == 6:
            s += b"P" * int(rng.integers(1, 4))  # ends inside a varint
        out.append(bytes(s))
    return out


@pytest.mark.parametrize("hw", [1, 12, 1500 * 2250, 2**32 - 1])
def test_warp_and_serial_parsers_agree_with_spec(lib, hw):
    rng = np.random.default_rng(hw)
    strings = _fuzz_strings(rng, hw, 150)
    expected = [py_parse(s, hw) for s in strings]
    for parser, order in [("serial", emu.ORDER_NORMAL), ("warp", emu.ORDER_NORMAL),
                          ("warp", emu.ORDER_SHUFFLED)]:
        meta, ends, offsets = run_parse(lib, strings, hw, parser, order=order, seed=hw % 1000)
        for i, (st, nr, pos, exp_ends) in enumerate(expected):
            assert tuple(meta[i]) == (st, nr, pos), (parser, i, strings[i])
            got_ends = ends[offsets[i]:offsets[i] + nr].tolist()
            assert got_ends == exp_ends, (parser, i)
    assert {e[0] for e in expected} >= {0, 1, 2, 6}


# ------------------------------------------- fastrle.gpu's CuPy backend code


class _FakeDevice:
    """An asynchronous 'device': copies and launches are queued in order and
    run only when something waits (stream or event synchronize), so a host
    buffer refilled while its copy is queued shows up as a wrong result."""

    def __init__(self):
        self.lock = threading.Lock()
        self.queue: list = []
        self.done_seq = 0
        self.seq = 0
        self.syncs = 0

    def submit(self, op) -> int:
        with self.lock:
            self.seq += 1
            self.queue.append((self.seq, op))
            return self.seq

    def flush(self, upto: int | None = None, sync: bool = True) -> None:
        """Run queued work (all, or up to sequence number ``upto``)."""
        with self.lock:
            self.syncs += sync
            while self.queue and (upto is None or self.queue[0][0] <= upto):
                seq, op = self.queue.pop(0)
                op()
                self.done_seq = seq


class _FakeDeviceArray(np.ndarray):
    """numpy standing in for cupy.ndarray; `.data` mimics cupy's MemoryPointer."""

    device: _FakeDevice | None = None

    @property
    def data(self):
        arr = self
        dev = _FakeDeviceArray.device

        class _Ptr:
            ptr = arr.ctypes.data

            @staticmethod
            def copy_from_host_async(src, size, stream=None):
                dev.submit(lambda: ctypes.memmove(arr.ctypes.data, src, size))

            @staticmethod
            def copy_to_host_async(dst, size, stream=None):
                dev.submit(lambda: ctypes.memmove(dst, arr.ctypes.data, size))

        return _Ptr()

    def get(self, stream=None):
        _FakeDeviceArray.device.flush()
        return np.array(self)


def _fake_cupy(lib):
    """Just enough of CuPy for fastrle.gpu, asynchronous, with kernels run by the emulator."""
    device = _FakeDevice()
    _FakeDeviceArray.device = device

    class Event:
        def __init__(self, seq=0, **kwargs):
            self.seq = seq

        @property
        def done(self):
            # A query, not a wait: the 'device' has progressed this far by now.
            device.flush(self.seq, sync=False)
            return device.done_seq >= self.seq

        def synchronize(self):
            device.flush()

    class Stream:
        waits = 0

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def record(self, event=None):
            seq = device.submit(lambda: None)
            if event is None:
                return Event(seq)
            event.seq = seq  # re-recorded, as cupy's Stream.record(event)
            return event

        def wait_event(self, event):
            Stream.waits += 1  # one in-order queue: nothing else to do

        def synchronize(self):
            device.flush()

    class ExternalStream(Stream):
        def __init__(self, ptr):
            self.ptr = ptr

    class RawModule:
        def __init__(self, code, options=()):
            assert code == L.kernel_source()

        def get_function(self, name):
            def call(grid, block, args, shared_mem=0):
                holders = []
                for a in args:
                    if isinstance(a, np.ndarray):
                        holders.append(ctypes.c_void_p(a.ctypes.data))
                    else:  # the typed numpy scalars fastrle.gpu must pass
                        assert isinstance(a, (np.uint32, np.int64, np.uint64)), type(a)
                        holders.append(np.ctypeslib.as_ctypes_type(a.dtype)(a))

                def run(args=args):  # args: the arrays live until the launch ran, as in CuPy's stream-ordered pool
                    params = (ctypes.c_void_p * len(holders))(*[ctypes.addressof(h) for h in holders])
                    assert lib.emu_launch(name.encode(), *grid, *block, shared_mem, params, 2, 0) == 0

                device.submit(run)
            return call

    def empty(shape, dtype=np.float64):
        return np.empty(shape, dtype).view(_FakeDeviceArray)

    def copyto(dst, src, casting="same_kind"):
        device.submit(lambda: np.copyto(dst, src, casting=casting))

    stream = Stream()
    runtime = types.SimpleNamespace(getDeviceCount=lambda: 1, getDevice=lambda: 0)
    cuda = types.SimpleNamespace(runtime=runtime, Stream=Stream, ExternalStream=ExternalStream,
                                 Event=Event, get_current_stream=lambda: stream)
    cupy = types.SimpleNamespace(ndarray=_FakeDeviceArray, cuda=cuda, RawModule=RawModule, empty=empty, copyto=copyto,
                                 asarray=lambda a: np.asarray(a).view(_FakeDeviceArray), device=device)
    cupyx = types.SimpleNamespace(empty_pinned=lambda shape, dtype: np.empty(shape, dtype))
    return cupy, cupyx


@pytest.fixture
def fake_gpu(lib, monkeypatch):
    """fastrle.gpu over a fake CuPy whose kernels run in the emulator: (gpu, cupy)."""
    gpu = emu.import_fastrle_module("gpu.api")
    cupy, cupyx = _fake_cupy(lib)
    monkeypatch.setitem(sys.modules, "cupy", cupy)
    monkeypatch.setitem(sys.modules, "cupyx", cupyx)
    monkeypatch.setattr(gpu, "_module", None)
    monkeypatch.setattr(gpu, "_functions", {})
    monkeypatch.setattr(gpu, "_pool", {})
    monkeypatch.setattr(gpu, "_device_ok", False)
    return gpu, cupy


def test_cupy_backend_code_through_emulator(fake_gpu):
    """Runs fastrle.gpu.decode itself, with a fake CuPy whose kernels are emulated."""
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(11)
    masks = blobs(rng, 4, 45, 77)
    rles = encode(masks)
    assert gpu.available()
    # .get() waits for the stream: check=True waits for the parse only
    np.testing.assert_array_equal(gpu.decode(rles).get(), masks)
    np.testing.assert_array_equal(gpu.decode(rles, packed=True).get(), np.packbits(masks, axis=-1))
    np.testing.assert_array_equal(gpu.decode(rles[1]).get(), masks[1])
    out = empty_out = cupy.empty((4, 45, 77), np.uint8)
    assert gpu.decode(rles, out=out, stream=types.SimpleNamespace(cuda_stream=0)) is empty_out
    np.testing.assert_array_equal(out.get(), masks)
    bad = rles[:2] + [{"size": [45, 77], "counts": b"1"}] + rles[3:]
    with pytest.raises(gpu.RLEError, match="mask 2: counts sum to less than h\\*w: they sum to 1$"):
        gpu.decode(bad)
    got = gpu.decode(bad, check=False)
    cupy.cuda.get_current_stream().synchronize()
    assert not got[2].any() and (got[3] == masks[3]).all()
    # the ragged table goes up as it is; indices gather and reorder
    strs = [r["counts"] if isinstance(r["counts"], bytes) else r["counts"].encode() for r in rles]
    data = b"".join(strs)
    offsets = np.cumsum([0] + [len(x) for x in strs])
    np.testing.assert_array_equal(gpu.decode_ragged(data, offsets, 45, 77).get(), masks)
    np.testing.assert_array_equal(gpu.decode_ragged(data, offsets, 45, 77, indices=[3, 0, 3]).get(),
                                  masks[[3, 0, 3]])
    # a table whose mask 0 is bad ("1" sums to 1); selected second, it is output mask 1
    with pytest.raises(ValueError, match="mask 1"):
        gpu.decode_ragged(b"1" + data, [0, 1, 1 + len(strs[0])], 45, 77, indices=[1, 0])


def test_sa1b_cuda_decode_through_emulator(fake_gpu):
    """SA-1B's device="cuda" path uploads its ragged table: same masks as the CPU."""
    sa1b = pytest.importorskip("fastrle.sa1b")  # needs the built CPU core
    rng = np.random.default_rng(5)
    masks = blobs(rng, 5, 40, 60)
    anns = [{"id": i, "segmentation": {"size": [40, 60], "counts": r["counts"].decode()
                                       if isinstance(r["counts"], bytes) else r["counts"]},
             "area": int(m.sum()), "bbox": [0, 0, 1, 1], "predicted_iou": float(i) / 10,
             "stability_score": 0.9, "point_coords": [[1, 1]], "crop_box": [0, 0, 60, 40]}
            for i, (r, m) in enumerate(zip(encode(masks), masks))]
    ann = sa1b.load({"image": {"image_id": 1, "width": 60, "height": 40, "file_name": "x.jpg"},
                     "annotations": anns})
    np.testing.assert_array_equal(np.asarray(ann.decode(device="cuda")), masks)
    np.testing.assert_array_equal(np.asarray(ann.decode(device="cuda", top_k=2)), masks[[4, 3]])


# ------------------------------------------------------ the emulator itself

SHIM_KERNELS = r"""
extern "C" __global__ void rotate(int* data) {
    int v = data[blockIdx.x * blockDim.x + (threadIdx.x + 1) % blockDim.x];
    __syncthreads();  // every read happens before any write
    data[blockIdx.x * blockDim.x + threadIdx.x] = v;
}
extern "C" __global__ void warp_ops(unsigned int* out) {
    unsigned int lane = threadIdx.x & 31;
    unsigned int b = __ballot_sync(0xFFFFFFFFu, lane % 3 == 0);
    long long up = __shfl_up_sync(0xFFFFFFFFu, (long long)lane * 1000000000LL, 1);
    int src = __shfl_sync(0xFFFFFFFFu, (int)lane, 31 - (int)lane);
    out[threadIdx.x] = b ^ (unsigned int)(up / 1000000000LL) ^ ((unsigned int)src << 8);
}
extern "C" __global__ void divergent_barrier(int* data) {
    if (threadIdx.x < 5) __syncthreads();
    data[threadIdx.x] = 1;
}
"""


def _launch_raw(lib, name, grid, block, arr, order):
    holder = ctypes.c_void_p(arr.ctypes.data)
    params = (ctypes.c_void_p * 1)(ctypes.addressof(holder))
    return lib.emu_launch(name.encode(), grid, 1, 1, block, 1, 1, 0, params, order, 3)


@pytest.mark.parametrize("order", ORDERS)
def test_emulator_barriers_and_warp_ops(order):
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    shim = emu.build_emulator(source=SHIM_KERNELS)
    data = np.arange(2 * 64, dtype=np.int32)
    assert _launch_raw(shim, "rotate", 2, 64, data, order) == 0
    np.testing.assert_array_equal(data.reshape(2, 64), np.roll(np.arange(128).reshape(2, 64), -1, axis=1))
    out = np.zeros(64, np.uint32)
    assert _launch_raw(shim, "warp_ops", 1, 64, out, order) == 0
    lane = np.arange(64) % 32
    ballot = sum(1 << i for i in range(32) if i % 3 == 0)
    up = np.where(lane >= 1, lane - 1, lane)
    np.testing.assert_array_equal(out, ballot ^ up ^ ((31 - lane) << 8))
    assert _launch_raw(shim, "divergent_barrier", 1, 32, np.zeros(32, np.int32), order) == -1
    assert b"deadlock" in shim.emu_last_error()
