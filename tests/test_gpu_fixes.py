"""GPU path: the independent check's four bugs, real data, wide masks, and the
host side of fastrle.gpu (workspace reuse, no synchronisation, threads).

Kernels run in the CPU emulator (tests/cuda_emu), built from csrc/kernels/.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu
from test_gpu_emulated import (blobs, decode, encode, fake_gpu, lib, reference,  # noqa: F401
                               run_parse)

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
L = emu.launch_mod
DATA = Path(__file__).resolve().parent / "data"


# ------------------------------------------------ bug 1: packed width wrap


def _run_tail(lib, rle: dict, packed: bool, tail_len: int) -> np.ndarray:
    """Parse, then expand only the grid's last blocks (a 2**32-wide grid is
    too large to emulate whole); returns the last ``tail_len`` output bytes."""
    batch = L.pack_rles(rle)
    parse, expand = L.plan_launches(batch, L.Config(), packed)
    total = batch.out_shape(packed)[-1]
    out = np.empty(total, np.uint8)  # pages are only touched where written
    tail = out[total - tail_len:]
    tail[:] = 0xCD
    backend = emu.EmuBackend(lib)
    bufs = backend.buffers(batch, None)
    bufs["out"] = out
    backend.launch(parse, bufs)
    assert bufs["meta"][0] == 0
    per_block = (16 if packed else L.TILE_COLS) * (expand.block[0] // 32)  # output bytes per block
    lib.emu_set_block_window((total - tail_len) // per_block - 1, expand.grid[0])
    try:
        backend.launch(expand, bufs)
    finally:
        lib.emu_set_block_window(0, 0xFFFFFFFF)
    return tail


def test_packed_width_near_2_32_is_written(lib):
    """w >= 2**32 - 7 wrapped (w + 7) >> 3 to 0 in 32 bits: nothing was written."""
    w = 2**32 - 1
    tail = _run_tail(lib, {"size": [1, w], "counts": [0, w]}, True, 4096)  # all ones
    expected = np.full(len(tail), 0xFF, np.uint8)
    expected[-1] = 0xFE  # 2**32 - 1 columns: the last byte's padding bit is 0
    np.testing.assert_array_equal(tail, expected)


def test_uint8_width_near_2_32(lib):
    """The uint8 expand on a 1 x (2**32 - 1) mask: its last tiles, edge path."""
    w = 2**32 - 1
    tail = _run_tail(lib, {"size": [1, w], "counts": [w - 5, 3, 2]}, False, 1000)
    expected = np.zeros(1000, np.uint8)
    expected[-5:-2] = 1
    np.testing.assert_array_equal(tail, expected)


# ------------------------------------- bug 2: signed overflow in the warp scan

UB_STRING = b"0" + b"o" * 12 + b"0" * 17  # the input
# issue 21, finding 2: a lane of 16 continuation chunks shifted a chunk by 5 * 15
# bits in round 1a of the warp parser (UB; UBSan reports it)
SHIFT_STRING = b"P" * 16 + b"0"


def test_warp_scan_overflow_string_status(lib):
    for s in (UB_STRING, SHIFT_STRING, b"0" + SHIFT_STRING, b"P" * 15 + b"0"):
        for hw in (1, 12, 2**32 - 1):
            meta, _, _ = run_parse(lib, [s], hw, "warp")
            ref, _, _ = run_parse(lib, [s], hw, "serial")
            assert tuple(meta[0]) == tuple(ref[0])
            assert meta[0, 0] != 0
    meta, _, _ = run_parse(lib, [SHIFT_STRING], 12, "warp")
    assert tuple(meta[0]) == (7, 0, 12)  # varint_too_long at its 13th character


SANITIZER_SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from cuda_emu import emu
import test_gpu_emulated as t
lib = emu.build_sanitized()
for s in {strings!r}:
    for hw in (1, 12, 2**32 - 1):
        for parser in ("warp", "serial"):
            for order in (0, 2):
                meta, _, _ = t.run_parse(lib, [s, s[:7], s + s], hw, parser, order=order)
rng = np.random.default_rng(1)
for n, h, w in [(2, 37, 248), (1, 70, 251), (2, 5, 1001), (1, 3, 7)]:
    m = t.blobs(rng, n, h, w)
    r = t.encode(m)
    assert (t.decode(lib, r) == m).all()
    assert (t.decode(lib, r, packed=True) == np.packbits(m, axis=-1)).all()
    assert (t.decode(lib, r, size=(h + 3, 2 * w - 1), flip="h", packed=True, bitorder="little")
            .shape == (n, h + 3, (2 * w + 6) // 8))
    assert (t.decode(lib, r, size=(h + 3, 2 * w - 1), flip="hv", packed=True, bitorder="little")
            .shape == (n, h + 3, (2 * w + 6) // 8))
    assert t.decode(lib, r, size=(h // 2 + 1, w // 3 + 1), mode="area", flip="hv").shape == (n, h // 2 + 1, w // 3 + 1)
print("clean")
"""


