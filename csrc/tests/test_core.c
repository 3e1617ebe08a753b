/* C-level tests of the core, with no Python: round trips against naive
 * reference loops on random masks, and every validation error.
 * Build: make -C csrc test */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "../rle.h"
#include "../rle_transform.h"
#include "../rle_internal.h"
#include "../rle_platform.h"
#include "../rle_compat.h"
#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#endif

static int failures = 0;
#define CHECK(cond, ...)                                                                                               \
  do {                                                                                                                 \
    if (!(cond)) {                                                                                                     \
      failures++;                                                                                                      \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                                             \
      fprintf(stderr, __VA_ARGS__);                                                                                    \
      fprintf(stderr, "\n");                                                                                           \
    }                                                                                                                  \
  } while (0)

static uint64_t rng = 88172645463325252ull;
static uint64_t rnd(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

/* random blobby column-major mask: runs of random length */
static void random_mask(uint8_t *f, uint64_t h, uint64_t w, int style) {
  uint64_t i = 0, hw = h * w;
  uint8_t v = (uint8_t)(rnd() & 1);
  while (i < hw) {
    uint64_t len = style == 0 ? 1 + rnd() % 7 : 1 + rnd() % (h * 3 + 1);
    if (style == 2 && v == 0) len = hw / 3 + 1;
    while (len-- && i < hw) f[i++] = v;
    v = !v;
  }
}

static void naive_decode(const uint32_t *c, int64_t m, uint8_t *f) {
  uint64_t p = 0;
  int64_t j;
  uint32_t k;
  for (j = 0; j < m; j++)
    for (k = 0; k < c[j]; k++) f[p++] = (uint8_t)(j & 1);
}

static void test_roundtrip(uint64_t h, uint64_t w, int style) {
  uint64_t hw = h * w, y, x;
  uint8_t *f = malloc(hw + 1), *c = malloc(hw + 1), *back = malloc(hw + 1), *rm = malloc(hw + 1);
  uint32_t *cnts = malloc(sizeof(uint32_t) * (hw + 1)), *cnts2 = NULL, *parsed;
  int64_t m, m2, cap2 = 0, mp, len;
  char *s;
  frle_scratch *scr = frle_scratch_new();
  frle_error err;
  random_mask(f, h, w, style);
  {
    uint32_t *grown = NULL;
    int64_t gcap = 0;
    m = frle_encode_colmajor(f, hw, 0, &grown, &gcap);
    memcpy(cnts, grown, (size_t)m * sizeof(uint32_t));
    free(grown);
  }
  naive_decode(cnts, m, back);
  CHECK(memcmp(f, back, hw) == 0, "colmajor encode/decode %llux%llu", (unsigned long long)h, (unsigned long long)w);
  /* row-major copy of f */
  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++) c[y * w + x] = f[x * h + y];
  m2 = frle_encode_rowmajor(c, h, w, (int64_t)w, 0, &cnts2, &cap2, scr);
  CHECK(m2 == m && memcmp(cnts, cnts2, (size_t)m * 4) == 0, "rowmajor encode %llux%llu m=%lld m2=%lld",
        (unsigned long long)h, (unsigned long long)w, (long long)m, (long long)m2);
  memset(rm, 0xAB, hw);
  CHECK(frle_decode_rowmajor(cnts, m, h, w, rm, 0, scr) == FRLE_OK, "decode rc");
  CHECK(memcmp(rm, c, hw) == 0, "rowmajor decode %llux%llu style %d", (unsigned long long)h, (unsigned long long)w,
        style);
  memset(rm, 0, hw);
  frle_decode_rowmajor(cnts, m, h, w, rm, 1, scr);
  CHECK(memcmp(rm, c, hw) == 0, "rowmajor zeroed decode");
  s = malloc((size_t)frle_string_bound(m) + 1);
  len = frle_to_string(cnts, m, s);
  parsed = malloc(sizeof(uint32_t) * (size_t)(len + 1));
  CHECK(frle_parse(s, len, hw, 1, parsed, &mp, &err) == FRLE_OK, "parse rc %d", err.code);
  CHECK(mp == m && memcmp(parsed, cnts, (size_t)m * 4) == 0, "string round trip");
  free(f);
  free(c);
  free(back);
  free(rm);
  free(cnts);
  free(cnts2);
  free(parsed);
  free(s);
  frle_scratch_free(scr);
}

/* Outputs of at least 1 MiB take the bit-band decode (or, without the
 * AVX-512 block kernel, row spans for masks of long runs): sizes around its
 * limits, bands and blocks cut short, against a naive transpose. Run once
 * per FRLE_ISA cap, so the scalar and AVX-512 block kernels both run. */
static void test_bitband(void) {
  uint64_t sizes[][2] = {{1025, 1023}, {1088, 1000}, {1089, 963}, {257, 4096}, {130, 8192}, {129, 8193}, {2, 600000}};
  size_t i;
  int style;
  frle_scratch *scr = frle_scratch_new();
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    for (style = 0; style < 4; style++) {
      uint64_t h = sizes[i][0], w = sizes[i][1], hw = h * w, y, x, k;
      uint8_t *f = malloc(hw), *c = malloc(hw), *rm = malloc(hw);
      uint32_t *cnts = NULL;
      int64_t cap = 0, m;
      if (style < 3) {
        random_mask(f, h, w, style);
      } else { /* full columns, a full band and one-pixel corners */
        memset(f, 0, hw);
        for (k = 0; k < hw; k++) f[k] = (k / h) % 5 == 0 || (k % h) / 64 == 1;
        f[0] = f[hw - 1] = 1;
      }
      m = frle_encode_colmajor(f, hw, 0, &cnts, &cap);
      for (y = 0; y < h; y++)
        for (x = 0; x < w; x++) c[y * w + x] = f[x * h + y];
      memset(rm, 0xAB, hw);
      CHECK(frle_decode_rowmajor(cnts, m, h, w, rm, 0, scr) == FRLE_OK, "bitband decode rc");
      CHECK(memcmp(rm, c, hw) == 0, "bitband decode %llux%llu style %d", (unsigned long long)h, (unsigned long long)w,
            style);
      memset(rm, 0, hw);
      CHECK(frle_decode_rowmajor(cnts, m, h, w, rm, 1, scr) == FRLE_OK, "bitband zeroed rc");
      CHECK(memcmp(rm, c, hw) == 0, "bitband zeroed decode %llux%llu style %d", (unsigned long long)h,
            (unsigned long long)w, style);
      free(f);
      free(c);
      free(rm);
      free(cnts);
    }
  }
  frle_scratch_free(scr);
}

