"""Random malformed-input cases with an oracle, shared by
tests/test_fuzz_malformed.py (run in a subprocess, so a crash is a test
failure and not a dead pytest) and usable by hand:

    python tests/_malformed_cases.py SEED N

Every case must either raise ValueError/TypeError, or return exactly what
the reference semantics (tests/_fuzzlib.ref_parse) say, which is what
pycocotools returns wherever pycocotools is well defined (there it is
compared too). Output buffers are views into the middle of a larger array
whose guard bytes must survive, and nothing may be written to ``out`` when
the call raises.
"""
from __future__ import annotations

import sys

import numpy as np

import fastrle
import fastrle.mask as fm
from _fuzzlib import (MASK_KINDS, RefError, dense_iou, make_mask, mutate, ref_bbox_coco, ref_counts, ref_decode,
                      ref_parse, ref_to_string)

try:
    from pycocotools import mask as pm
except ImportError:  # pragma: no cover
    pm = None

GUARD = 64
FILL = 0xA5
OK_ERRORS = (ValueError, TypeError)


class OracleFailure(AssertionError):
    pass


def check(cond, *msg):
    if not cond:
        raise OracleFailure(" ".join(str(m) for m in msg))


def guarded(n, h, w):
    """(base, out): out is a C-contiguous (n, h, w) view into base, with
    GUARD bytes of FILL on both sides."""
    size = n * h * w
    base = np.full(size + 2 * GUARD, FILL, np.uint8)
    return base, base[GUARD:GUARD + size].reshape(n, h, w)


def check_guards(base, touched_ok):
    check((base[:GUARD] == FILL).all() and (base[-GUARD:] == FILL).all(), "guard bytes overwritten")
    if not touched_ok:
        check((base[GUARD:-GUARD] == FILL).all(), "out written although the call raised")


def _expect(s: bytes, h: int, w: int):
    """(counts, varint lengths) or None if invalid for an h x w mask."""
    if not (0 <= h <= 0xFFFFFFFF and 0 <= w <= 0xFFFFFFFF) or h * w > 0xFFFFFFFF:
        return None
    try:
        return ref_parse(s, h * w)
    except RefError:
        return None


def _pm_safe(lens, h, w):
    """pycocotools' rleFrString shifts an int by 5*k: defined for k <= 6."""
    return pm is not None and h > 0 and w > 0 and all(k <= 6 for k in lens)


