#!/usr/bin/env python
"""Mutation testing for fastrle: the hot spots and the rest of the package.

Plants one-line bugs (mutants) in the parser, the row-span writer, the ops,
the drop-in's batch ops (run-sweep IoU, bitmap merge), the Cython glue and
the drop-in's fast paths (``_mask.pyx``), ``mask.py``, ``api.py``, the SA-1B
ordering, both CUDA kernels, the fused transforms and the overlays, and (issue
24) in the CLI, the dataset jobs, the SA-1B utilities, the overlay policy,
``compat.py`` and the transforms' Python layer, and in COCOeval (``rle_eval.c``,
``cocoeval.py``), the polygons (``rle_contour.c``, ``geometry/polygons.py``),
the components (``rle_components.c``, ``geometry/regions.py``), the GPU encode
(``rle_encode.cuh``, ``gpu/encoder.py``) and ``fastrle polygons``, one at a
time, and runs only the test files (or tests) that cover that spot.
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
    python scripts/mutate.py --only mpyx- --results /tmp/mut.json   # in parts:
    python scripts/mutate.py --results /tmp/mut.json --only <the rest>  # report once all have run

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
import threading
import time
from typing import Dict, List, Optional, Tuple

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Test selections: the files that exercise each hot spot. Kept small, so a
# mutant costs seconds; -x stops at the first failure.
T_PARSE = ["tests/test_c_core.py", "tests/test_invalid.py", "tests/test_mask_dropin.py",
           "tests/test_fuzz_malformed.py"]
# the vector parse kernels: the C test runs each against the scalar parse
T_SIMD = ["tests/test_c_core.py", "tests/test_parse_kernels.py", "tests/test_invalid.py"]
T_DECODE = ["tests/test_c_core.py", "tests/test_native.py", "tests/test_mask_dropin.py",
            "tests/test_fuzz_differential.py"]
T_OPS = ["tests/test_c_core.py", "tests/test_mask_dropin.py", "tests/test_real_data.py",
         "tests/test_fuzz_differential.py", "tests/test_fuzz_malformed.py", "tests/test_dropin_speed_paths.py"]
# the drop-in's fast paths (_mask.pyx, rle_ops.c, rle_parse_batch.c): the speed-path tests first
T_DROPIN = ["tests/test_dropin_speed_paths.py", "tests/test_mask_dropin.py", "tests/test_real_data.py",
            "tests/test_fuzz_differential.py"]
# the long-string merge/iou paths: the per-ISA probe of long strings first
T_LONG = ["tests/test_dropin_long_strings.py"] + T_DROPIN
T_GLUE = ["tests/test_threads.py", "tests/test_native.py", "tests/test_mask_dropin.py",
          "tests/test_real_data.py", "tests/test_invalid.py", "tests/test_dropin_speed_paths.py",
          "tests/test_ops_one_home.py"]
T_MPYX_GIL = ["tests/test_threads.py"]
T_MASK = ["tests/test_mask_dropin.py", "tests/test_dropin_speed_paths.py", "tests/test_real_data.py",
          "tests/test_fuzz_differential.py", "tests/test_fuzz_malformed.py", "tests/test_invalid.py"]
T_API = ["tests/test_native.py", "tests/test_invalid.py", "tests/test_fuzz_malformed.py",
         "tests/test_large_sizes.py"]
T_SA1B = ["tests/test_sa1b.py"]
# the kernels through the CPU emulator (built from the copy's csrc/kernels);
# test_gpu_fixes.py's sanitizer build is left out (minutes per mutant)
_GPU_FIXES = ["tests/test_gpu_fixes.py::" + t for t in (
    "test_warp_parser_long_strings_match_spec", "test_warp_scan_overflow_string_status",
    "test_real_rles_uint8_and_packed", "test_wide_masks_into_misaligned_out",
    "test_packed_width_near_2_32_is_written")]
T_KPARSE = ["tests/test_gpu_emulated.py"] + _GPU_FIXES
T_KEXPAND = ["tests/test_gpu_emulated.py", "tests/test_gpu_transforms.py",
             "tests/test_transforms_gpu_cpu.py"] + _GPU_FIXES
T_XFORM = ["tests/test_transforms.py", "tests/test_transforms_gpu_cpu.py", "tests/test_roi_align.py"]
T_RENDER = ["tests/test_viz.py"]
# issue 24's areas: their behaviour pins first (fast, hand-written oracles), then
# the older tests. test_jobs.py (a 2-process cluster, slow) is left out: the pins
# run the same code in process and on an in-process cluster.
T_CLI = ["tests/test_jobs_pins.py", "tests/test_show_pins.py", "tests/test_cli.py", "tests/test_cli_show.py"]
T_JOBS = ["tests/test_jobs_pins.py", "tests/test_cli.py"]
T_SA1B2 = ["tests/test_sa1b_pins.py", "tests/test_sa1b.py"]
T_VIZ = ["tests/test_viz.py", "tests/test_show_pins.py", "tests/test_cli_show.py"]
T_COMPAT = ["tests/test_patch_sequences.py", "tests/test_patch.py"]
T_XPY = ["tests/test_transform_pins.py", "tests/test_transforms.py", "tests/test_args.py", "tests/test_roi_align.py"]
# the code of 2026-12-07: the pins (independent oracles: cv2, pycocotools, hand-written
# cases) first, then the area's own tests
T_EVAL = ["tests/test_eval_pins.py", "tests/test_cocoeval.py"]
T_POLY = ["tests/test_polygon_pins.py", "tests/test_polygons.py"]
T_REG = ["tests/test_region_pins.py", "tests/test_components.py"]
T_GENC = ["tests/test_gpu_encode_pins.py", "tests/test_gpu_encode.py"]
T_CLIPOLY = ["tests/test_cli_polygons_pins.py", "tests/test_cli_polygons.py"]
# the code of 2026-12-07, second session (written before their tests were read): the
# bit-band decode (test_decode_paths.py runs every FRLE_ISA level in subprocesses, on
# outputs big enough for the bit path; then T_DECODE); the GPU host path through the fake
# CuPy (the sanitizer build of test_gpu_fixes.py left out: minutes per mutant); fastrle
# polygons on a local cluster (test_jobs.py and test_jobs_cluster.py left out: slow)
T_BITS = ["tests/test_bitband_pins.py", "tests/test_packed_dense.py", "tests/test_decode_paths.py"] + T_DECODE
T_GHOST = ["tests/test_gpu_host_pins.py", "tests/test_gpu_fixes.py", "tests/test_gpu_emulated.py",
           "--deselect=tests/test_gpu_fixes.py::test_kernels_under_ubsan_and_asan"]
T_EVAL2 = ["tests/test_eval_fast_pins.py"] + T_EVAL
T_POLY2 = ["tests/test_contour_sparse_pins.py"] + T_POLY
T_EACH = ["tests/test_contours_each.py"] + T_POLY
T_POOL = ["tests/test_c_core.py", "tests/test_thread_pool.py", "tests/test_threads.py"]
T_CLUSTER = ["tests/test_cluster_pins.py", "tests/test_cli_polygons.py", "tests/test_cli_polygons_pins.py",
             "tests/test_jobs_pins.py"]


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
SP = "csrc/rle_parse_simd.c"
PLAT = "csrc/rle_platform.c"
DI, F, MPYX = "csrc/rle_parse_batch.c", "csrc/rle_features.c", "src/fastrle/_mask.pyx"
X, XT, R = "csrc/rle_resize.c", "csrc/rle_transform.c", "csrc/rle_render.c"
ARGS = "src/fastrle/_args.py"
CIX, CVA, CSH = "src/fastrle/cli/index.py", "src/fastrle/cli/validate.py", "src/fastrle/cli/show.py"
TK, SRCS, JAPI = "src/fastrle/jobs/tasks.py", "src/fastrle/jobs/sources.py", "src/fastrle/jobs/api.py"
DEC, DS, SHD = "src/fastrle/sa1b/decoder.py", "src/fastrle/sa1b/dataset.py", "src/fastrle/sa1b/shard.py"
OV, PAL, CMP, XPY = "src/fastrle/viz/overlay.py", "src/fastrle/viz/palette.py", "src/fastrle/compat.py", \
    "src/fastrle/transforms.py"
EV, CEV = "csrc/rle_eval.c", "src/fastrle/cocoeval.py"
CT, PG = "csrc/rle_contour.c", "src/fastrle/geometry/polygons.py"
CC, RG = "csrc/rle_components.c", "src/fastrle/geometry/regions.py"
KN, GE, CPO = "csrc/kernels/rle_encode.cuh", "src/fastrle/gpu/encoder.py", "src/fastrle/cli/polygons.py"
GAPI, GPK, EVX = "src/fastrle/gpu/api.py", "src/fastrle/_gpupack.pyx", "src/fastrle/_eval.pyx"

MUTANTS: List[Mutant] = [
    # --- the parser and writer (csrc/rle_string.c)
    _m("parse-char-range", S, "if (c > 63) return bad_byte(s, p, err);\n    int k = 1;",
       "if (c > 64) return bad_byte(s, p, err);\n    int k = 1;", "off-by-one",
       "accepts 'p' (112) as a first chunk", T_PARSE),
    _m("parse-varint-len", S, "if (k == 12) return", "if (k == 13) return", "off-by-one",
       "allows a 13-character varint", T_PARSE),
    _m("parse-sign-long", S, "x |= ~(uint64_t)0 << (5 * k); /* sign-extend */",
       "x |= ~(uint64_t)0 << (5 * k + 5); /* sign-extend */", "off-by-one",
       "sign-extends a multi-chunk varint from the wrong bit", T_PARSE),
    _m("parse-sign-short", S, "x |= ~(uint64_t)0 << 5;", "x |= ~(uint64_t)0 << 6;", "off-by-one",
       "sign-extends a one-chunk varint from the wrong bit", T_PARSE),
    _m("parse-delta-index", S, "if (m > 2) x += back2;", "if (m >= 2) x += back2;",
       "comparison", "delta-codes count 2 (pycocotools starts at 3)", T_PARSE),
    _m("parse-negative", S, "if (v < 0) return fail(err, FRLE_ERR_NEGATIVE",
       "if (v < -1) return fail(err, FRLE_ERR_NEGATIVE", "comparison", "accepts a run of -1", T_PARSE),
    _m("parse-run-too-big", S, "if ((uint64_t)v > FRLE_MAX_PIXELS)", "if ((uint64_t)v >= FRLE_MAX_PIXELS)",
       "comparison", "rejects a run of exactly 2^32-1", T_PARSE + ["tests/test_large_sizes.py"]),
    _m("parse-sum-long", S, "if (sum > hw) return fail", "if (sum > hw + 1) return fail", "off-by-one",
       "accepts counts summing to h*w+1", T_PARSE),
    _m("parse-sum-short", S, "if (strict && sum != hw)", "if (strict && sum > hw)", "comparison",
       "accepts counts that sum short of h*w", T_PARSE),
    _m("parse-canonical", S, "if ((nb + 4) / 5 != k || v < 0", "if ((nb + 4) / 5 > k || v < 0", "comparison",
       "a padded varint counts as canonical (merge of one mask keeps it)", T_DROPIN),
    _m("write-delta-index", S, "for (; i < m && i < 3; i++)",
       "for (; i < m && i < 2; i++)", "comparison",
       "the writer delta-codes count 2", T_PARSE),
    _m("write-chunks", S, "k = (nb + 4) / 5, j;", "k = (nb + 5) / 5, j;",
       "off-by-one", "the writer pads values whose sign bit ends a chunk", T_PARSE),
    _m("write-block-range", S, "hi = _mm_set1_epi32(~31)", "hi = _mm_set1_epi32(~63)", "constant",
       "the writer's 4-count blocks take deltas of two chunks as one", T_LONG),
    _m("write-block-sign", S, "_mm_srai_epi32(_mm_or_si128(a, b), 31)", "_mm_setzero_si128()", "dropped",
       "the writer's 4-count blocks trust 32-bit differences of counts past 2^31", T_LONG),
    # --- the vector parse kernels (csrc/rle_parse_simd.c)
    _m("simd-avx-sign3", SP, "s14 = _mm512_set1_epi16(0x4000)", "s14 = _mm512_set1_epi16(0x2000)", "constant",
       "AVX-512: 3-char varints sign-extend from the wrong bit", T_SIMD),
    _m("simd-sse-sign3", SP, "and_(m3, set1(0x4200)));", "and_(m3, set1(0x4000)));",
       "constant", "SSE4.1 and AVX2: 3-char varints sign-extend from the wrong bit", T_SIMD),
    _m("simd-avx-3char", SP, "v = _mm512_mask_add_epi16(v, k01, v,", "v = _mm512_mask_add_epi16(v, k0, v,", "logic",
       "AVX-512: a 2-char varint takes a third chunk", T_SIMD),
    _m("simd-avx-ahead", SP, "*bad = _mm256_or_si256(*bad, _mm256_or_si256(*c0, *c2));",
       "*bad = _mm256_or_si256(*bad, *c0);", "logic",
       "AVX2 and AVX-512: the 2 bytes read past the last block go unchecked", T_SIMD),
    _m("simd-sse-ahead", SP, "*bad = _mm_or_si128(*bad, _mm_or_si128(*c0, *c2));", "*bad = _mm_or_si128(*bad, *c0);",
       "logic", "SSE4.1: the 2 bytes read past the last block go unchecked", T_SIMD),
    _m("simd-avx-carry", SP, "*carry = term >> (bits - 1);", "*carry = 1;", "logic",
       "every kernel: a varint crossing blocks is read twice", T_SIMD),
    _m("simd-avx-long", SP, "uint32_t lng = starts & k01 & k2;", "uint32_t lng = starts & k01 & k2 & 0;", "logic",
       "AVX-512: 4+ char varints are not patched", T_SIMD),
    _m("simd-avx-prefix", SP, "back = _mm512_permutexvar_epi32(last2, v);", "back = _mm512_permutexvar_epi32(last2, back);",
       "logic", "AVX-512: the prefix sum carries stale counts", T_SIMD),
    _m("simd-sse-prefix", SP, "_MM_SHUFFLE(3, 2, 3, 2)", "_MM_SHUFFLE(2, 3, 2, 3)", "swapped",
       "SSE4.1: the prefix sum carries even and odd counts swapped", T_SIMD),
    _m("simd-avx2-pack", SP, "_mm_loadu_si128((const __m128i *)pack_tbl[s2]), 1));",
       "_mm_loadu_si128((const __m128i *)pack_tbl[s0]), 1));", "swapped",
       "AVX2: positions 16-23 are packed by the start mask of 0-7", T_SIMD),
    _m("simd-avx2-prefix", SP, "v = _mm256_add_epi32(v, _mm256_permute2x128_si256(v, v, 0x08));\n      v = _mm256_add_epi32(v, back);",
       "v = _mm256_add_epi32(v, back);", "logic", "AVX2: the prefix sum skips its 4-lane step", T_SIMD),
    _m("simd-sum", SP, "return !strict || sum == hw;", "return !strict || sum <= hw;", "comparison",
       "strict accepts counts that sum short of h*w", T_SIMD),
    # --- the row-span writer (csrc/rle_decode.c)
    _m("decode-col-end", D, "while (e > cs + h) { /* the run goes on in the next column */",
       "while (e > cs + 2 * h) { /* the run goes on in the next column */", "off-by-one",
       "does not split runs at column ends", T_DECODE),
    _m("decode-seg-end", D, "bnd[nb + 1] = (uint32_t)(e - cs);",
       "bnd[nb + 1] = (uint32_t)(e - cs - 1);", "off-by-one",
       "segments end one row early", T_DECODE),
    _m("decode-fast-xor", D, "lo1 = a1 < b1 ? a1 : b1,", "lo1 = a1 < b1 ? b1 : a1,", "swapped",
       "the one-segment XOR swaps min and max", T_DECODE),
    _m("decode-xor-parity", D, "if (odd) ne = put_interval(ev, ne, row, x, open, y);",
       "if (!odd) ne = put_interval(ev, ne, row, x, open, y);",
       "comparison", "the general XOR opens on the wrong parity", T_DECODE),
    _m("decode-adjacent", D, "if (px + 1 == x) {", "if (px + 2 == x) {", "off-by-one",
       "neighbouring columns are treated as apart", T_DECODE),
    _m("decode-diff-end", D,
       "row[y1] -= c;",
       "row[y1 - c] -= c;",
       "off-by-one", "the per-row difference array closes a row early", T_DECODE),
    _m("decode-span-end", D, "*b = line + scr->tr[t + 1];", "*b = line + scr->tr[t + 1] + 1;",
       "off-by-one", "foreground spans one byte too long", T_DECODE),
    _m("decode-colmajor-value", D, "(uint8_t)(j & 1));", "(uint8_t)((j + 1) & 1));", "logic",
       "column-major decode inverts the mask", T_DECODE),
    _m("decode-empty-skip", D, "/* no foreground */\n    if (!zeroed) {", "/* no foreground */\n    if (zeroed) {",
       "logic", "an empty mask is not cleared in full mode", T_DECODE),
    _m("decode-zeroed-col", D, "pos += cnts[j - 1];\n      fill_ones(out + pos, cnts[j]);",
       "pos += cnts[j];\n      fill_ones(out + pos, cnts[j]);", "swapped",
       "zeroed column-major decode skips the wrong run", T_DECODE),
    _m("encode-skip-nonzero", "csrc/rle_encode.c", "const unsigned flip = nonzero && p ? 0 : 0xFFFF;",
       "const unsigned flip = nonzero ? 0 : 0xFFFF;", "logic",
       "the vector skip ends a run of zeros at the first zero (nonzero mode)", T_DECODE),
    _m("encode-skip-ctz", "csrc/rle_encode.c", "return j + 48 + (unsigned)frle_ctz32(",
       "return j + 32 + (unsigned)frle_ctz32(", "off-by-one",
       "the 64-byte skip misplaces a run end in its last 16 bytes", T_DECODE),
    # --- the ops on runs (csrc/rle_ops.c): toBbox, pairwise merge, box IoU and its prefilter
    _m("ops-area-start", O, "for (j = 1; j < m; j += 2) a += cnts[j];",
       "for (j = 0; j < m; j += 2) a += cnts[j];", "off-by-one", "area counts background", T_OPS),
    _m("ops-bbox-cross", O, "if (end >= col && end - col < h) {", "if (end >= col && end - col <= h) {",
       "comparison", "a run that ends on the next column's first row stays in its column", T_OPS),
    _m("ops-bbox-block", O, "ye_ = cc + sum - 1 - col;", "ye_ = cc + sum - col;",
       "off-by-one", "eight pairs in one column end a row late", T_OPS),
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
    _m("ops-inter", O, "uint64_t un = crowd ? ad : ad + ag - it;", "uint64_t un = crowd ? ad : ad + ag;", "logic",
       "mask IoU's union counts the intersection twice", T_OPS),
    _m("ops-crowd-divisor", O, "un = crowd ? da : da + ga - in;", "un = crowd ? ga : da + ga - in;",
       "swapped", "box crowd IoU divides by the gt area", T_OPS),
    _m("ops-bbox-iou-layout", O, "o[g * md + d] = in / un;", "o[d * ng + g] = in / un;", "swapped",
       "box IoU written transposed", T_OPS),
    # --- mask IoU (run sweeps) and the bitmap merge (csrc/rle_ops.c, csrc/rle_features.c), behind
    # both paths of fastrle.mask; the batch parse (csrc/rle_parse_batch.c)
    _m("dropin-crowd-mirror", O, "c->crowd != NULL && c->crowd[d]);", "c->crowd != NULL && c->crowd[g]);",
       "swapped", "self IoU's mirrored cell reads the other mask's crowd flag", T_DROPIN),
    _m("dropin-crowd-divisor", O, "uint64_t un = crowd ? ad : ad + ag - it;",
       "uint64_t un = crowd ? ag : ad + ag - it;", "swapped", "crowd IoU divides by the gt area", T_DROPIN),
    _m("dropin-self-diag", O, "dend = c->self ? g + 1 : md;", "dend = c->self ? g : md;", "off-by-one",
       "self IoU skips the diagonal", T_DROPIN),
    _m("dropin-size-check", O, "if (c->dt->h[d] != c->gt->h[g] || c->dt->w[d] != c->gt->w[g]) {",
       "if (c->dt->h[d] != c->gt->h[g] && c->dt->w[d] != c->gt->w[g]) {", "logic",
       "masks that differ in one side are compared, not -1", T_DROPIN),
    _m("dropin-sweep-x0", O, "f[i].x0 = k ? (uint64_t)bb[4 * i] : 0;", "f[i].x0 = k ? (uint64_t)bb[4 * i] + 1 : 0;",
       "off-by-one", "the run sweep starts one column late", T_DROPIN),
    _m("dropin-overlap-minmax", F, "e = ea < eb ? ea : eb;", "e = ea < eb ? eb : ea;", "swapped",
       "an overlap ends at the later interval end", T_DROPIN + ["tests/test_features.py"]),
    _m("dropin-bitmap-tail", O, "~0ull >> (64 - (hw & 63)) : ~0ull;", "~0ull >> (63 - (hw & 63)) : ~0ull;",
       "off-by-one", "the bitmap merge sees a transition past the last pixel", T_DROPIN),
    _m("dropin-bitmap-parity", O, "if ((j & 1) != intersect) {", "if ((j & 1) == intersect) {", "comparison",
       "the bitmap merge sets background runs", T_DROPIN),
    _m("dropin-fill-short", O, "} else if (z <= a + 4) {", "} else if (z <= a + 5) {", "off-by-one",
       "the bitmap merge leaves the middle word of a 5-word span unfilled", T_DROPIN),
    _m("dropin-fill-tail", O, "_mm_storeu_si128((__m128i *)(b + z - 4), vv);",
       "_mm_storeu_si128((__m128i *)(b + z - 3), vv);", "off-by-one",
       "the bitmap merge fills one word past a long span", T_DROPIN),
    # the long-string merge and iou (issue 25): toggle words, pixel words over a mask's
    # foreground words, boxes from bitmaps, bitmap-vs-interval pairs
    _m("long-toggle-pair", O, "x ^= (1ull << (p1 & 63)) ^ (1ull << (p2 & 63));", "x ^= (1ull << (p2 & 63));",
       "dropped", "the toggle words lose every other run end", T_LONG),
    _m("long-toggle-mark", O, "    prev ^= tog;\n    word = (uint64_t)_mm_cvtsi128_si64",
       "    prev = tog;\n    word = (uint64_t)_mm_cvtsi128_si64", "logic",
       "a word's toggles are taken against the word before's toggles, not its running XOR", T_LONG),
    _m("long-fg-end", O, "end = (m & 1) ? hw - c[m - 1] : hw;", "end = (m & 1) ? hw - c[m - 1] : hw - 1;",
       "off-by-one", "a mask that ends on its last pixel leaves that pixel out of its words", T_LONG),
    _m("long-runs-next-word", O, "if (hi + 1 < nw) hi++;", "if (0) hi++;", "dropped",
       "a union that ends on a word's last bit loses the run end in the next word", T_LONG),
    _m("long-box-x0", O, "  x0 = p0 / h;\n", "  x0 = p0 / h + 1;\n", "off-by-one",
       "a bitmap's box starts a column late", T_LONG),
    _m("long-bits-fg-start", O, "      if (k == s >> 6) word &= ~0ull << (s & 63);",
       "      if (0) word &= ~0ull << (s & 63);", "dropped",
       "bitmap-vs-interval pairs count pixels before an interval's start", T_LONG),
    _m("long-one-size", O, "one_size = same_size(dt) && ", "one_size = 1 || ", "logic",
       "masks of different sizes take tight boxes: -1 cells where pycocotools' boxes meet and these do not",
       T_LONG),
    _m("dropin-prefilter", O, "if (wd <= 0) return 0;", "if (wd < 0) return 0;", "comparison",
       "boxes that only touch pass the box prefilter (mask and box IoU)", T_DROPIN),
    _m("parse-given-sum", DI, "if (sum == hw) return FRLE_OK;", "if (sum <= hw) return FRLE_OK;",
       "comparison", "frle_check_sum (the batch parse of given counts, overlays, contours, components) accepts "
       "counts that sum short of h*w", T_GLUE),
    _m("parse-err-slot0", DI, "if (c.err[i].code != FRLE_OK) {", "if (c.err[i].code != FRLE_OK && i > 0) {",
       "logic", "the batch parse drops the first range's error", T_GLUE),
    # --- the Cython glue (src/fastrle/_core.pyx)
    _m("pyx-decode-nogil", PYX, "    with nogil:\n        rc = frle_decode_batch(",
       "    if True:\n        rc = frle_decode_batch(", "nogil", "decode keeps the GIL", T_GLUE),
    _m("pyx-encode-nogil", PYX, "    with nogil:\n        rc = frle_encode_batch(",
       "    if True:\n        rc = frle_encode_batch(", "nogil", "encode keeps the GIL", T_GLUE),
    _m("pyx-iou-size-swap", PYX, "rv.v.h = <const uint64_t *>&hv[0]\n        rv.v.w = <const uint64_t *>&wv[0]",
       "rv.v.h = <const uint64_t *>&wv[0]\n        rv.v.w = <const uint64_t *>&hv[0]",
       "swapped", "general-path iou takes each mask's h for its w", T_GLUE),
    _m("pyx-iou-crowd", PYX, "cdef const uint8_t *crowd = &iscrowd[0] if iscrowd.shape[0] else NULL",
       "cdef const uint8_t *crowd = NULL", "logic", "general-path iou ignores iscrowd", T_GLUE),
    _m("pyx-parse-gaps", PYX, "        if pos != ov[i]:\n            memmove(", "        if False:\n            memmove(",
       "logic", "the general path's parse leaves each mask's counts where the batch parse put them", T_GLUE),
    _m("pyx-ragged-len", PYX, "s.src[k].len = offsets[i + 1] - offsets[i]",
       "s.src[k].len = offsets[i + 1] - offsets[i] - 1", "off-by-one",
       "ragged strings lose their last character", T_GLUE + ["tests/test_sa1b.py"]),
    # --- the drop-in fast paths (src/fastrle/_mask.pyx)
    _m("mpyx-parse-nogil", MPYX, "            with nogil:\n                rc = frle_parse_many(",
       "            if True:\n                rc = frle_parse_many(", "nogil",
       "large batches are parsed holding the GIL", T_MPYX_GIL),
    _m("mpyx-merge-nogil", MPYX, "    with nogil:\n        m = frle_merge_many(",
       "    if True:\n        m = frle_merge_many(", "nogil", "merge keeps the GIL", T_MPYX_GIL),
    _m("mpyx-iou-nogil", MPYX, "        with nogil:\n            rc = frle_iou_runs(",
       "        if True:\n            rc = frle_iou_runs(", "nogil", "iou keeps the GIL", T_MPYX_GIL),
    _m("mpyx-canonical", MPYX, "            if o.canonical:", "            if True:", "logic",
       "merge of one mask hands back a non-canonical string", T_DROPIN),
    _m("mpyx-iou-sides", MPYX, "rc = frle_iou_runs(&rd, &rd if self_iou else &rg,",
       "rc = frle_iou_runs(&rg, &rd if self_iou else &rd,", "swapped", "iou with dt and gt swapped", T_DROPIN),
    _m("mpyx-tobbox-hw", MPYX, "frle_bbox_coco(o.cnts, o.m, o.h, o.w, bb4)",
       "frle_bbox_coco(o.cnts, o.m, o.w, o.h, bb4)", "swapped", "toBbox of one dict swaps h and w", T_DROPIN),
    _m("mpyx-frbbox-swap", MPYX, "xe = x + (<double *>(base + i * s0 + 2 * s1))[0]",
       "xe = x + (<double *>(base + i * s0 + 3 * s1))[0]", "swapped",
       "frPyObjects boxes read the height as the width", T_DROPIN),
    _m("mpyx-encode-nonzero", MPYX, "<int64_t>hw, 0, 1, 0,\n", "<int64_t>hw, 0, 1, 1,\n", "logic",
       "encode's fast path splits runs at zero/non-zero, not at every change of byte value", T_DROPIN),
    _m("mpyx-decode-sizes", MPYX, "        if b.h[i] != b.h[0] or b.w[i] != b.w[0]:\n            return None\n    if b.hw[0] == 0",
       "        if False:\n            return None\n    if b.hw[0] == 0", "logic",
       "decode's fast path takes masks of other sizes with as many pixels (3x4 and 4x3)", T_DROPIN),
    _m("mpyx-unc-size", MPYX, 'out.append({"size": [sh, sw], "counts": _string(c, m)})',
       'out.append({"size": [hv, wv], "counts": _string(c, m)})', "logic",
       "uncompressed RLE takes frPyObjects' h, w instead of its own size", T_DROPIN),
    _m("mpyx-poly-numpy", MPYX, "v = float(<object>x)", "v = float(<object>x) + 0.5", "off-by-one",
       "polygon coordinates given as NumPy scalars are misread", T_DROPIN),
    # --- the drop-in general path (src/fastrle/mask.py)
    _m("mask-area-strict", MASK, "return _core.area(_runs(rleObjs, False))", "return _core.area(_runs(rleObjs, True))",
       "logic", "mask.area made strict (README: area keeps the wrap)", T_MASK),
    _m("mask-tobbox-quirk", MASK, "return _core.bbox(_runs(rleObjs, False), True)",
       "return _core.bbox(_runs(rleObjs, False), False)", "logic", "toBbox without pycocotools' quirks",
       T_MASK),
    _m("mask-decode-hw", MASK, "h, w = int(src.heights[0]), int(src.widths[0])",
       "h, w = int(src.widths[0]), int(src.heights[0])", "swapped", "decode swaps h and w", T_MASK),
    _m("mask-merge-sizes", MASK, "(np.any(hs != hs[0]) or np.any(ws != ws[0]))",
       "(np.any(hs != hs[0]) and np.any(ws != ws[0]))", "logic",
       "merge accepts masks that differ in one side", T_MASK),
    _m("mask-iou-empty", MASK, "if m == 0 or n == 0:\n        return []", "if m == 0:\n        return []",
       "logic", "iou with no gt returns an array", T_MASK),
    _m("mask-siz", MASK, "if i < 0:\n        raise OverflowError", "if i < -1:\n        raise OverflowError",
       "comparison", "a size of -1 is accepted", T_MASK),
    _m("mask-dispatch", MASK, "elif type(pyobj) is list and len(pyobj[0]) == 4:",
       "elif type(pyobj) is list and len(pyobj[0]) >= 4:", "comparison",
       "polygons are taken for boxes", T_MASK),
    _m("mask-encode-size", MASK, "return [{\"size\": [h, w], \"counts\": c} for c in counts]",
       "return [{\"size\": [w, h], \"counts\": c} for c in counts]", "swapped",
       "encode swaps h and w in size", T_MASK),
    # --- the native API (src/fastrle/api.py)
    _m("api-threads-zero", ARGS, "if threads < 1:", "if threads < 0:", "off-by-one",
       "threads=0 accepted", T_API),
    _m("api-fresh-zeroed", API, "return np.empty(nbytes, np.uint8), False", "return np.empty(nbytes, np.uint8), True",
       "logic", "small fresh outputs are assumed zero", T_API),
    _m("api-readonly", ARGS, "if not getattr(arr.flags, \"writeable\", True):", "if False:", "logic",
       "read-only out accepted", T_API),
    _m("api-bbox-coco", API, "b = _core.bbox(runs, False)", "b = _core.bbox(runs, True)", "logic",
       "native bbox with pycocotools' quirks", T_API),
    _m("api-check-size", ARGS, "if h * w > MAX_PIXELS or", "if h * w >= MAX_PIXELS or", "comparison",
       "a 2^32-1 pixel mask is rejected", T_API),
    _m("api-decode-hw", API, "h, w = (int(src.heights[0]), int(src.widths[0])) if n else (0, 0)",
       "h, w = (int(src.widths[0]), int(src.heights[0])) if n else (0, 0)", "swapped",
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
    _m("sa1b-top-k-plus-one", ANN, "return idx[:int(top_k)]", "return idx[:int(top_k) + 1]", "off-by-one",
       "top_k keeps one mask too many", T_SA1B),
    _m("sa1b-sort-none", ANN, "        if sort_by is not None:\n            if sort_by not in",
       "        if True:\n            if sort_by not in", "logic", "sort_by=None rejected", T_SA1B),
    _m("sa1b-negative-index", ANN, "np.where(idx < 0, idx + n, idx)", "np.where(idx < 0, idx + n - 1, idx)",
       "off-by-one", "negative indices off by one", T_SA1B),
    # --- the CUDA kernels (run on the CPU emulator)
    _m("kparse-delta-index", KP, "(nr > 2 ? prev2 : 0)", "(nr >= 2 ? prev2 : 0)", "comparison",
       "serial parser delta-codes count 2", T_KPARSE),
    _m("kparse-char-range", KP, "if (c < 48 || c > 111) {",
       "if (c < 48 || c > 112) {", "off-by-one", "serial parser accepts 'p'", T_KPARSE),
    _m("kparse-short", KP, "if (sum < hw) {", "if (sum + 1 < hw) {",
       "off-by-one", "serial parser accepts a sum one short", T_KPARSE),
    _m("kparse-warp-sign", KP, "x |= neg ? ~0ull << (5 * (kk + 1)) : 0ull;",
       "x |= neg ? ~0ull << (5 * kk) : 0ull;", "off-by-one",
       "warp parser sign-extends from the wrong chunk", T_KPARSE),
    _m("kparse-warp-carry", KP, "carry_k = lk;",
       "carry_k = lk + 1;", "off-by-one",
       "warp parser carry of a varint across 512-character steps", T_KPARSE),
    _m("kparse-warp-even", KP, "const bool even2 = !odd && (big0 || mi0 + li >= 2);",
       "const bool even2 = !odd && (big0 || mi0 + li >= 3);", "off-by-one",
       "warp parser's even delta chain skips count 2 in a lane", T_KPARSE),
    _m("kparse-warp-errpos", KP, "mi0 + __popc(valid & ((1u << first) - 1u)), j0 + first);",
       "mi0 + __popc(valid & ((1u << first) - 1u)), j0 + first + 1);", "off-by-one",
       "warp parser reports an error one character late", T_KPARSE),
    _m("kexpand-meta-field", KE, "return meta[FASTRLE_META_STRIDE * m] == FASTRLE_ST_OK;",
       "return meta[FASTRLE_META_STRIDE * m + 2] == FASTRLE_ST_OK;", "swapped",
       "expand reads the status from the position field", T_KEXPAND),
    _m("kexpand-seg-start", KE, "const unsigned int lo = (*st > p ? *st : p) - p;\n            const unsigned int c =",
       "const unsigned int lo = (*st > p ? *st + 1u : p) - p;\n            const unsigned int c =", "off-by-one",
       "slab kernels start a run one row late", T_KEXPAND),
    _m("kexpand-fold", KE, "little ? 0x01020408u : 0x08040201u;", "little ? 0x08040201u : 0x01020408u;",
       "swapped", "packed slab output in the wrong bit order", T_KEXPAND),
    _m("kexpand-mapped-lim", KE, "lim = base[j] + rmap[ys + rows - 1] + 1u;", "lim = base[j] + rmap[ys + rows - 1];",
       "off-by-one", "resized slabs drop their last source row", T_KEXPAND),
    _m("kexpand-advance", KE, "while (p >= next[j]) next[j] = e[++k[j]];",
       "while (p > next[j]) next[j] = e[++k[j]];", "comparison",
       "the resize/flip kernel advances a run one pixel late", T_KEXPAND),
    _m("kexpand-bit-order", KE, "(little ? j : 7 - j)", "(little ? 7 - j : j)", "swapped",
       "resize/flip packed output in the wrong bit order", T_KEXPAND),
    _m("kexpand-flip-unwrap", KE, "FLIP && j == 3 && lim < p;", "FLIP && j == 2 && lim < p;",
       "constant", "flip=\"h\" uint8: the last column of the mask's first 31 rows from a wrapped segment",
       ["tests/test_gpu_expand_edges.py::test_flip_h_own_size_plain_kernels"] + T_KEXPAND),
    # --- fused resizes (csrc/rle_resize.c) and overlays (csrc/rle_render.c)
    _m("xform-first-of", X, "while (o < out && map[o] < x) o++;", "while (o < out && map[o] <= x) o++;",
       "comparison", "the inverse index map is one output row late", T_XFORM),
    _m("xform-run-end", X, "y1 = e - x1 * h;", "y1 = e - x1 * h - 1;",
       "off-by-one", "resampled runs end one source row early", T_XFORM),
    _m("xform-bitorder", X, "prefix[x->little ? 1 : 0];", "prefix[x->little ? 0 : 1];", "swapped",
       "packed decode in the wrong bit order", T_XFORM),
    _m("xform-nearest-switch", XT, "int small = frle_nearest_small(out, other);",
       "int small = frle_nearest_small(out, 0);", "logic",
       "nearest-exact picks torch's kernel from one axis, not oh + ow", T_XFORM + ["tests/test_nearest_rule.py"]),
    _m("xform-nearest-rounding", XT, "map[i] = frle_nearest_src(i, in, out, exact, small);",
       "map[i] = frle_nearest_src(i, in, out, exact, !small);", "swapped",
       "nearest-exact rounds as torch's other kernel", T_XFORM + ["tests/test_nearest_rule.py"]),
    _m("render-erosion-top", R, "if (r >= (int64_t)cw && r + (int64_t)cw < nrows) {",
       "if (r > (int64_t)cw && r + (int64_t)cw < nrows) {", "off-by-one",
       "contours: a mask's row cw is drawn as all contour", T_RENDER),
    _m("render-contour-colour", R, "const uint8_t *c = jb->colors + 3 * jb->order[pos];",
       "const uint8_t *c = jb->colors + 3 * pos;", "swapped",
       "contours take the colour of the draw position, not the mask", T_RENDER),
    # ================= issue 24: the whole package, not only the hot spots =================
    # --- the command line (src/fastrle/cli/)
    _m("cli-index-exit", CIX, "return 1 if s.unreadable else 0", "return 1 if s.unreadable > 1 else 0",
       "off-by-one", "fastrle index exits 0 when one source is unreadable", T_CLI),
    _m("cli-index-overwrite", CIX, "overwrite=args.overwrite,", "overwrite=False,", "logic",
       "fastrle index ignores --overwrite", T_CLI),
    _m("cli-index-features", CIX, "features=args.features,", "features=False,", "logic",
       "fastrle index ignores --features", T_CLI),
    _m("cli-runjob-exit", "src/fastrle/cli/_jobs.py", "        return 2", "        return 1", "constant",
       "a usage error (empty glob, no Dask) exits 1, not 2", T_CLI),
    _m("cli-validate-exit", CVA, "s = validate.validate_files(files)\n    print(s.text())\n    return 0 if s.ok else 1",
       "s = validate.validate_files(files)\n    print(s.text())\n    return 0 if not s.mismatches else 1", "logic",
       "file-mode validate exits 0 with malformed entries or source errors", T_CLI),
    _m("cli-validate-report-mode", CVA, "if args.scheduler or args.workers or args.report:",
       "if args.scheduler or args.workers:", "logic", "--report alone keeps the in-process mode (no report written)",
       T_CLI),
    _m("cli-size-zero", "src/fastrle/cli/_args.py", "if h <= 0 or w <= 0:", "if h < 0 or w < 0:", "comparison",
       "a size of 0xN is accepted", T_CLI),
    _m("cli-positive-zero", "src/fastrle/cli/_args.py", "if v < 1:", "if v < 0:", "off-by-one",
       "--top-k 0 (and other positive options) accepted", T_CLI),
    _m("cli-show-atomic", CSH, "fileio.atomic_write(path, lambda tmp: save_image(pic, tmp, fmt))",
       "save_image(pic, path, fmt)", "logic", "fastrle show writes in place: a failed save leaves a partial file",
       T_CLI),
    _m("cli-show-topk", CSH, "contour_width=args.contour_width, top_k=args.top_k)",
       "contour_width=args.contour_width, top_k=None)", "logic", "fastrle show ignores --top-k", T_CLI),
    _m("cli-show-cw", CSH, "contour_width=args.contour_width, top_k", "contour_width=1, top_k", "logic",
       "fastrle show ignores --contour-width", T_CLI),
    _m("cli-show-contours", CSH, "contours=not args.no_contours,", "contours=True,", "logic",
       "fastrle show ignores --no-contours", T_CLI),
    _m("cli-show-grid-k", CSH, "            if len(items) == k:\n                break\n    else:",
       "            if len(items) == k + 1:\n                break\n    else:", "off-by-one",
       "--grid K on a shard draws K+1 images", T_CLI),
    _m("cli-show-shard-id", CSH, "if image_id is None or _same_id(iid, image_id):",
       "if image_id is None or iid == image_id:", "logic",
       "--image-id on a shard compares an int with a str (never matches)", T_CLI),
    _m("cli-show-shard-image", CSH, "return (args.image or it[0]), it[1], it[2]", "return it[0], it[1], it[2]",
       "logic", "--image is ignored for a shard", T_CLI),
    _m("cli-show-exit", CSH, "        return 1\n    blank", "        return 2\n    blank", "constant",
       "fastrle show exits 2 on bad input (its help says 1)", T_CLI),
    _m("cli-show-coco-ann-id", CSH, "anns = [a for a in obj.get(\"annotations\") or [] if isinstance(a, dict)\n"
       "                and _same_id(a.get(\"image_id\"), args.image_id)]",
       "anns = [a for a in obj.get(\"annotations\") or [] if isinstance(a, dict)\n"
       "                and _same_id(a.get(\"id\"), args.image_id)]", "swapped",
       "fastrle show on a COCO file picks annotations by their own id, not image_id", T_CLI),
    # --- dataset jobs (src/fastrle/jobs/)
    _m("jobs-errors-after-part", TK,
       "    if problems:\n        _write_parquet(problems_table(source, problems), errs)\n"
       "    elif os.path.exists(errs):\n        os.remove(errs)\n    _write_parquet(pa.table(cols, schema=schema), part)",
       "    _write_parquet(pa.table(cols, schema=schema), part)\n"
       "    if problems:\n        _write_parquet(problems_table(source, problems), errs)\n"
       "    elif os.path.exists(errs):\n        os.remove(errs)", "logic",
       "the part is written before its errors file: a crash between them loses the problems on resume", T_JOBS),
    _m("jobs-stale-errors", TK, "    elif os.path.exists(errs):\n        os.remove(errs)",
       "    elif False:\n        os.remove(errs)", "logic",
       "an old errors file stays after a clean re-index", T_JOBS),
    _m("jobs-part-name", SRCS, "h = hashlib.sha1(os.path.abspath(source)", "h = hashlib.sha1(os.path.basename(source)",
       "logic", "sources with one base name in two folders share a part", T_JOBS),
    _m("jobs-images-count", TK, "return len({a.get(\"image_id\") for a in block.anns if isinstance(a, dict)})",
       "return len([a.get(\"image_id\") for a in block.anns if isinstance(a, dict)])", "logic",
       "a COCO file's images counted per annotation", T_JOBS),
    _m("jobs-summary-images", JAPI, "        s.images += r.images\n        s.masks += r.masks\n        s.written",
       "        s.images += 1\n        s.masks += r.masks\n        s.written", "logic",
       "the index summary counts one image per source", T_JOBS),
    _m("jobs-overwrite", TK, "if not overwrite and os.path.exists(part):", "if os.path.exists(part):", "logic",
       "index_source ignores overwrite", T_JOBS),
    _m("jobs-skip-schema", TK, "if meta.schema.to_arrow_schema().remove_metadata().equals(schema):",
       "if meta.num_rows >= 0:", "logic", "a part without the feature columns counts as done for --features",
       T_JOBS),
    _m("jobs-skip-problems", TK, "res.problems = _problems_from_table(pq.read_table(errs))", "res.problems = []",
       "logic", "a skipped source reports none of its recorded problems", T_JOBS),
    _m("jobs-unreadable-part", TK,
       "        res.seconds = time.perf_counter() - t0\n        return res\n    os.makedirs",
       "        res.seconds = time.perf_counter() - t0\n    os.makedirs", "logic",
       "an unreadable source gets an empty part (so a rerun never retries it)", T_JOBS),
    _m("jobs-bbox-truncated", TK, "if b is not None and not an.is_box(b):", "if b is not None and not an.is_box(b[:4]):",
       "logic", "a 5-number bbox is silently truncated to 4", T_JOBS),
    _m("jobs-image-id-type", TK, "        if not _is_int(rec.image_id):", "        if rec.image_id is None:", "logic",
       "a string image_id is not reported", T_JOBS),
    _m("jobs-ann-id-type", TK, "if v is not None and not _is_int(v):", "if v is not None and not an.is_number(v):",
       "logic", "a float annotation id is accepted", T_JOBS),
    _m("jobs-points", TK, "isinstance(p, (list, tuple)) and len(p) == 2", "isinstance(p, (list, tuple)) and len(p) >= 2",
       "comparison", "a 3-number point is accepted", T_JOBS),
    _m("jobs-polygon-size", TK, "if rec.height is None or rec.width is None:", "if rec.height is None:", "logic",
       "a polygon of an image without a width is reported instead of left null", T_JOBS),
    _m("jobs-good-subset-index", TK, "bad.append((keep[k], _rle_reason(e)))", "bad.append((k, _rle_reason(e)))",
       "logic", "after one bad RLE is dropped, the next is reported at the wrong index", T_JOBS),
    _m("jobs-centroid-where", TK, "problems.append(Problem(\"malformed\", cols[\"image_id\"][r], where[r],",
       "problems.append(Problem(\"malformed\", cols[\"image_id\"][r], r,", "swapped",
       "a centroid problem names the row, not the annotation index", T_JOBS),
    _m("jobs-expand-dedupe", SRCS, "seen.add(p)", "seen.add(a)", "logic",
       "a source named twice (or by a folder and a path) is indexed twice", T_JOBS),
    _m("jobs-expand-subdir", SRCS, "and os.path.isfile(os.path.join(a, n)))", ")", "logic",
       "a folder named x.json inside a source folder becomes a source", T_JOBS),
    _m("jobs-shard-error-dropped", SRCS, "problems.append(Problem(\"source\", None, None, str(e).replace(path, name)))",
       "pass", "logic", "a truncated shard reports no source error", T_JOBS),
    _m("jobs-shard-unreadable", SRCS, "    open(path, \"rb\").close()  # unreadable", "    # unreadable", "logic",
       "a missing shard gets an empty part, not 'unreadable'", T_JOBS),
    _m("jobs-temp-cleanup", JAPI, "for d in (out, os.path.join(out, ERRORS_DIR)):  # leftovers",
       "for d in (out,):  # leftovers", "logic", "temporary files of killed writers stay in _errors/", T_JOBS),
    _m("jobs-failed-count", JAPI, "s.unreadable += r.status in (\"unreadable\", \"failed\")",
       "s.unreadable += r.status == \"unreadable\"", "logic", "a failed task is not counted (fastrle index exits 0)",
       T_JOBS),
    _m("jobs-validate-polygons", JAPI, "s.polygons += r.polygons", "s.polygons += r.masks", "swapped",
       "the validate summary counts masks as polygons", T_JOBS),
    _m("jobs-validate-ok", JAPI, "return not any(r.problems for r in self.results)", "return not self.mismatches",
       "logic", "validate is ok with malformed entries and source errors", T_JOBS),
    _m("jobs-bbox-tol", TK, "_BBOX_TOL = 1e-6", "_BBOX_TOL = 1e-3", "constant",
       "a bbox off by 1e-4 passes", T_JOBS),
    _m("jobs-area-int", TK, "elif float(a) != float(area):", "elif int(a) != area:", "logic",
       "an area of 10.5 passes for 10 pixels", T_JOBS),
    _m("jobs-flush-twice", TK, "                _flush(g, fm, pm, sink)\n                groups[hw] = []",
       "                _flush(g, fm, pm, sink)", "logic",
       "a full batch is checked again at the end (problems reported twice)", T_JOBS),
    _m("jobs-retry-last", TK, "    for i in range(len(f_rles)):", "    for i in range(len(f_rles) - 1):", "off-by-one",
       "the mask-by-mask retry skips a batch's last mask", T_JOBS),
    # --- SA-1B utilities (src/fastrle/sa1b/)
    _m("sa1b-cache-mtime", DEC, "key = (os.path.abspath(os.fspath(src)), st.st_mtime_ns, st.st_size)",
       "key = (os.path.abspath(os.fspath(src)), 0, st.st_size)", "logic",
       "the decoder cache serves stale masks after a same-size edit", T_SA1B2),
    _m("sa1b-cache-evict", DEC, "while self._used > self.cache_bytes:", "if self._used > self.cache_bytes:",
       "logic", "the cache evicts one entry where it must evict several", T_SA1B2),
    _m("sa1b-cache-fits", DEC, "if size <= self.cache_bytes:", "if size < self.cache_bytes:", "comparison",
       "a result of exactly the budget is not cached", T_SA1B2),
    _m("sa1b-cache-lru", DEC, "            self._cache.move_to_end(key)\n", "", "logic",
       "the cache evicts first-in, not least recently used", T_SA1B2),
    _m("sa1b-ds-bbox-scale", DS, "boxes *= np.array([ow / max(ann.width, 1), oh / max(ann.height, 1)] * 2)",
       "boxes *= np.array([ow / max(ann.width, 1), oh / max(ann.width, 1)] * 2)", "swapped",
       "dataset boxes: y and h scaled by the width", T_SA1B2),
    _m("sa1b-ds-index-neg", DS, "if not -n <= i < n:", "if not -n < i < n:", "off-by-one",
       "dataset[-len] rejected", T_SA1B2),
    _m("sa1b-index-jpg-only", SHD, "return [(s, js, jp) for s, (js, jp) in found.items() if js is not None]",
       "return [(s, js, jp) for s, (js, jp) in found.items()]", "logic",
       "index_shard lists a JPEG that has no JSON", T_SA1B2),
    _m("sa1b-iter-jpeg-carry", SHD, "stem, jpeg, ann = s, None, None", "stem, ann = s, None", "logic",
       "iter_shard gives a JSON without a JPEG the previous image's JPEG", T_SA1B2),
    _m("sa1b-iter-lone-json", SHD, "if s != stem:  # pairs are adjacent: a new stem closes the last one\n"
       "                if ann is not None:",
       "if s != stem:  # pairs are adjacent: a new stem closes the last one\n"
       "                if ann is not None and jpeg is not None:", "logic",
       "iter_shard drops a JSON without a JPEG when another pair follows", T_SA1B2),
    _m("sa1b-json-ext-case", SHD, "if m.isfile() and _split(m.name)[1] == \".json\":",
       "if m.isfile() and m.name.endswith(\".json\"):", "logic",
       "iter_json_members skips a .JSON member", T_SA1B2),
    _m("sa1b-index-upper", ANN, "if (idx < -n).any() or (idx >= n).any():", "if (idx < -n).any() or (idx > n).any():",
       "off-by-one", "index n accepted", T_SA1B2),
    _m("sa1b-resize-other", DS, "cols = nearest_map(w, ow, \"nearest-exact\", other_size=oh)",
       "cols = nearest_map(w, ow, \"nearest-exact\", other_size=ow)", "swapped",
       "resize_nearest picks torch's kernel from the wrong axis", T_SA1B2),
    # --- overlay policy (src/fastrle/viz/, csrc/rle_render.c)
    _m("viz-topk-index-order", OV, "idx = np.sort(np.argsort(key, kind=\"stable\")[:int(top_k)]).astype(np.int64)",
       "idx = np.argsort(key, kind=\"stable\")[:int(top_k)].astype(np.int64)", "logic",
       "top_k with order='index' draws in score order", T_VIZ),
    _m("viz-topk-unstable", OV, "np.argsort(key, kind=\"stable\")[:int(top_k)]", "np.argsort(key)[:int(top_k)]",
       "logic", "top_k ties at the cut are not broken by index", T_VIZ),
    _m("viz-order-unstable", OV, "idx = idx[np.argsort(-areas[idx], kind=\"stable\")]", "idx = idx[np.argsort(-areas[idx])]",
       "logic", "equal areas are drawn in an unstable order", T_VIZ),
    _m("viz-topk-scores", OV, "key = -np.asarray(scores, np.float64) if scores is not None else -areas",
       "key = -areas", "logic", "top_k on an SA1BAnnotation keeps the largest, not the best predicted_iou", T_VIZ),
    _m("viz-contour-width", OV, "cw = int(contour_width)", "cw = 1", "logic", "contour_width ignored", T_VIZ),
    _m("viz-alpha-trunc", OV, "a = int(round(af * 255))", "a = int(af * 255)", "logic",
       "alpha truncated, not rounded", T_VIZ),
    _m("viz-colors-range", OV, "c.min() < 0 or c.max() > 255", "c.min() < 0 or c.max() > 256", "off-by-one",
       "a colour of 256 wraps to 0", T_VIZ),
    _m("viz-palette-sat", PAL, "np.where(np.arange(int(n)) % 2 == 0, 0.85, 0.6)",
       "np.where(np.arange(int(n)) % 2 == 1, 0.85, 0.6)", "swapped", "palette saturations swapped", T_VIZ),
    _m("render-band-split", R, "frle_parallel_for((int64_t)h, frle_thread_count(nthreads, most), draw_range, &jb);",
       "{ int nt = frle_thread_count(nthreads, most); frle_parallel_for((int64_t)(h - h % nt), nt, draw_range, &jb); }",
       "off-by-one", "the band split drops the last h % threads rows", T_VIZ),
    # --- routing pycocotools through fastrle (src/fastrle/compat.py)
    _m("compat-save-after-set", CMP, "_saved.append((pm, f, getattr(pm, f)))\n        setattr(pm, f, getattr(_fmask, f))",
       "setattr(pm, f, getattr(_fmask, f))\n        _saved.append((pm, f, getattr(pm, f)))", "swapped",
       "the patch saves fastrle's functions as the originals (undo restores nothing)", T_COMPAT),
    _m("compat-restore-twice", CMP, "if not self._live or self._era != _era:", "if self._era != _era:", "logic",
       "restoring one patch twice takes back another's", T_COMPAT),
    _m("compat-undo-early", CMP, "            _active -= 1\n            if _active == 0:",
       "            _active -= 1\n            if _active <= 1:", "comparison",
       "the originals come back while a patch is still in force", T_COMPAT),
    _m("compat-unpatch-count", CMP, "        _active = 0\n        _era += 1\n        _undo()", "        _era += 1\n        _undo()", "logic",
       "unpatch_pycocotools leaves the count: pycocotools_patched() stays True", T_COMPAT),
    _m("compat-holders", CMP, "_HOLDERS = (\"pycocotools.coco\", \"pycocotools.cocoeval\")", "_HOLDERS = (\"pycocotools.coco\",)",
       "logic", "COCOeval's maskUtils is not patched", T_COMPAT),
    # --- transforms' Python layer (src/fastrle/transforms.py, _args.py)
    _m("xf-zeroed-fresh", XPY, "zeroed = False  # a promise about out", "pass  # a promise about out", "logic",
       "zeroed=True without out trusts a fresh np.empty to be zero", T_XPY),
    _m("xf-sampling-zero", XPY, "if sampling_ratio > 0 or not len(b):", "if sampling_ratio >= 0 or not len(b):",
       "comparison", "sampling_ratio=0 skips the sampling-grid limit", T_XPY),
    _m("args-size-pixels", ARGS, "if oh * ow > MAX_PIXELS:", "if oh * ow > MAX_PIXELS + 1:", "off-by-one",
       "a size of 2^32 pixels accepted", T_XPY),
    _m("args-strided-last", ARGS, "if shape[-1] > 1 and arr.strides[-1] != dt.itemsize:",
       "if shape[-1] > 2 and arr.strides[-1] != dt.itemsize:", "off-by-one",
       "an out with a strided last axis of 2 accepted", T_XPY),
    _m("args-float-size", ARGS, "if d != v and not isinstance(v, (int, np.integer)):", "if False:", "logic",
       "a size of 2.5 truncated to 2", T_XPY),
    _m("args-area-upscale", ARGS, "if mode == \"area\" and n and (oh > h or ow > w):",
       "if mode == \"area\" and n and (oh > h and ow > w):", "logic", "mode='area' upscaling one side accepted",
       T_XPY),
    _m("args-resize-empty", ARGS, "if size is not None and n and (h == 0 or w == 0):",
       "if size is not None and n and (h == 0 and w == 0):", "logic", "resizing 0xW masks accepted", T_XPY),
    # ================= the code of 2026-12-07 (COCOeval, polygons, components, GPU encode) =================
    # --- COCOeval matching and accumulate (csrc/rle_eval.c, src/fastrle/cocoeval.py)
    _m("eval-sort-ties", EV, "while (j > 0 && np_lt(-key[v], -key[idx[j - 1]])) {",
       "while (j > 0 && !np_lt(-key[idx[j - 1]], -key[v])) {", "comparison",
       "the insertion sort (16 dts or fewer) puts equal scores in reverse order", T_EVAL),
    _m("eval-merge-ties", EV, "tmp[o++] = np_lt(-key[idx[b]], -key[idx[a]]) ? idx[b++] : idx[a++];",
       "tmp[o++] = !np_lt(-key[idx[a]], -key[idx[b]]) ? idx[b++] : idx[a++];", "comparison",
       "the merge sort (over 16 dts) takes the right run on equal scores", T_EVAL),
    _m("eval-nan-last", EV, "return a < b || (b != b && a == a);", "return a < b;", "logic",
       "a NaN score does not sort after every number (numpy's order)", T_EVAL),
    _m("eval-area-lo", EV, "s->ig[j] = ev->gt_ign[gi[j]] || ar < lo || ar > hi;",
       "s->ig[j] = ev->gt_ign[gi[j]] || ar <= lo || ar > hi;", "comparison",
       "a gt whose area equals the range's low end is ignored", T_EVAL),
    _m("eval-gt-ignore-flag", EV, "s->ig[j] = ev->gt_ign[gi[j]] || ar < lo || ar > hi;",
       "s->ig[j] = ar < lo || ar > hi;", "logic", "the matching forgets the gt's ignore (crowd) flag", T_EVAL),
    _m("eval-igs-order", EV, "for (j = 0; j < G; j++) s->igs[j] = s->ig[s->gtind[j]];",
       "for (j = 0; j < G; j++) s->igs[j] = s->ig[j];", "logic",
       "the ignore flags are read in gt order, not in the ignore-sorted order", T_EVAL),
    _m("eval-crowd-once", EV, "if (s->gtm[j] > 0 && !s->crowd[gl]) continue;",
       "if (s->gtm[j] > 0) continue;", "logic", "a crowd gt matches only one dt", T_EVAL),
    _m("eval-no-break", EV, "if (m > -1 && s->igs[m] == 0 && s->igs[j] == 1) break;",
       "if (m > -1 && s->igs[m] == 0 && s->igs[j] == 2) break;", "logic",
       "a dt matched to a real gt goes on to the ignored ones", T_EVAL),
    _m("eval-iou-tie", EV, "if (v < iou) continue;", "if (v <= iou) continue;", "comparison",
       "an IoU equal to the threshold (or to the best so far) does not match", T_EVAL),
    _m("eval-match-index", EV, "match_put(ev, mt + t * D + d, s->gtind[m]);", "match_put(ev, mt + t * D + d, m);",
       "logic", "the match records the position among sorted gts, not the gt", T_EVAL),
    _m("eval-dt-area-lo", EV, "int out_a = ar < ev->area_rng[2 * aa] || ar > ev->area_rng[2 * aa + 1];",
       "int out_a = ar <= ev->area_rng[2 * aa] || ar > ev->area_rng[2 * aa + 1];", "comparison",
       "accumulate: an unmatched dt at the range's low end is ignored", T_EVAL),
    _m("eval-spacing", EV, "pr = (double)ctp[lo] / ((double)cfp[lo] + (double)ctp[lo] + DBL_EPSILON);",
       "pr = (double)ctp[lo] / ((double)cfp[lo] + (double)ctp[lo]);", "logic",
       "precision without np.spacing(1): 0/0 is NaN", T_EVAL),
    _m("eval-recall-none", EV, "ac->recall[out_r] = ns ? (double)ctp[ns - 1] / (double)npig : 0;",
       "ac->recall[out_r] = ns ? (double)ctp[ns - 1] / (double)npig : -1;", "constant",
       "recall stays -1 for gts without any dt (pycocotools: 0)", T_EVAL),
    _m("eval-envelope-first", EV, "for (q = ntp - 1; q > 0; q--)", "for (q = ntp - 1; q > 1; q--)",
       "off-by-one", "the precision envelope never raises the first dt", T_EVAL),
    _m("eval-searchsorted-right", EV, "if (np_lt((double)ctp[mid] / (double)npig, v)) lo = mid + 1;",
       "if (!np_lt(v, (double)ctp[mid] / (double)npig)) lo = mid + 1;", "comparison",
       "searchsorted side='right': a recall equal to a recall threshold takes the next dt", T_EVAL),
    _m("eval-scores-index", EV, "ac->scores[o] = score[idx[sub[lo]]];", "ac->scores[o] = score[sub[lo]];", "logic",
       "scores read in concatenation order, not sorted", T_EVAL),
    _m("coev-ignore-or", CEV, "gt[\"ignore\"] = \"iscrowd\" in gt and gt[\"iscrowd\"]",
       "gt[\"ignore\"] = gt[\"ignore\"] or (\"iscrowd\" in gt and gt[\"iscrowd\"])", "logic",
       "a gt's own 'ignore' key survives (pycocotools overwrites it with iscrowd)", T_EVAL),
    _m("coev-maxdet-first", CEV, "self.max_det = p.maxDets[-1]", "self.max_det = p.maxDets[0]", "off-by-one",
       "evaluate keeps the smallest maxDets' dts per image", T_EVAL),
    _m("coev-present-and", CEV, "self.present = ((self.G > 0) | (dall > 0)).astype(np.uint8)",
       "self.present = ((self.G > 0) & (dall > 0)).astype(np.uint8)", "logic",
       "an image with gts and no dts (or dts and no gts) gets None in evalImgs", T_EVAL),
    _m("coev-gtm-order", CEV, "gtm[t, inv[mt[t, d]]] = did[d]", "gtm[t, mt[t, d]] = did[d]", "logic",
       "gtMatches indexed in gt order, not in the ignore-sorted order", T_EVAL),
    _m("coev-ious-order", CEV, ".reshape((D, G), order=\"F\")", ".reshape((D, G), order=\"C\")", "swapped",
       "ious read row-major: transposed cells", T_EVAL),
    _m("coev-dtignore", CEV, "dt_ig = np.logical_or(dig, np.logical_and(dtm == 0, np.repeat(out_a, T, 0)))",
       "dt_ig = np.logical_or(dig, np.repeat(out_a, T, 0))", "logic",
       "evalImgs' dtIgnore: a matched dt outside the area range is ignored", T_EVAL),
    _m("coev-loadres-k", CEV, "                    ann[\"bbox\"] = boxes[k]\n                    k += 1",
       "                    ann[\"bbox\"] = boxes[k]", "logic",
       "loadRes: every result without a bbox gets the first one's box", T_EVAL),
    _m("coev-int-dups", CEV, "if len(st) > 1 and not (st[1:] > st[:-1]).all():",
       "if len(st) > 1 and not (st[1:] >= st[:-1]).all():", "comparison",
       "a category listed twice (useCats=0) takes the fast path: its annotations come once", T_EVAL),
    # --- polygons (csrc/rle_contour.c, src/fastrle/geometry/polygons.py)
    _m("contour-right-mark", CT, "if ((unsigned)(s - 1) < (unsigned)s_end) *v3 = right;",
       "if ((unsigned)(s - 1) <= (unsigned)s_end) *v3 = right;", "off-by-one",
       "the right-edge mark (nbd | 0x80) set one direction too far", T_POLY),
    _m("contour-rect-width", CT, "nd->bw = rx1 - rx + 1;", "nd->bw = rx1 - rx;", "off-by-one",
       "a border's bounding rect one column short (the parent search)", T_POLY),
    _m("contour-parent-same", CT, "if (wk->nodes[parent].hole == hole) parent",
       "if (wk->nodes[parent].hole != hole) parent", "comparison",
       "a hole's parent is the border of the other kind's parent", T_POLY),
    _m("contour-nbd-wrap", CT, "if (st->nbd == 0) st->nbd = 3;", "if (st->nbd == 0) st->nbd = 2;", "constant",
       "after 126 borders the mark wraps to 2 (cv2: 3)", T_POLY),
    _m("contour-reaches", CT, "if (reaches(c, r->ox, r->oy, lx, y, r->hole)) break;",
       "if (!reaches(c, r->ox, r->oy, lx, y, r->hole)) break;", "logic",
       "borders sharing a mark: the parent test inverted", T_POLY),
    _m("contour-lnbd-inside", CT, "if (row[x] != row[x - 1] && row[x] != 1) return x;",
       "if (row[x] != row[x - 1]) return x;",
       "logic", "an unvisited pixel inside a span counts as the LNBD", T_POLY),
    _m("contour-last-col", CT, "if (scr->tr[k + 1] < w && last >= 1) {",
       "if (scr->tr[k + 1] <= w && last >= 1) {", "off-by-one",
       "a hole border starts after a span that ends at the last column", T_POLY),
    _m("contour-hier-swap", CT, "hr[0] = nd->next < 0 ? -1 : map[nd->next];",
       "hr[0] = nd->prev < 0 ? -1 : map[nd->prev];", "swapped", "the hierarchy's next column holds the previous",
       T_POLY),
    _m("contour-spike", CT, "if (cnt == 0 && dout == ((din + 4) & 7)) cnt = 4;",
       "if (cnt == 0 && dout == din) cnt = 4;", "logic", "the outline cuts the tip of a 1-pixel spike", T_POLY),
    _m("contour-simple-wrap", CT, "int32_t lx = q[2 * (m - 1)], ly = q[2 * (m - 1) + 1];",
       "int32_t lx = q[0], ly = q[1];", "off-by-one",
       "approx='simple' outlines: the first corner's predecessor is itself", T_POLY),
    _m("contour-origin", CT, "return emit(wk, (int32_t)xmin - 1, (int32_t)ylo - 1, out);",
       "return emit(wk, (int32_t)xmin - 1, (int32_t)ylo, out);", "off-by-one",
       "points one row low unless the mask starts at row 0", T_POLY),
    _m("poly-ring-area-tri", PG, "if len(p) < 3:\n        return 0.0", "if len(p) < 4:\n        return 0.0",
       "off-by-one", "ring_area of a 3-point ring is 0", T_POLY),
    _m("poly-min-area-strict", PG, "keep = np.array([ring_area(r) >= min_area for r in rings])",
       "keep = np.array([ring_area(r) > min_area for r in rings])", "comparison",
       "min_area drops a ring whose area equals it", T_POLY),
    _m("poly-holes-orphan", PG, "keep &= np.where(parents >= 0, keep[np.maximum(parents, 0)], True)",
       "keep &= np.where(parents >= 0, True, True)", "logic",
       "a dropped outer ring leaves its holes", T_POLY),
    _m("poly-parents-renumber", PG, "parents = np.where(parents[keep] >= 0, new[np.maximum(parents[keep], 0)], -1)",
       "parents = np.where(parents[keep] >= 0, parents[keep], -1)", "logic",
       "after min_area drops rings, parents keep the old ring numbers", T_POLY),
    _m("poly-hier-next", PG, "            h[last[p], 0] = i\n            h[i, 1] = last[p]",
       "            h[i, 0] = last[p]\n            h[last[p], 1] = i", "swapped",
       "the rebuilt hierarchy swaps next and previous", T_POLY),
    _m("poly-bridge-back", PG, "        start = j\n    pieces.append(outer[start:])",
       "        start = j + 1\n    pieces.append(outer[start:])", "off-by-one",
       "the cut comes back from a hole to the outer ring's next vertex (not zero-width)", T_POLY),
    _m("poly-bridge-order", PG, "for k in np.argsort(near, kind=\"stable\"):", "for k in range(len(near)):",
       "logic", "holes bridged in their own order, not along the outer ring", T_POLY),
    _m("poly-fast-bridge", PG, "if not min_area and not (bridge and (parents >= 0).any()):",
       "if not min_area and not (bridge and (parents > 0).any()):", "comparison",
       "holes of ring 0 are not bridged", T_POLY),
    _m("poly-min-area-nan", PG, "if not area >= 0:  # nan too", "if area < 0:", "logic",
       "min_area=NaN accepted", T_POLY),
    # --- components and SAM's small-region cleanup (csrc/rle_components.c, geometry/regions.py)
    _m("cc-touch-4", CC, "if (a0 < b1 + touch && b0 < a1 + touch) unite(",
       "if (a0 <= b1 + touch && b0 <= a1 + touch) unite(", "comparison",
       "segments that touch only at a corner connect (4 acts as 8, 8 reaches 2 rows)", T_REG),
    _m("cc-merge-walk", CC, "        if (a1 < b1) a++;\n        else b++;", "        if (a1 > b1) a++;\n        else b++;",
       "swapped", "the merge walk advances the wrong column's segment", T_REG),
    _m("cc-adjacent-col", CC, "if (pe > pb && (uint64_t)seg[3 * pb] + 1 == x) {", "if (pe > pb) {", "logic",
       "segments of columns two apart are joined", T_REG),
    _m("cc-key-8", CC, "key = conn == 8 ? ((uint64_t)(y0 >> 1) << 32 | (x >> 1)) : ((uint64_t)y0 << 32 | x);",
       "key = ((uint64_t)y0 << 32 | x);", "logic",
       "connectivity 8 labels in raster order of the first pixel (cv2: by 2x2 blocks)", T_REG),
    _m("cc-centroid-y", CC, "sy = (uint64_t)y0 + y1 - 1;", "sy = (uint64_t)y0 + y1;", "off-by-one",
       "a component's sum of y one too big per segment", T_REG),
    _m("cc-first-height", CC, "k->y1 = y1 - 1;\n    } else {", "k->y1 = y1;\n    } else {", "off-by-one",
       "a component's height one too many when its first segment reaches lowest", T_REG),
    _m("cc-bg-wrap", CC, "if (a < b) ya = 0, yb = h - 1;", "if (a + 1 < b) ya = 0, yb = h - 1;", "off-by-one",
       "a background run over one column end does not span every row", T_REG),
    _m("cc-bg-none", CC, "st[1] = INT32_MAX;", "st[1] = -1;", "constant",
       "the background row of a full mask is not cv2's [-1, 2**31-1, 0, 0, 0]", T_REG),
    _m("cc-bg-sumx", CC, "tx = h * (w % 2 ? w * ((w - 1) / 2) : (w / 2) * (w - 1));",
       "tx = h * (w % 2 ? w * ((w - 1) / 2) : (w / 2) * (w + 1));", "off-by-one",
       "the background centroid's x is off for even widths", T_REG),
    _m("cc-thresh-eq", CC, "keep[k] = !((double)q->area < jb->thresh);", "keep[k] = !((double)q->area <= jb->thresh);",
       "comparison", "a region of exactly area_thresh pixels is small", T_REG),
    _m("cc-best-tie", CC, "(q->area == wk->cs[best].area && q->key < wk->cs[best].key)",
       "(q->area == wk->cs[best].area && q->key > wk->cs[best].key)", "comparison",
       "islands, all small: the largest's tie goes to the highest label", T_REG),
    _m("cc-holes-best", CC, "if (!jb->holes && !kept) keep[best] = 1;", "if (!kept) keep[best] = 1;", "logic",
       "holes, all small: the largest hole stays open", T_REG),
    _m("cc-sam-conn", CC, "if ((rc = label(wk, 8)) != FRLE_OK) return rc;",
       "if ((rc = label(wk, 4)) != FRLE_OK) return rc;", "constant",
       "remove_small_regions labels with connectivity 4 (SAM: 8)", T_REG),
    _m("cc-zero-run", CC, "if (k && wk->seg[3 * k - 3] == (uint32_t)x && wk->seg[3 * k - 1] == (uint32_t)y) {",
       "if (0) {", "logic", "a zero-length run splits a column segment in two", T_REG),
    _m("cc-first-run", CC, "runs_out r = {0, 0, 0};", "runs_out r = {0, 0, 1};", "constant",
       "written counts start with a run of ones (holes mode: output starts wrong)", T_REG),
    _m("reg-int32", RG, "if h * w <= _INT32_MAX:", "if h * w < _INT32_MAX:", "off-by-one",
       "a mask of exactly 2^31-1 pixels gets int64 stats", T_REG),
    _m("reg-conn-default", RG, "def components(rles: Any, *, connectivity: int = 8,",
       "def components(rles: Any, *, connectivity: int = 4,", "constant",
       "components() defaults to connectivity 4 (cv2: 8)", T_REG),
    _m("reg-same-dict", RG, "out.append(r if s is None else {\"size\": [h, w], \"counts\": s})",
       "out.append(dict(r) if s is None else {\"size\": [h, w], \"counts\": s})", "logic",
       "an unchanged mask comes back as a copy, not the input dict", T_REG),
    _m("reg-areas", RG, "return self.stats[1:, 4].astype(np.int64)", "return self.stats[:, 4].astype(np.int64)",
       "off-by-one", "Components.areas includes the background", T_REG),
    _m("reg-bool-thresh", ARGS, "if isinstance(v, (bool, np.bool_, str, bytes)):",
       "if isinstance(v, (str, bytes)):", "logic", "area_thresh=True (and every real argument) accepted as 1",
       T_REG + ["tests/test_real_args.py"]),
    # --- GPU encode (src/fastrle/gpu/encoder.py; csrc/kernels/rle_encode.cuh on the CPU emulator)
    _m("kenc-delta-index", KN, "if (i > 2) x -= b2 - b3;", "if (i >= 2) x -= b2 - b3;", "comparison",
       "count 2 is delta-coded (pycocotools starts at 3)", T_GENC),
    _m("kenc-sign-bit", KN, "const bool more = (c & 0x10) ? x != -1 : x != 0;",
       "const bool more = (c & 0x8) ? x != -1 : x != 0;", "off-by-one",
       "a chunk's sign read from the wrong bit", T_GENC),
    _m("kenc-before-col", KN, "return g.x ? fastrle_enc_px(", "return 0 ? fastrle_enc_px(", "logic",
       "a column's first pixel compared with 0, not with the previous column's bottom", T_GENC),
    _m("kenc-band-end", KN, "g->y1 = g->y0 + rows < h ? g->y0 + rows : h;", "g->y1 = g->y0 + rows;",
       "off-by-one", "the last band of a column runs past its bottom", T_GENC),
    _m("kenc-seg-order", KN, "g->s = g->x * nb + band;", "g->s = band * w + g->x;", "swapped",
       "with bands, segments are numbered band-major (out of p order)", T_GENC),
    _m("kenc-combine-2", KN, "r.p1 = b.p1, r.p2 = b.p2, r.p3 = a.p1;", "r.p1 = b.p1, r.p2 = b.p2, r.p3 = a.p2;",
       "off-by-one", "the scan keeps the wrong third-last boundary after a 2-boundary segment", T_GENC),
    _m("kenc-value-mode", KN, "return (flags & FASTRLE_ENC_NONZERO) ? (unsigned int)(v != 0) : v;",
       "return (unsigned int)(v != 0);", "logic",
       "nonzero=False: a change between two nonzero values is not a boundary", T_GENC),
    _m("kenc-last-seg", KN, "(long long)cols[4 * (at + 1)] : mstate[FASTRLE_ENC_MSTRIDE * g.m];",
       "(long long)cols[4 * (at + 1)] : (long long)cols[4 * at];", "logic",
       "the last segment of a mask writes no characters", T_GENC),
    _m("genc-hwn", GE, "arr.transpose(2, 0, 1)), False", "arr.transpose(2, 1, 0)), False", "swapped",
       "layout='hwn' reads (N, W, H)", T_GENC),
    _m("genc-wide-ints", GE, "masks = masks != 0  # any nonzero value", "masks = masks  # any nonzero value",
       "logic", "int32/int64 masks are read as their bytes", T_GENC),
    _m("genc-rows-floor", GE, "rows = _ceil_div(h, nb)", "rows = h // nb", "off-by-one",
       "bands: rows per band rounded down (one band more than planned)", T_GENC),
    _m("genc-clen-overlap", GE, "o_ms = o_clen + 8 * n * nseg", "o_ms = o_clen + 4 * n * nseg", "constant",
       "the per-mask state overlaps the character counts in the scratch", T_GENC),
    # --- `fastrle polygons` (src/fastrle/cli/polygons.py)
    _m("cli-poly-yolo-half", CPO, "xy = [(v + 0.5) / (w if k % 2 == 0 else h)",
       "xy = [(v - 0.5) / (w if k % 2 == 0 else h)", "off-by-one",
       "YOLO coordinates one pixel off (pixel centres, not corners)", T_CLIPOLY),
    _m("cli-poly-yolo-axis", CPO, "(w if k % 2 == 0 else h) for k, v", "(h if k % 2 == 0 else w) for k, v",
       "swapped", "YOLO x divided by the height, y by the width", T_CLIPOLY),
    _m("cli-poly-no-bridge", CPO, "bridge_holes=mode == \"ccomp\")", "bridge_holes=False)", "logic",
       "--mode ccomp writes holes as rings of their own (pycocotools fills them)", T_CLIPOLY),
    _m("cli-poly-approx-default", CPO, "p.add_argument(\"--approx\", choices=(\"none\", \"simple\"), default=\"simple\",",
       "p.add_argument(\"--approx\", choices=(\"none\", \"simple\"), default=\"none\",", "constant",
       "--approx defaults to none", T_CLIPOLY),
    _m("cli-poly-exit-bad", CPO, "print(str(e), file=sys.stderr)\n        return 1",
       "print(str(e), file=sys.stderr)\n        return 2", "constant", "bad input exits 2, not 1", T_CLIPOLY),
    _m("cli-poly-partial", CPO, "if problems:\n        raise PolygonsError", "if problems and not out_anns:\n        raise PolygonsError",
       "logic", "a bad annotation among good ones: the good ones are written, exit 0", T_CLIPOLY),
    _m("cli-poly-yolo-class", CPO, "cls = {c: i for i, c in enumerate(ids)}", "cls = {c: i for i, c in enumerate(ids, 1)}",
       "off-by-one", "YOLO classes start at 1", T_CLIPOLY),
    _m("cli-poly-same-stem", CPO, "out[name] = out.get(name, \"\") + \"\".join(", "out[name] = \"\" + \"\".join(",
       "logic", "two images with one file stem: the second's labels replace the first's", T_CLIPOLY),
    _m("cli-poly-sa1b-key", CPO, "key = (os.path.basename(path), iid) if doc.layout == an.SA1B else iid",
       "key = iid", "logic",
       "two SA-1B files with one image id share one image entry", T_CLIPOLY),
    # --- the bit-band decode (csrc/rle_decode.c, 2026-12-07): outputs of 1 MiB and more
    _m("bb-band-end", D, "uint64_t b0 = y0 / BB_ROWS, b1 = (y1 - 1) / BB_ROWS;",
       "uint64_t b0 = y0 / BB_ROWS, b1 = y1 / BB_ROWS;", "off-by-one",
       "bb_build: a segment ending on a band boundary also fills the next band's column word", T_BITS),
    _m("bb-run-col-end", D, "    if (y1 >= h) break;",
       "    if (y1 > h) break;", "off-by-one",
       "bb_build: a run one pixel past its column end stays in its column (the next column's top pixel is lost)",
       T_BITS),
    _m("bb-run-bits", D, "(2ull << (y1 & 63)) - (1ull << (d & 63))", "(1ull << (y1 & 63)) - (1ull << (d & 63))",
       "off-by-one", "bb_build: a run inside one column and band loses its last row", T_BITS),
    _m("bb-put-touched", D, "|= (uint64_t)mark[g * nbands + b] << (g & 63);",
       "|= (uint64_t)mark[g * nbands + b] << (b & 63);", "logic",
       "bb_build: a block's mark sets the wrong block's touched bit (its block is never transposed)", T_BITS),
    _m("bb-marks-range", D, "g <= t.x / 64 && g < ngroups; g++)", "g < t.x / 64 && g < ngroups; g++)",
       "off-by-one", "bb_build: the last run's column group is never marked touched (its blocks are lost)", T_BITS),
    _m("bb-two-bands-mark", D, "      cmark[kb] = 1;\n", "", "logic",
       "bb_fast: a run over two bands leaves the second band's block unmarked (never transposed)", T_BITS),
    _m("bb-two-bands-only", D, "      if ((y1 >> 6) - bd != 1) break;", "      if ((y1 >> 6) - bd > 2) break;",
       "off-by-one", "bb_fast: a run over three bands of a column is written as two (the middle band lost)", T_BITS),
    _m("bb-stage-left", D, "      memset(sA, 0, nr * rb);\n", "", "logic",
       "frle_decode_bits_packed: the stage is not cleared after a band (the next band keeps its rows' bits)", T_BITS),
    _m("bb-stream-edge", D, "    if (src) memcpy(A, src, (size_t)(E - A));",
       "    if (src) memcpy(A, src, (size_t)(E - A) - 1);", "off-by-one",
       "span_stream: a band inside one cache line loses its last byte", T_BITS),
    _m("bb-packed-big", D, "big = !little && bb.avx512;", "big = little && bb.avx512;", "logic",
       "frle_decode_bits_packed: the block kernel's reversed bytes used for the little order", T_BITS),
    _m("bb-clear-half", D, "      memset(band + x0, 0, 64 * sizeof(uint64_t));",
       "      memset(band + x0, 0, 32 * sizeof(uint64_t));", "constant",
       "bb_transpose: a block's last 32 column words are not cleared (stale bits in the next mask)", T_BITS),
    _m("bb-edge-last", D, "} else if (k <= bo->k1) {", "} else if (k < bo->k1) {", "off-by-one",
       "bo_word: the line a band shares with the next band is never written from its bits", T_BITS),
    _m("bb-rows-share", D, "    *pv |= lw;", "    *pv = lw;", "logic",
       "rows_hold: a line two rows share keeps only the later row's bits", T_BITS),
    _m("bb-rows-middle", D, "for (g = g0[i] + 1; g < ge; g++) { /* lines of this row alone",
       "for (g = g0[i] + 1; g + 1 < ge; g++) { /* lines of this row alone", "off-by-one",
       "bb_rows: a run's last line before its held last one is not written (zeroed: its bits are lost)", T_BITS),
    _m("bb-rows-hi", D, "lw = (v << s) | ((prev >> 1) >> (63 - s))", "lw = (v << s) | ((prev >> 2) >> (63 - s))",
       "off-by-one", "bb_rows: a group word's bits past its line's end lose their top bit", T_BITS),
    _m("bb-rows-glast", D, "ge = g1[i] + 1 < glast ? g1[i] + 1 : glast;", "ge = g1[i] + 1;", "logic",
       "bb_rows: the last group's padding gives lines past the row's end (out of order with the next row's)",
       T_BITS),
    _m("bb-rows-skip", D, "      for (g = g0[i]; g <= g1[i]; g++) any |= rw[64 * g];", "      any = 1;", "logic",
       "bb_rows: rows without bits are written too (zero lines: the cost zeroed saves)", T_BITS),
    _m("bb-rows-zeroed", D, "if (zeroed) bb_rows_impl(bb, b, A, E, 1, stream, put);",
       "if (zeroed) bb_rows_impl(bb, b, A, E, 0, stream, put);", "logic",
       "BB_ROWS_FN: zeroed also writes the zero lines between rows (the cost zeroed saves)", T_BITS),
    _m("bb-rows-seg", D, "if (n && g1[n - 1] + 1 == g) {", "if (n && g1[n - 1] + 2 >= g) {", "off-by-one",
       "bb_segments: runs of touched groups one group apart are joined (an untouched group's stale row words "
       "are read)", T_BITS),
    _m("bb-rows-iperm", D, "const uint64_t *rw = bb->rows + bb->iperm[r];", "const uint64_t *rw = bb->rows + bb->perm[r];",
       "swapped", "bb_rows: row r read through the block kernel's row order instead of its inverse", T_BITS),
    _m("bb-gap-fill", D, "if (!bo->zeroed && k > bo->next) zero_lines(", "if (!bo->zeroed && k > bo->next + 1) zero_lines(",
       "off-by-one", "bo_word: a gap of one zero line between foreground lines is left unwritten (full mode)", T_BITS),
    _m("bb-stage-zero", D, "if (scr->stage_zero < scr->stage_cap) {", "if (scr->stage_zero > scr->stage_cap) {",
       "comparison", "stage_zeroed never zeroes: a fresh stage's old heap bytes reach the output", T_BITS),
    _m("bb-transpose64", D, "uint64_t mk = 0x00000000FFFFFFFFull;", "uint64_t mk = 0x0000FFFF0000FFFFull;",
       "constant", "transpose64 (scalar): the first swap's mask is the second's", T_BITS),
    _m("bb-avx-idx", D, "static const uint8_t tr_idx[64] = {56, 48, 40,", "static const uint8_t tr_idx[64] = {48, 56, 40,",
       "swapped", "transpose64_avx512: two entries of the byte-transpose index table swapped", T_BITS),
    _m("bb-avx-perm", D, "8 * (f >> 2) + 4 * ((f >> 1) & 1) + 2 * (f & 1) + (qw & 1));",
       "8 * (f >> 2) + 2 * ((f >> 1) & 1) + 4 * (f & 1) + (qw & 1));", "swapped",
       "bb_perm_avx512: the rows of two unpack stages swapped", T_BITS),
    _m("bb-pays-simd", D, "return frle_bits_level() != FRLE_ISA_SCALAR || thin_runs(cnts, m);",
       "return thin_runs(cnts, m);", "logic",
       "frle_bits_pays: the vector levels take the bit path only for masks of short runs (a path choice only)", T_BITS),
    _m("bb-packed-order", D, "if (!little && !big) v = reverse_bits_in_bytes(v);",
       "if (little && !big) v = reverse_bits_in_bytes(v);",
       "logic", "frle_decode_bits_packed: bit orders swapped (big is np.packbits' default)", T_BITS),
    _m("bb-packed-perm", D, "uint64_t v = rw[i], pr = bb.perm[i], yy = y + pr;",
       "uint64_t v = rw[i], pr = i, yy = y + pr;",
       "logic", "frle_decode_bits_packed: rows of the AVX-512 transpose written in register order", T_BITS),
    # --- the GPU host path (src/fastrle/gpu/api.py, src/fastrle/_gpupack.pyx), 2026-12-07
    _m("ghost-flags-word", GAPI, "self.flags = self.host[:nwords:_launch.META_STRIDE]",
       "self.flags = self.host[1:nwords:_launch.META_STRIDE]", "off-by-one",
       "_Status: each mask's status read from its second meta word (parse errors unreported)", T_GHOST),
    _m("ghost-flags-stale", GAPI, "        if nwords != self.n:\n", "        if self.n == 0:\n", "logic",
       "_Status: the status view keeps its first batch's length (masks past it unchecked)", T_GHOST),
    _m("ghost-busy", GAPI, "        self.busy = False\n        return words", "        return words", "logic",
       "_Status.wait leaves the status busy: every call allocates a new pinned buffer", T_GHOST),
    _m("ghost-fit", GPK, "    if pos > host.shape[0]:", "    if pos >= host.shape[0]:", "comparison",
       "fill_upload rejects an exact fit", T_GHOST),
    _m("ghost-maps-pos", GPK, "        memcpy(&host[pos], &maps[0], 4 * nmaps)\n        pos += 4 * nmaps",
       "        memcpy(&host[pos], &maps[0], 4 * nmaps)", "logic",
       "fill_upload: the counts overwrite the maps", T_GHOST),
    _m("ghost-bytes", GPK, "p = _data(c, PyUnicode_CheckExact(c), &size)", "p = _data(c, True, &size)", "logic",
       "fill_upload reads bytes counts as str", T_GHOST),
    # --- COCOeval's loadRes fast path and evaluate's gather/group (_eval.pyx, cocoeval.py), 2026-12-07
    _m("evx-fill-bbox", EVX, "        if _BBOX not in ann:\n            # boxes[i], made directly",
       "        if True:\n            # boxes[i], made directly", "logic",
       "loadRes (fast path): a result's own bbox replaced by its mask's box", T_EVAL2),
    _m("evx-fill-id", EVX, "ann[_ID] = i + 1", "ann[_ID] = i", "off-by-one",
       "loadRes (fast path): result ids start at 0", T_EVAL2),
    _m("evx-fill-area-type", EVX, "ann[_AREA] = PyArray_Scalar(&ap[i], _U32, None)", "ann[_AREA] = ap[i]", "logic",
       "loadRes (fast path): areas are Python ints, not np.uint32 as pycocotools'", T_EVAL2),
    _m("evx-fill-cti", EVX, "_index_ann(ann, by_id, ita, cti, True)", "_index_ann(ann, by_id, ita, cti, False)",
       "logic", "loadRes (fast path): the results' catToImgs left empty", T_EVAL2),
    _m("evx-group-stable", EVX, "    for i in range(n):\n        k = key[i]\n        if k >= 0:\n            iv[cv[k]] = i",
       "    for i in range(n - 1, -1, -1):\n        k = key[i]\n        if k >= 0:\n            iv[cv[k]] = i",
       "logic", "group: a pair's annotations in reverse order (not a stable sort)", T_EVAL2),
    _m("evx-gather-nocats", EVX, "kv[n] = jj * n_img + ii if use_cats else ii * n_cat + jj",
       "kv[n] = jj * n_img + ii", "logic",
       "gather_results: useCats=0 keys results by category, then image (the use_cats order)", T_EVAL2),
    _m("coev-nocats-off", CEV, "self.off = np.ascontiguousarray(sub_off[::max(n_cat, 1)])",
       "self.off = np.ascontiguousarray(sub_off[:n_img + 1])", "logic",
       "useCats=0 (gathered results): image offsets from the first pairs, not every n_cat-th", T_EVAL2),
    # --- the sparse contour store (csrc/rle_contour.c), 2026-12-07
    _m("sparse-marks", CT, "nm += e0 - cur;", "nm += e0 - cur - 1;", "off-by-one",
       "build_sparse: neighbouring edge pieces share a mark byte", T_POLY2),
    _m("sparse-finger", CT, "if (lo < hi && x < p->px1[lo]) return", "if (lo < hi && x <= p->px1[lo]) return",
       "off-by-one", "piece_of: the pixel just past the next piece counts as inside it", T_POLY2),
    _m("sparse-search", CT, "if (p->px1[mid] <= x) lo = mid + 1;", "if (p->px1[mid] < x) lo = mid + 1;",
       "comparison", "piece_of: the search stops at a piece ending at x", T_POLY2),
    _m("sparse-lnbd-inside", CT, "      if (m[x] == 1) continue;\n", "", "logic",
       "sparse store: an unvisited pixel inside a span counts as the LNBD", T_POLY2),
    _m("sparse-lnbd-left", CT, "else left = c->poff[k - 1] < 0 ? 1 :", "else left = 1 ? 1 :", "logic",
       "sparse store: the LNBD test reads a piece's left neighbour as unvisited", T_POLY2),
    _m("sparse-inner-below", CT, "        if (C[ic + 1] < hi) hi = C[ic + 1];\n", "", "logic",
       "build_sparse: inner pixels ignore the row below (border points stored as inner)", T_POLY2),
    # --- contours_each: masks handed over on the caller's thread while the others trace (issue 22)
    _m("each-hand-tid", CT, "      if (tid == 0) hand_over(jb);", "      if (tid == 1) hand_over(jb);", "logic",
       "contours_each: a worker thread, not the caller's, calls the sink (it takes the GIL)", T_EACH),
    _m("each-done-flag", CT, "      frle_store_release(&jb->done[k], 1);\n", "", "logic",
       "contours_each: a traced mask is never marked done, so never handed over", T_EACH),
    _m("each-sink-stop", CT, "    if (rc) {\n      jb->sink_rc = rc;", "    if (0) {\n      jb->sink_rc = rc;", "logic",
       "contours_each: the sink's failure does not stop the job (its exception is lost)", T_EACH),
    # --- jobs.api.cluster / map_sources and `fastrle polygons --workers`, 2026-12-07
    _m("jobs-map-order", JAPI, "return [results[s] for s in items], time.perf_counter() - t0, nworkers",
       "return list(results.values()), time.perf_counter() - t0, nworkers", "logic",
       "map_sources returns results in completion order, not source order", T_CLUSTER),
    _m("jobs-workers-n", JAPI, "n = workers or os.cpu_count() or 1", "n = os.cpu_count() or 1", "logic",
       "cluster() ignores workers", T_CLUSTER),
    _m("cli-poly-workers-local", CPO, "if client is None and scheduler is None and workers is None:",
       "if client is None and scheduler is None:", "logic",
       "convert(workers=N) / --workers runs in this process", T_CLUSTER),
    _m("cli-poly-cluster-kw", CPO, "kw = dict(mode=mode, approx=approx, min_area=min_area)",
       "kw = dict(mode=mode, approx=approx)", "logic",
       "on a cluster the tasks do not get --min-area", T_CLUSTER),
    # --- the persistent worker pool (csrc/rle_platform.c), 2026-12-07 fifth session
    _m("pool-caller-claims", PLAT, "  claim_ranges(); /* what no worker has taken yet */\n",
       "", "logic", "the caller does not run ranges no worker took (fail_after 0: they never run)", T_POOL),
    _m("pool-no-wait", PLAT, "  if (pool.active) {\n    pool_unlock();", "  if (0) {\n    pool_unlock();",
       "logic", "frle_parallel_for returns before the workers' ranges are done", T_POOL),
    _m("pool-limit", PLAT, "if (limit >= 0 && limit < want) want = limit;", "(void)limit;",
       "logic", "frle_threads_fail_after no longer caps a call's helpers", T_POOL),
    _m("pool-child-reset", PLAT, "  pool.busy = pool.started = pool.open = pool.quit = 0;\n",
       "  pool.open = pool.quit = 0;\n", "logic",
       "a fork child counts its parent's workers (and a call in flight) as its own", T_POOL),
    _m("pool-allowed", PLAT, "if (!pool.open || pool.joined >= pool.allowed) {",
       "if (!pool.open) {", "logic", "more workers join a job than it asked for", T_POOL),
    # --- one home for a rule (2026-12-07 sixth session): the spin clamp, a word's value changes
    _m("pool-spin-max", PLAT, "us > FRLE_SPIN_US_MAX ? FRLE_SPIN_US_MAX : (int)us;", "(int)us;", "logic",
       "spin_clamp: no upper clamp (the setter and FASTRLE_SPIN_US take any spin time)", T_POOL),
    _m("ops-changes-tail", O, "return k == nw - 1 ? t & tail : t;", "return t;", "logic",
       "word_changes: the last word's padding bits count as value changes (a run past the last pixel)",
       T_OPS + ["tests/test_merge_changes.py"]),
]


# Survivors that are acceptable: equivalent mutants (no input can tell them
# from the original). Anything else that survives is a missing test.
EQUIVALENT: Dict[str, str] = {
    "sparse-lnbd-left": (
        "the left neighbour of an edge piece's first pixel x is read from piece k-1 only when x-1 "
        "is in the same span (x > a + 1), and within a span build_sparse puts an inner piece "
        "(non-empty: hi - lo > 2) between any two edge pieces, so piece k-1 is inner there and "
        "the original reads 1 too: the mutant's constant 1 is what the original always reads"),
    "bb-pays-simd": (
        "frle_bits_pays only picks the path: with the mutant the vector levels decode masks of "
        "long runs through the row spans (frle_row_transitions and the line writer), whose bytes are the "
        "bit path's for every mask (both are pycocotools' decode; test_decode_paths.py checks "
        "each path against it, the bit path under FRLE_ISA=scalar as well), so only the speed "
        "differs"),
    "poly-holes-orphan": (
        "min_area drops an outer ring only when its shoelace area is below min_area, and each "
        "of its holes lies inside it (cv2's hole border and a hole's pixel outline are both "
        "enclosed by the outer ring's curve), so the hole's area is at most the outer's and the "
        "hole fails its own area test: 'a dropped ring takes its holes' never changes a result"),
    "contour-last-col": (
        "a span ending at the last column has the zero frame, i.e. the outside, to the right of "
        "its last pixel b-1; that pixel lies on its component's outer border, traced when the "
        "scan met the component's first pixel (earlier in raster order), which examines the 0 "
        "neighbour and marks b-1 right (a negative mark). So last (pixel b-1) >= 1 fails there and the "
        "mutant's extra case tr[k+1] == w never starts a hole (no difference from the original "
        "over 38,000 random masks of 1-11 px sides, all modes and approximations)"),
    "contour-right-mark": (
        "s == s_end + 1 (the first direction tried is set) marks a border pixel right although "
        "its right neighbour was not examined; the raster scan reads the mark only through "
        "'visited' tests (!= 1, >= 1, unchanged), the LNBD column (which then names another "
        "pixel of the same border) and, in external mode, the sign of the LNBD pixel before an "
        "island in a hole (no case found where a pixel so marked is that LNBD; no difference "
        "from the original's rings and hierarchy "
        "over 67,000 random masks of 1-40 px sides, noise, 2x2 blocks and xor'd rectangles, "
        "all modes and approximations; equivalence argued from that, not proven)"),
    "contour-nbd-wrap": (
        "after a wrap every mark 3..127 is shared by several borders anyway, and the hole-parent "
        "search resolves a shared mark by bounding rect and reaches(); 2 is an ordinary mark "
        "there (the visited/sign tests treat 2 and 3 alike). No difference from the original "
        "over 61,000 random masks of up to 90x90 px (hundreds of borders each) in all modes; "
        "equivalence argued from that, not proven"),
}


# ---------------------------------------------------------------- building

def _tree_files(root: str) -> List[str]:
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                         capture_output=True, check=True).stdout.decode()
    return [p for p in out.split("\0") if p and os.path.isfile(os.path.join(root, p))]


class Workspace:
    """A scratch copy of the tree with per-file objects, so a mutant rebuilds
    only the file it touches."""

    def __init__(self, base: str, build: bool = True) -> None:
        self.dir = base
        for rel in _tree_files(ROOT):
            dst = os.path.join(base, rel)
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(os.path.join(ROOT, rel), dst)
        self.base_objs: Dict[str, str] = {}
        emu_cache = os.path.join(ROOT, "tests", "cuda_emu", "_build")
        if os.path.isdir(emu_cache):  # baseline emulator build, keyed by source hash
            shutil.copytree(emu_cache, os.path.join(base, "tests", "cuda_emu", "_build"), dirs_exist_ok=True)
        if not build:  # only Python/.cuh mutants: the tree's own in-place build serves
            self.suffix = sysconfig.get_config_var("EXT_SUFFIX")
            built = glob.glob(os.path.join(ROOT, "src", "fastrle", "*" + self.suffix))
            if not built:
                raise SystemExit("no in-place build to reuse: run setup.py build_ext --inplace")
            for so in built:
                shutil.copy2(so, os.path.join(base, "src", "fastrle", os.path.basename(so)))
            return
        self.obj = os.path.join(base, "_mutobj")
        os.makedirs(self.obj, exist_ok=True)
        import numpy as np
        # MUTATE_CC: another compiler command, e.g. "ccache gcc -pthread" (with
        # CCACHE_BASEDIR=/tmp: compiles run in the copy, so its paths hash alike)
        self.cc = (os.environ.get("MUTATE_CC") or sysconfig.get_config_var("CC") or "cc").split()
        with open(os.path.join(base, "build_flags.txt")) as f:  # the build's one flag list
            flags = [ln.strip() for ln in f if ln.strip().startswith("-")]
        self.cflags = ["-fPIC", *flags, "-w",
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
        subprocess.run(self.cc + self.cflags + ["-c", src, "-o", o], check=True, capture_output=True, cwd=self.dir)
        return o

    def _link(self, objs: Dict[str, str]) -> None:
        core = [objs[r] for r in self.core]
        ld = (sysconfig.get_config_var("LDSHARED") or "cc -shared").split()
        for p in self.pyx:
            name = os.path.basename(p)[:-4]
            out = os.path.join(self.dir, "src", "fastrle", name + self.suffix)
            subprocess.run(ld + [objs[p]] + core + ["-o", out, "-lpthread"], check=True, capture_output=True)

    def _includers(self, header: str) -> List[str]:
        """The sources (csrc .c and .pyx) that include `header`, directly or
        through other headers: a header has no object of its own, so these
        are what a header mutant must recompile."""
        names, seen = {os.path.basename(header)}, set()
        heads = glob.glob(os.path.join(self.dir, "csrc", "*.h")) + glob.glob(
            os.path.join(self.dir, "src", "fastrle", "*.pxd"))
        while names - seen:
            seen |= names
            for h in heads:
                with open(h) as f:
                    if any(n in f.read() for n in names):
                        names.add(os.path.basename(h))
        out = []
        for rel in self.base_objs:
            with open(os.path.join(self.dir, rel)) as f:
                text = f.read()
            keys = [n[:-4] if n.endswith(".pxd") else n for n in names]  # a .pxd is cimported by module name
            if any(k in text for k in keys):
                out.append(rel)
        return out

    def build(self, changed: str) -> None:
        """Rebuild after `changed` (a path relative to the root) was edited."""
        todo = [changed] if changed in self.base_objs else (
            self._includers(changed) if changed.endswith((".h", ".pxd")) and self.base_objs else [])
        if todo:
            objs = dict(self.base_objs)
            for rel in todo:
                objs[rel] = self._compile(rel)
            self._link(objs)

    def restore(self, changed: str, original: str) -> None:
        with open(os.path.join(self.dir, changed), "w") as f:
            f.write(original)
        if changed in self.base_objs or (changed.endswith((".h", ".pxd")) and self.base_objs):
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
            if line.startswith(("FAILED", "ERROR")):
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
    ap.add_argument("--first", help="comma-separated ids or prefixes to run before the others "
                                    "(e.g. the mutants of a spot just edited)")
    ap.add_argument("--results", help="JSON file of per-mutant results: earlier results there are kept for "
                                      "mutants this run does not rerun, and the report covers them all "
                                      "(run the set in parts, or rerun survivors after adding a test)")
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
        # no C or Cython mutant: reuse the tree's in-place build (seconds, not minutes)
        build = any(m.path.endswith((".c", ".h", ".pyx", ".pxd")) for m in mutants)
        for j in range(jobs):
            ws = Workspace(os.path.join(tmp, f"w{j}"), build=build)
            ws.check_import()
            workspaces.append(ws)
        print(f"built in {time.monotonic() - t_start:.0f} s", flush=True)
        # Each test selection first runs unmutated (its baseline), just before
        # the first mutant that uses it: a selection that fails unmutated would
        # "kill" every mutant. Its mutants are then not run, and no report is written.
        baselines: Dict[Tuple[str, ...], Tuple[str, float, str]] = {}
        lock = threading.Lock()

        def run_one(ws: Workspace, m: Mutant) -> Result:
            if not args.no_baseline:
                with lock:
                    b = baselines.get(m.tests)
                    if b is None:
                        b = baselines[m.tests] = ws.pytest(m.tests, args.timeout)
                        print(f"baseline {' '.join(os.path.basename(t) for t in m.tests)}: {b[0]} ({b[1]:.0f} s)",
                              flush=True)
                        if b[0] != "pass":
                            print(b[2], flush=True)
                if b[0] != "pass":
                    return Result(m, "error", 0.0, "its tests fail unmutated")
            return run_mutant(ws, m, args.timeout)

        results: List[Optional[Result]] = [None] * len(mutants)
        free = list(workspaces)
        first = [k.strip() for k in (args.first or "").split(",") if k.strip()]
        queue = list(enumerate(mutants))
        queue.sort(key=lambda im: not any(im[1].id == k or im[1].id.startswith(k) for k in first))
        with concurrent.futures.ThreadPoolExecutor(jobs) as ex:
            pending = {}
            while queue or pending:
                while queue and free:
                    i, m = queue.pop(0)
                    ws = free.pop()
                    pending[ex.submit(run_one, ws, m)] = (i, ws)
                done, _ = concurrent.futures.wait(pending, return_when=concurrent.futures.FIRST_COMPLETED)
                for f in done:
                    i, ws = pending.pop(f)
                    free.append(ws)
                    r = f.result()
                    results[i] = r
                    print(f"[{sum(x is not None for x in results):3d}/{len(mutants)}] {r.mutant.id:24s} "
                          f"{r.status:8s} {r.seconds:5.0f} s  {r.detail}", flush=True)
        failing = [sel for sel, b in baselines.items() if b[0] != "pass"]
        if failing:
            raise SystemExit("the unmutated tree fails these test selections (fix that first): "
                             + "; ".join(" ".join(sel) for sel in failing))
    finally:
        if args.keep:
            print("scratch copies kept in", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)

    res = [r for r in results if r is not None]
    elapsed = time.monotonic() - t_start
    partial, parts = bool(args.only), 1
    if args.results:
        res, elapsed, parts, partial = _merge_results(args.results, res, elapsed)
    killed, total, pct = score(res)
    tab = table(res)
    survivors = [r.mutant.id for r in res if r.status == "survived"]
    errors = [r.mutant.id for r in res if r.status == "error"]
    summary = (f"**Mutation score: {killed}/{total} killed ({pct:.1f}%)**, {len(survivors)} survived"
               + (f", {len(errors)} did not build (not counted)" if errors else "")
               + f"; {elapsed / 60:.1f} min with --jobs {jobs}"
               + (f", in {parts} runs merged through --results (a later run's result for a mutant replaces"
                  " an earlier one)" if parts > 1 else "") + ".")
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
    if not args.no_report and not partial:
        when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        surv = "\n".join(notes) if notes else "None."
        commit = _commit(args.report)
        with open(args.report, "w") as f:
            f.write(REPORT_HEAD.format(when=when, commit=commit, summary=summary, table=tab, survivors=surv))
        print("report written to", os.path.relpath(args.report, ROOT))
    elif partial and not args.no_report:
        print("not every mutant has a result: no report written (run the rest with the same --results)")
    return 0 if pct >= args.min_score else 1


def _commit(report: str) -> str:
    """The commit the tree is at, and whether the tree has uncommitted edits
    (other than to the report itself)."""
    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short=12", "HEAD") or "unknown"
    rel = os.path.relpath(report, ROOT)
    dirty = [ln for ln in git("status", "--porcelain", "--untracked-files=no").splitlines()
             if ln.split(None, 1)[-1] != rel]
    return f"`{head}`" + (" plus uncommitted edits" if dirty else "")


def _merge_results(path: str, res: List[Result], elapsed: float) -> Tuple[List[Result], float, int, bool]:
    """Merge this run's results into the JSON file at path (results of
    mutants whose text or tests changed since are dropped); return every
    known result in MUTANTS order, the summed run time, the number of runs
    merged, and whether some mutant has none."""
    import json

    old: Dict[str, dict] = {}
    spent = 0.0
    if os.path.exists(path):
        with open(path) as f:
            data = json.load(f)
        old, spent, parts = data.get("results", {}), data.get("seconds", 0.0), data.get("parts", 0)
    else:
        parts = 0
    for r in res:
        m = r.mutant
        old[m.id] = {"status": r.status, "seconds": r.seconds, "detail": r.detail,
                     "key": [m.path, m.old, m.new, list(m.tests)]}
    spent += elapsed
    with open(path, "w") as f:
        json.dump({"results": old, "seconds": spent, "parts": parts + 1}, f, indent=1)
    merged = []
    for m in MUTANTS:
        o = old.get(m.id)
        if o and o["key"] == [m.path, m.old, m.new, list(m.tests)]:
            merged.append(Result(m, o["status"], o["seconds"], o["detail"]))
    return merged, spent, parts + 1, len(merged) < len(MUTANTS)


REPORT_HEAD = """# Mutation testing report

Generated by `python scripts/mutate.py` on {when}, for commit {commit}. Rerun it whenever a spot
changes (the parser, the row-span writer, the ops, `rle_parse_batch.c`, the `.pyx`
glue and `_mask.pyx`, `mask.py`, `api.py`, the SA-1B ordering, the CUDA kernels,
`rle_resize.c`, `rle_render.c`; the CLI, `jobs/`, `sa1b/`, `viz/`, `compat.py`,
`transforms.py`, `_args.py`; `rle_eval.c` and `cocoeval.py`, `rle_contour.c` and
`geometry/polygons.py`, `rle_components.c` and `geometry/regions.py`, `rle_encode.cuh`
and `gpu/encoder.py`, `cli/polygons.py`) and commit the new report.
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
