"""Shared generators and reference oracles for the fuzz, stress and leak tests
(tests/test_fuzz_*.py, test_stress_threads.py, test_leaks.py,
test_large_sizes.py) and the atheris harness in fuzz/.

Pure Python + numpy on purpose: the oracles here must not share code with
fastrle's C core, so a bug there cannot hide behind the same bug here.
"""
from __future__ import annotations

import os
from typing import List, Optional, Sequence, Tuple

import numpy as np

MAX_PIXELS = 0xFFFFFFFF

# ---------------------------------------------------------------- masks

MASK_KINDS = ("random", "sparse", "blob", "hstripes", "vstripes", "diag", "checker",
              "empty", "full", "pixel", "border", "runs")


def make_mask(kind: str, h: int, w: int, seed: int) -> np.ndarray:
    """A deterministic (h, w) uint8 0/1 C-order mask of the given character."""
    r = np.random.default_rng(seed)
    if kind == "random":
        m = r.random((h, w)) < r.uniform(0.05, 0.95)
    elif kind == "sparse":
        m = r.random((h, w)) < 0.01
    elif kind == "blob":
        yy, xx = np.ogrid[0:h, 0:w]
        m = np.zeros((h, w), bool)
        for _ in range(int(r.integers(1, 5))):
            cy, cx = r.random() * h, r.random() * w
            ry, rx = 0.5 + r.random() * h / 2, 0.5 + r.random() * w / 2
            m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 < 1
    elif kind == "hstripes":
        p = int(r.integers(1, 8))
        m = np.broadcast_to((np.arange(h) // p % 2 == 1)[:, None], (h, w))
    elif kind == "vstripes":
        p = int(r.integers(1, 8))
        m = np.broadcast_to((np.arange(w) // p % 2 == 1)[None, :], (h, w))
    elif kind == "diag":
        p = int(r.integers(2, 9))
        yy, xx = np.ogrid[0:h, 0:w]
        m = (yy + xx) % p < p // 2
    elif kind == "checker":
        yy, xx = np.ogrid[0:h, 0:w]
        m = (yy + xx) % 2 == 0
    elif kind == "empty":
        m = np.zeros((h, w), bool)
    elif kind == "full":
        m = np.ones((h, w), bool)
    elif kind == "pixel":
        m = np.zeros((h, w), bool)
        m[int(r.integers(0, h)), int(r.integers(0, w))] = True
    elif kind == "border":
        m = np.zeros((h, w), bool)
        m[0, :] = m[-1, :] = True
        m[:, 0] = m[:, -1] = True
    elif kind == "runs":  # long runs in column-major order, crossing columns
        flat = np.zeros(h * w, bool)
        pos, v = 0, bool(r.integers(0, 2))
        while pos < flat.size:
            ln = int(r.integers(1, max(2, 3 * h)))
            flat[pos:pos + ln] = v
            pos += ln
            v = not v
        m = flat.reshape(w, h).T
    else:
        raise ValueError(kind)
    return np.ascontiguousarray(m, dtype=np.uint8)


# ---------------------------------------------------------------- reference codec

def ref_counts(mask: np.ndarray) -> List[int]:
    """COCO counts of an (h, w) mask: runs of 0/1 in column-major order, 0 first."""
    flat = np.asarray(mask).T.reshape(-1) != 0
    if flat.size == 0:
        return [0]
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    runs = np.diff(bounds).tolist()
    if flat[0]:
        runs = [0] + runs
    return runs


def ref_to_string(cnts: Sequence[int]) -> bytes:
    """pycocotools rleToString with unbounded integers."""
    out = bytearray()
    for i, c in enumerate(cnts):
        x = int(c)
        if i > 2:
            x -= int(cnts[i - 2])
        more = True
        while more:
            c5 = x & 0x1F
            x >>= 5
            more = (x != -1) if (c5 & 0x10) else (x != 0)
            if more:
                c5 |= 0x20
            out.append(c5 + 48)
    return bytes(out)


class RefError(Exception):
    pass


def ref_parse(s: bytes, hw: Optional[int], strict: bool = True) -> Tuple[List[int], List[int]]:
    """The documented strict semantics of a counts string, with unbounded
    integers. Returns (counts, varint lengths) or raises RefError. With
    hw=None the sum is not checked. strict=False checks the syntax only and
    keeps pycocotools' arithmetic (each count mod 2^32)."""
    cnts: List[int] = []
    lens: List[int] = []
    p, n = 0, len(s)
    total = 0
    while p < n:
        x = k = 0
        more = True
        start = p
        while more:
            if p >= n:
                raise RefError("truncated")
            ch = s[p]
            if ch == 0:
                raise RefError("nul")
            if ch < 48 or ch > 111:
                raise RefError("char")
            if k == 12:
                raise RefError("long varint")
            c = ch - 48
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and (c & 0x10):
                x -= 1 << (5 * k)  # sign-extend
        if len(cnts) > 2:
            x += cnts[-2]
        if not strict:
            cnts.append(x & MAX_PIXELS)
            lens.append(p - start)
            continue
        if x < 0:
            raise RefError("negative")
        if x > MAX_PIXELS:
            raise RefError("run too big")
        total += x
        if hw is not None and total > hw:
            raise RefError("sum long")
        cnts.append(x)
        lens.append(p - start)
    if strict and hw is not None and total != hw:
        raise RefError("sum short")
    return cnts, lens


def ref_bbox_coco(cnts: Sequence[int], h: int, w: int) -> List[float]:
    """pycocotools 2.0.11 rleToBbox, in Python with explicit uint32 wrapping:
    [x, y, w, h] of any counts (zero-length runs and wrapped ones included).
    h == 0 gives zeros (pycocotools divides by zero there)."""
    M = 0xFFFFFFFF
    m = len(cnts) // 2 * 2
    if m == 0 or h == 0:
        return [0.0, 0.0, 0.0, 0.0]
    xs, ys, xe, ye, cc = w & M, h & M, 0, 0, 0
    for j in range(m):
        start = cc
        cc = (cc + cnts[j]) & M
        if j % 2 == 0 or cnts[j] & M == 0:
            continue
        y0, y1 = start % h, ((cc - 1) & M) % h
        x0, x1 = (start - y0) // h, (((cc - 1) & M) - y1) // h
        xs, xe = min(xs, x0), max(xe, x1)
        if x0 < x1:  # the run crosses a column: every row is covered
            ys, ye = 0, h - 1
        else:
            ys, ye = min(ys, y0), max(ye, y1)
    return [float(xs), float(ys), float((xe - xs + 1) & M), float((ye - ys + 1) & M)]


def dense_iou(dt: np.ndarray, gt: np.ndarray, crowd) -> np.ndarray:
    """pycocotools' IoU rule on dense (n, h, w) masks: |d & g| / |d | g|, or
    / |d| where gt g is a crowd; 0 where nothing intersects."""
    d = dt.reshape(len(dt), -1).astype(bool)
    g = gt.reshape(len(gt), -1).astype(bool)
    inter = (d[:, None] & g[None]).sum(-1)
    union = (d[:, None] | g[None]).sum(-1)
    area = np.broadcast_to(d.sum(-1)[:, None], inter.shape)
    div = np.where(np.asarray(crowd, bool)[None, :], area, union)
    return np.where(inter > 0, inter / np.maximum(div, 1), 0.0)


def ref_decode(cnts: Sequence[int], h: int, w: int) -> np.ndarray:
    """(h, w) uint8 C-order mask of valid counts."""
    flat = np.repeat(np.arange(len(cnts)) % 2, np.asarray(cnts, dtype=np.int64)).astype(np.uint8)
    assert flat.size == h * w
    return np.ascontiguousarray(flat.reshape(w, h).T)


def random_counts(r: np.random.Generator, hw: int, zero_runs: bool = True) -> List[int]:
    """Valid counts summing to hw, possibly with zero-length runs (which
    pycocotools' own encoder never makes, but which are valid input)."""
    if hw == 0:
        return [0] if r.random() < 0.7 else []
    k = int(r.integers(0, min(hw, 40) + 1))
    cuts = np.sort(r.integers(0, hw + 1, size=k)) if k else np.zeros(0, np.int64)
    if not zero_runs:
        cuts = np.unique(cuts[(cuts > 0) & (cuts < hw)])
    bounds = np.concatenate(([0], cuts, [hw]))
    return np.diff(bounds).astype(np.int64).tolist()


# ---------------------------------------------------------------- mutations

def mutate(r: np.random.Generator, s: bytes) -> bytes:
    """One random mutation of a counts string, biased towards the corners of
    the parser: flips, truncation, NUL, extension, huge varints, negative
    deltas, out-of-range characters."""
    b = bytearray(s)
    op = int(r.integers(0, 12))
    if op == 0 and b:  # flip a bit
        i = int(r.integers(0, len(b)))
        b[i] ^= 1 << int(r.integers(0, 8))
    elif op == 1 and b:  # truncate
        del b[int(r.integers(0, len(b))):]
    elif op == 2:  # insert NUL
        b.insert(int(r.integers(0, len(b) + 1)), 0)
    elif op == 3:  # extend with valid chars
        b += bytes(r.integers(48, 112, size=int(r.integers(1, 6))).astype(np.uint8))
    elif op == 4:  # huge varint: many continuation chunks
        k = int(r.integers(5, 16))
        v = bytes([48 + 0x20 + int(c) for c in r.integers(0, 32, size=k - 1)]) + bytes([48 + int(r.integers(0, 32))])
        i = int(r.integers(0, len(b) + 1))
        b[i:i] = v
    elif op == 5:  # negative delta / negative value: last chunk with the sign bit
        i = int(r.integers(0, len(b) + 1))
        b[i:i] = bytes([48 + 0x10 + int(r.integers(0, 16))])
    elif op == 6 and b:  # replace with an out-of-range byte
        i = int(r.integers(0, len(b)))
        b[i] = int(r.choice([0, 1, 31, 47, 112, 127, 128, 200, 255]))
    elif op == 7 and b:  # delete a char
        del b[int(r.integers(0, len(b)))]
    elif op == 8 and b:  # duplicate a slice
        i = int(r.integers(0, len(b)))
        j = int(r.integers(i, len(b) + 1))
        b[j:j] = b[i:j]
    elif op == 9 and b:  # set a char to a random valid char
        b[int(r.integers(0, len(b)))] = int(r.integers(48, 112))
    elif op == 10:  # unterminated varint at the end
        b.append(48 + 0x20 + int(r.integers(0, 32)))
    else:  # random bytes
        b = bytearray(r.integers(0, 256, size=int(r.integers(0, 20))).astype(np.uint8).tobytes())
    return bytes(b)


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