def test_kernels_under_ubsan_and_asan():
    """Parse on the issues' strings and every expand kernel under UBSan (signed
    overflow and shifts past 63 abort) and, when libasan can be preloaded, ASan."""
    res = emu.run_sanitized(SANITIZER_SCRIPT.format(tests=str(Path(__file__).resolve().parent),
                                                    strings=[UB_STRING, SHIFT_STRING]))
    if res is None:
        pytest.skip("g++ not found")
    assert res.returncode == 0 and "clean" in res.stdout, res.stderr[-3000:]


# --------------------------- bug 3: uncompressed counts validated like the CPU

LIST_CASES = [
    [300.5, 300.5],          # CPU: TypeError
    [2**70],                 # CPU: TypeError
    [601, -1],               # negative
    [601, 2**33],            # does not fit in uint32
    [2**32 - 1, 1],          # too big via sum
    [599],                   # short
    [601],                   # long
    [300, 300, 5],           # long at run 3
    [[1, 2], [3, 4]],        # not flat
    [],                      # short (sum 0)
    "notalist",              # a str: compressed, decoded on the device
]


def _outcome(fn):
    try:
        fn()
    except Exception as exc:
        return type(exc).__name__, str(exc)
    return "ok", ""


@pytest.mark.parametrize("counts", LIST_CASES[:-1], ids=repr)
def test_list_counts_fail_like_the_cpu(counts):
    fastrle = pytest.importorskip("fastrle")
    rles = [{"size": [20, 30], "counts": [600]}, {"size": [20, 30], "counts": counts}]
    cpu = _outcome(lambda: fastrle.decode(rles))
    gpu = _outcome(lambda: L.pack_rles(rles))
    assert cpu[0] != "ok"
    assert gpu == cpu


def test_list_counts_fail_like_the_cpu_through_gpu_decode(fake_gpu):
    fastrle = pytest.importorskip("fastrle")
    gpu, _ = fake_gpu
    for counts in ([300.5, 300.5], [2**70], [601, -1], [601, 2**33]):
        rle = {"size": [20, 30], "counts": counts}
        # B023: each lambda runs at once, inside the loop
        assert _outcome(lambda: gpu.decode(rle)) == _outcome(lambda: fastrle.decode(rle))  # noqa: B023
    ok = {"size": [20, 30], "counts": np.array([5, 595], np.uint32)}
    np.testing.assert_array_equal(np.asarray(gpu.decode(ok)), fastrle.decode(ok))


def test_list_counts_among_strings_name_their_own_mask(fake_gpu):
    # _list_counts checks only the list masks of a batch; its errors must name
    # the mask's index in the whole batch (here 3), as the CPU's do
    fastrle = pytest.importorskip("fastrle")
    gpu, _ = fake_gpu
    full = L.counts_to_string([600]).decode()
    good = [{"size": [20, 30], "counts": full if k % 2 else [5, 590, 5]} for k in range(5)]
    good[0]["counts"] = L.counts_to_string([7, 593])
    np.testing.assert_array_equal(np.asarray(gpu.decode(good)), fastrle.decode(good))
    bad = [dict(r) for r in good]
    bad[3]["counts"] = [5, 594]  # sums to 599, not 600
    cpu = _outcome(lambda: fastrle.decode(bad))
    assert cpu[0] == "RLEError" and cpu[1].startswith("mask 3:")
    assert _outcome(lambda: L.pack_rles(bad)) == cpu
    assert _outcome(lambda: L._pack_checked(bad, False)) == cpu  # before pack_rles' CPU re-check


