"""One mapping from a C core status to an exception: every public entry point,
CPU and GPU (under the CUDA emulator), raises the same class, ``index``,
``reason`` and message for the same bad input. Expected values are written
by hand."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

import fastrle
import fastrle.features as ff
import fastrle.mask as fm
from fastrle import errors
from fastrle.viz import overlay

sys.path.insert(0, str(Path(__file__).parent))
from test_gpu_emulated import fake_gpu, lib  # noqa: F401  (fixtures: fastrle.gpu over the emulator)

SRC = Path(__file__).resolve().parents[1] / "src" / "fastrle"
GOOD = {"size": [3, 4], "counts": b"<"}  # one run of 12 = h*w

# name: (mask 1's counts, reason, message after "mask 1: "); the C core's
# pos/value in the texts: offsets of the bad byte, run indices, sums
CASES = {
    "bad_char": (b"/", "bad_char", "character outside '0'..'o' (48..111): byte 47 at offset 0 of counts"),
    "bad_char_high": (b"<p", "bad_char", "character outside '0'..'o' (48..111): byte 112 at offset 1 of counts"),
    "nul": (b"\x00", "nul", "NUL byte inside counts (at offset 0 of counts)"),
    "truncated": (b"P", "truncated", "counts string ends inside a varint (truncated) (at offset 0 of counts)"),
    "varint_too_long": (b"P" * 12 + b"0", "varint_too_long",
                        "varint longer than 12 characters (at offset 0 of counts)"),
    "negative_run": (b"O", "negative_run", "run length is negative: run 0 is -1"),
    "negative_list": ([1, -1], "negative_run", "run length is negative: run 1 is -1"),
    "run_too_big": (b"PPPPPP4", "run_too_big", "run length does not fit in uint32: run 0 is 4294967296"),
    "run_too_big_list": ([2**32], "run_too_big", "run length does not fit in uint32: run 0 is 4294967296"),
    "sum_short": (b"1", "sum_short", "counts sum to less than h*w: they sum to 1"),
    "sum_short_list": ([1, 2], "sum_short", "counts sum to less than h*w: they sum to 3"),
    "sum_long": (b"<1", "sum_long", "counts sum to more than h*w: they reach 13 at run 1"),
    "sum_long_list": ([13], "sum_long", "counts sum to more than h*w: they reach 13 at run 1"),
}
SYNTAX = {"bad_char", "bad_char_high", "nul", "truncated", "varint_too_long"}

# entry point: (call, cases it raises for: pycocotools' area/toBbox read
# strings with wrapping arithmetic, so only syntax errors stop them)
ENTRIES = {
    "decode": (lambda r: fastrle.decode(r), set(CASES)),
    "decode_resized": (lambda r: fastrle.decode(r, size=(6, 8)), set(CASES)),
    "decode_flipped_packed": (lambda r: fastrle.decode(r, flip="h", packed=True), set(CASES)),
    "area": (fastrle.area, set(CASES)),
    "bbox": (fastrle.bbox, set(CASES)),
    "mask.decode": (fm.decode, set(CASES)),
    "mask.area": (fm.area, SYNTAX | {"negative_list", "run_too_big_list"}),
    "mask.toBbox": (fm.toBbox, SYNTAX | {"negative_list", "run_too_big_list"}),
    "mask.merge": (fm.merge, set(CASES)),
    "mask.iou": (lambda r: fm.iou(r, r, [0] * len(r)), set(CASES)),
    "overlay": (lambda r: overlay(None, r), set(CASES)),
    "features.areas": (ff.areas, set(CASES)),
    "features.iou_matrix": (ff.iou_matrix, set(CASES)),
}


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("case", list(CASES))
def test_cpu_entry_points(entry, case):
    counts, reason, detail = CASES[case]
    call, raising = ENTRIES[entry]
    rles = [GOOD, {"size": [3, 4], "counts": counts}, GOOD]
    if case not in raising:
        call(rles)
        return
    with pytest.raises(fastrle.RLEError) as info:
        call(rles)
    e = info.value
    # the drop-in's decode says what pycocotools says first (for what the
    # decode finds, not the list checks made while collecting the masks)
    collected = {"negative_list", "run_too_big_list"}
    prefix = "Invalid RLE mask representation: " if entry == "mask.decode" and case not in collected else ""
    assert type(e) is fastrle.RLEError
    assert (e.index, e.reason, e.detail, str(e)) == (1, reason, detail, f"{prefix}mask 1: {detail}")


@pytest.mark.parametrize("case", list(CASES))
def test_gpu_raises_the_cpu_error(fake_gpu, case):
    gpu, cupy = fake_gpu
    counts, reason, detail = CASES[case]
    rles = [GOOD, {"size": [3, 4], "counts": counts}, GOOD]
    for kw in ({}, {"packed": True}, {"size": (6, 8)}):
        with pytest.raises(fastrle.RLEError) as info:
            gpu.decode(rles, **kw)
        e = info.value
        assert type(e) is fastrle.RLEError
        assert (e.index, e.reason, str(e)) == (1, reason, f"mask 1: {detail}")


def test_gpu_ragged_raises_the_cpu_error(fake_gpu):
    gpu, _ = fake_gpu
    data = b"<" + b"<1" + b"<"
    with pytest.raises(fastrle.RLEError) as info:
        gpu.decode_ragged(data, [0, 1, 3, 4], 3, 4)
    assert (info.value.index, info.value.reason, str(info.value)) == \
        (1, "sum_long", "mask 1: counts sum to more than h*w: they reach 13 at run 1")
    with pytest.raises(fastrle.RLEError) as cpu:
        fastrle.decode_ragged(data, [0, 1, 3, 4], 3, 4)
    assert str(cpu.value) == str(info.value)


def test_gpu_mixed_batch_names_the_cpu_mask(fake_gpu):
    # mask 1 a bad string, mask 2 a list with a bad sum: the CPU checks in
    # index order and names mask 1 (main's GPU checked lists first: mask 2)
    gpu, _ = fake_gpu
    rles = [GOOD, {"size": [3, 4], "counts": b"/"}, {"size": [3, 4], "counts": [1, 2]}]
    with pytest.raises(fastrle.RLEError) as cpu:
        fastrle.decode(rles)
    with pytest.raises(fastrle.RLEError) as got:
        gpu.decode(rles)
    assert (got.value.index, got.value.reason, str(got.value)) == \
        (cpu.value.index, cpu.value.reason, str(cpu.value)) == \
        (1, "bad_char", "mask 1: character outside '0'..'o' (48..111): byte 47 at offset 0 of counts")


def test_gpu_mixed_sizes_and_missing_key_like_the_cpu(fake_gpu):
    gpu, _ = fake_gpu
    for rles in ([GOOD, {"size": [4, 3], "counts": b"<"}],
                 [GOOD, {"size": [3, 4]}],
                 [GOOD, {"size": [3, 4], "counts": [1, -1]}, {"size": [4, 3], "counts": b"<"}]):
        with pytest.raises(Exception) as cpu:
            fastrle.decode(rles)
        with pytest.raises(Exception) as got:
            gpu.decode(rles)
        assert (type(got.value), str(got.value), getattr(got.value, "index", None)) == \
            (type(cpu.value), str(cpu.value), getattr(cpu.value, "index", None))
    with pytest.raises(fastrle.RLEKeyError) as info:
        gpu.decode([GOOD, {"size": [3, 4]}])
    assert (info.value.index, info.value.reason, info.value.key) == (1, "missing_key", "counts")


@pytest.mark.parametrize("bad", [b"/", b"1", [1, 2]])
def test_gpu_error_leaves_out_untouched(fake_gpu, bad):
    # main's GPU wrote the good masks into out before it raised
    gpu, cupy = fake_gpu
    rles = [GOOD, GOOD, {"size": [3, 4], "counts": bad}, GOOD]
    for kw in ({}, {"packed": True}, {"size": (6, 8)}):
        shape = (4, 6, 8) if "size" in kw else (4, 3, 1) if kw.get("packed") else (4, 3, 4)
        out = cupy.empty(shape, np.uint8)
        out[...] = 7
        with pytest.raises(fastrle.RLEError):
            gpu.decode(rles, out=out, **kw)
        cupy.cuda.get_current_stream().synchronize()
        assert (np.asarray(out) == 7).all()
    out = cupy.empty((4, 3, 4), np.uint8)  # and a good batch still decodes into out
    out[...] = 7
    gpu.decode([GOOD] * 4, out=out)
    cupy.cuda.get_current_stream().synchronize()
    assert (np.asarray(out) == 0).all()  # GOOD is 12 background pixels


def test_status_table_follows_the_c_core():
    from fastrle import _status

    assert [(c, s.text) for c, s in enumerate(errors.STATUSES)] == _status.c_statuses()
    assert [s.reason for s in errors.STATUSES] == [
        "ok", "bad_char", "nul", "truncated", "varint_too_long", "negative_run", "run_too_big",
        "sum_short", "sum_long", "bad_size", "no_memory", "no_thread"]
    e = errors.status_error(errors.code_of("no_memory"), 3)
    assert type(e) is MemoryError
    assert type(errors.status_error(errors.code_of("no_thread"), 3)) is RuntimeError
    e = errors.status_error(99, 2)
    assert (type(e), e.index, e.reason, str(e)) == (fastrle.RLEError, 2, "unknown", "mask 2: unknown error (status 99)")


def test_reexports_and_classes():
    from fastrle import _core, gpu

    assert fastrle.RLEError is _core.RLEError is errors.RLEError
    assert fastrle.RLEKeyError is _core.RLEKeyError is errors.RLEKeyError
    assert gpu.GPUUnavailableError is errors.GPUUnavailableError
    assert issubclass(errors.RLEKeyError, KeyError) and issubclass(errors.RLEError, ValueError)
    with pytest.raises(KeyError) as info:
        fastrle.decode([{"size": [3, 4]}])
    assert (str(info.value), info.value.reason) == ("mask 0: RLE dict has no 'counts' field", "missing_key")


def test_one_home_for_the_mapping():
    """Exception classes live in errors.py; C statuses become exceptions in
    _status.pyx only (the other glue modules cimport it)."""
    homes: dict[str, set[str]] = {"class RLEError": set(), "frle_strerror": set(),
                                  "class GPUUnavailableError": set()}
    for p in sorted(SRC.rglob("*")):
        if p.suffix not in (".py", ".pyx", ".pxd"):
            continue
        text = p.read_text()
        for key, where in homes.items():
            if key in text:
                where.add(p.relative_to(SRC).as_posix())
    assert homes["class RLEError"] == {"errors.py"}
    assert homes["class GPUUnavailableError"] == {"errors.py"}
    assert homes["frle_strerror"] == {"_crle.pxd", "_status.pyx"}
    for p in SRC.glob("_*.pyx"):
        if p.name != "_status.pyx":
            text = p.read_text()
            assert not re.search(r"raise (RLEError|ValueError)\(f?\"mask \{(err|e)\.", text), p.name
    tasks = (SRC / "jobs" / "tasks.py").read_text()
    assert "_MASK_PREFIX" not in tasks and "re.compile" not in tasks


def test_render_raises_through_the_one_mapping():
    # _render.render draws a runs table it does not parse; a table whose mask
    # does not sum to h*w gets the batch check's error (main: a plain ValueError
    # without the sum)
    from fastrle import _render

    arena = np.array([12, 2, 3, 13], np.uint32)  # mask 0: 12; mask 1: 5; mask 2: 13
    offsets = np.array([0, 1, 3, 4], np.int64)
    colors = np.zeros((3, 3), np.uint8)
    img = np.zeros((3, 4, 3), np.uint8)
    for order, index, reason, detail in (
            ([0, 1, 2], 1, "sum_short", "counts sum to less than h*w: they sum to 5"),
            ([2, 1], 2, "sum_long", "counts sum to more than h*w: they reach 13 at run 1")):
        with pytest.raises(fastrle.RLEError) as info:
            _render.render(arena, offsets, np.array(order, np.int64), colors, img, 100, 1, 1)
        assert (info.value.index, info.value.reason, str(info.value)) == (index, reason, f"mask {index}: {detail}")
    assert not img.any()  # validated before drawing
