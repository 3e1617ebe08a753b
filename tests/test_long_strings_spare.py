"""Long count strings in the drop-in (area, toBbox, merge, iou) against
pycocotools, and the spare blocks that keep their work memory between calls
(csrc/rle_scratch.c: frle_spare_*; glue fastrle._mask.release_spare,
spare_limit, spare_bytes):

- toBbox of noise in boxes that span few rows, at columns all over the mask:
  eight (background, foreground) pairs at a time within one column, and the
  pairs across a column's end one at a time; empty runs inside (never taken
  eight at a time) and runs whose sum wraps past 2^32 in the middle of such a
  block (pycocotools' uint32 wrap);
- the spare blocks: results still pycocotools' after the kept memory grows
  (a longer batch), is reused (the same bytes kept after a repeat call), is
  released, is limited to 0 (nothing kept) and is lowered under what is kept
  (freed); the limit's argument checks; and threads using the blocks at once.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

pm = pytest.importorskip("pycocotools.mask")

import fastrle  # noqa: E402
from fastrle import _mask  # noqa: E402
from fastrle import mask as fm  # noqa: E402


def _noise_in_box(rng: np.random.Generator, h: int, w: int, density: float) -> np.ndarray:
    """An (h, w) F-order mask: salt noise of this density in a random box."""
    m = np.zeros((h, w), np.uint8, order="F")
    y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
    y1, x1 = int(rng.integers(y0 + h // 4, h)), int(rng.integers(x0 + w // 4, w))
    m[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < density
    return m


def _noise_rles(seed: int, n: int, h: int, w: int) -> list:
    rng = np.random.default_rng(seed)
    dens = np.geomspace(0.01, 0.9, n)
    dense = np.asfortranarray(np.stack([_noise_in_box(rng, h, w, float(d)) for d in dens], axis=2))
    return pm.encode(dense)


def _same(a, b) -> bool:
    if isinstance(b, dict):
        return a == b
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _check_all(rles: list) -> None:
    strs = [dict(r, counts=r["counts"].decode()) for r in rles]  # str counts, as in JSON
    crowd = [i % 3 == 0 for i in range(len(rles))]
    assert _same(fm.area(strs), pm.area(rles))
    assert _same(fm.toBbox(strs), pm.toBbox(rles))
    for r in rles:
        assert _same(fm.toBbox(r), pm.toBbox(r))
    for inter in (0, 1):
        assert _same(fm.merge(strs, inter), pm.merge(rles, inter))
    assert _same(fm.iou(strs, strs, crowd), pm.iou(rles, rles, crowd))
    assert _same(fm.iou(strs[::2], strs[1::2], crowd[1::2]), pm.iou(rles[::2], rles[1::2], crowd[1::2]))


@pytest.mark.parametrize("h,w", [(300, 200), (37, 900), (1000, 64)])
def test_noise_in_boxes_matches_pycocotools(h: int, w: int) -> None:
    _check_all(_noise_rles(h * w, 12, h, w))


def test_tobbox_blocks_with_empty_runs_and_columns_ends() -> None:
    # runs of 1..3 pixels in columns of 50: blocks of eight pairs fit a column
    # now and then, and cross its end as often; some runs are 0 (non-canonical)
    rng = np.random.default_rng(3)
    h, w = 50, 400
    for trial in range(40):
        first = int(rng.integers(0, 3000))
        n = h * w  # more draws than needed: each is at least 1 in 9 of 10
        runs = np.where(rng.random(n) < 0.1, rng.integers(0, 4, n), rng.integers(1, 4, n))
        k = int(np.searchsorted(first + np.cumsum(runs), h * w - 200)) + 1  # runs until the sum reaches it
        parts = [first] + runs[:k].tolist()
        parts.append(h * w - sum(parts))
        r = pm.frPyObjects({"size": [h, w], "counts": parts}, h, w)
        assert _same(fm.toBbox(r), pm.toBbox(r)), trial
        assert _same(fm.area(r), pm.area(r)), trial


def test_tobbox_wrap_inside_a_block_of_pairs() -> None:
    # positions pass 2^32 in the middle of eight short pairs: the block must not
    # be taken whole (pycocotools' uint32 positions wrap there)
    h, w = 1000, 1000
    for lead in range(2**32 - 40, 2**32 - 1, 3):
        parts = [lead - 7, 7] + [2, 3] * 40
        r = pm.frPyObjects({"size": [h, w], "counts": parts}, h, w)
        assert _same(fm.toBbox(r), pm.toBbox(r)), lead
        assert _same(fm.toBbox([r, r]), pm.toBbox([r, r])), lead


@pytest.fixture
def spare_limit():
    old = _mask.spare_limit()
    yield old
    _mask.spare_limit(old)


def test_spare_blocks_grow_are_reused_and_released(spare_limit: int) -> None:
    small = _noise_rles(1, 6, 400, 500)  # arenas of over 128 KiB: kept (smaller ones are simply freed)
    big = _noise_rles(2, 10, 700, 900)
    _mask.release_spare()
    assert _mask.spare_bytes() == 0
    _check_all(small)
    kept_small = _mask.spare_bytes()
    assert 0 < kept_small <= spare_limit
    _check_all(big)  # the kept blocks are too small: they grow
    kept = _mask.spare_bytes()
    assert kept_small < kept <= spare_limit
    _check_all(big)  # a repeat call reuses the blocks: nothing new is kept
    assert _mask.spare_bytes() == kept
    _check_all(small)  # the large blocks serve small calls
    assert _mask.spare_bytes() == kept
    assert _mask.release_spare() == kept
    assert _mask.spare_bytes() == 0
    _check_all(big)


def test_spare_limit_zero_keeps_nothing_and_lowering_frees(spare_limit: int) -> None:
    rles = _noise_rles(4, 8, 500, 400)
    _check_all(rles)
    assert _mask.spare_bytes() > 0
    held = _mask.spare_bytes()
    assert _mask.spare_limit(held - 1) == spare_limit  # lower than what is kept: freed
    assert _mask.spare_bytes() == 0
    _check_all(rles)
    assert _mask.spare_bytes() <= held - 1
    assert _mask.spare_limit(0) == held - 1
    _check_all(rles)
    assert _mask.spare_bytes() == 0
    assert _mask.spare_limit(spare_limit) == 0
    _check_all(rles)
    assert 0 < _mask.spare_bytes() <= spare_limit


def test_threads_share_the_spare_blocks(spare_limit: int) -> None:
    sets = [_noise_rles(10 + k, 6, 400, 500) for k in range(4)]
    want = [(pm.merge(r), pm.iou(r, r, [0] * len(r)), pm.toBbox(r), pm.merge(r, 1)) for r in sets]
    strs = [[dict(x, counts=x["counts"].decode()) for x in r] for r in sets]
    bad: list = []
    old = _mask._set_thread_min_chars(1)  # threaded parses and IoU: the GIL is released around them

    def work(k: int) -> None:
        for _ in range(6):
            got = (fm.merge(strs[k]), fm.iou(strs[k], strs[k], [0] * len(strs[k])), fm.toBbox(strs[k]),
                   fm.merge(strs[k], 1))
            if not all(_same(g, w) for g, w in zip(got, want[k])):
                bad.append(k)
            if k == 0:
                _mask.release_spare()  # freed while the others take and give

    try:
        ts = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
    finally:
        _mask._set_thread_min_chars(old)
    assert not bad
    assert _mask.spare_bytes() <= spare_limit


def test_iou_bitmaps_built_on_threads_match_pycocotools() -> None:
    # over 2^18 runs a thread: the bitmaps are built on threads, each with its
    # own toggle words, over ranges of masks cut by their run counts
    rng = np.random.default_rng(21)
    h, w = 600, 800
    dens = (0.5, 0.02, 0.3, 0.6, 0.1, 0.45)
    dense = np.asfortranarray(np.stack([rng.random((h, w)) < d for d in dens], axis=2).astype(np.uint8))
    rles = pm.encode(dense)
    assert sum(len(r["counts"]) for r in rles) > 3 << 18  # runs: about one a character
    strs = [dict(r, counts=r["counts"].decode()) for r in rles]
    old = _mask._set_thread_min_chars(1)
    try:
        for crowd in ([0] * 6, [1, 0, 0, 1, 0, 1]):
            assert _same(fm.iou(strs, strs, crowd), pm.iou(rles, rles, crowd))
            assert _same(fm.iou(strs[:4], strs[2:], crowd[2:]), pm.iou(rles[:4], rles[2:], crowd[2:]))
    finally:
        _mask._set_thread_min_chars(old)


def test_spare_limit_arguments_and_public_names(spare_limit: int) -> None:
    # the public names are the glue's own functions, not copies
    assert fastrle.release_spare is _mask.release_spare
    assert fastrle.spare_limit is _mask.spare_limit and fastrle.spare_bytes is _mask.spare_bytes
    assert fastrle.spare_limit(np.int64(12345)) == spare_limit  # numpy ints are ints
    assert fastrle.spare_limit(2**70) == 12345  # past int64: as many as int64 holds
    assert fastrle.spare_limit() == 2**63 - 1
    for bad in (True, 1.0, "5", None.__class__):
        with pytest.raises(TypeError, match="limit must be an int >= 0, got"):
            fastrle.spare_limit(bad)
    for bad in (-1, np.int8(-1)):
        with pytest.raises(ValueError, match=r"limit must be an int >= 0, got (np\.int8\()?-1"):
            fastrle.spare_limit(bad)
    assert fastrle.spare_limit() == 2**63 - 1  # a rejected limit changes nothing