def test_overlong_varint_has_its_own_message(lib):
    rles = [{"size": [3, 4], "counts": b"P" * 12 + b"0"}]
    with pytest.raises(ValueError, match=r"mask 0: varint longer than 12 characters \(at offset 0 of counts\)"):
        decode(lib, rles)
    with pytest.raises(ValueError, match="does not fit in uint32"):
        decode(lib, [{"size": [3, 4], "counts": L.counts_to_string([2**32])}])


# ------------------------------------------ bug 4 and host-side behaviour


def test_threads_share_the_workspace_pool_safely(fake_gpu):
    """Several threads decode at once on an asynchronous fake device whose
    copies run only when someone waits: a pinned staging buffer refilled
    while its copy is queued, or scratch shared by two calls, gives wrong masks."""
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(3)
    sets = []
    for i in range(6):
        masks = blobs(rng, 2 + i % 3, 20 + 3 * i, 30 + 5 * i)
        sets.append((encode(masks), masks))
    errors = []

    def work(tid: int) -> None:
        try:
            for j in range(6):
                rles, masks = sets[(tid + j) % len(sets)]
                got = gpu.decode(rles, check=(j % 2 == 0), packed=(j % 3 == 0))
                cupy.cuda.get_current_stream().synchronize()
                ref = np.packbits(masks, axis=-1) if j % 3 == 0 else masks
                if not np.array_equal(np.asarray(got), ref):
                    errors.append((tid, j))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    # Workspaces went back to the pool; no more than one per thread was made.
    assert 1 <= len(gpu._pool[0]) <= 4


def test_check_false_never_synchronises(fake_gpu):
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(4)
    masks = blobs(rng, 3, 30, 40)
    rles = encode(masks)
    gpu.decode(rles)  # warm: first call builds the workspace
    before = cupy.device.syncs
    outs = [gpu.decode(rles, check=False) for _ in range(5)]
    outs.append(gpu.decode(rles, check=False, size=(15, 80), flip="hv"))
    assert cupy.device.syncs == before, "decode(check=False) waited for the device"
    cupy.cuda.get_current_stream().synchronize()
    for o in outs[:-1]:
        np.testing.assert_array_equal(np.asarray(o), masks)
    # reused: one workspace, its staging buffers recycled rather than one per call
    (ws,) = gpu._pool[0]
    assert len(ws.staging) <= ws.MAX_STAGING


def test_bad_masks_with_check_false_are_zero_on_reused_scratch(fake_gpu):
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(6)
    masks = blobs(rng, 3, 33, 260)
    rles = encode(masks)
    gpu.decode(rles)
    bad = [rles[0], {"size": [33, 260], "counts": b"1"}, rles[2]]
    got = gpu.decode(bad, check=False)
    cupy.cuda.get_current_stream().synchronize()
    got = np.asarray(got)
    assert not got[1].any()
    np.testing.assert_array_equal(got[[0, 2]], masks[[0, 2]])


# ------------------------------------------------ wide masks, any alignment


@pytest.mark.parametrize("shift", [0, 1, 2, 3])
def test_wide_masks_into_misaligned_out(lib, shift):
    """Interior tiles (w >= 248) and every row phase: out starts at any byte."""
    rng = np.random.default_rng(100 + shift)
    for n, h, w in [(2, 37, 248), (1, 70, 251), (2, 33, 373), (1, 5, 1001), (3, 64, 500)]:
        masks = (rng.random((n, h, w)) < 0.5).astype(np.uint8) if shift % 2 else blobs(rng, n, h, w)
        rles = encode(masks)
        raw = np.full(masks.size + 8, 7, np.uint8)
        out = raw[shift:shift + masks.size].reshape(masks.shape)
        assert decode(lib, rles, out=out, band_rows=32 * (1 + shift)) is out
        np.testing.assert_array_equal(out, masks)
        assert (raw[:shift] == 7).all() and (raw[shift + masks.size:] == 7).all()
        packed = decode(lib, rles, packed=True, order=emu.ORDER_SHUFFLED, seed=shift)
        np.testing.assert_array_equal(packed, np.packbits(masks, axis=-1))


# --------------------------------------------------------- real COCO data