def case_strings(r: np.random.Generator, stats):
    """Mutated valid strings (and random bytes) against decode, area, bbox."""
    h, w = int(r.integers(1, 12)), int(r.integers(1, 12))
    n = int(r.integers(1, 4))
    masks = [make_mask(MASK_KINDS[int(r.integers(0, len(MASK_KINDS)))], h, w,
                       int(r.integers(0, 2**31))) for _ in range(n)]
    strs = [ref_to_string(ref_counts(m)) for m in masks]
    bad = int(r.integers(0, n))
    for _ in range(int(r.integers(0, 4)) if r.random() < 0.2 else int(r.integers(1, 4))):
        strs[bad] = mutate(r, strs[bad])
    hh, ww = h, w
    roll = r.random()
    if roll < 0.1:  # wrong size for the same counts
        hh, ww = max(0, h + int(r.integers(-1, 2))), max(0, w + int(r.integers(-1, 2)))
    elif roll < 0.13:
        hh, ww = w, h
    as_str = r.random() < 0.3 and all(max(s, default=0) < 128 for s in strs)
    counts = [s.decode("ascii") if as_str else s for s in strs]
    rles = [{"size": [hh, ww], "counts": c} for c in counts]
    exp = [_expect(s, hh, ww) for s in strs]
    valid = all(e is not None for e in exp)
    first_bad = next((i for i, e in enumerate(exp) if e is None), None)

    # native decode into a guarded out
    base, out = guarded(n, hh, ww)
    try:
        res = fastrle.decode(rles, out=out, threads=int(r.integers(1, 4)))
        check(valid, "decode accepted an invalid RLE", rles)
        check(res is out)
        want = np.stack([ref_decode(e[0], hh, ww) for e in exp])
        check(np.array_equal(out, want), "decode result differs from the reference", rles)
        check_guards(base, True)
        stats["valid"] += 1
    except fastrle.RLEError as e:
        check(not valid, "decode rejected a valid RLE", rles, e)
        check(e.index == first_bad, "wrong mask index", e.index, first_bad, rles)
        check_guards(base, False)
        stats["invalid"] += 1
    except OK_ERRORS as e:
        check(not valid, "decode rejected a valid RLE", rles, e)
        check_guards(base, False)
        stats["invalid"] += 1

    # drop-in decode: same verdict, and pycocotools' answer where defined
    try:
        d = fm.decode(rles)
        check(valid, "mask.decode accepted an invalid RLE", rles)
        check(d.shape == (hh, ww, n) and d.flags.f_contiguous)
        if all(_pm_safe(e[1], hh, ww) for e in exp):
            p = pm.decode([{"size": [hh, ww], "counts": s} for s in strs])
            check(np.array_equal(d, p), "mask.decode differs from pycocotools", rles)
            stats["vs_pycocotools"] += 1
    except OK_ERRORS:
        check(not valid, "mask.decode rejected a valid RLE", rles)

    # ragged decode
    data = b"".join(strs)
    offs = np.cumsum([0] + [len(s) for s in strs])
    base, out = guarded(n, hh, ww)
    try:
        fastrle.decode_ragged(data, offs, hh, ww, out=out)
        check(valid, "decode_ragged accepted an invalid RLE", strs)
        check_guards(base, True)
    except OK_ERRORS:
        check(not valid, "decode_ragged rejected a valid RLE", strs)
        check_guards(base, False)

    # native area/bbox are strict
    try:
        a = fastrle.area(rles)
        check(valid, "area accepted an invalid RLE", rles)
        check(list(a) == [sum(e[0][1::2]) for e in exp])
        fastrle.bbox(rles)
    except OK_ERRORS:
        check(not valid, "area rejected a valid RLE", rles)

    # drop-in area/toBbox parse like pycocotools: the syntax is checked, the
    # runs wrap mod 2^32 (README). They succeed exactly when every string is
    # well formed, and then equal the wrapped reference (and pycocotools).
    syntax = []
    for s in strs:
        try:
            syntax.append(ref_parse(s, None, strict=False))
        except RefError:
            syntax.append(None)
    well_formed = all(x is not None for x in syntax)
    if well_formed:
        a = fm.area(rles)
        b = fm.toBbox(rles)
        check(a.dtype == np.uint32 and b.dtype == np.float64 and b.shape == (n, 4))
        check(list(a) == [sum(x[0][1::2]) & 0xFFFFFFFF for x in syntax], "area differs from the wrapped sum", rles)
        want_b = [ref_bbox_coco(x[0], hh, ww) for x in syntax]
        check(np.array_equal(b, want_b), "toBbox differs from the reference", rles, b, want_b)
        if valid:  # valid and not empty: the dense mask's tight box (empty: see the quirk above)
            for i, e in enumerate(exp):
                d = ref_decode(e[0], hh, ww)
                check(not d.any() or list(b[i]) == _tight_box(d), "toBbox differs from the dense box", rles)
        if all(_pm_safe(x[1], hh, ww) for x in syntax):
            pm_rles = [{"size": [hh, ww], "counts": s} for s in strs]
            check(np.array_equal(a, pm.area(pm_rles)), "area differs from pycocotools", rles)
            check(np.array_equal(b, pm.toBbox(pm_rles)), "toBbox differs from pycocotools", rles)
            stats["vs_pycocotools"] += 1
    else:
        for fn in (fm.area, fm.toBbox):
            check(_raises(fn, rles), fn.__name__, "accepted a syntactically invalid string", rles)

    # merge: a single mask is copied as parsed (wrapped, like pycocotools);
    # several need valid counts that agree on h*w (pycocotools spins).
    intersect = int(r.integers(0, 2))
    if n == 1 and well_formed:
        merged = fm.merge(rles, intersect)
        check(merged == {"size": [hh, ww], "counts": ref_to_string(syntax[0][0])}, "merge of one", rles, merged)
    elif valid:
        merged = fm.merge(rles, intersect)
        op = np.logical_and if intersect else np.logical_or
        want = np.stack([ref_decode(e[0], hh, ww) for e in exp]).astype(bool)
        want = op.reduce(want, axis=0)
        check(merged["size"] == [hh, ww], "merge size", rles, merged)
        check(np.array_equal(fastrle.decode(merged), want), "merge differs from the dense reference", rles)
    else:
        check(_raises(fm.merge, rles, intersect), "merge accepted invalid RLEs", rles)

    # iou is strict: valid input gives the dense |a & b| / |a | b| (0 when
    # nothing intersects, which is also pycocotools' box prefilter result)
    if valid:
        res = fm.iou(rles, rles, [0] * n)
        dense = np.stack([ref_decode(e[0], hh, ww) for e in exp])
        want = dense_iou(dense, dense, [0] * n)
        check(res.dtype == np.float64 and np.array_equal(res, want), "iou differs from the dense reference",
              rles, res, want)
    else:
        check(_raises(fm.iou, rles, rles, [0] * n), "iou accepted invalid RLEs", rles)


