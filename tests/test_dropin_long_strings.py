"""fastrle.mask on long count strings and big masks, against pycocotools, at every
FRLE_ISA level (each in a subprocess: an extension picks its kernels once):

- long strings (noise: millions of 1-char varints; 5- and 6-char varints from
  runs of 2^20 to 2^28 pixels) through area, toBbox, merge (2 and 3 masks: the
  toggle-word bitmap), iou and decode;
- iou of many-run masks by bitmaps and popcounts, alone and next to few-run
  masks (which keep the run walk);
- toBbox's early stop once a box spans every row, including a mask whose runs
  sum past 2^32 (pycocotools' uint32 wrap: the stop must not apply there);
- noise in boxes through merge (union and intersection, also against a dense
  oracle) and iou, of one size (boxes from the bitmaps) and of mixed sizes;
- encode's boundary-mask run search (64-byte blocks; AVX-512, AVX2, SSE2) on
  lengths around the block size, non-binary values, and the zero/nonzero rule
  of fastrle.encode, against a brute force.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

from common import run_probe

pm = pytest.importorskip("pycocotools.mask")

KERNELS = ("scalar", "sse41", "avx2", "avx512")

_PROBE = r"""
import json, sys
import numpy as np
import pycocotools.mask as pm
import fastrle
from fastrle import _core, mask as fm

def same(a, b):
    if isinstance(a, dict):
        return a == b
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()

def compress(counts, h, w):
    return pm.frPyObjects({"size": [h, w], "counts": [int(c) for c in counts]}, h, w)

def noise_counts(rng, n, lo=1, hi=6):
    return rng.integers(lo, hi, n)

def varint_lengths(s):
    out, k = set(), 0
    for ch in s:
        k += 1
        if not (ch - 48) & 0x20:
            out.add(k)
            k = 0
    return out

fails = []
def check(name, got, want):
    if not same(got, want):
        fails.append(name)

rng = np.random.default_rng(7)
# 1. noise strings of a few hundred thousand chars, every run 1..5 (1-char varints)
h, w = 700, 900
masks = []
for d in (0.1, 0.5, 0.9):
    m = np.asfortranarray((rng.random((h, w)) < d).astype(np.uint8))
    masks.append(m)
rles = pm.encode(np.asfortranarray(np.stack(masks, axis=2)))
assert min(len(r["counts"]) for r in rles) > 10000
for i, r in enumerate(rles):
    check(f"area {i}", fm.area(r), pm.area(r))
    check(f"toBbox {i}", fm.toBbox(r), pm.toBbox(r))
    check(f"decode {i}", fm.decode(r), pm.decode(r))
    check(f"merge1 {i}", fm.merge([r]), pm.merge([r]))
rs = [dict(r, counts=r["counts"].decode()) for r in rles]  # str counts, as in JSON
check("area list", fm.area(rs), pm.area(rles))
check("toBbox list", fm.toBbox(rs), pm.toBbox(rles))
for k in (2, 3):
    for inter in (0, 1):
        check(f"merge {k} {inter}", fm.merge(rles[:k], inter), pm.merge(rles[:k], inter))
check("iou", fm.iou(rles, rles[::-1], [0, 1, 0]), pm.iou(rles, rles[::-1], [0, 1, 0]))
check("iou self", fm.iou(rles, rles, [0, 0, 1]), pm.iou(rles, rles, [0, 0, 1]))  # one set of bitmaps
blob = np.zeros((h, w), np.uint8, order="F"); blob[100:400, 200:700] = 1  # few runs: walked, not a bitmap
mixed = rles + [pm.encode(blob)]
check("iou mixed", fm.iou(mixed, mixed[::-1], [1, 0, 0, 0]), pm.iou(mixed, mixed[::-1], [1, 0, 0, 0]))