def _real_rles() -> dict[tuple[int, int], list[dict]]:
    by_size: dict[tuple[int, int], list[dict]] = {}
    for ann in json.loads((DATA / "cocoapi_instances_val2014_fakesegm100_results.json").read_text()):
        seg = ann["segmentation"]
        by_size.setdefault(tuple(seg["size"]), []).append(seg)
    return by_size


def test_real_rles_uint8_and_packed(lib):
    """All 734 real RLEs of tests/data, uint8 and packed, one batch per size."""
    total = 0
    for _size, rles in sorted(_real_rles().items()):
        ref = reference(rles)
        np.testing.assert_array_equal(decode(lib, rles), ref)
        np.testing.assert_array_equal(decode(lib, rles, packed=True), np.packbits(ref, axis=-1))
        total += len(rles)
    assert total == 734


def test_real_uncompressed_crowd_rles(lib):
    data = json.loads((DATA / "coco_instances_val2014_100.json").read_text())
    crowd = [a["segmentation"] for a in data["annotations"] if isinstance(a["segmentation"], dict)]
    assert len(crowd) == 9
    for rle in crowd:
        np.testing.assert_array_equal(decode(lib, [rle]), reference([rle]))


# ------------------------------------------ the emulator builds csrc/kernels


def test_emulator_compiles_the_source_tree():
    """An edit under csrc/kernels/ is what the emulated tests run, installed or not."""
    tree = "\n".join((emu.REPO / "csrc" / "kernels" / n).read_text() for n in L.KERNEL_FILES)
    assert emu.kernel_source() == tree


# ------------------------------------- the parse across many 256-char steps


def test_warp_parser_long_strings_match_spec(lib):
    """Strings of many parse steps (256 characters each), valid and broken
    at every kind of position, against the Python spec and the serial parser."""
    from test_gpu_emulated import py_parse

    rng = np.random.default_rng(77)
    hw = 1500 * 2250
    strings = []
    for trial in range(60):
        k = int(rng.integers(100, 1500))
        cuts = np.sort(rng.integers(0, hw + 1, k))
        counts = np.diff(np.concatenate([[0], cuts, [hw]])).tolist()
        s = bytearray(L.counts_to_string(counts))
        kind = trial % 6
        at = int(rng.integers(len(s)))
        if kind == 1:
            s[at] = int(rng.choice([0, 47, 112, 255]))
        elif kind == 2:
            del s[at:]
        elif kind == 3:
            s[at:at] = b"P" * int(rng.integers(1, 300))  # continuation chains across steps
        elif kind == 4:
            s[at] = int(rng.integers(48, 112))  # a changed digit: negative / long / short sums
        elif kind == 5:
            s[at:at] = L.counts_to_string([int(rng.integers(0, 2**33))])[:3]
        strings.append(bytes(s))
    strings.append(b"0" * 700)  # 700 zero-length runs
    strings.append(b"P" * 11 + b"0" + b"1" * 600)
    expected = [py_parse(s, hw) for s in strings]
    for order in (emu.ORDER_NORMAL, emu.ORDER_SHUFFLED):
        meta, ends, offsets = run_parse(lib, strings, hw, "warp", order=order, seed=3)
        for i, (st, nr, pos, exp_ends) in enumerate(expected):
            assert tuple(meta[i]) == (st, nr, pos), (i, len(strings[i]))
            assert ends[offsets[i]:offsets[i] + nr].tolist() == exp_ends, i
    assert {e[0] for e in expected} >= {0, 1, 2, 3, 5, 6, 7}


def test_parse_accounting_build_is_the_same_parser_on_valid_strings():
    """``fastrle bench --gpu-sass`` counts the parse in a -DFASTRLE_STEADY_STATE
    build that drops the bad-count search; on valid strings it must be the
    same parser."""
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    steady = emu.build_emulator(extra_flags=("-DFASTRLE_STEADY_STATE",))
    rng = np.random.default_rng(8)
    hw = 1500 * 2250
    strings = []
    for _ in range(20):
        cuts = np.sort(rng.integers(0, hw + 1, int(rng.integers(1, 2000))))
        strings.append(L.counts_to_string(np.diff(np.concatenate([[0], cuts, [hw]])).tolist()))
    meta, ends, _ = run_parse(steady, strings, hw, "warp")
    ref_meta, ref_ends, _ = run_parse(emu.build_emulator(), strings, hw, "serial")
    np.testing.assert_array_equal(meta, ref_meta)
    assert (meta[:, 0] == 0).all()
    np.testing.assert_array_equal(ends, ref_ends)