/* Row spans of masks with few runs and a huge side take memory for their
 * runs, not for the side: an empty 0 x (2^32 - 1) mask, and one pixel of a
 * 2 x 2^30 mask (a fuzzed decode_ragged once ran out of memory here). */
static void test_transitions_memory(void) {
  frle_scratch *scr = frle_scratch_new();
  uint32_t empty[1] = {0}, one[3] = {5, 1, 0};
  one[2] = (uint32_t)((2ull << 30) - 6);
  CHECK(frle_row_transitions(empty, 1, 0, 0xFFFFFFFFull, scr) == FRLE_OK, "0 x 2^32-1: rc");
  CHECK(frle_row_transitions(one, 3, 2, 1ull << 30, scr) == FRLE_OK, "2 x 2^30: rc");
  CHECK(scr->tr_cap < 4096 && scr->seg_cap < 4096, "2 x 2^30, one pixel: %lld and %lld words reserved",
        (long long)scr->tr_cap, (long long)scr->seg_cap);
  CHECK(scr->ylo == 1 && scr->yhi == 2 && scr->row[1] == 2 && scr->tr[0] == 2 && scr->tr[1] == 3,
        "2 x 2^30, one pixel: its span");
  frle_scratch_free(scr);
}

static int parse_code(const char *s, uint64_t hw) {
  uint32_t cn[64];
  int64_t m;
  frle_error err;
  return frle_parse(s, (int64_t)strlen(s), hw, 1, cn, &m, &err);
}

static void test_errors(void) {
  uint32_t cn[8];
  int64_t m;
  frle_error err;
  CHECK(parse_code("52", 7) == FRLE_OK, "valid");
  CHECK(parse_code("52", 8) == FRLE_ERR_SUM_SHORT, "short");
  CHECK(parse_code("52", 6) == FRLE_ERR_SUM_LONG, "long");
  CHECK(parse_code("5~", 7) == FRLE_ERR_CHAR, "char");
  CHECK(parse_code("5P", 7) == FRLE_ERR_TRUNCATED, "truncated"); /* 'P'-48 = 0x20 */
  CHECK(parse_code("5@", 7) == FRLE_ERR_NEGATIVE, "negative"); /* "@" = 16: sign bit, -16 */
  CHECK(parse_code("PPPPPPPPPPPP0", 7) == FRLE_ERR_VARINT_LONG, "long varint");
  CHECK(frle_parse("5\0002", 3, 7, 1, cn, &m, &err) == FRLE_ERR_NUL && err.pos == 1, "nul");
  CHECK(parse_code("", 0) == FRLE_OK, "empty string, empty image");
  {
    uint64_t hw;
    CHECK(frle_check_size(65536, 65536, &hw) == FRLE_ERR_SIZE, "2^32 pixels");
    CHECK(frle_check_size(65535, 65537, &hw) == FRLE_OK && hw == 0xFFFFFFFFull, "2^32-1 pixels");
  }
  {
    /* batch: the second mask is bad, nothing may be written */
    frle_src src[3];
    uint8_t out[3 * 6];
    memset(out, 7, sizeof(out));
    src[0].str = "6";
    src[0].len = 1;
    src[1].str = "5";
    src[1].len = 1;
    src[2].str = "6";
    src[2].len = 1;
    CHECK(frle_decode_batch(src, 3, 2, 3, out, 'C', 0, 2, &err) == FRLE_ERR_SUM_SHORT && err.index == 1,
          "batch error index %lld", (long long)err.index);
    for (m = 0; m < 18; m++) CHECK(out[m] == 7, "batch wrote before validating");
  }
}

/* decode_transform against a naive reference built from the dense mask and
 * frle_nearest_src: every nearest mode, flip and packing, into a strided
 * view; area against exact coverage computed in doubles. */