# 2. huge runs: 5- and 6-char varints between noise, in masks of 2^25 pixels
h, w = 4096, 8192
for seed in range(3):
    r2 = np.random.default_rng(seed)
    parts = []
    while sum(parts) < h * w:
        parts.extend(noise_counts(r2, int(r2.integers(40, 400))).tolist())
        parts.append(int(r2.integers(1 << 19, 1 << 24)) if r2.random() < 0.6 else int(r2.integers(1 << 24, 1 << 25)))
    while sum(parts) >= h * w:
        parts.pop()
    parts.append(h * w - sum(parts))  # > 0: no empty runs (pycocotools' merge mishandles them)
    a = compress(parts, h, w)
    assert len(a["counts"]) >= 48 and {5, 6} <= varint_lengths(a["counts"]), varint_lengths(a["counts"])
    b = compress(parts[::-1], h, w)
    check(f"huge area {seed}", fm.area(a), pm.area(a))
    check(f"huge toBbox {seed}", fm.toBbox([a, b]), pm.toBbox([a, b]))
    check(f"huge merge {seed}", fm.merge([a, b]), pm.merge([a, b]))
    check(f"huge merge3 {seed}", fm.merge([a, b, a], 1), pm.merge([a, b, a], 1))
    check(f"huge iou {seed}", fm.iou([a, b], [b], [0]), pm.iou([a, b], [b], [0]))
    if seed == 0:
        check("huge decode", fm.decode(a), pm.decode(a))

# 3. toBbox after every row is reached, with runs past 2^32 (uint32 wrap)
h = w = 65535
parts = [3] + [1, 2] * 40 + [h - 1, 5] + [500_000_000, 7] * 9  # sum > 2^32; deltas fit 6 chars
r3 = compress(parts, h, w)
check("wrap toBbox", fm.toBbox(r3), pm.toBbox(r3))
check("wrap area", fm.area(r3), pm.area(r3))