# ------------------- issue 21, finding 4: the CPU's arguments, errors and out


def _cpu():
    return pytest.importorskip("fastrle")  # the CPU decoder to compare with


@pytest.mark.parametrize("kw", [dict(size=(0, 5)), dict(size=(2.5, 3)), dict(size=(True, 3)), dict(flip="vh"),
                                dict(flip=""), dict(bitorder="x"), dict(bitorder="x", packed=True),
                                dict(mode="area", packed=True), dict(size=[7, 9], mode="nearest-exact", flip="hv"),
                                dict(bitorder="little"), dict(mode="bilinear")], ids=repr)
def test_transform_arguments_as_the_cpu(lib, kw):
    fastrle = _cpu()
    rles = encode(blobs(np.random.default_rng(9), 2, 12, 20))
    cpu = _outcome(lambda: fastrle.decode(rles, **kw))
    gpu = _outcome(lambda: decode(lib, rles, **kw))
    assert gpu == cpu


@pytest.mark.parametrize("packed", [False, True])
def test_padded_out_views_as_the_cpu(lib, packed):
    """out=buf[:, :H, :W] (a contiguous last axis, other strides free) is
    taken as the CPU takes it; the padding is not written."""
    fastrle = _cpu()
    rng = np.random.default_rng(21)
    masks = blobs(rng, 3, 37, 250)
    rles = encode(masks)
    last = (250 + 7) // 8 if packed else 250
    want = np.packbits(masks, axis=-1) if packed else masks
    for dtype in (np.uint8, np.bool_):
        cpu_buf = np.full((4, 40, last + 5), 7, np.uint8).view(dtype) if dtype is np.uint8 else \
            np.zeros((4, 40, last + 5), np.bool_)
        if packed and dtype is np.bool_:
            continue
        gpu_buf = cpu_buf.copy()
        fastrle.decode(rles, out=cpu_buf[:3, :37, :last], packed=packed)
        backend = emu.EmuBackend(lib)
        got = L.decode_with(backend, rles, out=gpu_buf[:3, :37, :last], packed=packed)
        assert got.base is not None and np.shares_memory(got, gpu_buf)
        np.testing.assert_array_equal(gpu_buf, cpu_buf)  # the padding too
        np.testing.assert_array_equal(gpu_buf[:3, :37, :last].view(np.uint8), want)
        assert backend.copies == 1
    with pytest.raises(ValueError, match="last axis"):
        decode(lib, rles, out=np.zeros((3, 250, 37), np.uint8).transpose(0, 2, 1))


def test_bad_string_leaves_a_padded_out_untouched_and_waits_once(lib):
    fastrle = _cpu()
    rng = np.random.default_rng(22)
    rles = encode(blobs(rng, 3, 37, 250))
    bad = rles[:1] + [{"size": [37, 250], "counts": b"P" * 16 + b"0"}] + rles[2:]
    for out in (np.full((3, 37, 250), 7, np.uint8), np.full((3, 40, 256), 7, np.uint8)[:, :37, :250]):
        before = out.copy()
        backend = emu.EmuBackend(lib)
        with pytest.raises(fastrle.RLEError) as gpu_err:
            L.decode_with(backend, bad, out=out)
        with pytest.raises(fastrle.RLEError) as cpu_err:
            fastrle.decode(bad, out=np.zeros((3, 37, 250), np.uint8))
        assert (gpu_err.value.index, gpu_err.value.reason, str(gpu_err.value)) == \
            (cpu_err.value.index, cpu_err.value.reason, str(cpu_err.value)) == \
            (1, "varint_too_long", "mask 1: varint longer than 12 characters (at offset 0 of counts)")
        np.testing.assert_array_equal(out, before)
        assert [lc.kernel for lc in backend.launches] == ["fastrle_parse_warp"]  # nothing expanded
        good = emu.EmuBackend(lib)
        L.decode_with(good, rles, out=out)
        assert good.status_reads == 1  # the old code read (and waited for) the status twice