static void test_transform(uint64_t h, uint64_t w, uint64_t oh, uint64_t ow) {
  uint64_t hw = h * w, y, x, k;
  uint8_t *f = malloc(hw), *c = malloc(hw);
  uint32_t *cnts = NULL;
  int64_t cap = 0, m, stride = (int64_t)ow * 4 + 8;
  uint8_t *out = malloc((size_t)(2 * oh * (uint64_t)stride)), *ref = malloc(oh * ow);
  int mode, flip, packed;
  frle_src src[2];
  frle_error err;
  random_mask(f, h, w, (int)(rnd() % 3));
  for (y = 0; y < h; y++)
    for (x = 0; x < w; x++) c[y * w + x] = f[x * h + y];
  m = frle_encode_colmajor(f, hw, 0, &cnts, &cap);
  memset(src, 0, sizeof(src));
  src[0].cnts = cnts;
  src[0].m = m;
  src[1] = src[0];
  for (mode = 0; mode < 3; mode++)
    for (flip = 0; flip < 4; flip++)
      for (packed = 0; packed < 2; packed++) {
        frle_xform xf;
        uint64_t r, q;
        if (mode == FRLE_AREA && (packed || oh > h || ow > w)) continue;
        memset(&xf, 0, sizeof(xf));
        xf.oh = oh;
        xf.ow = ow;
        xf.mode = mode;
        xf.flip_h = flip & 1;
        xf.flip_v = flip >> 1;
        xf.packed = packed;
        xf.little = (int)(rnd() & 1);
        xf.out = out;
        xf.mask_stride = (int64_t)oh * stride;
        xf.row_stride = stride;
        memset(out, 0xA5, (size_t)(2 * oh * (uint64_t)stride));
        CHECK(frle_decode_transform(src, 2, h, w, &xf, 2, &err) == FRLE_OK, "transform rc");
        for (k = 0; k < 2; k++)
          for (r = 0; r < oh; r++) {
            const uint8_t *row = out + k * oh * (uint64_t)stride + r * (uint64_t)stride;
            uint64_t ry = xf.flip_v ? oh - 1 - r : r;
            for (q = 0; q < ow; q++) {
              uint64_t qx = xf.flip_h ? ow - 1 - q : q;
              if (mode == FRLE_AREA) {
                double y0 = (double)ry * h / oh, y1 = (double)(ry + 1) * h / oh, sum = 0, v;
                double x0 = (double)qx * w / ow, x1 = (double)(qx + 1) * w / ow;
                float got;
                uint64_t yy, xx;
                for (yy = (uint64_t)y0; yy < h && (double)yy < y1; yy++)
                  for (xx = (uint64_t)x0; xx < w && (double)xx < x1; xx++) {
                    double oy = (y1 < yy + 1 ? y1 : yy + 1) - (y0 > yy ? y0 : yy);
                    double ox = (x1 < xx + 1 ? x1 : xx + 1) - (x0 > xx ? x0 : xx);
                    if (oy > 0 && ox > 0) sum += oy * ox * c[yy * w + xx];
                  }
                v = sum / (((double)h / oh) * ((double)w / ow));
                memcpy(&got, row + q * 4, 4);
                CHECK(got - v < 1e-5 && v - got < 1e-5, "area %llux%llu->%llux%llu", (unsigned long long)h,
                      (unsigned long long)w, (unsigned long long)oh, (unsigned long long)ow);
              } else {
                int small = frle_nearest_small((int64_t)oh, (int64_t)ow);
                uint8_t want = c[frle_nearest_src((int64_t)ry, (int64_t)h, (int64_t)oh, mode, small) * w +
                                 frle_nearest_src((int64_t)qx, (int64_t)w, (int64_t)ow, mode, small)];
                uint8_t got = packed ? (uint8_t)((row[q >> 3] >> (xf.little ? (q & 7) : 7 - (q & 7))) & 1) : row[q];
                CHECK(got == want, "nearest mode %d flip %d packed %d", mode, flip, packed);
              }
            }
            if (packed && (ow & 7))
              CHECK((row[ow >> 3] & (xf.little ? (0xFF << (ow & 7)) : (0xFF >> (ow & 7)))) == 0, "pad bits");
            CHECK(row[stride - 1] == 0xA5, "wrote past the row");
          }
      }
  {
    /* a bad second mask: nothing written */
    frle_xform xf;
    frle_src bad[2];
    memset(&xf, 0, sizeof(xf));
    xf.oh = oh;
    xf.ow = ow;
    xf.out = out;
    xf.mask_stride = (int64_t)oh * stride;
    xf.row_stride = stride;
    bad[0] = src[0];
    memset(&bad[1], 0, sizeof(bad[1]));
    bad[1].str = "0";
    bad[1].len = 1;
    memset(out, 0xA5, (size_t)(2 * oh * (uint64_t)stride));
    CHECK(hw == 0 || frle_decode_transform(bad, 2, h, w, &xf, 2, &err) != FRLE_OK, "bad mask accepted");
    for (k = 0; k < 2 * oh * (uint64_t)stride; k++)
      if (out[k] != 0xA5) {
        CHECK(0, "wrote before validating");
        break;
      }
  }
  free(f);
  free(c);
  free(cnts);
  free(out);
  free(ref);
}

/* A random string: valid counts written by frle_to_string (deltas of every
 * width: 1-3 chars mostly, some 4-7), then maybe damaged. */
static char *random_counts_string(int64_t *len, uint64_t *sum) {
  int64_t m = (int64_t)(rnd() % 400), i;
  uint32_t *c = malloc(sizeof(uint32_t) * (size_t)(m + 1));
  char *s, *out;
  *sum = 0;
  for (i = 0; i < m; i++) {
    uint64_t r = rnd(), kind = r % 16;
    uint32_t base = i >= 2 ? c[i - 2] : 0;
    int64_t d = kind < 8    ? (int64_t)(r >> 8) % 24 - 12
                : kind < 12 ? (int64_t)(r >> 8) % 1000 - 500
                : kind < 15 ? (int64_t)(r >> 8) % 30000 - 15000
                            : (int64_t)((r >> 8) % 5000000);
    int64_t v = (int64_t)base + d;
    c[i] = (uint32_t)(v < 0 ? -v : v);
    *sum += c[i];
  }
  s = malloc((size_t)frle_string_bound(m) + 1);
  *len = frle_to_string(c, m, s);
  free(c);
  /* damage: a flipped byte, a bad byte, a cut, a long run of continuations */
  if (*len && rnd() % 4 == 0) {
    int64_t p = (int64_t)(rnd() % (uint64_t)*len);
    switch (rnd() % 4) {
      case 0: s[p] = (char)(48 + rnd() % 64); break;
      case 1: s[p] = (char)(rnd() % 256); break;
      case 2: *len = p; break;
      default: {
        int64_t k = 1 + (int64_t)(rnd() % 14);
        for (; k && p < *len; k--, p++) s[p] = (char)(48 + 32 + rnd() % 32);
      }
    }
  }
  out = malloc((size_t)*len + 1); /* exactly len bytes (+1 for empty): sanitizers see over-reads */
  memcpy(out, s, (size_t)*len);
  free(s);
  return out;
}

