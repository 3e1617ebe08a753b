"""atheris harness for fastrle's Cython entry points.

Each input picks an entry point and builds its arguments from the fuzzer's
bytes: counts strings (raw bytes, str, or list counts), sizes (including 0,
huge and mixed), batches, ragged tables, out buffers with guard bytes,
masks to encode. Allowed outcomes: a result that matches the reference
semantics (tests/_fuzzlib.py) or ValueError/TypeError. Anything else --
another exception, a wrong result, a touched guard byte, a crash -- is a
finding. Run through fuzz/run_atheris.sh.
"""
import os
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

import numpy as np  # noqa: E402  (not instrumented: only our code is)

with atheris.instrument_imports(include=["fastrle", "_fuzzlib"]):
    import fastrle
    import fastrle.mask as fm
    from _fuzzlib import RefError, ref_decode, ref_parse
from pycocotools import mask as pm  # noqa: E402

ERR = (ValueError, TypeError)
GUARD = 32
# mask.toBbox with h == 0 used to divide by zero (SIGFPE); fixed, so fuzz it.
SKIP_TOBBOX_H0 = os.environ.get("FASTRLE_FUZZ_SKIP_TOBBOX_H0", "0") == "1"


def _size(fdp):
    k = fdp.ConsumeIntInRange(0, 15)
    if k == 0:
        return fdp.ConsumeIntInRange(-3, 2**33)  # anything
    if k == 1:
        return 0
    return fdp.ConsumeIntInRange(1, 12)


def _expect(s, h, w):
    if not (0 <= h <= 0xFFFFFFFF and 0 <= w <= 0xFFFFFFFF) or h * w > 0xFFFFFFFF:
        return None
    try:
        return ref_parse(s, h * w)[0]
    except RefError:
        return None


def TestOneInput(data):
    fdp = atheris.FuzzedDataProvider(data)
    op = fdp.ConsumeIntInRange(0, 7)
    h, w = _size(fdp), _size(fdp)
    if op in (0, 1) and (h < 0 or w < 0):  # the guarded out needs a real shape
        h, w = abs(h) % 13, abs(w) % 13
    if h * w > 1 << 20 and op in (0, 1, 2):
        # decode allocates before its size check (test_decode_sizes_over_2_32_pixels_raise_before_allocating)
        h, w = h % 13, w % 13
    n = fdp.ConsumeIntInRange(1, 3)
    strs = [fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 24)) for _ in range(n)]
    form = fdp.ConsumeIntInRange(0, 2)
    if form == 1 and all(max(s, default=0) < 128 for s in strs):
        counts = [s.decode("ascii") for s in strs]
    elif form == 2:
        counts = [[fdp.ConsumeIntInRange(-2, 2**33) for _ in range(fdp.ConsumeIntInRange(0, 4))] for _ in range(n)]
    else:
        counts = strs
    rles = [{"size": [h, w], "counts": c} for c in counts]
    if form == 2:
        exp = []
        for c in counts:
            ok = (0 <= h <= 0xFFFFFFFF and 0 <= w <= 0xFFFFFFFF and all(0 <= v <= 0xFFFFFFFF for v in c)
                  and sum(c) == h * w)
            exp.append(list(c) if ok else None)
    else:
        exp = [_expect(s, h, w) for s in strs]
    valid = all(e is not None for e in exp)

    if op in (0, 1):  # native decode into a guarded out / ragged
        base = np.full(n * h * w + 2 * GUARD, 0xA5, np.uint8)
        out = base[GUARD:GUARD + n * h * w].reshape(n, h, w)
        try:
            if op == 0 or form == 2:
                fastrle.decode(rles, out=out, threads=fdp.ConsumeIntInRange(1, 3))
            else:
                offs = np.cumsum([0] + [len(s) for s in strs])
                fastrle.decode_ragged(b"".join(strs), offs, h, w, out=out)
            # decode_ragged checks only h*w, not each side (a 0 x 2^33 mask is empty)
            lenient = op == 1 and h * w == 0 and all(e is not None for e in
                                                      [_expect(s_, min(h, 1), min(w, 1)) for s_ in strs])
            assert valid or lenient, f"accepted invalid {rles!r}"
            if not valid:
                return
            want = np.stack([ref_decode(e, h, w) for e in exp])
            assert np.array_equal(out, want), f"wrong decode of {rles!r}"
            assert (base[:GUARD] == 0xA5).all() and (base[-GUARD:] == 0xA5).all(), "guard overwritten"
        except ERR:
            assert not valid, f"rejected valid {rles!r}"
            assert (base == 0xA5).all(), "out written on error"
    elif op == 2:
        try:
            d = fm.decode(rles)
            assert valid and d.shape == (h, w, n)
        except ERR:
            assert not valid, f"mask.decode rejected valid {rles!r}"
    elif op == 3:
        try:
            a = fastrle.area(rles)
            assert valid and list(a) == [sum(e[1::2]) for e in exp]
            fastrle.bbox(rles)
        except ERR:
            assert not valid, f"area rejected valid {rles!r}"
    elif op == 4:
        try:
            fm.area(rles)
            if h != 0 or not SKIP_TOBBOX_H0:
                fm.toBbox(rles)
        except ERR:
            pass
    elif op == 5:
        try:
            fm.merge(rles, fdp.ConsumeIntInRange(0, 1))
        except ERR:
            pass
        try:
            r = fm.iou(rles, rles[:1], [0])
            assert valid and r.shape == (n, 1)
        except ERR:
            assert not valid, f"iou rejected valid {rles!r}"
    elif op == 6:  # encode random bytes as masks; round trip
        hh, ww = fdp.ConsumeIntInRange(0, 9), fdp.ConsumeIntInRange(0, 9)
        raw = fdp.ConsumeBytes(hh * ww * n)
        if len(raw) < hh * ww * n:
            return
        m = np.frombuffer(raw, np.uint8).reshape(n, hh, ww)
        if hh * ww == 0:
            return  # known: zero-size arrays (see test_encode_zero_size_masks)
        enc = fastrle.encode(m)
        back = fastrle.decode(enc)
        assert np.array_equal(back, m != 0), "encode/decode round trip"
        f = np.asfortranarray(m.transpose(1, 2, 0))
        assert fm.encode(f) == pm.encode(f), "mask.encode differs from pycocotools (any byte values)"
        f01 = np.asfortranarray(f != 0, dtype=np.uint8)
        assert np.array_equal(fm.decode(fm.encode(f01)), f01), "mask round trip"
    else:  # uncompressed through frPyObjects
        try:
            fm.frPyObjects(rles[0], h, w)
        except (OverflowError, IndexError, KeyError) + ERR:
            pass


def main():
    atheris.Setup(sys.argv, TestOneInput)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