def test_mixed_batches_name_the_cpus_mask(lib):
    """List counts and strings in one batch: the first bad mask in the CPU's
    order (frle_parse_many: by index), whatever kind each is."""
    fastrle = _cpu()
    good = L.counts_to_string([3, 4, 5])
    cases = [
        (good, b"1", good, [20]),        # a bad string before a bad list
        (good, [20], good, b"1"),        # a bad list before a bad string
        ([5, 7], [1.5, 10.5], b"1", good),  # a list of the wrong type after a good one
        (b"P" * 16 + b"0", [13], good, good),
    ]
    for counts in cases:
        rles = [{"size": [3, 4], "counts": c} for c in counts]
        cpu = _outcome(lambda: fastrle.decode(rles))  # noqa: B023
        assert cpu[0] != "ok"
        assert _outcome(lambda: decode(lib, rles)) == cpu  # noqa: B023


def test_check_true_waits_once_for_the_parse_only(fake_gpu):
    """One wait per call with check=True (out= or not), for the parse's status
    copy: the expansion is still queued when decode returns."""
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(23)
    masks = blobs(rng, 3, 30, 40)
    rles = encode(masks)
    gpu.decode(rles).get()  # warm
    out = cupy.empty((3, 30, 40), np.uint8)
    for kw in ({}, {"out": out}, {"packed": True}, {"size": (20, 50), "flip": "h"}):
        before = cupy.device.syncs
        got = gpu.decode(rles, **kw)
        assert cupy.device.syncs == before + 1, kw
        if "out" not in kw:
            assert cupy.device.queue, "the expansion was waited for"
        got = got.get()
        if not kw or "out" in kw:
            np.testing.assert_array_equal(got, masks)
    # events are created once per workspace and re-recorded
    (ws,) = gpu._pool[0]
    events = {id(s[1]) for s in ws.staging} | {id(ws.ready)} | {id(st.event) for st in ws.statuses}
    for _ in range(3):
        gpu.decode(rles).get()
    (ws,) = gpu._pool[0]
    assert {id(s[1]) for s in ws.staging} | {id(ws.ready)} | {id(st.event) for st in ws.statuses} == events


def test_batches_of_one_count_share_the_workspace_views(fake_gpu):
    """Batches of as many masks whose strings differ in length reuse the
    workspace's device views (laid out per eighth of a power of two of
    characters, at least 4096) and
    each decodes to its own masks; more characters get a new layout."""
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(31)
    a, b = blobs(rng, 3, 30, 40), blobs(rng, 3, 30, 40)
    ra, rb = encode(a), encode(b)
    assert sum(map(len, (r["counts"] for r in ra))) != sum(map(len, (r["counts"] for r in rb)))
    noise = (rng.random((3, 90, 100)) < 0.5).astype(np.uint8)  # > 4096 characters
    out = cupy.empty((3, 30, 40), np.uint8)
    for check in (True, False, "deferred"):
        gpu.decode(ra, out=out, check=check)
        np.testing.assert_array_equal(out.get(), a)
        (ws,) = gpu._pool[0]
        views = ws.views
        gpu.decode(rb, out=out, check=check)
        np.testing.assert_array_equal(out.get(), b)
        assert ws.views is views  # no new device views
        np.testing.assert_array_equal(gpu.decode(encode(noise), check=check).get(), noise)
        assert ws.views is not views
        gpu.decode(ra, out=out, check=check)
        np.testing.assert_array_equal(out.get(), a)
        gpu.check_deferred()


def test_deferred_check_raises_at_the_next_call(fake_gpu):
    fastrle = _cpu()
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(24)
    masks = blobs(rng, 3, 30, 40)
    rles = encode(masks)
    bad = rles[:2] + [{"size": [30, 40], "counts": b"1"}]
    gpu.decode(rles).get()
    before = cupy.device.syncs
    got = gpu.decode(bad, check="deferred")
    assert cupy.device.syncs == before  # nothing waited, nothing raised yet
    cupy.cuda.get_current_stream().synchronize()
    assert not got[2].any() and (got[0] == masks[0]).all()
    with pytest.raises(fastrle.RLEError) as err:
        gpu.decode(rles)  # the next call raises the earlier call's error
    cpu = _outcome(lambda: fastrle.decode(bad))
    assert err.value.index == 2 and err.value.reason == "sum_short"
    assert str(err.value) == "deferred check of an earlier call: " + cpu[1]
    gpu.decode(rles).get()  # raised once
    gpu.decode(bad, check="deferred")
    with pytest.raises(fastrle.RLEError, match="^deferred check of an earlier call: mask 2: "):
        gpu.check_deferred()  # on demand: waits
    gpu.check_deferred()
    gpu.decode(rles, check="deferred")
    gpu.check_deferred()  # a good call: nothing
    with pytest.raises(ValueError, match="check must be"):
        gpu.decode(rles, check="later")


