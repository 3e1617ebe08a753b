"""The transforms' Python layer at its edges (issue 24): zeroed=True on a fresh
(reused) allocation, sampling_ratio=0, and the argument rules at their limits."""
from __future__ import annotations

import numpy as np
import pytest

import fastrle
from fastrle import _args


def rles_of(masks):
    return fastrle.encode(masks)


def test_zeroed_without_out_on_reused_memory():
    # zeroed=True promises that a caller's out is zero; a fresh array is not,
    # so it must be cleared whatever memory malloc hands back
    masks = np.zeros((3, 40, 50), np.uint8)
    masks[:, 5:9, 7:30] = 1
    rles = rles_of(masks)
    want = fastrle.decode(rles, size=(30, 60))
    for _ in range(5):
        junk = np.full((3, 30, 60), 0xAB, np.uint8)  # 5400 bytes: below mmap, reused next
        del junk
        got = fastrle.decode(rles, size=(30, 60), zeroed=True)
        assert np.array_equal(got, want)
        junk = np.full((3, 30, 8), 0xCD, np.uint8)
        del junk
        assert np.array_equal(fastrle.decode(rles, size=(30, 60), packed=True, zeroed=True),
                              np.packbits(want, axis=-1))


def test_sampling_ratio_zero():
    torch = pytest.importorskip("torch")
    tv = pytest.importorskip("torchvision.ops")
    m = np.zeros((2, 20, 30), np.uint8)
    m[0, 3:15, 4:20] = 1
    m[1, 10:20, 0:9] = 1
    boxes = np.array([[2.5, 1.0, 21.0, 17.5], [0.0, 8.0, 12.0, 20.0]])
    for aligned in (False, True):
        got = fastrle.roi_align(rles_of(m), boxes, (5, 7), sampling_ratio=0, aligned=aligned)
        rois = torch.cat([torch.arange(2.0)[:, None], torch.from_numpy(boxes).float()], 1)  # box k on mask k
        want = tv.roi_align(torch.from_numpy(m)[:, None].float(), rois, (5, 7), 1.0, 0, aligned)[:, 0].numpy()
        assert np.allclose(got, want, atol=1e-6)
    # a box whose adaptive grid is too big is rejected for 0 as for -1, not ground on
    huge = np.array([[0.0, 0.0, 3e6, 3e6]] * 2)
    for sr in (0, -1):
        with pytest.raises(ValueError, match="samples per bin"):
            fastrle.roi_align(rles_of(m), huge, 1, sampling_ratio=sr)


def test_argument_rules_at_their_limits():
    assert _args.size_arg((65535, 65537)) == (65535, 65537)  # 2^32 - 1 pixels
    with pytest.raises(ValueError):
        _args.size_arg((65536, 65536))  # 2^32
    assert _args.mask_size([2.0, 3], 0) == (2, 3)
    with pytest.raises(TypeError):
        _args.mask_size([2.5, 3], 0)
    buf = np.zeros((1, 4, 4), np.uint8)
    with pytest.raises(ValueError, match="last axis"):
        _args.check_out(buf[:, :, ::2], (1, 4, 2))
    m = np.zeros((1, 8, 8), np.uint8)
    r = rles_of(m)
    with pytest.raises(ValueError, match="only downscales"):
        fastrle.decode(r, size=(16, 4), mode="area")
    with pytest.raises(ValueError, match="only downscales"):
        fastrle.decode(r, size=(4, 16), mode="area")
    empty = [{"size": [0, 5], "counts": ""}]
    with pytest.raises(ValueError, match="no pixels"):
        fastrle.decode(empty, size=(2, 2))