/* Every vector parse kernel this CPU runs gives the scalar parse's counts,
 * and declines exactly the input the scalar parse rejects. */
static void test_parse_kernels(void) {
  int it, lvl, strict, ran[FRLE_ISA_MAX + 1] = {0};
  for (it = 0; it < 20000; it++) {
    int64_t len, ms, mf, i;
    uint64_t sum, hw;
    char *s = random_counts_string(&len, &sum);
    uint32_t *ref = malloc(sizeof(uint32_t) * (size_t)(len + 1));
    uint32_t *got = malloc(sizeof(uint32_t) * (size_t)(len + 8));
    frle_error err;
    int canon, rs, rf;
    hw = sum + (it % 7 == 0 ? (rnd() % 3) - 1 : 0);
    for (strict = 0; strict < 2; strict++) {
      rs = frle_parse_canonical(s, len, hw, strict, ref, &ms, &err, &canon); /* always scalar */
      for (lvl = FRLE_ISA_SSE41; lvl <= FRLE_ISA_MAX; lvl++) {
        for (i = 0; i < len + 8; i++) got[i] = 0xA5A5A5A5u;
        rf = frle_parse_fast_isa(lvl, s, len, hw, strict, got, &mf);
        if (rf < 0) continue;
        ran[lvl]++;
        CHECK(rf == (rs == FRLE_OK) || (strict && hw >= 0x7fffffffull && rf == 0),
              "kernel %d strict %d: fast %d, scalar %d (len %lld)", lvl, strict, rf, rs, (long long)len);
        if (rf == 1)
          CHECK(mf == ms && !memcmp(got, ref, sizeof(uint32_t) * (size_t)ms),
                "kernel %d strict %d: counts differ (len %lld)", lvl, strict, (long long)len);
        for (i = len; i < len + 8; i++) CHECK(got[i] == 0xA5A5A5A5u, "kernel %d wrote past len", lvl);
      }
      /* frle_parse, whatever kernel it picked, reports the scalar's result */
      CHECK(frle_parse(s, len, hw, strict, got, &mf, &err) == rs, "frle_parse status");
      if (rs == FRLE_OK) CHECK(mf == ms && !memcmp(got, ref, sizeof(uint32_t) * (size_t)ms), "frle_parse counts");
    }
    free(s);
    free(ref);
    free(got);
  }
  /* a bad byte at every offset, alone or as the 2nd or 3rd char of a varint
   * (where a block's read-ahead and the resume after the last block meet) */
  for (it = 0; it < 3 * 130; it++) {
    int64_t len = 40 + it / 3 % 10 * 9, p = (it / 3) % len, mf, k;
    char *s = malloc((size_t)len);
    uint32_t *got = malloc(sizeof(uint32_t) * (size_t)len);
    memset(s, '1', (size_t)len);
    for (k = 0; k < it % 3 && p + k < len; k++) s[p + k] = 'Q'; /* 0x21: a continued chunk of 1 */
    if (p + k < len) s[p + k] = (char)(k == 1 ? 0 : k == 2 ? '~' : '/');
    for (strict = 0; strict < 2; strict++)
      for (lvl = FRLE_ISA_SSE41; lvl <= FRLE_ISA_MAX; lvl++)
        CHECK(frle_parse_fast_isa(lvl, s, len, (uint64_t)len, strict, got, &mf) <= 0,
              "kernel %d accepted a bad byte at %lld of %lld", lvl, (long long)(p + k), (long long)len);
    free(s);
    free(got);
  }
  printf("parse kernels: in use %s; sse41 ran %d, avx2 ran %d, avx512 ran %d, neon ran %d\n", frle_parse_isa(), ran[1],
         ran[2], ran[3], ran[4]);
#ifdef FRLE_NEON_KERNELS
  /* AArch64 always has NEON: its kernel must have run, and be the one in use */
  CHECK(ran[FRLE_ISA_NEON] > 0, "the NEON parse kernel never ran");
  if (!getenv("FRLE_ISA")) CHECK(!strcmp(frle_parse_isa(), "neon"), "parse kernel in use: %s", frle_parse_isa());
#endif
}

/* rle_compat.h's bit scans and popcounts (the builtins, MSVC's intrinsics
 * or the plain-C versions, whichever this build has) against bit loops. */
static void test_compat_bits(void) {
  int it, b, ctz, clz, pop;
  for (it = 0; it < 20000; it++) {
    uint64_t x = rnd() >> (rnd() % 64);
    if (it < 64) x = 1ull << it;
    if (!x) continue;
    for (ctz = 0; !((x >> ctz) & 1); ctz++) {}
    for (clz = 0; !((x << clz) >> 63); clz++) {}
    for (pop = 0, b = 0; b < 64; b++) pop += (int)((x >> b) & 1);
    CHECK(frle_ctz64(x) == ctz && frle_clz64(x) == clz && frle_popcount64(x) == pop, "bits of %llx",
          (unsigned long long)x);
    if ((uint32_t)x) {
      uint32_t y = (uint32_t)x;
      for (ctz = 0; !((y >> ctz) & 1); ctz++) {}
      for (pop = 0, b = 0; b < 32; b++) pop += (int)((y >> b) & 1);
      CHECK(frle_ctz32(y) == ctz && frle_popcount32(y) == pop, "bits of %x", (unsigned)y);
    }
  }
}

/* Zeroed pages: zero, writable, for sizes around a page and a huge page. */
static void test_alloc_zeroed(void) {
  size_t sizes[] = {1, 4095, 4096, 4097, 100000, (size_t)3 << 20};
  size_t i, k;
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
    uint8_t *p = frle_alloc_zeroed(sizes[i]);
    size_t nz = 0;
    CHECK(p != NULL, "frle_alloc_zeroed(%zu)", sizes[i]);
    if (!p) continue;
    for (k = 0; k < sizes[i]; k++) nz += p[k] != 0;
    CHECK(nz == 0, "frle_alloc_zeroed(%zu): %zu non-zero bytes", sizes[i], nz);
    memset(p, 0xA5, sizes[i]);
    frle_free_zeroed(p, sizes[i]);
  }
  frle_free_zeroed(NULL, 0);
}