def test_one_pass_packing_matches_the_checking_path(monkeypatch):
    """fastrle._gpupack.pack_counts (the compiled fast path of pack_rles) gives
    the checking path's batch, and leaves every irregular batch to it."""
    gp = pytest.importorskip("fastrle._gpupack")
    good = [{"size": [3, 4], "counts": c} for c in ("6", "1;1", "0<", "")]
    for rles in (good, [dict(r, counts=r["counts"].encode()) for r in good], good[:1],
                 [{"size": [3, 4], "counts": "é0"}]):
        h_w, offsets, strings = gp.pack_counts(rles)
        ref = L._pack_checked(rles, False)
        assert list(h_w) == [ref.h, ref.w]
        np.testing.assert_array_equal(offsets, ref.offsets)
        assert all(s is r["counts"] for s, r in zip(strings, rles, strict=True))  # kept, not copied
        b = L.pack_rles(rles)
        assert b.chars is None and b.nchars == len(ref.chars)
        np.testing.assert_array_equal(b.all_chars(), ref.chars)
        maps = np.array([7, 2**32 - 1], np.uint32)
        for m in (None, maps):  # the upload: offsets, maps, then the strings' bytes
            want = np.concatenate([ref.offsets.view(np.uint8), [] if m is None else m.view(np.uint8),
                                   ref.chars]).astype(np.uint8)
            host = np.full(len(want) + 5, 0xEE, np.uint8)
            assert L.fill_upload(host, b, m) == len(want)
            np.testing.assert_array_equal(host[:len(want)], want)
            assert (host[len(want):] == 0xEE).all()
            small = np.full(len(want) - 1, 0xEE, np.uint8)  # too small: nothing written
            with pytest.raises(ValueError, match="do not fit"):
                L.fill_upload(small, b, m)
            assert (small == 0xEE).all()
            with monkeypatch.context() as mp:  # the source tree's fallback writes the same bytes
                mp.setattr(L, "_fill_upload", None)
                host[:] = 0xEE
                assert L.fill_upload(host, b, m) == len(want)
                np.testing.assert_array_equal(host[:len(want)], want)
    with pytest.raises(ValueError, match="do not match"):  # strings that disagree with the offsets
        gp.fill_upload(np.zeros(64, np.uint8), np.array([0, 2], np.int64), None, None, ["1"])
    irregular = [
        [],
        good[:2] + [{"size": [3, 5], "counts": "6"}],                  # another size
        good[:2] + [{"size": (3, 4), "counts": "6"}],                  # a tuple size
        [{"size": [3.0, 4], "counts": "6"}],                           # not ints
        good[:2] + [{"size": [3, 4], "counts": b"6"}],                 # str and bytes mixed
        good[:2] + [{"size": [3, 4], "counts": [12]}],                 # a list of counts
        good[:2] + [{"size": [3, 4]}],                                 # no counts
        good[:2] + [[("size", [3, 4]), ("counts", "6")]],              # not a dict
        [{"size": [3, 4], "counts": bytearray(b"6")}],                 # not exact bytes
    ]
    for rles in irregular:
        assert gp.pack_counts(rles) is None, rles
    # sizes equal by == but not lists of the same two exact ints: the same batch as the checking path's
    for size in ([3.0, 4], [np.int64(3), 4]):
        rles = good[:2] + [{"size": size, "counts": "6"}]
        _, offsets, strings = gp.pack_counts(rles)
        np.testing.assert_array_equal(offsets, L._pack_checked(rles, False).offsets)
    assert gp.pack_counts([{"size": [2**70, 1], "counts": "6"}]) is None  # past C long long: checked
    # lone surrogates: the CPU's error, through the checking path
    fastrle = _cpu()
    bad = [{"size": [3, 4], "counts": "\udc80"}]
    assert _outcome(lambda: L.pack_rles(bad)) == _outcome(lambda: fastrle.decode(bad))
