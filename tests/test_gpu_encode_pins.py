"""Pins for fastrle.gpu.encode (gpu/encoder.py, csrc/kernels/rle_encode.cuh
under the CPU emulator): wide integers whose low byte is 0, the band plan
worked out by hand, bands whose last one is short, segments of exactly 1, 2
and 3 boundaries in every position, value changes between nonzero bytes, and
(H, W, N) batches that are not square. pycocotools' encode is the oracle.
Needs g++, not CuPy."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cuda_emu import emu
from cuda_emu.encode_oracle import gpu_encode
from cuda_emu.encode_oracle import oracle_counts as oracle

mask_api = pytest.importorskip("pycocotools.mask", reason="pycocotools is the oracle")
enc = emu.import_fastrle_module("gpu.encoder")


@pytest.fixture(scope="module")
def lib():
    if shutil.which("g++") is None:
        pytest.skip("g++ not found")
    return emu.build_emulator()


def encode(lib, m, **kw):
    out, _ = gpu_encode(lib, m, order=emu.ORDER_SHUFFLED, seed=5, **kw)
    return [r["counts"] for r in out]


@pytest.fixture
def bands_of(monkeypatch):
    """Cut every column into bands of at least `rows` rows."""
    def set_rows(rows: int) -> None:
        monkeypatch.setattr(enc, "PARALLEL_THREADS", 1 << 40)
        monkeypatch.setattr(enc, "MIN_BAND_ROWS", rows)
    return set_rows


def test_band_plan_by_hand():
    # 10 columns: nb = min(1000 // 64, ceil(2**17 / 10)) = 15 bands of ceil(1000 / 15) = 67 rows
    assert enc.bands(1, 1000, 10) == (15, 67)
    # 2 columns of 200: nb = min(3, 65536) = 3 bands of 67 rows (the last 66)
    assert enc.bands(1, 200, 2) == (3, 67)
    assert enc.bands(1, 127, 2) == (1, 127)  # under 2 * 64 rows: one band
    assert enc.bands(1, 128, 2) == (2, 64)
    for n, h, w in [(1, 1000, 10), (3, 999, 7), (1, 4097, 1), (2, 130, 1)]:
        nb, rows = enc.bands(n, h, w)
        assert nb * rows >= h and (nb - 1) * rows < h


def segment_patterns(h: int, w: int) -> np.ndarray:
    """Masks whose columns hold 0..4 boundaries at the top, the middle and the
    bottom, and columns that continue the one before."""
    out = []
    for k in range(6):
        m = np.zeros((h, w), np.uint8)
        for x in range(w):
            kind = (x * 7 + k) % 6
            if kind == 1:
                m[h // 2:, x] = 1  # one boundary, mid column, to the bottom
            elif kind == 2:
                m[1:3, x] = 1  # two
            elif kind == 3:
                m[0, x] = m[h - 3:h - 1, x] = 1  # three (starts set)
            elif kind == 4:
                m[h - 1, x] = 1  # the bottom pixel only
            elif kind == 5:
                m[:, x] = m[:, x - 1] if x else 1  # continue the column before
        out.append(m)
    return np.stack(out)


@pytest.mark.parametrize("h,w", [(10, 7), (11, 5), (13, 3), (9, 33)])
@pytest.mark.parametrize("rows", [0, 3, 4])
def test_segments_in_bands_with_a_short_last_band(lib, bands_of, h, w, rows):
    if rows:
        bands_of(rows)
        assert enc.bands(6, h, w)[0] > 1
    m = segment_patterns(h, w)
    assert encode(lib, m) == oracle(m)


def test_wide_integers_are_nonzero_not_bytes(lib):
    m = np.zeros((2, 6, 5), np.int32)
    m[0, 1:4, 1:3] = 256  # low byte 0
    m[1, :, 2:] = -256
    m[1, 0, 0] = 1
    want = oracle((m != 0).astype(np.uint8))
    assert encode(lib, m) == want
    assert encode(lib, m.astype(np.int64) << 32) == want


def test_value_changes_between_nonzero_bytes(lib):
    m = np.zeros((1, 6, 4), np.uint8)
    m[0, :, 1] = 1
    m[0, :, 2] = 2  # 1 then 2: a boundary by value (pycocotools), none by nonzero
    m[0, 2:4, 3] = 255
    assert encode(lib, m) == oracle(m)
    assert encode(lib, m, nonzero=True) == oracle((m != 0).astype(np.uint8))
    assert oracle(m) != oracle((m != 0).astype(np.uint8))


def test_hwn_not_square(lib):
    rng = np.random.default_rng(3)
    m = (rng.random((3, 9, 4)) < 0.4).astype(np.uint8)  # (N, H, W)
    hwn = np.asfortranarray(m.transpose(1, 2, 0))
    out, _ = gpu_encode(lib, hwn, order=emu.ORDER_SHUFFLED, seed=5, layout="hwn")
    assert [r["size"] for r in out] == [[9, 4]] * 3
    assert [r["counts"] for r in out] == oracle(m)