/* The cpuid probe against the compiler's own (GCC and Clang on x86). */
static void test_cpu_probe(void) {
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
  struct {
    unsigned bit;
    int has;
    const char *name;
  } f[] = {{FRLE_CPU_SSE41, __builtin_cpu_supports("sse4.1"), "sse4.1"},
           {FRLE_CPU_POPCNT, __builtin_cpu_supports("popcnt"), "popcnt"},
           {FRLE_CPU_AVX2, __builtin_cpu_supports("avx2"), "avx2"},
           {FRLE_CPU_BMI2, __builtin_cpu_supports("bmi2"), "bmi2"},
           {FRLE_CPU_AVX512F, __builtin_cpu_supports("avx512f"), "avx512f"},
           {FRLE_CPU_AVX512BW, __builtin_cpu_supports("avx512bw"), "avx512bw"},
           {FRLE_CPU_AVX512VL, __builtin_cpu_supports("avx512vl"), "avx512vl"},
           {FRLE_CPU_AVX512VBMI2, __builtin_cpu_supports("avx512vbmi2"), "avx512vbmi2"}};
  size_t i;
  __builtin_cpu_init();
  for (i = 0; i < sizeof(f) / sizeof(f[0]); i++)
    CHECK(frle_cpu_has(f[i].bit) == !!f[i].has, "cpuid probe: %s %d, compiler %d", f[i].name, frle_cpu_has(f[i].bit),
          !!f[i].has);
  CHECK(!frle_cpu_has(FRLE_CPU_NEON), "NEON on x86");
#elif defined(__aarch64__) || defined(_M_ARM64)
  CHECK(frle_cpu_has(FRLE_CPU_NEON), "no NEON on AArch64");
#endif
}

static void mark_range(void *ctx, int64_t b, int64_t e, int tid) {
  int *seen = (int *)ctx;
  (void)tid;
  for (; b < e; b++) seen[b]++;
}

/* Threads that cannot start: their ranges run on the caller's thread, so
 * every index is visited once and a batch decodes to the 1-thread bytes. */
static void test_thread_fallback(void) {
  enum { N = 1000, K = 37, H = 23, W = 19 };
  int limits[] = {-1, 0, 1, 3}, *seen = calloc(N, sizeof(int)), li, i, nt;
  uint8_t *masks = malloc((size_t)K * H * W), *ref = malloc((size_t)K * H * W), *got = malloc((size_t)K * H * W);
  uint32_t **cnts = calloc(K, sizeof(uint32_t *));
  frle_src src[K];
  frle_error err;
  for (i = 0; i < K; i++) {
    int64_t cap = 0;
    random_mask(masks + (size_t)i * H * W, H, W, i % 3);
    src[i].str = NULL;
    src[i].len = 0;
    src[i].m = frle_encode_colmajor(masks + (size_t)i * H * W, H * W, 1, &cnts[i], &cap);
    src[i].cnts = cnts[i];
  }
  printf("threads: default %d\n", frle_default_threads());
  CHECK(frle_thread_count(0, 5) >= 1 && frle_thread_count(1000, 5) == 5 &&
          frle_thread_count(1000, 100000) == FRLE_MAX_THREADS && frle_thread_count(3, 0) == 1,
        "frle_thread_count");
  CHECK(frle_decode_batch(src, K, H, W, ref, 'C', 0, 1, &err) == FRLE_OK, "batch rc (1 thread)");
  for (li = 0; li < 4; li++) {
    frle_threads_fail_after(limits[li]);
    for (nt = 1; nt <= 9; nt += 4) {
      memset(seen, 0, N * sizeof(int));
      frle_parallel_for(N, nt, mark_range, seen);
      for (i = 0; i < N; i++)
        if (seen[i] != 1) {
          CHECK(0, "index %d run %d times (limit %d, %d threads)", i, seen[i], limits[li], nt);
          break;
        }
      memset(got, 0xA5, (size_t)K * H * W);
      CHECK(frle_decode_batch(src, K, H, W, got, 'C', 0, nt, &err) == FRLE_OK, "batch rc");
      CHECK(!memcmp(got, ref, (size_t)K * H * W), "batch with threads failing to start (limit %d, %d threads)",
            limits[li], nt);
    }
  }
  frle_threads_fail_after(-1);
  for (i = 0; i < K; i++) free(cnts[i]);
  free(cnts);
  free(seen);
  free(masks);
  free(ref);
  free(got);
}

static int isa_level_of(const char *name) {
  if (!strcmp(name, "neon")) return 4;
  if (!strcmp(name, "avx512")) return 3;
  if (!strcmp(name, "avx2")) return 2;
  if (!strcmp(name, "sse41")) return 1;
  return 0; /* scalar; the fill's "sse2" is its baseline */
}

/* FRLE_ISA caps every kernel: the parse kernel and the decode's line fill. */
static void test_isa_cap(void) {
  const char *cap = getenv("FRLE_ISA"), *parse = frle_parse_isa(), *fill = frle_fill_isa();
  printf("kernels: parse %s, decode fill %s (FRLE_ISA=%s)\n", parse, fill, cap ? cap : "");
#ifdef FRLE_NEON_KERNELS
  if (!cap) CHECK(!strcmp(parse, "neon") && !strcmp(fill, "neon"), "AArch64: parse %s, fill %s", parse, fill);
#endif
  if (!cap) return;
  CHECK(isa_level_of(parse) <= isa_level_of(cap), "parse kernel %s above FRLE_ISA=%s", parse, cap);
  CHECK(isa_level_of(fill) <= isa_level_of(cap), "decode fill %s above FRLE_ISA=%s", fill, cap);
  if (!strcmp(cap, "scalar")) {
    CHECK(!strcmp(parse, "scalar"), "FRLE_ISA=scalar: parse kernel %s", parse);
    CHECK(!strcmp(fill, "sse2") || !strcmp(fill, "scalar"), "FRLE_ISA=scalar: decode fill %s", fill);
  }
}