# 4. encode: lengths around the 64-byte blocks, values 0..3, every mask F order
for hw in (1, 2, 63, 64, 65, 127, 128, 129, 191, 1000, 4099):
    for kind in range(4):
        if kind == 0:
            m = (rng.random(hw) < 0.5).astype(np.uint8)
        elif kind == 1:
            m = rng.integers(0, 4, hw).astype(np.uint8)  # non-binary: a run ends at any change
        elif kind == 2:
            m = np.zeros(hw, np.uint8); m[hw // 3: hw // 3 + 70] = 1
        else:
            m = np.ones(hw, np.uint8); m[-1] = 0
        for hh in (1, hw):
            if hw % hh:
                continue
            f = np.asfortranarray(m.reshape(hw // hh, hh, order="F")[:, :, None])
            check(f"encode {hw} {kind} {hh}", fm.encode(f), pm.encode(f))
            # the zero/nonzero rule (fastrle.encode of F-order masks), by brute force
            nz = (m != 0).astype(np.int8)
            ends = np.flatnonzero(np.diff(np.concatenate([[0], nz])) != 0).tolist() + [hw]
            want = np.diff([0] + ends).astype(np.uint32)
            got = _core.encode_batch(m.reshape(1, 1, hw), True, True, 1, False)
            runs = _core.parse(_core.sources([{"size": [hw, 1], "counts": got[0]}], same_size=False), True)
            check(f"nonzero {hw} {kind} {hh}", np.asarray(runs.arena[: runs.offsets[1]]).tolist(), want.tolist())
big = np.asfortranarray((rng.random((300, 500, 3)) < 0.3).astype(np.uint8) * 5)
check("encode big", fm.encode(big), pm.encode(big))

# 5. noise in boxes (the bitmaps cover only the words a mask's foreground spans),
# with masks that end on their last pixel, start on their first, hold one pixel or
# none, and heights around 64; merge against pycocotools and a dense oracle, iou of
# one size (boxes from the bitmaps) and of mixed sizes (pycocotools' boxes)
for h, w in ((64, 97), (70, 90), (33, 200)):
    ms = []
    for d in (0.02, 0.3, 0.6, 0.95):
        m = np.zeros((h, w), np.uint8)
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        m[y0:y0 + h // 3, x0:x0 + w // 3] = rng.random((h // 3, w // 3)) < d
        ms.append(m)
    end = (rng.random((h, w)) < 0.5).astype(np.uint8); end[:, : w // 2] = 0; end[-1, -1] = 1
    start = (rng.random((h, w)) < 0.5).astype(np.uint8); start[:, w // 2:] = 0; start[0, 0] = 1
    one = np.zeros((h, w), np.uint8); one[h // 2, w - 2] = 1
    col = np.zeros((h, w), np.uint8); col[:, 5:60] = 1  # few runs a word: walked, against bitmaps
    ms += [end, start, one, np.zeros((h, w), np.uint8), col]
    dense = np.stack(ms, axis=2)
    rl = pm.encode(np.asfortranarray(dense))
    # [8, 7]: with h = 64 the union's last pixel ends a word, and its run ends in the next
    for idx in ([0, 1, 2, 3], [0, 4, 5], [4, 2, 6], [3, 7], [1, 8], [8, 7], [5, 4, 0, 1, 2, 3]):
        for inter in (0, 1):
            got = fm.merge([rl[i] for i in idx], inter)
            check(f"box merge {h} {w} {idx} {inter}", got, pm.merge([rl[i] for i in idx], inter))
            want = dense[:, :, idx].all(axis=2) if inter else dense[:, :, idx].any(axis=2)
            if not np.array_equal(pm.decode(got).astype(bool), want):
                fails.append(f"box merge oracle {h} {w} {idx} {inter}")
    crowd = [i % 3 == 0 for i in range(len(rl))]
    check(f"box iou {h} {w}", fm.iou(rl, rl[::-1], crowd), pm.iou(rl, rl[::-1], crowd))
    check(f"box iou self {h} {w}", fm.iou(rl, rl, crowd), pm.iou(rl, rl, crowd))
    other = pm.encode(np.asfortranarray(dense[:, :-1]))  # a second size: pycocotools' boxes, -1 cells
    both = rl + other
    cb = [i % 2 for i in range(len(both))]
    check(f"box iou sizes {h} {w}", fm.iou(both, both[::-1], cb), pm.iou(both, both[::-1], cb))
    # an empty mask with an empty run has pycocotools' box [w, h, 2^32-w+1, ...]: it meets a
    # bigger mask's box, so a pair of two sizes is -1 (with one size, 0 either way)
    ez = compress([70, 0, h * w - 70], h, w)
    far = np.zeros((h + 10, w + 10), np.uint8, order="F"); far[h + 5, w + 5] = 1
    pair = [ez, pm.encode(far), rl[2]]
    check(f"empty-run box sizes {h} {w}", fm.iou(pair, pair[::-1], [0, 1, 0]), pm.iou(pair, pair[::-1], [0, 1, 0]))
json.dump({"isa": _core.parse_isa(), "fails": fails, "n": 0}, sys.stdout)
"""


def _run(isa: str) -> dict:
    return dict(json.loads(run_probe(_PROBE, isa)))


@pytest.mark.parametrize("isa", KERNELS)
def test_long_strings_and_encode_match_pycocotools(isa: str) -> None:
    got = _run(isa)
    assert got["fails"] == [], f"FRLE_ISA={isa} (parse kernel {got['isa']}): {got['fails']}"


def test_merge_of_two_noise_masks_takes_the_bitmap_and_matches() -> None:
    from fastrle import mask as fm
    rng = np.random.default_rng(3)
    a = pm.encode(np.asfortranarray((rng.random((400, 600)) < 0.5).astype(np.uint8)))
    b = pm.encode(np.asfortranarray((rng.random((400, 600)) < 0.2).astype(np.uint8)))
    for inter in (0, 1):
        assert fm.merge([a, b], inter) == pm.merge([a, b], inter)
    # a dense oracle, not pycocotools: union and intersection of the decoded masks
    da, db = pm.decode(a), pm.decode(b)
    assert np.array_equal(pm.decode(fm.merge([a, b])), da | db)
    assert np.array_equal(pm.decode(fm.merge([a, b], 1)), da & db)


def test_count_strings_match_pycocotools_around_the_one_chunk_blocks() -> None:
    """The string writer's blocks of 4 one-chunk deltas: deltas at -17..16, counts at
    and past 2^31 (where a 32-bit difference wraps to a small one), every block
    position, against pycocotools' rleToString (frPyObjects of list counts)."""
    from fastrle import _core
    rng = np.random.default_rng(11)
    big = [0, 1, 5, 2**31 - 1, 2**31, 2**31 + 3, 2**32 - 3, 2**32 - 1]
    cases = [[], [3], [1, 2, 3, 4], [0, 2**32 - 1, 3, 2**32 - 4, 1, 2**32 - 2, 2, 5, 2**32 - 1]]
    for n in range(3, 24):
        base = rng.integers(0, 1000, n)
        cases.append(base.tolist())
        cases.append((base[::2].repeat(2)[:n] + rng.integers(-17, 17, n).clip(-int(base.min()), None)).tolist())
        cases.append(rng.choice(big, n).tolist())
    for c in cases:
        arr = np.asarray(c, np.uint32)
        want = pm.frPyObjects({"size": [1, 1], "counts": [int(x) for x in c]}, 1, 1)["counts"]
        assert _core.to_string(arr) == want, c
