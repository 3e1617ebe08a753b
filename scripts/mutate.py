#!/usr/bin/env python
"""Mutation testing for fastrle's hot spots.

Plants one-line bugs (mutants) in the parser, the row-span writer, the ops,
the Cython glue, ``mask.py``, ``api.py``, the SA-1B ordering and both CUDA
kernels, one at a time, and runs only the test files that cover that spot.
A mutant is *killed* when those tests fail (or hang past the timeout), and
*survives* when they pass: then either a test is missing, or the mutant is
equivalent (it cannot change any result) and is listed as such.

Every mutant runs in a scratch copy of the working tree (tracked and
untracked, non-ignored files), never in the tree itself. The copy is built
once: each ``csrc/*.c`` and ``src/fastrle/_*.pyx`` is compiled to its own
object, so a C mutant recompiles one file and relinks (a few seconds), a
``.pyx`` mutant re-runs Cython on its file, and a Python or ``.cuh`` mutant
needs no build at all (the CUDA emulator caches its build by source hash).

    python scripts/mutate.py                 # all mutants, report to tests/MUTATION.md
    python scripts/mutate.py --list          # ids, spots and descriptions
    python scripts/mutate.py --only parse-,ops-merge-or --jobs 2
    python scripts/mutate.py --no-report     # print the table only

Exit status: 0 when the score is at least --min-score (default 90%), else 1.
Not part of per-commit CI: rerun it when a hot spot changes.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import datetime
import glob
import os
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import time
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Test selections: the files that exercise each hot spot. Kept small, so a
# mutant costs seconds; -x stops at the first failure.
T_PARSE = ["tests/test_c_core.py", "tests/test_invalid.py", "tests/test_mask_dropin.py",
           "tests/test_fuzz_malformed.py"]
T_DECODE = ["tests/test_c_core.py", "tests/test_native.py", "tests/test_mask_dropin.py",
            "tests/test_fuzz_differential.py"]
T_OPS = ["tests/test_c_core.py", "tests/test_mask_dropin.py", "tests/test_real_data.py",
         "tests/test_fuzz_differential.py", "tests/test_fuzz_malformed.py"]
T_GLUE = ["tests/test_threads.py", "tests/test_native.py", "tests/test_mask_dropin.py",
          "tests/test_real_data.py", "tests/test_invalid.py"]
T_MASK = ["tests/test_mask_dropin.py", "tests/test_real_data.py", "tests/test_fuzz_differential.py",
          "tests/test_fuzz_malformed.py", "tests/test_invalid.py"]
T_API = ["tests/test_native.py", "tests/test_invalid.py", "tests/test_fuzz_malformed.py",
         "tests/test_large_sizes.py"]
T_SA1B = ["tests/test_sa1b.py"]
T_KERNEL = ["tests/test_gpu_emulated.py"]


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    path: str   # relative to the repository root
    old: str    # must occur exactly once in the file
    new: str
    kind: str   # comparison, off-by-one, swapped, nogil, logic, constant
    what: str
    tests: Tuple[str, ...]


def _m(id: str, path: str, old: str, new: str, kind: str, what: str, tests: List[str]) -> Mutant:
    return Mutant(id, path, old, new, kind, what, tuple(tests))


S, D, O = "csrc/rle_string.c", "csrc/rle_decode.c", "csrc/rle_ops.c"
PYX, MASK, API, ANN = "src/fastrle/_core.pyx", "src/fastrle/mask.py", "src/fastrle/api.py", \
    "src/fastrle/sa1b/annotation.py"
KP, KE = "csrc/kernels/rle_parse.cuh", "csrc/kernels/rle_expand.cuh"

MUTANTS: List[Mutant] = [
    # --- the parser (csrc/rle_string.c)
    _m("parse-char-range", S, "if (c > 63) return bad_byte(s, p, err);\n    x = c & 0x1f;",
       "if (c > 64) return bad_byte(s, p, err);\n    x = c & 0x1f;", "off-by-one",
       "accepts 'p' (112) as a first chunk", T_PARSE),
    _m("parse-varint-len", S, "if (k == 12) return", "if (k == 13) return", "off-by-one",
       "allows a 13-character varint", T_PARSE),
    _m("parse-chunk-mask", S, "x |= (c & 0x1f) << (5 * k);", "x |= (c & 0x0f) << (5 * k);", "constant",
       "drops bit 4 of continuation chunks", T_PARSE),
    _m("parse-sign-long", S, "x |= ~(uint64_t)0 << (5 * k); /* sign-extend */",
       "x |= ~(uint64_t)0 << (5 * k + 5); /* sign-extend */", "off-by-one",
       "sign-extends a multi-chunk varint from the wrong bit", T_PARSE),
    _m("parse-sign-short", S, "x |= ~(uint64_t)0 << 5;", "x |= ~(uint64_t)0 << 6;", "off-by-one",
       "sign-extends a one-chunk varint from the wrong bit", T_PARSE),
    _m("parse-delta-index", S, "if (m > 2) x += cnts[m - 2];", "if (m >= 2) x += cnts[m - 2];",
       "comparison", "delta-codes count 2 (pycocotools starts at 3)", T_PARSE),
    _m("parse-negative", S, "if (v < 0) return fail(err, FRLE_ERR_NEGATIVE",
       "if (v < -1) return fail(err, FRLE_ERR_NEGATIVE", "comparison", "accepts a run of -1", T_PARSE),
    _m("parse-run-too-big", S, "if ((uint64_t)v > 0xFFFFFFFFull)", "if ((uint64_t)v >= 0xFFFFFFFFull)",
       "comparison", "rejects a run of exactly 2^32-1", T_PARSE + ["tests/test_large_sizes.py"]),
    _m("parse-sum-long", S, "if (sum > hw) return fail", "if (sum > hw + 1) return fail", "off-by-one",
       "accepts counts summing to h*w+1", T_PARSE),
    _m("parse-sum-short", S, "if (strict && sum != hw)", "if (strict && sum > hw)", "comparison",
       "accepts counts that sum short of h*w", T_PARSE),
    _m("parse-last-char", S, "  while (p < len) {\n    /*", "  while (p < len - 1) {\n    /*",
       "off-by-one", "ignores the last character", T_PARSE),
    _m("write-delta-index", S, "if (i > 2) x -= (int64_t)cnts[i - 2];",
       "if (i >= 2) x -= (int64_t)cnts[i - 2];", "comparison",
       "the writer delta-codes count 2", T_PARSE),
    _m("write-more", S, "more = (c & 0x10) ? x != -1 : x != 0;", "more = (c & 0x10) ? x < -1 : x != 0;",
       "comparison", "the writer stops a negative delta early", T_PARSE),
    # --- the row-span writer (csrc/rle_decode.c)
    _m("decode-col-end", D, "uint64_t ce = (x + 1) * h;", "uint64_t ce = (x + 2) * h;", "off-by-one",
       "does not split runs at column ends", T_DECODE),
    _m("decode-seg-end", D, "scr->tr[nb++] = (uint32_t)(ys + (se - s));",
       "scr->tr[nb++] = (uint32_t)(ys + (se - s) - 1);", "off-by-one",
       "segments end one row early", T_DECODE),
    _m("decode-fast-xor", D, "lo1 = a1 < b1 ? a1 : b1;", "lo1 = a1 < b1 ? b1 : a1;", "swapped",
       "the one-segment XOR swaps min and max", T_DECODE),
    _m("decode-xor-parity", D, "if ((k++ & 1) == 0) open = y;", "if ((k++ & 1) == 1) open = y;",
       "comparison", "the general XOR opens on the wrong parity", T_DECODE),
    _m("decode-adjacent", D, "if (px + 1 == x) {", "if (px + 2 == x) {", "off-by-one",
       "neighbouring columns are treated as apart", T_DECODE),
    _m("decode-diff-end", D,
       "if (hi0 > lo0) { ev[ne++] = x; ev[ne++] = lo0; ev[ne++] = hi0; row[lo0]++; row[hi0]--; }",
       "if (hi0 > lo0) { ev[ne++] = x; ev[ne++] = lo0; ev[ne++] = hi0; row[lo0]++; row[hi0 - 1]--; }",
       "off-by-one", "the per-row difference array closes a row early", T_DECODE),
    _m("decode-prefix-start", D, "for (y = y0; y < y1; y++) { /* row[y]",
       "for (y = y0 + 1; y < y1; y++) { /* row[y]", "off-by-one",
       "the prefix sum skips the first row", T_DECODE),
    _m("decode-span-end", D, "*b = line + scr->tr[t + 1];", "*b = line + scr->tr[t + 1] + 1;",
       "off-by-one", "foreground spans one byte too long", T_DECODE),
    _m("decode-fill-small", D, "p[0] = v; p[n / 2] = v; p[n - 1] = v;", "p[0] = v; p[n - 1] = v;",
       "logic", "a 3-byte span misses its middle byte", T_DECODE),
    _m("decode-colmajor-value", D, "(uint8_t)(j & 1));", "(uint8_t)((j + 1) & 1));", "logic",
       "column-major decode inverts the mask", T_DECODE),
    _m("decode-empty-skip", D, "if (ncol == 0) {\n    if (!zeroed) {", "if (ncol == 0) {\n    if (zeroed) {",
       "logic", "an empty mask is not cleared in full mode", T_DECODE),
    _m("decode-zeroed-col", D, "pos += cnts[j - 1];\n      fill_ones(out + pos, cnts[j]);",
       "pos += cnts[j];\n      fill_ones(out + pos, cnts[j]);", "swapped",
       "zeroed column-major decode skips the wrong run", T_DECODE),
    # --- the ops (csrc/rle_ops.c)
    _m("ops-area-start", O, "for (j = 1; j < m; j += 2) a += cnts[j];",
       "for (j = 0; j < m; j += 2) a += cnts[j];", "off-by-one", "area counts background", T_OPS),
    _m("ops-bbox-cross", O, "if (xs_ < xe_) { ys = 0; ye = h - 1; }", "if (xs_ <= xe_) { ys = 0; ye = h - 1; }",
       "comparison", "a run inside one column spans all rows", T_OPS),
    _m("ops-bbox-width", O, "bb[2] = (uint32_t)(xe - xs + 1);", "bb[2] = (uint32_t)(xe - xs);",
       "off-by-one", "box width one short", T_OPS),
    _m("ops-bbox-coco-quirk", O, "if (!any && !coco)", "if (!any)", "logic",
       "toBbox loses pycocotools' wrap for zero-length foreground runs", T_OPS),
    _m("ops-skip-empty", O, "while (!q->left && q->k < q->m)", "if (!q->left && q->k < q->m)", "logic",
       "merge/iou step over one empty run at a time (pycocotools' bug)", T_OPS),
    _m("ops-merge-or", O, "v = intersect ? (A.v && B.v) : (A.v || B.v);",
       "v = intersect ? (A.v || B.v) : (A.v && B.v);", "swapped", "union and intersection swapped", T_OPS),
    _m("ops-merge-last", O, "if (v != vp || ct == 0)", "if (v != vp)", "logic",
       "merge drops its last run", T_OPS),
    _m("ops-inter", O, "if (A.v && B.v) i += c;", "if (A.v || B.v) i += c;", "logic",
       "intersection counts the union", T_OPS),
    _m("ops-crowd-divisor", O, "un = crowd ? da : da + ga - in;", "un = crowd ? ga : da + ga - in;",
       "swapped", "box crowd IoU divides by the gt area", T_OPS),
    _m("ops-bbox-iou-layout", O, "o[g * md + d] = in / un;", "o[d * ng + g] = in / un;", "swapped",
       "box IoU written transposed", T_OPS),
    _m("ops-box-touch", O, "if (wd <= 0) continue;\n      ht", "if (wd < 0) continue;\n      ht",
       "comparison", "boxes that only touch are not skipped", T_OPS),
    # --- the Cython glue (src/fastrle/_core.pyx)
    _m("pyx-decode-nogil", PYX, "    with nogil:\n        rc = frle_decode_batch(",
       "    if True:\n        rc = frle_decode_batch(", "nogil", "decode keeps the GIL", T_GLUE),
    _m("pyx-encode-nogil", PYX, "    with nogil:\n        rc = frle_encode_batch(",
       "    if True:\n        rc = frle_encode_batch(", "nogil", "encode keeps the GIL", T_GLUE),
    _m("pyx-iou-size-swap", PYX, "if dh[d] != gh[g] or dw[d] != gw[g]:", "if dh[d] != gw[g] or dw[d] != gh[g]:",
       "swapped", "iou's size check compares h with w", T_GLUE),
    _m("pyx-iou-crowd", PYX, "elif crowd != NULL and crowd[g]:", "elif crowd != NULL and crowd[d]:",
       "swapped", "iou reads the crowd flag of the dt index", T_GLUE),
    _m("pyx-iou-mismatch", PYX, "ov[g * m + d] = -1", "ov[g * m + d] = 0", "constant",
       "iou gives 0, not -1, for masks of different sizes", T_GLUE),
    _m("pyx-ragged-len", PYX, "s.src[k].len = offsets[i + 1] - offsets[i]",
       "s.src[k].len = offsets[i + 1] - offsets[i] - 1", "off-by-one",
       "ragged strings lose their last character", T_GLUE + ["tests/test_sa1b.py"]),
    # --- the drop-in (src/fastrle/mask.py)
    _m("mask-area-strict", MASK, "return _core.area(_runs(rleObjs, False))", "return _core.area(_runs(rleObjs, True))",
       "logic", "mask.area made strict (README: area keeps the wrap)", T_MASK),
    _m("mask-tobbox-strict", MASK, "return _core.bbox(_runs(rleObjs, False), True)",
       "return _core.bbox(_runs(rleObjs, True), True)", "logic", "mask.toBbox made strict", T_MASK),
    _m("mask-tobbox-quirk", MASK, "return _core.bbox(_runs(rleObjs, False), True)",
       "return _core.bbox(_runs(rleObjs, False), False)", "logic", "toBbox without pycocotools' quirks",
       T_MASK),
    _m("mask-area-dtype", MASK, ".astype(np.uint32)\n    return area([rleObjs])[0]",
       ".astype(np.int64)\n    return area([rleObjs])[0]", "constant", "area returns int64", T_MASK),
    _m("mask-decode-hw", MASK, "h, w = int(src.heights[0]), int(src.widths[0])",
       "h, w = int(src.widths[0]), int(src.heights[0])", "swapped", "decode swaps h and w", T_MASK),
    _m("mask-merge-sizes", MASK, "(np.any(hs != hs[0]) or np.any(ws != ws[0]))",
       "(np.any(hs != hs[0]) and np.any(ws != ws[0]))", "logic",
       "merge accepts masks that differ in one side", T_MASK),
    _m("mask-merge-strict", MASK, "runs = _core.parse(src, n > 1)", "runs = _core.parse(src, n > 2)",
       "off-by-one", "merge of two masks skips validation", T_MASK),
    _m("mask-iou-empty", MASK, "if m == 0 or n == 0:\n        return []", "if m == 0:\n        return []",
       "logic", "iou with no gt returns an array", T_MASK),
    _m("mask-siz", MASK, "if i < 0:\n        raise OverflowError", "if i < -1:\n        raise OverflowError",
       "comparison", "a size of -1 is accepted", T_MASK),
    _m("mask-frbbox-swap", MASK, "xe, ye = x + bw, y + bh", "xe, ye = x + bh, y + bw", "swapped",
       "box width and height swapped", T_MASK),
    _m("mask-dispatch", MASK, "elif type(pyobj) == list and len(pyobj[0]) == 4:",
       "elif type(pyobj) == list and len(pyobj[0]) >= 4:", "comparison",
       "polygons are taken for boxes", T_MASK),
    _m("mask-encode-size", MASK, "return [{\"size\": [h, w], \"counts\": c} for c in counts]",
       "return [{\"size\": [w, h], \"counts\": c} for c in counts]", "swapped",
       "encode swaps h and w in size", T_MASK),
    # --- the native API (src/fastrle/api.py)
    _m("api-threads-zero", API, "if threads < 1:", "if threads < 0:", "off-by-one",
       "threads=0 accepted", T_API),
    _m("api-threads-cap", API, "return int(min(threads, 1024))", "return int(threads)", "logic",
       "no cap on the thread count", T_API),
    _m("api-fresh-zeroed", API, "return np.empty(nbytes, np.uint8), False", "return np.empty(nbytes, np.uint8), True",
       "logic", "small fresh outputs are assumed zero", T_API),
    _m("api-readonly", API, "if not arr.flags.writeable:", "if False:", "logic",
       "read-only out accepted", T_API),
    _m("api-area-dtype", API, "a = _core.area(runs).astype(np.int64)", "a = _core.area(runs).astype(np.int32)",
       "constant", "native area returns int32", T_API),
    _m("api-bbox-coco", API, "b = _core.bbox(runs, False)", "b = _core.bbox(runs, True)", "logic",
       "native bbox with pycocotools' quirks", T_API),
    _m("api-check-size", API, "if h * w > 0xFFFFFFFF or", "if h * w >= 0xFFFFFFFF or", "comparison",
       "a 2^32-1 pixel mask is rejected", T_API),
    _m("api-decode-hw", API, "h, w = int(src.heights[0]), int(src.widths[0])\n    return _decode_sources",
       "h, w = int(src.widths[0]), int(src.heights[0])\n    return _decode_sources", "swapped",
       "decode swaps h and w", T_API),
    # --- SA-1B ordering (src/fastrle/sa1b/annotation.py)
    _m("sa1b-ties-reversed", ANN, "idx = idx[np.argsort(-key, kind=\"stable\")]",
       "idx = idx[::-1][np.argsort(-key[::-1], kind=\"stable\")]", "logic",
       "top-k ties broken in reverse file order", T_SA1B),
    _m("sa1b-sorted-indices", ANN, "idx = idx[np.argsort(-key, kind=\"stable\")]",
       "idx = np.sort(idx)[np.argsort(-key, kind=\"stable\")]", "logic",
       "top_k with unsorted indices mapped through a sorted copy", T_SA1B),
    _m("sa1b-stability-field", ANN, "\"stability_score\": self.stability_scores",
       "\"stability_score\": self.predicted_ious", "swapped",
       "sort_by='stability_score' reads predicted_ious", T_SA1B),
    _m("sa1b-area-field", ANN, "\"area\": self.areas}", "\"area\": self.stability_scores}", "swapped",
       "sort_by='area' reads stability scores", T_SA1B),
    _m("sa1b-ascending", ANN, "idx = idx[np.argsort(-key, kind=\"stable\")]",
       "idx = idx[np.argsort(key, kind=\"stable\")]", "logic", "ranks ascending", T_SA1B),
    _m("sa1b-top-k-plus-one", ANN, "return idx[:int(top_k)]", "return idx[:int(top_k) + 1]", "off-by-one",
       "top_k keeps one mask too many", T_SA1B),
    _m("sa1b-sort-none", ANN, "        if sort_by is not None:\n            if sort_by not in",
       "        if True:\n            if sort_by not in", "logic", "sort_by=None rejected", T_SA1B),
    _m("sa1b-negative-index", ANN, "np.where(idx < 0, idx + n, idx)", "np.where(idx < 0, idx + n - 1, idx)",
       "off-by-one", "negative indices off by one", T_SA1B),
    # --- the CUDA kernels (run on the CPU emulator)
    _m("kparse-delta-index", KP, "(nr > 2 ? prev2 : 0)", "(nr >= 2 ? prev2 : 0)", "comparison",
       "serial parser delta-codes count 2", T_KERNEL),
    _m("kparse-char-range", KP, "if (c < 48 || c > 111) { fastrle_write_meta",
       "if (c < 48 || c > 112) { fastrle_write_meta", "off-by-one", "serial parser accepts 'p'", T_KERNEL),
    _m("kparse-short", KP, "if (sum < hw) { fastrle_write_meta", "if (sum + 1 < hw) { fastrle_write_meta",
       "off-by-one", "serial parser accepts a sum one short", T_KERNEL),
    _m("kparse-warp-kpos", KP, "const int kpos = lane - prev - 1 +", "const int kpos = lane - prev +",
       "off-by-one", "warp parser chunk position off by one", T_KERNEL),
    _m("kparse-warp-carry", KP, "carry_k = last_term ? 0 : pk + 1;", "carry_k = last_term ? 0 : pk;",
       "off-by-one", "warp parser carry across 32-character steps", T_KERNEL),
    _m("kparse-warp-even", KP, "!(mi & 1) && mi >= 2)", "!(mi & 1) && mi >= 3)", "off-by-one",
       "warp parser does not delta-code from count 2", T_KERNEL),
    _m("kexpand-advance", KE, "while (p >= next[j]) next[j] = e[++k[j]];\n                row[x]",
       "while (p > next[j]) next[j] = e[++k[j]];\n                row[x]", "comparison",
       "expand advances a run one pixel late", T_KERNEL),
    _m("kexpand-find-run", KE, "if (e[mid] > p) hi = mid;", "if (e[mid] >= p) hi = mid;", "comparison",
       "binary search lands on the wrong run at a boundary", T_KERNEL),
    _m("kexpand-bit-order", KE, "byte |= (k[j] & 1u) << (7 - j);", "byte |= (k[j] & 1u) << j;", "swapped",
       "packed output in the wrong bit order", T_KERNEL),
    _m("kexpand-meta-field", KE, "const bool ok = meta[3 * m] == 0;\n    const unsigned int nr = (unsigned int)"
       "meta[3 * m + 1];\n    unsigned char* o = out + m * (long long)h * (long long)w;",
       "const bool ok = meta[3 * m + 2] != 0;\n    const unsigned int nr = (unsigned int)"
       "meta[3 * m + 1];\n    unsigned char* o = out + m * (long long)h * (long long)w;", "swapped",
       "expand reads the status from the position field", T_KERNEL),
]


# Survivors that are acceptable: equivalent mutants (no input can tell them
# from the original). Anything else that survives is a missing test.
EQUIVALENT: Dict[str, str] = {
    "kexpand-find-run": "the search only seeds the cursor; `while (p >= next) advance` in the expand loop "
                        "steps past a run that ends exactly at p, so both searches reach the same run",
}


# ---------------------------------------------------------------- building

def _tree_files(root: str) -> List[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                         capture_output=True, check=True).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.isfile(os.path.join(root, p))]


class Workspace:
    """A scratch copy of the tree with per-file objects, so a mutant rebuilds
    only the file it touches."""

    def __init__(self, base: str) -> None:
        self.dir = base
        for rel in _tree_files(ROOT):
            dst = os.path.join(base, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), dst)
        emu_cache = os.path.join(ROOT, "tests", "cuda_emu", "_build")
        if os.path.isdir(emu_cache):  # baseline emulator build, keyed by source hash
            shutil.copytree(emu_cache, os.path.join(base, "tests", "cuda_emu", "_build"), dirs_exist_ok=True)
        self.obj = os.path.join(base, "_mutobj")
        os.makedirs(self.obj, exist_ok=True)
        import numpy as np
        self.cc = (sysconfig.get_config_var("CC") or "cc").split()
        self.cflags = ["-fPIC", "-O3", "-std=c99", "-ffp-contract=off", "-fno-strict-aliasing", "-w",
                       "-DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION", "-I" + os.path.join(base, "csrc"),
                       "-I" + np.get_include(), "-I" + sysconfig.get_paths()["include"]]
        self.suffix = sysconfig.get_config_var("EXT_SUFFIX")
        self.core = sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, "csrc", "*.c")))
        self.pyx = sorted(os.path.relpath(p, base) for p in glob.glob(os.path.join(base, "src", "fastrle", "_*.pyx")))
        jobs = [(self._compile, rel) for rel in self.core + self.pyx]
        with concurrent.futures.ThreadPoolExecutor(2) as ex:
            for f in [ex.submit(fn, rel) for fn, rel in jobs]:
                f.result()
        self.base_objs = {rel: self._objpath(rel) for rel in self.core + self.pyx}
        for rel, o in list(self.base_objs.items()):
            keep = o + ".base"
            shutil.copy2(o, keep)
            self.base_objs[rel] = keep
        self._link(self.base_objs)

    def _objpath(self, rel: str) -> str:
        return os.path.join(self.obj, rel.replace("/", "__") + ".o")

    def _compile(self, rel: str) -> str:
        src = os.path.join(self.dir, rel)
        if rel.endswith(".pyx"):
            c = os.path.join(self.obj, os.path.basename(rel)[:-4] + ".c")
            subprocess.run([sys.executable, "-m", "cython", "-3", src, "-o", c], check=True,
                           capture_output=True, cwd=self.dir)
            src = c
        o = self._objpath(rel)
        subprocess.run(self.cc + self.cflags + ["-c", src, "-o", o], check=True, capture_output=True)
        return o

    def _link(self, objs: Dict[str, str]) -> None:
        core = [objs[r] for r in self.core]
        ld = (sysconfig.get_config_var("LDSHARED") or "cc -shared").split()
        for p in self.pyx:
            name = os.path.basename(p)[:-4]
            out = os.path.join(self.dir, "src", "fastrle", name + self.suffix)
            subprocess.run(ld + [objs[p]] + core + ["-o", out, "-lpthread"], check=True, capture_output=True)

    def build(self, changed: str) -> None:
        """Rebuild after `changed` (a path relative to the root) was edited."""
        if changed in self.base_objs:
            objs = dict(self.base_objs)
            objs[changed] = self._compile(changed)
            self._link(objs)

    def restore(self, changed: str, original: str) -> None:
        with open(os.path.join(self.dir, changed), "w") as f:
            f.write(original)
        if changed in self.base_objs:
            self._link(self.base_objs)

    def env(self) -> Dict[str, str]:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.path.join(self.dir, "src")
        env["PYTHONDONTWRITEBYTECODE"] = "1"  # no stale .pyc after a revert
        env.setdefault("FASTRLE_FUZZ_EXAMPLES", "100")
        env.setdefault("FASTRLE_STRESS_ITERS", "200")
        return env

    def pytest(self, tests: Tuple[str, ...], timeout: float) -> Tuple[str, float, str]:
        """('pass'|'fail'|'timeout', seconds, last lines)."""
        cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow",
               *tests]
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, cwd=self.dir, env=self.env(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, start_new_session=True)
        try:
            out, _ = p.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, 9)
            p.communicate()
            return "timeout", time.monotonic() - t0, ""
        tail = "\n".join(out.decode(errors="replace").strip().splitlines()[-3:])
        return ("pass" if p.returncode == 0 else "fail"), time.monotonic() - t0, tail

    def check_import(self) -> None:
        code = "import fastrle._core as c, fastrle.mask as m; print(c.__file__); print(m.__file__)"
        out = subprocess.run([sys.executable, "-c", code], cwd=self.dir, env=self.env(),
                             capture_output=True, text=True, check=True).stdout.split()
        for f in out:
            if not os.path.realpath(f).startswith(os.path.realpath(self.dir)):
                raise SystemExit(f"the copy imports fastrle from {f}, not from {self.dir}")


# ---------------------------------------------------------------- running

@dataclasses.dataclass
class Result:
    mutant: Mutant
    status: str  # killed, survived, timeout (killed by a hang), error (did not build)
    seconds: float
    detail: str


def run_mutant(ws: Workspace, m: Mutant, timeout: float) -> Result:
    path = os.path.join(ws.dir, m.path)
    with open(path) as f:
        original = f.read()
    t0 = time.monotonic()
    try:
        with open(path, "w") as f:
            f.write(original.replace(m.old, m.new, 1))
        try:
            ws.build(m.path)
        except subprocess.CalledProcessError as e:
            err = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            return Result(m, "error", time.monotonic() - t0, "build failed: " + " ".join(err))
        verdict, _, tail = ws.pytest(m.tests, timeout)
    finally:
        ws.restore(m.path, original)
    status = {"pass": "survived", "fail": "killed", "timeout": "timeout"}[verdict]
    killer = ""
    if verdict == "fail":
        for line in tail.splitlines():
            if line.startswith("FAILED") or line.startswith("ERROR"):
                killer = line.split(" - ")[0].split(" ", 1)[1]
                break
        killer = killer or tail.splitlines()[-1] if tail else killer
    return Result(m, status, time.monotonic() - t0, killer)


def validate(mutants: List[Mutant]) -> None:
    for m in mutants:
        with open(os.path.join(ROOT, m.path)) as f:
            n = f.read().count(m.old)
        if n != 1:
            raise SystemExit(f"mutant {m.id}: its text occurs {n} times in {m.path} (must be once); "
                             f"update scripts/mutate.py after editing that file")


def select(only: Optional[str]) -> List[Mutant]:
    if not only:
        return list(MUTANTS)
    keys = [k.strip() for k in only.split(",") if k.strip()]
    chosen = [m for m in MUTANTS if any(m.id == k or m.id.startswith(k) for k in keys)]
    if not chosen:
        raise SystemExit(f"no mutant matches {only!r}; see --list")
    return chosen


def table(results: List[Result]) -> str:
    rows = ["| mutant | file | kind | what | result | killed by / reason | s |", "|---|---|---|---|---|---|---|"]
    for r in results:
        m = r.mutant
        res = {"killed": "killed", "timeout": "killed (hang)", "survived": "**SURVIVED**",
               "error": "build error"}[r.status]
        detail = (r.detail or ("equivalent: " + EQUIVALENT[m.id] if m.id in EQUIVALENT else "")).replace("|", "\\|")
        rows.append(f"| `{m.id}` | `{m.path}` | {m.kind} | {m.what} | {res} | {detail} | {r.seconds:.0f} |")
    return "\n".join(rows)


def score(results: List[Result]) -> Tuple[int, int, float]:
    counted = [r for r in results if r.status != "error"]
    killed = sum(r.status in ("killed", "timeout") for r in counted)
    return killed, len(counted), (100.0 * killed / len(counted) if counted else 100.0)


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--only", help="comma-separated mutant ids or id prefixes (e.g. parse-,sa1b-ties)")
    ap.add_argument("--jobs", type=int, default=1, help="mutants run at once, each in its own copy")
    ap.add_argument("--timeout", type=float, default=300, help="seconds per mutant's tests (a hang is a kill)")
    ap.add_argument("--report", default=os.path.join(ROOT, "tests", "MUTATION.md"),
                    help="Markdown report to write (default tests/MUTATION.md)")
    ap.add_argument("--no-report", action="store_true", help="print only")
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of each test selection")
    ap.add_argument("--min-score", type=float, default=90.0)
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies (printed)")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # still remove the scratch copies
    mutants = select(args.only)
    if args.list:
        stale = 0
        for m in mutants:
            with open(os.path.join(ROOT, m.path)) as f:
                ok = f.read().count(m.old) == 1
            stale += not ok
            print(f"{m.id:24s} {m.path:32s} {m.kind:11s} {m.what}" + ("" if ok else "  [STALE: text not found once]"))
        print(f"{len(mutants)} mutants" + (f", {stale} stale: update MUTANTS" if stale else ""))
        return 1 if stale else 0
    validate(mutants)

    t_start = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="fastrle-mutate-")
    jobs = max(1, min(args.jobs, len(mutants)))
    print(f"building {jobs} scratch cop{'y' if jobs == 1 else 'ies'} under {tmp} ...", flush=True)
    workspaces = []
    try:
        for j in range(jobs):
            ws = Workspace(os.path.join(tmp, f"w{j}"))
            ws.check_import()
            workspaces.append(ws)
        print(f"built in {time.monotonic() - t_start:.0f} s", flush=True)
        if not args.no_baseline:
            sels = sorted({m.tests for m in mutants})
            for sel in sels:
                verdict, secs, tail = workspaces[0].pytest(sel, args.timeout)
                print(f"baseline {' '.join(os.path.basename(t) for t in sel)}: {verdict} ({secs:.0f} s)",
                      flush=True)
                if verdict != "pass":
                    print(tail)
                    raise SystemExit("the unmutated tree fails its tests: fix that first")
        results: List[Optional[Result]] = [None] * len(mutants)
        free = list(workspaces)
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            pending = {}
            queue = list(enumerate(mutants))
            while queue or pending:
                while queue and free:
                    i, m = queue.pop(0)
                    ws = free.pop()
                    pending[ex.submit(run_mutant, ws, m, args.timeout)] = (i, ws)
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for f in done:
                    i, ws = pending.pop(f)
                    free.append(ws)
                    r = f.result()
                    results[i] = r
                    print(f"[{sum(x is not None for x in results):3d}/{len(mutants)}] {r.mutant.id:24s} "
                          f"{r.status:8s} {r.seconds:5.0f} s  {r.detail}", flush=True)
    finally:
        if args.keep:
            print("scratch copies kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    res = [r for r in results if r is not None]
    killed, total, pct = score(res)
    elapsed = time.monotonic() - t_start
    tab = table(res)
    survivors = [r.mutant.id for r in res if r.status == "survived"]
    errors = [r.mutant.id for r in res if r.status == "error"]
    summary = (f"**Mutation score: {killed}/{total} killed ({pct:.1f}%)**, {len(survivors)} survived"
               + (f", {len(errors)} did not build (not counted)" if errors else "")
               + f"; {elapsed / 60:.1f} min with --jobs {jobs}.")
    print()
    print(tab)
    print()
    print(summary)
    if survivors:
        print("survivors:", ", ".join(survivors))
    notes = []
    for mid in survivors:
        reason = EQUIVALENT.get(mid)
        notes.append(f"- `{mid}`: " + (f"equivalent: {reason}" if reason else "**not explained: add a test**"))
    if notes:
        print("\n".join(notes))
    if not args.no_report and not args.only:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        surv = "\n".join(notes) if notes else "None."
        with open(args.report, "w") as f:
            f.write(REPORT_HEAD.format(when=when, summary=summary, table=tab, survivors=surv))
        print("report written to", os.path.relpath(args.report, ROOT))
    return 0 if pct >= args.min_score else 1


REPORT_HEAD = """# Mutation testing report

Generated by `python scripts/mutate.py` on {when}. Rerun it whenever a hot spot
changes (the parser, the row-span writer, the ops, the `.pyx` glue, `mask.py`,
`api.py`, the SA-1B ordering, the CUDA kernels) and commit the new report.
Each mutant is one planted bug; it is *killed* when the tests of its hot spot
fail (a hang past the timeout also counts as killed). `python scripts/mutate.py --list`
shows them all, `--only ID[,ID]` reruns a few.

{summary}

## Survivors

{survivors}

## All mutants

{table}
"""


if __name__ == "__main__":
    sys.exit(main())
