"""Pins for the GPU host path (gpu/api.py's _Status, _gpupack.fill_upload)
through the fake CuPy of test_gpu_emulated.py (kernels in the CPU
emulator): the status words of every mask of a batch are looked at, also
when the pinned status buffer was last used by a batch of another length.
Expected errors as the CPU decoder (pycocotools' rules) reports them."""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_gpu_emulated import blobs, encode, fake_gpu, lib  # noqa: F401


def test_status_buffer_reused_by_batches_of_other_lengths(fake_gpu):
    fastrle = pytest.importorskip("fastrle")
    gpu, cupy = fake_gpu
    rng = np.random.default_rng(41)
    masks = blobs(rng, 3, 30, 40)
    rles = encode(masks)
    np.testing.assert_array_equal(gpu.decode(rles[:1]).get(), masks[:1])  # the status object: 1 mask
    bad = rles[:2] + [{"size": [30, 40], "counts": b"1"}]  # mask 2 sums to 1 of 1200 pixels
    with pytest.raises(fastrle.RLEError) as err:
        gpu.decode(bad)
    assert (err.value.index, err.value.reason) == (2, "sum_short")
    (ws,) = gpu._pool[0]
    assert len(ws.statuses) == 1  # one pinned status buffer served both batches
    # shorter again: only its own mask's word counts (mask 2's bad word is still in the buffer)
    np.testing.assert_array_equal(gpu.decode(rles[:1]).get(), masks[:1])
    with pytest.raises(fastrle.RLEError) as err:
        gpu.decode(bad[1:])
    assert (err.value.index, err.value.reason) == (1, "sum_short")
    np.testing.assert_array_equal(gpu.decode(rles).get(), masks)
    assert len(ws.statuses) == 1


def test_errors_of_masks_that_parse_no_run(fake_gpu):
    """A batch whose every mask parses to 0 runs (its status words: the error,
    0 runs, the offset): the error still raises, as the CPU decoder's
    messages say (written out here)."""
    fastrle = pytest.importorskip("fastrle")
    gpu, cupy = fake_gpu
    cases = [([b""], (0, "sum_short", "mask 0: counts sum to less than h*w: they sum to 0")),
             ([b"\x01"], (0, "bad_char", "mask 0: character outside '0'..'o' (48..111): byte 1 at offset 0 of counts")),
             ([b"", b"0"], (0, "sum_short", "mask 0: counts sum to less than h*w: they sum to 0"))]
    for counts, want in cases:
        rles = [{"size": [30, 40], "counts": c} for c in counts]
        with pytest.raises(fastrle.RLEError) as err:
            gpu.decode(rles)
        assert (err.value.index, err.value.reason, str(err.value)) == want