/* test_core --kernels: only the FRLE_ISA checks (run once per FRLE_ISA value). */
/* Column-major mask -> runs (background first), into c; returns m. */
static int64_t naive_runs(const uint8_t *f, uint64_t hw, uint32_t *c) {
  int64_t m = 0;
  uint64_t i = 0;
  uint8_t v = 0;
  while (i < hw || m == 0) {
    uint32_t n = 0;
    while (i < hw && f[i] == v) n++, i++;
    c[m++] = n;
    v = !v;
    if (i >= hw) break;
  }
  return m;
}

/* frle_iou_runs_few (boxes given or computed) against frle_iou_runs, bit
 * for bit: random masks (some empty, some full, some of another size),
 * random crowd flags. */
static void test_iou_few(void) {
  enum { ND = 9, NG = 5, MAXHW = 40 * 40 };
  static uint8_t f[MAXHW];
  static uint32_t runs[ND + NG][MAXHW + 2];
  const uint32_t *cp[ND + NG];
  int64_t m[ND + NG];
  uint64_t hs[ND + NG], ws[ND + NG];
  double box[4 * (ND + NG)], want[ND * NG], got[ND * NG], got2[ND * NG];
  uint8_t crowd[NG];
  int round;
  for (round = 0; round < 300; round++) {
    uint64_t h = 1 + rnd() % 40, w = 1 + rnd() % 40;
    frle_runs rd, rg;
    int k;
    for (k = 0; k < ND + NG; k++) {
      uint64_t r = rnd() % 8, hk = (r == 0 && h > 1) ? h - 1 : h, wk = (r == 1 && w > 1) ? w - 1 : w, j;
      int kind = (int)(rnd() % 8);
      hs[k] = hk;
      ws[k] = wk;
      random_mask(f, hk, wk, (int)(rnd() % 3));
      for (j = 0; j < hk * wk; j++) f[j] = kind == 0 ? 0 : kind == 1 ? 1 : f[j];
      m[k] = naive_runs(f, hk * wk, runs[k]);
      cp[k] = runs[k];
      frle_bbox_coco(runs[k], m[k], hk, wk, box + 4 * k);
    }
    for (k = 0; k < NG; k++) crowd[k] = (uint8_t)(rnd() % 3 == 0);
    rd.cnts = cp;
    rd.m = m;
    rd.h = hs;
    rd.w = ws;
    rd.n = ND;
    rg.cnts = cp + ND;
    rg.m = m + ND;
    rg.h = hs + ND;
    rg.w = ws + ND;
    rg.n = NG;
    /* odd rounds with crowd flags, even ones without */
    const uint8_t *cr = round % 2 ? crowd : NULL;
    CHECK(frle_iou_runs(&rd, &rg, cr, want, 1) == FRLE_OK, "iou_runs");
    CHECK(frle_iou_runs_few(&rd, &rg, NULL, NULL, cr, got) == FRLE_OK, "iou_runs_few");
    CHECK(frle_iou_runs_few(&rd, &rg, box, box + 4 * ND, cr, got2) == FRLE_OK, "iou_runs_few, boxes given");
    CHECK(!memcmp(want, got, sizeof(want)), "iou_runs_few, round %d", round);
    CHECK(!memcmp(want, got2, sizeof(want)), "iou_runs_few with boxes, round %d", round);
  }
}

/* ---- the thread pool ---------------------------------------------------- */

/* Per index, how often a range covered it; per tid, how often it ran, with
 * which bounds and on which thread (the address of a thread-local). */
typedef struct {
  int64_t n, *hits, tid_runs[FRLE_MAX_THREADS], bad_bounds;
  const void *where[FRLE_MAX_THREADS];
  int64_t inside, crowd; /* ranges running now; set when 3 ran at once */
  int k, nested, slow_tid, crowd_wait;
  uint8_t *out; /* each index's byte written by its range: read after return */
} pool_job;

#ifdef __GNUC__
static __thread int thread_mark;
#define THREAD_ID ((const void *)&thread_mark)
#define HAVE_THREAD_ID 1
#else
#define THREAD_ID NULL
#define HAVE_THREAD_ID 0
#endif

static void pool_count_range(void *ctx, int64_t b, int64_t e, int tid) {
  pool_job *j = (pool_job *)ctx;
  int64_t i;
  if (tid < 0 || tid >= j->k || b != j->n * tid / j->k || e != j->n * (tid + 1) / j->k)
    frle_fetch_add64(&j->bad_bounds, 1);
  else {
    frle_fetch_add64(&j->tid_runs[tid], 1);
    j->where[tid] = THREAD_ID;
  }
  if (j->crowd_wait) { /* stay up to 20 ms of CPU time, or until 3 ranges run at once */
    clock_t end = clock() + CLOCKS_PER_SEC / 50;
    if (frle_fetch_add64(&j->inside, 1) >= 2) frle_fetch_add64(&j->crowd, 1);
    while (!frle_fetch_add64(&j->crowd, 0) && clock() < end) {}
    frle_fetch_add64(&j->inside, -1);
  }
  if (tid == j->slow_tid) { /* a long range: the others finish first and wait for it */
    volatile uint64_t x = 0;
    for (i = 0; i < 2000000; i++) x += (uint64_t)i;
  }
  for (i = b; i < e; i++) {
    frle_fetch_add64(&j->hits[i], 1);
    j->out[i] = (uint8_t)(i * 7 + 1);
  }
  if (j->nested) { /* a range that calls frle_parallel_for: the pool is taken */
    pool_job in;
    int64_t hits[64] = {0};
    uint8_t out[64];
    int t;
    memset(&in, 0, sizeof(in));
    in.n = 64;
    in.k = frle_thread_count(3, 64);
    in.hits = hits;
    in.out = out;
    in.slow_tid = -1;
    frle_parallel_for(64, 3, pool_count_range, &in);
    for (i = 0; i < 64; i++)
      if (hits[i] != 1 || out[i] != (uint8_t)(i * 7 + 1)) frle_fetch_add64(&j->bad_bounds, 1);
    for (t = 0; t < in.k; t++)
      if (in.tid_runs[t] != 1) frle_fetch_add64(&j->bad_bounds, 1);
  }
}

