"""The expand kernels at the 2^32 edge of the row loops (issue 21, finding 1).

A mask of (2**32 - 1) x 1 is legal (h*w < 2**32).  Its last row band starts
within 32 rows of 2**32, so a 32-bit ``ys += 32`` wrapped to 0 and the warp
started again at row 0, forever.  The emulator runs only the first and the
last row band of the launch (``emu_set_block_window_y``), in a subprocess
with a timeout: on the old kernels it never returns.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_gpu_emulated import lib  # noqa: F401  (builds the emulator once, outside the timeout)

TESTS = Path(__file__).resolve().parent

SCRIPT = r"""
import sys
sys.path.insert(0, {tests!r})
import numpy as np
from cuda_emu import emu
L = emu.launch_mod
lib = emu.build_emulator()
H = 2**32 - 1
rle = {{"size": [H, 1], "counts": [5, 2**32 - 13, 4, 1, 2]}}
packed = {packed}
batch = L.pack_rles(rle)
parse, expand = L.plan_launches(batch, L.Config(), packed)
out = np.empty(H, np.uint8)  # only the pages of the two bands are touched
backend = emu.EmuBackend(lib)
bufs = backend.buffers(batch, None)
bufs["out"] = out
backend.launch(parse, bufs)
assert bufs["meta"][0] == 0, bufs["meta"]
band, gy = expand.args[9], expand.grid[1]
nb = -(-H // band)
per = gy // nb  # grid y = bands x phase classes (packed: 4 for 1-byte rows)
assert nb * per == gy and (nb - 1) * band > 2**32 - 32 - band, (band, gy)  # the last band reaches the wrap
first, last = out[:band], out[(nb - 1) * band:]
first[:] = 0xCD
last[:] = 0xCD
for y in (0, (nb - 1) * per):
    lib.emu_set_block_window_y(y, y + per)
    try:
        backend.launch(expand, bufs)
    finally:
        lib.emu_set_block_window_y(0, 0xFFFFFFFF)
one = 0x80 if packed else 1
exp_first = np.full(band, one, np.uint8)
exp_first[:5] = 0
exp_last = np.full(len(last), one, np.uint8)
exp_last[-7:] = [0, 0, 0, 0, one, 0, 0]  # rows 2**32 - 8 .. 2**32 - 2
np.testing.assert_array_equal(first, exp_first)
np.testing.assert_array_equal(last, exp_last)
print("ok")
"""


@pytest.mark.parametrize("packed", [False, True])
def test_rows_near_2_32_end(lib, packed):
    code = SCRIPT.format(tests=str(TESTS), packed=packed)
    # the child imports the same fastrle as this process (installed, or PYTHONPATH's in-place build)
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("the expand of a (2**32 - 1) x 1 mask did not finish: the row loop wrapped")
    assert res.returncode == 0 and "ok" in res.stdout, res.stdout + res.stderr


# --------------------- row ends, phases and mask boundaries of fastrle_expand

@pytest.mark.parametrize("w", [4, 5, 6, 7, 9, 123, 124, 126, 127, 128, 129, 251, 253, 381])
def test_row_ends_every_phase(lib, w):
    """Words across row ends are written by the next row's tile 0 (its lane 0
    holds the previous row's tail), row-end tiles use lane predicates, and the
    mask's first and last rows go bytewise.  Every output phase (a buffer
    offset of 0..3 bytes), bands of 32 rows, masks side by side, pycocotools
    as the oracle; the bytes around the output must stay untouched."""
    from test_gpu_emulated import decode, encode, reference

    rng = np.random.default_rng(w)
    h, n = 70, 3
    masks = (rng.random((n, h, w)) < 0.5).astype(np.uint8)
    masks[1] = 1  # full: every straddling word is all ones
    masks[2, :, : w // 2] = 0
    rles = encode(masks)
    want = reference(rles)
    for off in range(4):
        buf = np.full(n * h * w + 8, 0xEE, np.uint8)
        out = buf[off:off + n * h * w].reshape(n, h, w)
        decode(lib, rles, out=out, band_rows=32)
        np.testing.assert_array_equal(out, want, err_msg=f"w={w} offset={off}")
        assert (buf[:off] == 0xEE).all() and (buf[off + n * h * w:] == 0xEE).all()


# ---------------- phase classes and row ends of the packed words-of-bits expand

@pytest.mark.parametrize("w", [1, 7, 8, 9, 17, 24, 25, 31, 33, 40, 127, 129, 255, 263, 1031])
def test_packed_words_every_phase(lib, w):
    """Packed rows of ceil(w/8) = 0, 1, 2, 3 bytes mod 4 (1, 4, 2, 4 phase
    classes), rows under 4 bytes (bytewise), words across row ends, every
    buffer offset, both bit orders, bands of 32 P rows, masks side by side:
    np.packbits of pycocotools' decode, and the bytes around stay untouched."""
    from test_gpu_emulated import decode, encode, reference

    rng = np.random.default_rng(1000 + w)
    h, n = 75, 3
    masks = (rng.random((n, h, w)) < 0.5).astype(np.uint8)
    masks[1] = 1  # full: padding bits must stay 0
    masks[2, : h // 3] = 0
    rles = encode(masks)
    ref = reference(rles)
    wb = (w + 7) // 8
    for bitorder in ("big", "little"):
        want = np.packbits(ref, axis=-1, bitorder=bitorder)
        for off in range(4):
            buf = np.full(n * h * wb + 8, 0xEE, np.uint8)
            out = buf[off:off + n * h * wb].reshape(n, h, wb)
            decode(lib, rles, out=out, packed=True, bitorder=bitorder, band_rows=32)
            np.testing.assert_array_equal(out, want, err_msg=f"w={w} offset={off} {bitorder}")
            assert (buf[:off] == 0xEE).all() and (buf[off + n * h * wb:] == 0xEE).all()


@pytest.mark.parametrize("w", [9, 33, 263])
def test_packed_words_little_flag(lib, w):
    """The words kernel's own little bit order (FASTRLE_FLAG_LITTLE without a
    resize), launched by hand: the planner sends bitorder="little" through
    the resized path today."""
    from cuda_emu import emu
    from test_gpu_emulated import encode, reference

    L = emu.launch_mod
    rng = np.random.default_rng(w)
    masks = (rng.random((2, 70, w)) < 0.5).astype(np.uint8)
    rles = encode(masks)
    batch = L.pack_rles(rles)
    parse, expand = L.plan_launches(batch, L.Config(band_rows=32), True)
    args = list(expand.args)
    args[10] = L.MAP_LITTLE
    expand = L.Launch(expand.kernel, expand.grid, expand.block, tuple(args))
    backend = emu.EmuBackend(lib, order=emu.ORDER_SHUFFLED, seed=w)
    out = backend.output(None, batch.out_shape(True))
    bufs = backend.buffers(batch, None)
    bufs["out"] = out
    backend.launch(parse, bufs)
    backend.launch(expand, bufs)
    np.testing.assert_array_equal(out, np.packbits(reference(rles), axis=-1, bitorder="little"))


# ------------- horizontal flip at the masks' own size: the plain kernels' flag

def _cpu_flip_h(rles, packed=False, bitorder="big"):
    """fastrle's CPU decode with flip="h" (None without the built core)."""
    try:
        import fastrle
        return fastrle.decode(rles, flip="h", packed=packed, bitorder=bitorder)
    except ImportError:
        return None


@pytest.mark.parametrize("w", [1, 3, 4, 5, 7, 9, 31, 33, 123, 124, 127, 129, 253, 263])
def test_flip_h_own_size_plain_kernels(lib, w):
    """issue 21, finding 6: flip="h" without a resize is FASTRLE_FLAG_FLIP_H
    of fastrle_expand / fastrle_expand_packed: no maps built or uploaded.
    Tile 0's lane 0 reads the previous row's last columns, which a flip makes
    source column 0 (pixel -1 in the mask's row 0); column 0 is foreground
    in row 0 here.  Every buffer offset, bands of 32 (P) rows, uint8 and
    both bit orders: pycocotools' decode mirrored, and the CPU's flip="h"."""
    from test_gpu_emulated import encode, reference
    from test_gpu_transforms import _CountingBackend

    from cuda_emu import emu

    L = emu.launch_mod
    rng = np.random.default_rng(2100 + w)
    h, n = 70, 4
    masks = (rng.random((n, h, w)) < 0.5).astype(np.uint8)
    masks[1] = 1
    masks[2, :, : (w + 1) // 2] = 0
    masks[3] = 0
    masks[3, :, 0] = 1  # only source column 0: the last output column
    masks[:, 0, 0] = 1
    rles = encode(masks)
    want = np.ascontiguousarray(reference(rles)[..., ::-1])
    cpu = _cpu_flip_h(rles)
    if cpu is not None:
        np.testing.assert_array_equal(cpu, want)
    for packed, bitorder in [(False, "big"), (True, "big"), (True, "little")]:
        exp = np.packbits(want, axis=-1, bitorder=bitorder) if packed else want
        cpu = _cpu_flip_h(rles, packed, bitorder)
        if cpu is not None:
            np.testing.assert_array_equal(cpu, exp)
        plan = L.plan_launches(L.pack_rles(rles), L.Config(), packed,
                               L.make_transform(h, w, None, "nearest", "h", packed, bitorder, n))
        assert [lc.kernel for lc in plan] == ["fastrle_parse_warp",
                                              "fastrle_expand_packed" if packed else "fastrle_expand"]
        flags = L.MAP_FLIP_H | (L.MAP_LITTLE if bitorder == "little" else 0)
        assert plan[1].args[10] == flags and plan[1].args[4] != "maps"
        pitch = exp.shape[-1]
        for off in range(4):
            backend = _CountingBackend(lib)
            buf = np.full(n * h * pitch + 8, 0xEE, np.uint8)
            out = buf[off:off + n * h * pitch].reshape(n, h, pitch)
            L.decode_with(backend, rles, config=L.Config(band_rows=32), out=out, flip="h", packed=packed,
                          bitorder=bitorder)
            assert backend.uploaded_maps == [None]
            assert [lc.args[10] for lc in backend.launches[1:]] == [flags]
            np.testing.assert_array_equal(out, exp, err_msg=f"w={w} offset={off} packed={packed} {bitorder}")
            assert (buf[:off] == 0xEE).all() and (buf[off + n * h * pitch:] == 0xEE).all()


def test_flip_h_vertical_and_resized_still_map(lib):
    """"v", "hv" and a resize with "h" keep their maps."""
    from cuda_emu import emu

    L = emu.launch_mod
    for flip, size in [("v", None), ("hv", None), ("h", (40, 30))]:
        t = L.make_transform(37, 25, size, "nearest", flip, False, "big", 1)
        assert t is not None and t.mapped(37, 25)
    t = L.make_transform(37, 25, None, "nearest", "h", False, "big", 1)
    assert t is not None and not t.mapped(37, 25) and not t.is_identity(37, 25)