def _raises(fn, *args, kinds=OK_ERRORS) -> bool:
    """True if fn(*args) raises one of `kinds` (anything else propagates)."""
    try:
        fn(*args)
    except kinds:
        return True
    return False


def _tight_box(m: np.ndarray) -> list:
    ys, xs = np.nonzero(m)
    if ys.size == 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def case_uncompressed(r: np.random.Generator, stats):
    """List counts: negative, oversized, wrong sums, wrong dtypes."""
    h, w = int(r.integers(0, 6)), int(r.integers(0, 6))
    hw = h * w
    k = int(r.integers(0, 6))
    vals = [int(v) for v in r.integers(0, hw + 2, size=k)] if k else []
    roll = r.random()
    if roll < 0.2 and vals:
        vals[int(r.integers(0, len(vals)))] = int(r.choice([-1, -(2**31), 2**32, 2**32 - 1, 2**63 - 1, 2**64 - 1]))
    elif roll < 0.5:
        # a valid one
        vals = [hw] if hw else [0]
    want_ok = all(0 <= v <= 0xFFFFFFFF for v in vals) and sum(vals) == hw
    rle = {"size": [h, w], "counts": vals}
    base, out = guarded(1, h, w)
    try:
        fastrle.decode([rle], out=out)
        check(want_ok, "decode accepted invalid list counts", rle)
        check(np.array_equal(out[0], ref_decode(vals, h, w)))
        check_guards(base, True)
        stats["valid"] += 1
    except OK_ERRORS:
        check(not want_ok, "decode rejected valid list counts", rle)
        check_guards(base, False)
        stats["invalid"] += 1
    # frPyObjects only re-encodes, after pycocotools' np.array(counts, dtype=np.uint32):
    # NumPy 2 raises OverflowError outside uint32, NumPy 1 wraps some values (with a
    # DeprecationWarning) and raises for others. The oracle is that conversion itself.
    import warnings
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            as_u32 = [int(v) for v in np.array(vals, dtype=np.uint32)]
    except OverflowError:
        check(_raises(fm.frPyObjects, rle, h, w, kinds=(OverflowError,)),
              "frPyObjects accepted counts that NumPy cannot make uint32", rle)
    else:
        check(all(0 <= v <= 0xFFFFFFFF for v in vals) or np.__version__.startswith("1."),
              "NumPy 2 converted out-of-range counts", vals)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            got = fm.frPyObjects(rle, h, w)
        check(got == {"size": [h, w], "counts": ref_to_string(as_u32)}, "frPyObjects", rle, got)


def run(seed: int, n: int) -> dict:
    import collections
    r = np.random.default_rng(seed)
    stats = collections.Counter()
    for _ in range(n):
        if r.random() < 0.85:
            case_strings(r, stats)
        else:
            case_uncompressed(r, stats)
        stats["cases"] += 1
    return dict(stats)


if __name__ == "__main__":
    import faulthandler
    faulthandler.enable()
    seed, n = int(sys.argv[1]), int(sys.argv[2])
    print("STATS", run(seed, n), flush=True)