/* One call checked: every index once, every range once with its bounds,
 * everything it wrote seen here; range 0 on the caller's thread. Returns
 * the number of distinct threads that ran ranges (0 when unknown); with
 * crowd_wait, 3 when 3 ranges ran at once. */
static int pool_call_crowd(int64_t n, int nt, int nested, int slow_tid, int crowd_wait, const char *what) {
  pool_job j;
  int64_t i;
  int t, distinct = 0, u;
  memset(&j, 0, sizeof(j));
  j.n = n;
  j.k = frle_thread_count(nt, n);
  j.hits = calloc((size_t)n, sizeof(int64_t));
  j.out = calloc((size_t)n, 1);
  j.nested = nested;
  j.slow_tid = slow_tid;
  j.crowd_wait = crowd_wait;
  frle_parallel_for(n, nt, pool_count_range, &j);
  CHECK(!j.bad_bounds, "%s: %lld ranges with wrong bounds (n %lld, %d threads)", what, (long long)j.bad_bounds,
        (long long)n, nt);
  for (i = 0; i < n; i++)
    if (j.hits[i] != 1 || j.out[i] != (uint8_t)(i * 7 + 1)) {
      CHECK(0, "%s: index %lld run %lld times, byte %d (n %lld, %d threads)", what, (long long)i, (long long)j.hits[i],
            j.out[i], (long long)n, nt);
      break;
    }
  for (t = 0; t < j.k; t++) CHECK(j.tid_runs[t] == 1, "%s: range %d run %lld times", what, t, (long long)j.tid_runs[t]);
  CHECK(j.where[0] == THREAD_ID, "%s: range 0 not on the caller's thread", what);
  if (HAVE_THREAD_ID)
    for (t = 0; t < j.k; t++) {
      for (u = 0; u < t && j.where[u] != j.where[t]; u++) {}
      distinct += u == t;
    }
  free(j.hits);
  free(j.out);
  return crowd_wait ? (j.crowd ? 3 : distinct) : distinct;
}

static int pool_call(int64_t n, int nt, int nested, int slow_tid, const char *what) {
  return pool_call_crowd(n, nt, nested, slow_tid, 0, what);
}

/* Range 0 waits (up to 5 s) until another range has run on another thread:
 * a pool that gives a call no worker (a fork child that counts its parent's
 * workers as its own) fails it. */
typedef struct {
  int other; /* set by a range on a thread that is not the caller's */
  const void *caller;
} meet_job;

static void meet_range(void *ctx, int64_t b, int64_t e, int tid) {
  meet_job *m = (meet_job *)ctx;
  (void)b;
  (void)e;
  if (tid == 0) {
    time_t end = time(NULL) + 5;
    while (!frle_load_acquire(&m->other) && time(NULL) < end) {
#if defined(__unix__) || defined(__APPLE__)
      sched_yield(); /* valgrind runs one thread at a time: let the worker in */
#endif
    }
  } else if (THREAD_ID != m->caller) frle_store_release(&m->other, 1);
}

static int pool_meets(void) {
  meet_job m;
  if (!HAVE_THREAD_ID) return 1;
  m.other = 0;
  m.caller = THREAD_ID;
  frle_parallel_for(4, 4, meet_range, &m);
  return frle_load_acquire(&m.other);
}

#if defined(__unix__) || defined(__APPLE__)
static int pool_thread_failures;

static void *pool_caller(void *arg) {
  int i, f0 = failures;
  (void)arg;
  for (i = 0; i < 150; i++) pool_call(1 + i % 97, 2 + i % 5, i % 11 == 0, i % 13 == 0 ? 1 : -1, "concurrent");
  if (failures != f0) frle_store_relaxed(&pool_thread_failures, 1);
  return NULL;
}

#ifndef __aarch64__
static volatile int pool_stop;

static void *pool_churn(void *arg) {
  (void)arg;
  while (!pool_stop) pool_call(200, 3, 0, -1, "churn");
  return NULL;
}
#endif
#endif

static void test_thread_pool(void) {
  int i, spin0 = frle_spin_us(), d;
  printf("threads: spin %d us\n", spin0);
  frle_set_spin_us(-5);
  CHECK(frle_spin_us() == 0, "spin clamps to 0: %d", frle_spin_us());
  frle_set_spin_us(2000000000);
  CHECK(frle_spin_us() == 1000000, "spin clamps to 1 s: %d", frle_spin_us());
  /* spinning and sleeping, each with a slow worker range (the caller waits
   * for it) and a slow range 0 (the workers are done first) */
  for (i = 0; i < 4; i++) {
    frle_set_spin_us(i % 2 ? 0 : 300);
    pool_call(1000, 2, 0, -1, "2 threads");
    pool_call(1000, 5, 0, 3, "slow worker range");
    pool_call(1000, 5, 0, 0, "slow caller range");
    pool_call(3, 9, 0, -1, "fewer items than threads");
    pool_call(1000, 8, 1, -1, "nested calls");
    pool_call(100000, 4, 0, -1, "100000 items");
  }
  frle_set_spin_us(spin0);
  /* fewer helpers than asked: at most 1 thread besides the caller's, or none */
  frle_threads_fail_after(1);
  d = pool_call_crowd(1000, 9, 0, -1, 1, "fail after 1");
  CHECK(d <= 2, "fail after 1: %d threads ran ranges", d);
  frle_threads_fail_after(0);
  d = pool_call_crowd(1000, 9, 0, -1, 1, "fail after 0");
  CHECK(d <= 1, "fail after 0: %d threads ran ranges", d);
  pool_call(1000, 9, 1, -1, "fail after 0, nested");
  frle_threads_fail_after(-1);
  CHECK(pool_meets(), "no range of a 4-thread call ran on another thread");
  frle_threads_stop(); /* stopped, then started afresh by the next call */
  CHECK(pool_meets(), "no range of a 4-thread call ran on another thread after frle_threads_stop");
  frle_threads_stop();
  frle_threads_stop(); /* with no workers */
  pool_call(1000, 3, 0, 1, "after two stops");
#if defined(__unix__) || defined(__APPLE__)
  {
    pthread_t th[4];
    int n = 0;
    for (i = 0; i < 4; i++) n += pthread_create(&th[i], NULL, pool_caller, NULL) == 0;
    for (i = 0; i < n; i++) pthread_join(th[i], NULL);
    CHECK(!pool_thread_failures, "concurrent callers: a call went wrong");
    /* not on AArch64: CI runs it under qemu-user, which asserts (qemu's
     * plugin vcpu init) when a fork child of a threaded process starts threads */
#ifndef __aarch64__
    if (!getenv("FRLE_TEST_NO_FORK")) { /* a fork while another thread's calls use the pool */
      pthread_t churn;
      pool_stop = 0;
      if (!pthread_create(&churn, NULL, pool_churn, NULL)) {
        int hung = 0, bad = 0;
        for (i = 0; i < 40 && !hung && !bad; i++) {
          int st = 0;
          pid_t pid = fork();
          if (pid == 0) {
            alarm(20);
            pool_call(5000, 4, 0, 2, "in a fork child");
            _exit(failures || !pool_meets() ? 3 : 0);
          }
          if (pid < 0) break;
          waitpid(pid, &st, 0);
          hung = WIFSIGNALED(st);
          bad = !hung && WEXITSTATUS(st) != 0;
        }
        pool_stop = 1;
        pthread_join(churn, NULL);
        CHECK(!hung && !bad, "a fork child's threaded call %s (fork %d)", hung ? "hung" : "went wrong", i);
      }
    }
#endif
  }
#endif
}

#if defined(__unix__) || defined(__APPLE__)
static volatile int spare_stop;

static void *spare_churn(void *arg) {
  (void)arg;
  while (!spare_stop) frle_spare_give(frle_spare_take((int64_t)1 << 20, NULL));
  return NULL;
}

/* A fork while another thread takes and gives spare blocks: the child must
 * find the spare lock free (without the fork handlers it inherits it held
 * whenever fork lands inside the other thread's locked section, and spins). */
static void test_spare_fork(void) {
  pthread_t t;
  int i, hung = 0, old;
  /* under valgrind (test_leaks.py sets this) threads take turns, so fork
   * rarely lands in the locked section, and each child's leak check is slow */
  if (getenv("FRLE_TEST_NO_FORK")) return;
  old = (int)frle_spare_limit((int64_t)64 << 20);
  spare_stop = 0;
  if (pthread_create(&t, NULL, spare_churn, NULL)) return;
  for (i = 0; i < 100 && !hung; i++) {
    int st = 0;
    pid_t pid = fork();
    if (pid == 0) {
      alarm(10); /* a child stuck on the lock dies of SIGALRM */
      frle_spare_give(frle_spare_take((int64_t)1 << 20, NULL));
      _exit(0);
    }
    if (pid < 0) break;
    waitpid(pid, &st, 0);
    hung = WIFSIGNALED(st); /* any exit is a finish: under valgrind the child reports the block
                             * the other thread held at the fork as lost, and exits 99 */
  }
  spare_stop = 1;
  pthread_join(t, NULL);
  CHECK(!hung, "a child forked while another thread used the spare blocks did not finish (fork %d)", i);
  frle_spare_limit(old);
  frle_spare_release();
}
#else
static void test_spare_fork(void) {}
#endif

int main(int argc, char **argv) {
  uint64_t sizes[][2] = {{1, 1},   {1, 17},  {17, 1},    {2, 2},     {3, 5},
                         {64, 64}, {65, 63}, {100, 300}, {480, 640}, {1500, 2250}};
  size_t i;
  int style;
  test_isa_cap();
  test_bitband();
  test_transitions_memory();
  if (argc > 1 && !strcmp(argv[1], "--kernels")) {
    if (failures) {
      fprintf(stderr, "%d failures\n", failures);
      return 1;
    }
    printf("test_core --kernels: all passed\n");
    return 0;
  }
  for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
    for (style = 0; style < 3; style++) test_roundtrip(sizes[i][0], sizes[i][1], style);
  for (i = 0; i < 200; i++) test_roundtrip(1 + rnd() % 70, 1 + rnd() % 70, (int)(rnd() % 3));
  test_errors();
  test_compat_bits();
  test_alloc_zeroed();
  test_cpu_probe();
  test_thread_fallback();
  test_thread_pool();
  test_parse_kernels();
  test_iou_few();
  test_spare_fork();
  for (i = 0; i < 150; i++) {
    uint64_t h = 1 + rnd() % 40, w = 1 + rnd() % 40;
    test_transform(h, w, 1 + rnd() % 60, 1 + rnd() % 60);
    test_transform(h, w, 1 + rnd() % h, 1 + rnd() % w);
  }
  test_transform(1, 1, 1, 1);
  test_transform(1, 300, 1, 7);
  test_transform(300, 1, 300, 1);
  frle_threads_stop(); /* no live thread at exit: a leak checker sees every block freed */
  if (failures) {
    fprintf(stderr, "%d failures\n", failures);
    return 1;
  }
  printf("test_core: all passed\n");
  return 0;
}
