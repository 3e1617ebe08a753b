/*
 * pycocotools' area, toBbox, iou and merge computed on runs, without
 * decoding: the one implementation of each, behind both the fast and the
 * general path of fastrle.mask, with pycocotools' results to the bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rle.h"
#include "rle_compat.h"   /* frle_ctz64, frle_popcount64 */
#include "rle_dispatch.h" /* FRLE_X86_KERNELS */
#include "rle_platform.h" /* frle_parallel_for */
#include "rle_features.h" /* frle_fg, frle_fg_overlap */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#ifdef FRLE_X86_KERNELS
#include <immintrin.h> /* _mm_clmulepi64_si128 */
#endif

uint64_t frle_area(const uint32_t *cnts, int64_t m) {
  uint64_t a = 0;
  int64_t j;
  for (j = 1; j < m; j += 2) a += cnts[j];
  return a;
}

/* x / d for uint32 x and a fixed d, by one multiply: with M = ceil(2^64 / d),
 * floor(x * M / 2^64) is exact for every x < 2^32 (the error term x * (M*d -
 * 2^64) stays below 2^64). Boxes need two divisions per foreground run, and
 * a hardware divide costs several times more. */
typedef struct {
  uint64_t mul;
  uint32_t d;
} divu32;

static inline divu32 divu32_init(uint32_t d) {
  divu32 v;
  v.d = d;
  v.mul = d > 1 ? UINT64_MAX / d + 1 : 0;
  return v;
}

static inline uint32_t divu32_q(divu32 v, uint32_t x) {
#ifdef __SIZEOF_INT128__
  return v.d > 1 ? (uint32_t)(((unsigned __int128)x * v.mul) >> 64) : x;
#else
  return x / v.d;
#endif
}

/* Past fg run j (odd) at position cc, with ys and ye at their limits: the
 * runs left can only move xe (and, had cc wrapped, xs). Where the positions
 * left stay below 2^32 they only grow, so xe is the column of the last pixel
 * of the last non-empty foreground run: 1, with *xe updated; else 0. */
static int bbox_rest(const uint32_t *cnts, int64_t j, int64_t m, uint32_t cc, divu32 dh, uint32_t *xe) {
  uint64_t s = cc;
  int64_t k;
  for (k = j + 1; k < m; k++) s += cnts[k];
  if (s > UINT32_MAX) return 0;
  for (k = m - 1; k > j; k -= 2) {
    if (cnts[k]) {
      uint32_t x = divu32_q(dh, (uint32_t)(s - 1));
      if (x > *xe) *xe = x;
      return 1;
    }
    s -= (uint64_t)cnts[k] + cnts[k - 1];
  }
  return 1;
}

/* The sum of c[0..16) into *sum when every count is in 1 .. 2^27-1, so
 * the sum fits 32 bits: 1; else 0. */
static inline int chunk16(const uint32_t *c, uint32_t *sum) {
#if defined(__SSE2__)
  const __m128i z = _mm_setzero_si128();
  __m128i a = _mm_loadu_si128((const __m128i *)c), b = _mm_loadu_si128((const __m128i *)(c + 4));
  __m128i d = _mm_loadu_si128((const __m128i *)(c + 8)), e = _mm_loadu_si128((const __m128i *)(c + 12));
  __m128i zero = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi32(a, z), _mm_cmpeq_epi32(b, z)),
                              _mm_or_si128(_mm_cmpeq_epi32(d, z), _mm_cmpeq_epi32(e, z)));
  __m128i big = _mm_srli_epi32(_mm_or_si128(_mm_or_si128(a, b), _mm_or_si128(d, e)), 27);
  __m128i t = _mm_add_epi32(_mm_add_epi32(a, b), _mm_add_epi32(d, e));
  if (_mm_movemask_epi8(_mm_or_si128(zero, _mm_cmpgt_epi32(big, z)))) return 0;
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0x4e));
  t = _mm_add_epi32(t, _mm_shuffle_epi32(t, 0xb1));
  *sum = (uint32_t)_mm_cvtsi128_si32(t);
  return 1;
#else
  uint32_t t = 0, bad = 0;
  int k;
  for (k = 0; k < 16; k++) {
    t += c[k];
    bad |= (c[k] == 0) | (c[k] >> 27);
  }
  *sum = t;
  return !bad;
#endif
}

static void bbox_impl(const uint32_t *cnts, int64_t m, uint64_t h64, uint64_t w64, int coco, double bb[4]) {
  /* uint32 arithmetic on purpose: pycocotools' results, wraps included */
  uint32_t h = (uint32_t)h64, w = (uint32_t)w64, xs = w, ys = h, xe = 0, ye = 0, cc = 0, cx, col;
  int64_t j, any = 0, rest_tried = 0, walk;
  divu32 dh;
  m = (m / 2) * 2;
  /* h == 0: no pixel can exist (pycocotools divides by zero here) */
  if (m == 0 || h == 0) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  dh = divu32_init(h);
  /* many runs a column (noise, stripes): the column walk below */
  walk = (uint64_t)m > 8 * w64;
  /* one (background, foreground) pair a step. col is the first pixel of
   * column x: a run that starts and ends in that column (most runs of noise
   * and stripes) needs no division, only its offsets from col; the others
   * (a new column, a run across columns, a position that wrapped) take the
   * divisions. Mins and maxes are selects, not branches. */
  cx = 0;
  col = 0;
  for (j = 1; j < m;) {
    int64_t stop = m - j > 256 ? j + 256 : m;
    if (!walk) { /* a few runs a column: two divisions a pair, no branches on the shape */
      for (; j < stop; j += 2) {
        uint32_t start = cc + cnts[j - 1], n = cnts[j], end, xs_, ys_, xe_, ye_;
        cc = start + n;
        if (n == 0) continue;
        any = 1;
        end = cc - 1;
        xs_ = divu32_q(dh, start);
        ys_ = start - xs_ * h;
        xe_ = divu32_q(dh, end);
        ye_ = end - xe_ * h;
        if (xs_ < xe_) { /* across columns: every row */
          ys_ = 0;
          ye_ = h - 1;
        }
        xs = xs_ < xs ? xs_ : xs;
        xe = xe_ > xe ? xe_ : xe;
        ys = ys_ < ys ? ys_ : ys;
        ye = ye_ > ye ? ye_ : ye;
      }
    }
    while (j < stop) {
      uint32_t start, n, end, xs_, ys_, xe_, ye_, sum;
      /* eight pairs at once when all of their pixels lie in column cx (and
       * no count is 0, and no position wraps): then only the first start
       * and the last end can move the rows. Tried only when the next run
       * starts in this column: shapes with one run per column (blobs) would
       * pay the sums on every pair. */
      if (j + 14 < stop && cc >= col && (uint64_t)(cc - col) + cnts[j - 1] < h && chunk16(cnts + j - 1, &sum) &&
          (uint64_t)(cc - col) + sum <= h && (uint64_t)cc + sum <= UINT32_MAX) {
        ys_ = cc + cnts[j - 1] - col;
        ye_ = cc + sum - 1 - col;
        cc += sum;
        j += 16;
        any = 1;
        xs = cx < xs ? cx : xs;
        xe = cx > xe ? cx : xe;
        ys = ys_ < ys ? ys_ : ys;
        ye = ye_ > ye ? ye_ : ye;
        continue;
      }
      start = cc + cnts[j - 1];
      n = cnts[j];
      j += 2;
      cc = start + n;
      if (n == 0) continue;
      any = 1;
      end = cc - 1;
      if (start < col || start - col >= h) { /* another column (or a wrap below col) */
        cx = divu32_q(dh, start);
        col = cx * h;
      }
      xs_ = cx;
      ys_ = start - col;
      if (end >= col && end - col < h) { /* within the column (col + h may pass 2^32) */
        xe_ = cx;
        ye_ = end - col;
      } else {
        xe_ = divu32_q(dh, end);
        ye_ = end - xe_ * h;
        if (xs_ < xe_) { /* across columns: every row */
          ys_ = 0;
          ye_ = h - 1;
        }
      }
      xs = xs_ < xs ? xs_ : xs;
      xe = xe_ > xe ? xe_ : xe;
      ys = ys_ < ys ? ys_ : ys;
      ye = ye_ > ye ? ye_ : ye;
    }
    /* noise and other many-run masks reach every row early: the rest is a
     * sum (checked between blocks of pairs, off the per-run path) */
    if (j < m && ys == 0 && ye == h - 1 && !rest_tried) {
      rest_tried = 1;
      if (bbox_rest(cnts, j - 2, m, cc, dh, &xe)) break;
    }
  }
  if (!any && !coco) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  bb[0] = xs;
  bb[2] = (uint32_t)(xe - xs + 1);
  bb[1] = ys;
  bb[3] = (uint32_t)(ye - ys + 1);
}

void frle_bbox_coco(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 1, bb);
}

void frle_bbox(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 0, bb);
}

/* ---- boxes ---- */

typedef struct {
  const uint32_t *const *cnts;
  const int64_t *m;
  const uint64_t *h, *w;
  double *bb;
} bbox_ctx;

static void bbox_range(void *vctx, int64_t b, int64_t e, int tid) {
  bbox_ctx *c = (bbox_ctx *)vctx;
  int64_t i;
  (void)tid;
  for (i = b; i < e; i++) frle_bbox_coco(c->cnts[i], c->m[i], c->h[i], c->w[i], c->bb + 4 * i);
}

void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h, const uint64_t *w, int64_t n,
                         double *bb, int nthreads) {
  bbox_ctx c = {.cnts = cnts, .m = m, .h = h, .w = w, .bb = bb};
  frle_parallel_for(n, nthreads, bbox_range, &c);
}

/* ---- pycocotools' box prefilter (bbIou) ---- */

/* Whether bbIou goes on past its overlap test for boxes D and G ([x, y, w,
 * h]); then *in = the area they share. The one home of the rule, for box
 * IoU (mn, mx = fmin, fmax, as pycocotools, NaN included) and for the mask
 * IoU's prefilter (plain compares: boxes of masks hold no NaN, and the
 * zero's sign fmin may differ in cancels out). */
typedef double (*minmax_fn)(double, double);
static inline double min_num(double a, double b) { return a < b ? a : b; }
static inline double max_num(double a, double b) { return a > b ? a : b; }

static inline int boxes_meet(const double *D, const double *G, minmax_fn mn, minmax_fn mx, double *in) {
  double wd, ht;
  wd = mn(D[2] + D[0], G[2] + G[0]) - mx(D[0], G[0]);
  if (wd <= 0) return 0;
  ht = mn(D[3] + D[1], G[3] + G[1]) - mx(D[1], G[1]);
  if (ht <= 0) return 0;
  *in = wd * ht;
  return 1;
}

void frle_bbox_iou(const double *dt, const double *gt, int64_t md, int64_t ng, const uint8_t *iscrowd, double *o) {
  int64_t g, d;
  for (g = 0; g < ng; g++) {
    const double *G = gt + g * 4;
    double ga = G[2] * G[3];
    int crowd = iscrowd != NULL && iscrowd[g];
    for (d = 0; d < md; d++) {
      const double *D = dt + d * 4;
      double da = D[2] * D[3], in, un;
      o[g * md + d] = 0;
      if (!boxes_meet(D, G, fmin, fmax, &in)) continue;
      un = crowd ? da : da + ga - in;
      o[g * md + d] = in / un;
    }
  }
}

/* ---- IoU ---- */

/* A mask's pixels as words lo..hi of its bitmap (every other word is 0). */
typedef struct {
  const uint64_t *w; /* NULL: the mask walks its intervals instead */
  uint64_t lo, hi;
} fg_bits;

typedef struct {
  const frle_runs *dt, *gt;
  const uint8_t *crowd;
  double *o;
  const double *db, *gb;    /* pycocotools boxes, for its prefilter */
  const frle_fg *df, *gf;   /* foreground intervals */
  const uint64_t *da, *ga;  /* areas */
  const fg_bits *dbm, *gbm; /* bitmaps of the masks with many runs a word, else NULL */
  int self;                 /* dt and gt are the same masks */
} iou_ctx;

/* Bit k of the result: the XOR of bits 0..k of x. */
static inline uint64_t prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  return x ^ (x << 32);
}

/* Toggles of a mask's runs (strictly parsed: they sum to hw): pixel p
 * changes value where an odd number of runs end at p. The last run ends at
 * hw and toggles nothing; a run before it can end there only when empty
 * runs follow, and the spare word nw takes that bit. x: the XOR of the bit
 * (1 << p % 64) of every end so far, whatever its word; each end stores x
 * into t[p / 64] and marks the word in u (both zeroed, nw + 1 entries). The
 * last store to a word holds x after its last end, so px_words gets a word's
 * toggles as t[w] XOR t[the marked word before w]. No compare or select per
 * run, and no read-modify-write (noise has several runs a word). */
#define RUNS_TOGGLES(name, attr)                                                                                       \
  attr static void name(uint64_t *t, uint8_t *u, const uint32_t *c, int64_t m) {                                       \
    uint64_t pos = 0, x = 0;                                                                                           \
    int64_t j = 0, last = m - 1;                                                                                       \
    for (; j + 1 < last; j += 2) {                                                                                     \
      uint64_t p1 = pos + c[j], p2 = pos + ((uint64_t)c[j] + c[j + 1]), x1 = x ^ (1ull << (p1 & 63));                  \
      x ^= (1ull << (p1 & 63)) ^ (1ull << (p2 & 63));                                                                  \
      t[p1 >> 6] = x1;                                                                                                 \
      u[p1 >> 6] = 1;                                                                                                  \
      t[p2 >> 6] = x;                                                                                                  \
      u[p2 >> 6] = 1;                                                                                                  \
      pos = p2;                                                                                                        \
    }                                                                                                                  \
    if (j < last) {                                                                                                    \
      uint64_t p1 = pos + c[j];                                                                                        \
      t[p1 >> 6] = x ^ (1ull << (p1 & 63));                                                                            \
      u[p1 >> 6] = 1;                                                                                                  \
    }                                                                                                                  \
  }
RUNS_TOGGLES(runs_toggles_plain, )
#ifdef FRLE_X86_KERNELS
/* shlx and shrx: no copies for the shift count and the shifted value */
RUNS_TOGGLES(runs_toggles_bmi2, FRLE_TARGET("bmi2"))
#endif

static void runs_toggles(uint64_t *t, uint8_t *u, const uint32_t *c, int64_t m) {
#ifdef FRLE_X86_KERNELS
  if (frle_use_bmi2()) {
    runs_toggles_bmi2(t, u, c, m);
    return;
  }
#endif
  runs_toggles_plain(t, u, c, m);
}

/* The words a mask's foreground can touch: lo .. hi, from its first and
 * last counts alone (runs of a strict parse, m >= 2). */
static inline void fg_words(const uint32_t *c, int64_t m, uint64_t hw, uint64_t *lo, uint64_t *hi) {
  uint64_t nw = (hw + 63) / 64, end = (m & 1) ? hw - c[m - 1] : hw; /* after the last foreground pixel */
  *lo = c[0] >> 6;
  *hi = end ? (end - 1) >> 6 : 0;
  if (*hi >= nw) *hi = nw - 1;
}

enum { PX_STORE, PX_OR, PX_AND };

/* Pixels of words lo..hi from runs_toggles' t and u (pixel p = parity of
 * the toggles at or before p; none before lo) stored into, ORed into or
 * ANDed into dst[0..hi-lo]; t and u are zeroed again there. Returns the
 * value of the pixels after hi, 0 or all ones. */
static inline uint64_t px_words_plain(uint64_t *dst, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi, int op) {
  uint64_t k, carry = 0, prev = 0;
  for (k = lo; k <= hi; k++) {
    uint64_t tog = (t[k] ^ prev) & ((uint64_t)0 - u[k]), word;
    prev ^= tog; /* t[k] where the word is marked */
    word = prefix_xor(tog) ^ carry;
    u[k] = 0;
    carry = (uint64_t)0 - (word >> 63);
    t[k] = 0;
    if (op == PX_STORE) dst[k - lo] = word;
    else if (op == PX_OR) dst[k - lo] |= word;
    else dst[k - lo] &= word;
  }
  return carry;
}

#ifdef FRLE_X86_KERNELS
/* The same with the prefix XOR as one carry-less multiply by all ones
 * (PCLMULQDQ, which every CPU with AVX2 has). */
FRLE_TARGET("pclmul")
static inline uint64_t px_words_clmul(uint64_t *dst, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi, int op) {
  const __m128i ones = _mm_set1_epi64x(-1);
  uint64_t k, carry = 0, prev = 0;
  for (k = lo; k <= hi; k++) {
    uint64_t tog = (t[k] ^ prev) & ((uint64_t)0 - u[k]), word;
    prev ^= tog;
    word = (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(_mm_cvtsi64_si128((long long)tog), ones, 0));
    word ^= carry;
    u[k] = 0;
    carry = (uint64_t)0 - (word >> 63);
    t[k] = 0;
    if (op == PX_STORE) dst[k - lo] = word;
    else if (op == PX_OR) dst[k - lo] |= word;
    else dst[k - lo] &= word;
  }
  return carry;
}
FRLE_TARGET("pclmul")
static uint64_t px_store_clmul(uint64_t *d, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi) {
  return px_words_clmul(d, t, u, lo, hi, PX_STORE);
}
FRLE_TARGET("pclmul")
static uint64_t px_or_clmul(uint64_t *d, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi) {
  return px_words_clmul(d, t, u, lo, hi, PX_OR);
}
FRLE_TARGET("pclmul")
static uint64_t px_and_clmul(uint64_t *d, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi) {
  return px_words_clmul(d, t, u, lo, hi, PX_AND);
}
#endif

/* px_words with op, by the carry-less multiply where the CPU has it (the
 * scan level's AVX2, capped by FRLE_ISA like every kernel). */
static uint64_t px_words(uint64_t *dst, uint64_t *t, uint8_t *u, uint64_t lo, uint64_t hi, int op) {
#ifdef FRLE_X86_KERNELS
  if (frle_scan_level() >= FRLE_ISA_AVX2)
    return op == PX_STORE ? px_store_clmul(dst, t, u, lo, hi)
           : op == PX_OR  ? px_or_clmul(dst, t, u, lo, hi)
                          : px_and_clmul(dst, t, u, lo, hi);
#endif
  return op == PX_STORE ? px_words_plain(dst, t, u, lo, hi, PX_STORE)
         : op == PX_OR  ? px_words_plain(dst, t, u, lo, hi, PX_OR)
                        : px_words_plain(dst, t, u, lo, hi, PX_AND);
}

/* Whether a mask of m runs over the `words` 64-pixel words its foreground
 * spans has a run every two words or more (noise, stripes): then a bitmap
 * and popcounts beat walking its runs. Blobs, at a run every 5 words or
 * fewer (two runs a column of 23 words at SA-1B size), walk theirs. */
static inline int many_runs(int64_t m, uint64_t words) { return m >= 2 && (uint64_t)m * 2 > words; }

typedef struct {
  const frle_runs *r;
  fg_bits *bm;
  uint64_t *t;         /* per range: tw words of toggles, then tw bytes of marks */
  uint64_t tw;
  const int64_t *cut;  /* range k builds masks cut[k] .. cut[k+1]-1 */
} bitmaps_ctx;

static void bitmaps_range(void *vctx, int64_t b, int64_t e, int tid) {
  bitmaps_ctx *c = (bitmaps_ctx *)vctx;
  uint64_t *t = c->t + (size_t)tid * (c->tw + (c->tw + 7) / 8);
  uint8_t *u = (uint8_t *)(t + c->tw);
  int64_t k, i;
  for (k = b; k < e; k++)
    for (i = c->cut[k]; i < c->cut[k + 1]; i++) {
      const fg_bits *f = &c->bm[i];
      uint64_t hw = c->r->h[i] * c->r->w[i], lo = f->lo, hi = f->hi;
      uint64_t *block = (uint64_t *)f->w;
      if (!block) continue;
      runs_toggles(t, u, c->r->cnts[i], c->r->m[i]);
      px_words(block, t, u, lo, hi, PX_STORE);
      if (hi == (hw - 1) / 64 && (hw & 63)) block[hi - lo] &= ~0ull >> (64 - (hw & 63)); /* no pixels past hw */
      /* toggles past the foreground: in the word after hi, and the spare word */
      t[hi + 1] = t[(hw + 63) / 64] = 0;
      u[hi + 1] = u[(hw + 63) / 64] = 0;
    }
}

/* Bitmaps of a side's many-run masks over the words their foreground can
 * touch (w NULL for the other masks), in one block; *bm is NULL where no
 * mask qualifies. On nthreads threads, each with its own toggle words, over
 * ranges of masks that hold about as many runs. Returns 0 when out of
 * memory. */
static int build_bitmaps(const frle_runs *r, fg_bits **bm, int nthreads) {
  int64_t i, runs = 0, done = 0, cut[FRLE_MAX_THREADS + 1];
  uint64_t words = 0, tw = 0, per, *block, *t;
  int k, j;
  bitmaps_ctx c;
  *bm = NULL;
  for (i = 0; i < r->n; i++) {
    uint64_t hw = r->h[i] * r->w[i], lo, hi;
    if (r->m[i] < 2 || !hw) continue;
    fg_words(r->cnts[i], r->m[i], hw, &lo, &hi);
    if (lo <= hi && many_runs(r->m[i], hi - lo + 1)) {
      words += hi - lo + 1;
      runs += r->m[i];
      if ((hw + 63) / 64 + 1 > tw) tw = (hw + 63) / 64 + 1;
    }
  }
  if (!words) return 1;
  /* a thread per 256K runs at most: below that, starting one costs more */
  k = frle_thread_count(nthreads, runs / (1 << 18) + 1);
  per = tw + (tw + 7) / 8; /* words of one range's toggles and marks */
  /* spare blocks: megabytes for noise, reused by the next call without page faults */
  *bm = (fg_bits *)frle_spare_take((int64_t)(r->n * sizeof(fg_bits) + words * sizeof(uint64_t)), NULL);
  t = (uint64_t *)frle_spare_take((int64_t)((uint64_t)k * per * sizeof(uint64_t)), NULL);
  if (!*bm || !t) {
    frle_spare_give(*bm);
    frle_spare_give(t);
    *bm = NULL;
    return 0;
  }
  memset(t, 0, (size_t)k * per * sizeof(uint64_t)); /* toggles and marks, zeroed again after each mask */
  block = (uint64_t *)(*bm + r->n);
  cut[0] = 0;
  for (j = 1; j <= k; j++) cut[j] = r->n;
  for (i = 0, j = 1; i < r->n; i++) {
    uint64_t hw = r->h[i] * r->w[i], lo = 1, hi = 0;
    (*bm)[i].w = NULL;
    if (r->m[i] >= 2 && hw) fg_words(r->cnts[i], r->m[i], hw, &lo, &hi);
    if (lo > hi || !many_runs(r->m[i], hi - lo + 1)) continue;
    (*bm)[i].w = block;
    (*bm)[i].lo = lo;
    (*bm)[i].hi = hi;
    block += hi - lo + 1;
    done += r->m[i];
    /* range j-1 ends once the ranges so far hold their share of the runs */
    while (j < k && done * k >= runs * j) cut[j++] = i + 1;
  }
  c.r = r;
  c.bm = *bm;
  c.t = t;
  c.tw = tw;
  c.cut = cut;
  frle_parallel_for(k, k, bitmaps_range, &c);
  frle_spare_give(t);
  return 1;
}

/* Common pixels of n words of two bitmaps; the popcnt instruction where
 * the CPU has it (x86-64's baseline lacks it). */
#define AND_POPCOUNT(name, attr)                                                                                       \
  attr static uint64_t name(const uint64_t *x, const uint64_t *y, uint64_t n) {                                        \
    uint64_t k, acc = 0;                                                                                               \
    for (k = 0; k < n; k++) acc += (uint64_t)frle_popcount64(x[k] & y[k]);                                             \
    return acc;                                                                                                        \
  }
AND_POPCOUNT(and_popcount_plain, )
#ifdef FRLE_X86_KERNELS
AND_POPCOUNT(and_popcount_hw, FRLE_TARGET("popcnt"))
#endif

#ifdef FRLE_X86_KERNELS
/* Eight words a step: the bytes' popcounts from two nibble lookups
 * (vpshufb), summed per 64-bit lane by vpsadbw (AVX-512BW; the VPOPCNTQ
 * extension is not needed). */
FRLE_TARGET("avx512f,avx512bw,popcnt")
static uint64_t and_popcount_avx512(const uint64_t *x, const uint64_t *y, uint64_t n) {
  const __m512i lut = _mm512_broadcast_i32x4(_mm_setr_epi8(0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4));
  const __m512i low = _mm512_set1_epi8(0x0f);
  __m512i acc = _mm512_setzero_si512();
  uint64_t k = 0, tot;
  for (; k + 8 <= n; k += 8) {
    __m512i v = _mm512_and_si512(_mm512_loadu_si512((const void *)(x + k)), _mm512_loadu_si512((const void *)(y + k)));
    __m512i c = _mm512_add_epi8(_mm512_shuffle_epi8(lut, _mm512_and_si512(v, low)),
                                _mm512_shuffle_epi8(lut, _mm512_and_si512(_mm512_srli_epi64(v, 4), low)));
    acc = _mm512_add_epi64(acc, _mm512_sad_epu8(c, _mm512_setzero_si512()));
  }
  tot = (uint64_t)_mm512_reduce_add_epi64(acc);
  for (; k < n; k++) tot += (uint64_t)frle_popcount64(x[k] & y[k]);
  return tot;
}
#endif

static uint64_t and_popcount(const uint64_t *x, const uint64_t *y, uint64_t n) {
#ifdef FRLE_X86_KERNELS
  if (n >= 16 && frle_scan_level() >= FRLE_ISA_AVX512) return and_popcount_avx512(x, y, n);
  if (frle_cpu_has(FRLE_CPU_POPCNT)) return and_popcount_hw(x, y, n);
#endif
  return and_popcount_plain(x, y, n);
}

/* Common pixels of two masks' bitmaps in columns x0..x1 of height h. */
static uint64_t bits_overlap(const fg_bits *a, const fg_bits *b, uint64_t h, uint64_t x0, uint64_t x1) {
  uint64_t lo = x0 * h / 64, hi = ((x1 + 1) * h - 1) / 64;
  if (lo < a->lo) lo = a->lo;
  if (lo < b->lo) lo = b->lo;
  if (hi > a->hi) hi = a->hi;
  if (hi > b->hi) hi = b->hi;
  return lo > hi ? 0 : and_popcount(a->w + (lo - a->lo), b->w + (lo - b->lo), hi - lo + 1);
}

/* Common pixels of a bitmap and a mask's foreground intervals in columns
 * x0..x1 of height h: popcounts over the intervals' words (the popcnt
 * instruction where the CPU has it, as and_popcount). */
#define BITS_FG_OVERLAP(name, attr)                                                                                    \
  attr static uint64_t name(const fg_bits *a, const frle_fg *f, uint64_t h, uint64_t x0, uint64_t x1) {                \
    uint64_t lo = x0 * h, hi = (x1 + 1) * h, acc = 0;                                                                  \
    int64_t i;                                                                                                         \
    for (i = 0; i < f->k; i++) {                                                                                       \
      uint64_t s = f->s[i], e = f->e[i], ks, ke, k;                                                                    \
      if (e <= lo) continue;                                                                                           \
      if (s >= hi) break;                                                                                              \
      ks = s >> 6;                                                                                                     \
      ke = (e - 1) >> 6;                                                                                               \
      if (ks < a->lo) ks = a->lo, s = ks * 64;                                                                         \
      if (ke > a->hi) ke = a->hi, e = (ke + 1) * 64;                                                                   \
      for (k = ks; k <= ke && s < e; k++) {                                                                            \
        uint64_t word = a->w[k - a->lo];                                                                               \
        if (k == s >> 6) word &= ~0ull << (s & 63);                                                                    \
        if (k == (e - 1) >> 6) word &= ~0ull >> (63 - ((e - 1) & 63));                                                 \
        acc += (uint64_t)frle_popcount64(word);                                                                        \
      }                                                                                                                \
    }                                                                                                                  \
    return acc;                                                                                                        \
  }
BITS_FG_OVERLAP(bits_fg_overlap_plain, )
#ifdef FRLE_X86_KERNELS
BITS_FG_OVERLAP(bits_fg_overlap_hw, FRLE_TARGET("popcnt"))
#endif

static uint64_t bits_fg_overlap(const fg_bits *a, const frle_fg *f, uint64_t h, uint64_t x0, uint64_t x1) {
#ifdef FRLE_X86_KERNELS
  if (frle_cpu_has(FRLE_CPU_POPCNT)) return bits_fg_overlap_hw(a, f, h, x0, x1);
#endif
  return bits_fg_overlap_plain(a, f, h, x0, x1);
}

/* The words ks..ke of pixels s..e-1 (s < e) that a bitmap holds; ks > ke
 * when it holds none of them. */
static inline void bits_words(const fg_bits *a, uint64_t s, uint64_t e, uint64_t *ks, uint64_t *ke) {
  *ks = s >> 6 > a->lo ? s >> 6 : a->lo;
  *ke = (e - 1) >> 6 < a->hi ? (e - 1) >> 6 : a->hi;
}

/* The first set pixel of a bitmap in s..e-1, or e. */
static uint64_t bits_first(const fg_bits *a, uint64_t s, uint64_t e) {
  uint64_t k, ks, ke;
  if (s >= e) return e;
  bits_words(a, s, e, &ks, &ke);
  for (k = ks; k <= ke; k++) {
    uint64_t word = a->w[k - a->lo];
    if (k == s >> 6) word &= ~0ull << (s & 63);
    if (word) {
      uint64_t p = k * 64 + (uint64_t)frle_ctz64(word);
      return p < e ? p : e;
    }
  }
  return e;
}

/* The last set pixel of a bitmap in s..e-1, or e. */
static uint64_t bits_last(const fg_bits *a, uint64_t s, uint64_t e) {
  uint64_t k, ks, ke;
  if (s >= e) return e;
  bits_words(a, s, e, &ks, &ke);
  for (k = ke + 1; k-- > ks;) {
    uint64_t word = a->w[k - a->lo];
    if (k == (e - 1) >> 6) word &= ~0ull >> (63 - ((e - 1) & 63));
    if (word) {
      uint64_t p = k * 64 + 63 - (uint64_t)frle_clz64(word);
      return p >= s ? p : e;
    }
  }
  return e;
}

/* The tight box [x, y, w, h] of a bitmap's pixels (a mask of height h), or
 * zeros with no pixel. Each column scans only the rows outside the box so
 * far, so a mask costs about its columns, not its runs. */
static void bits_box(const fg_bits *a, uint64_t h, double bb[4]) {
  uint64_t p0 = bits_first(a, a->lo * 64, (a->hi + 1) * 64), p1, x0, x1, x, y0 = h, y1 = 0;
  bb[0] = bb[1] = bb[2] = bb[3] = 0;
  if (p0 == (a->hi + 1) * 64) return;
  p1 = bits_last(a, p0, (a->hi + 1) * 64);
  x0 = p0 / h;
  x1 = p1 / h;
  for (x = x0; x <= x1 && (y0 > 0 || y1 < h - 1); x++) {
    uint64_t s = x * h, p = bits_first(a, s, s + y0);
    if (p < s + y0) y0 = p - s;
    p = bits_last(a, s + y1 + 1, s + h);
    if (p < s + h) y1 = p - s;
  }
  bb[0] = (double)x0;
  bb[1] = (double)y0;
  bb[2] = (double)(x1 - x0 + 1);
  bb[3] = (double)(y1 - y0 + 1);
}

/* pycocotools' value for an intersection of it pixels: uint32 arithmetic,
 * |d AND g| / |d OR g|, or / |d| for a crowd g, and 0 for no intersection.
 * (|d OR g| = |d| + |g| - |d AND g|: the runs of both sum to h*w.) */
static inline double iou_value(uint64_t it, uint64_t ad, uint64_t ag, int crowd) {
  uint64_t un = crowd ? ad : ad + ag - it;
  if (it == 0) un = 1;
  return (double)(uint32_t)it / (double)(uint32_t)un;
}

static void iou_range(void *vctx, int64_t b, int64_t e, int tid) {
  iou_ctx *c = (iou_ctx *)vctx;
  int64_t md = c->dt->n, v, g, d, dend;
  (void)tid;
  for (v = b; v < e; v++) {
    const double *G;
    /* self: pair (d, g) for d <= g gives both cells; columns alternate
     * from both ends so that contiguous ranges hold equal work */
    g = !c->self ? v : (v & 1) ? md - 1 - v / 2 : v / 2;
    G = c->gb + 4 * g;
    dend = c->self ? g + 1 : md;
    for (d = 0; d < dend; d++) {
      const double *D = c->db + 4 * d;
      double in, val = 0, mirror = 0;
      /* pycocotools' box prefilter: where bbIou gives a value, rleIou
       * replaces it; elsewhere the cell stays 0 */
      if (boxes_meet(D, G, min_num, max_num, &in)) {
        if (c->dt->h[d] != c->gt->h[g] || c->dt->w[d] != c->gt->w[g]) {
          val = mirror = -1;
        } else {
          uint64_t it;
          if (c->dbm && c->gbm && c->dbm[d].w && c->gbm[g].w) {
            /* only the columns both boxes share can hold common pixels */
            uint64_t x0 = c->df[d].x0 > c->gf[g].x0 ? c->df[d].x0 : c->gf[g].x0;
            uint64_t x1 = c->df[d].x1 < c->gf[g].x1 ? c->df[d].x1 : c->gf[g].x1;
            it = bits_overlap(&c->dbm[d], &c->gbm[g], c->dt->h[d], x0, x1);
          } else if (c->dbm && c->dbm[d].w) {
            uint64_t x0 = c->df[d].x0 > c->gf[g].x0 ? c->df[d].x0 : c->gf[g].x0;
            uint64_t x1 = c->df[d].x1 < c->gf[g].x1 ? c->df[d].x1 : c->gf[g].x1;
            it = bits_fg_overlap(&c->dbm[d], &c->gf[g], c->dt->h[d], x0, x1);
          } else if (c->gbm && c->gbm[g].w) {
            uint64_t x0 = c->df[d].x0 > c->gf[g].x0 ? c->df[d].x0 : c->gf[g].x0;
            uint64_t x1 = c->df[d].x1 < c->gf[g].x1 ? c->df[d].x1 : c->gf[g].x1;
            it = bits_fg_overlap(&c->gbm[g], &c->df[d], c->dt->h[d], x0, x1);
          } else {
            it = frle_fg_overlap(&c->df[d], &c->gf[g], c->dt->h[d]);
          }
          val = iou_value(it, c->da[d], c->ga[g], c->crowd != NULL && c->crowd[g]);
          /* the mirrored cell exists only when dt and gt are the same masks:
           * otherwise d and g index different sides (and iscrowd is gt's) */
          if (c->self) mirror = iou_value(it, c->da[g], c->ga[d], c->crowd != NULL && c->crowd[d]);
        }
      }
      c->o[g * md + d] = val;
      if (c->self) c->o[d * md + g] = mirror; /* (dt g, gt d); d == g writes the same cell twice */
    }
  }
}

static int64_t fg_capacity(const frle_runs *r) {
  int64_t i, cap = 0;
  for (i = 0; i < r->n; i++) cap += r->m[i] / 2 + 1;
  return cap;
}

/* Foreground interval lists of all masks of one side into s/e (room for
 * fg_capacity). The column range comes from the box (pycocotools' box is the
 * tight box of a valid non-empty mask), so the pass needs no division. */
static void build_fg(const frle_runs *r, const double *bb, const fg_bits *bm, uint32_t *s, uint32_t *e, frle_fg *f,
                     uint64_t *area) {
  int64_t i, j;
  for (i = 0; i < r->n; i++) {
    const uint32_t *c = r->cnts[i];
    uint64_t pos = 0, a = 0;
    int64_t k = 0;
    if (bm && bm[i].w) { /* its pairs take the bitmap: no intervals; its area is its popcount */
      a = and_popcount(bm[i].w, bm[i].w, bm[i].hi - bm[i].lo + 1);
      f[i].s = f[i].e = NULL;
      f[i].k = 0;
      f[i].x0 = f[i].x1 = f[i].y0 = f[i].y1 = 0;
      if (a) { /* the columns of its box */
        f[i].x0 = (uint64_t)bb[4 * i];
        f[i].x1 = (uint64_t)(bb[4 * i] + bb[4 * i + 2]) - 1;
      }
      area[i] = a;
      continue;
    }
    for (j = 0; j + 1 < r->m[i]; j += 2) {
      uint64_t st = pos + c[j], len = c[j + 1];
      pos = st + len;
      if (!len) continue;
      s[k] = (uint32_t)st;
      e[k] = (uint32_t)pos;
      k++;
      a += len;
    }
    f[i].s = s;
    f[i].e = e;
    f[i].k = k;
    f[i].x0 = k ? (uint64_t)bb[4 * i] : 0;
    f[i].x1 = k ? (uint64_t)(bb[4 * i] + bb[4 * i + 2]) - 1 : 0;
    f[i].y0 = f[i].y1 = 0; /* unused: the prefilter has compared the boxes */
    area[i] = a;
    s += k;
    e += k;
  }
}

/* Whether every mask of a side has the first one's size. */
static int same_size(const frle_runs *r) {
  int64_t i;
  for (i = 1; i < r->n; i++)
    if (r->h[i] != r->h[0] || r->w[i] != r->w[0]) return 0;
  return 1;
}

/* The boxes of the prefilter. pycocotools' own where sizes differ (a pair
 * of different sizes whose boxes meet gives -1). With one size, any box that
 * holds a mask's pixels gives the same matrix: a pair whose boxes do not
 * meet shares no pixel, which rleIou turns into 0 as well; so a mask with a
 * bitmap takes its tight box from it, at the cost of its columns rather
 * than of its runs. */
static void iou_boxes(const frle_runs *r, const fg_bits *bm, int one_size, double *bb) {
  int64_t i;
  for (i = 0; i < r->n; i++) {
    if (one_size && bm && bm[i].w) bits_box(&bm[i], r->h[i], bb + 4 * i);
    else frle_bbox_coco(r->cnts[i], r->m[i], r->h[i], r->w[i], bb + 4 * i);
  }
}

int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd, double *o, int nthreads) {
  iou_ctx c;
  fg_bits *dbm = NULL, *gbm = NULL;
  int self = dt == gt, one_size;
  int64_t md = dt->n, ng = self ? 0 : gt->n, cd = fg_capacity(dt), cg = self ? 0 : fg_capacity(gt);
  int64_t nm = md + ng;
  /* one block: boxes, interval lists, areas, interval bounds */
  char *block = (char *)malloc((size_t)nm * (4 * sizeof(double) + sizeof(frle_fg) + sizeof(uint64_t)) +
                               (size_t)(cd + cg) * 2 * sizeof(uint32_t) + 1);
  double *boxes = (double *)block;
  frle_fg *fg = (frle_fg *)(boxes + 4 * nm);
  uint64_t *areas = (uint64_t *)(fg + nm);
  uint32_t *bounds = (uint32_t *)(areas + nm);
  if (!block) return FRLE_ERR_NOMEM;
  /* bitmaps first: with one size on both sides, their boxes come from them */
  if (!build_bitmaps(dt, &dbm, nthreads) || (!self && !build_bitmaps(gt, &gbm, nthreads))) {
    frle_spare_give(dbm);
    free(block);
    return FRLE_ERR_NOMEM;
  }
  one_size = same_size(dt) && (self || same_size(gt));
  if (one_size && !self && gt->n && md) one_size = gt->h[0] == dt->h[0] && gt->w[0] == dt->w[0];
  iou_boxes(dt, dbm, one_size, boxes);
  build_fg(dt, boxes, dbm, bounds, bounds + cd, fg, areas);
  if (!self) { /* the same masks on both sides are prepared once */
    iou_boxes(gt, gbm, one_size, boxes + 4 * md);
    build_fg(gt, boxes + 4 * md, gbm, bounds + 2 * cd, bounds + 2 * cd + cg, fg + md, areas + md);
  }
  c.dt = dt;
  c.gt = gt;
  c.crowd = iscrowd;
  c.o = o;
  c.db = boxes;
  c.gb = boxes + 4 * md;
  c.df = fg;
  c.gf = fg + md;
  c.da = areas;
  c.ga = areas + md;
  c.self = self;
  if (self) {
    c.gb = boxes;
    c.gf = fg;
    c.ga = areas;
  }
  c.dbm = dbm;
  c.gbm = self ? dbm : gbm;
  frle_parallel_for(self ? md : gt->n, nthreads, iou_range, &c);
  frle_spare_give(dbm);
  frle_spare_give(gbm);
  free(block);
  return FRLE_OK;
}

/* frle_iou_runs for few pairs a mask (see rle.h). Masks whose box meets no
 * box of the other side get no interval list: their cells are 0. */
int frle_iou_runs_few(const frle_runs *dt, const frle_runs *gt, const double *dt_box, const double *gt_box,
                      const uint8_t *iscrowd, double *o) {
  int64_t md = dt->n, ng = gt->n, nm = md + ng, cd = fg_capacity(dt), cg = fg_capacity(gt), d, g;
  size_t nbox = (size_t)(dt_box ? 0 : md) + (size_t)(gt_box ? 0 : ng);
  char *block = (char *)malloc((size_t)nm * (sizeof(frle_fg) + sizeof(uint64_t) + 1) + nbox * 4 * sizeof(double) +
                               (size_t)(cd + cg) * 2 * sizeof(uint32_t) + 1);
  frle_fg *fg = (frle_fg *)(void *)block;
  uint64_t *areas = (uint64_t *)(fg + nm);
  double *boxes = (double *)(areas + nm);
  uint32_t *bounds = (uint32_t *)(boxes + 4 * nbox);
  uint8_t *meets = (uint8_t *)(bounds + 2 * (cd + cg)); /* the mask's box meets one of the other side */
  frle_runs one;
  if (!block) return FRLE_ERR_NOMEM;
  if (!dt_box) {
    frle_bbox_coco_many(dt->cnts, dt->m, dt->h, dt->w, md, boxes, 1);
    dt_box = boxes;
    boxes += 4 * md;
  }
  if (!gt_box) {
    frle_bbox_coco_many(gt->cnts, gt->m, gt->h, gt->w, ng, boxes, 1);
    gt_box = boxes;
  }
  memset(meets, 0, (size_t)nm);
  for (g = 0; g < ng; g++)
    for (d = 0; d < md; d++) {
      double in;
      if (boxes_meet(dt_box + 4 * d, gt_box + 4 * g, min_num, max_num, &in)) meets[d] = meets[md + g] = 1;
    }
  /* interval lists of the masks that meet another, one at a time */
  for (d = 0; d < nm; d++) {
    const frle_runs *r = d < md ? dt : gt;
    int64_t i = d < md ? d : d - md;
    if (!meets[d]) continue;
    one.cnts = r->cnts + i;
    one.m = r->m + i;
    one.h = r->h + i;
    one.w = r->w + i;
    one.n = 1;
    build_fg(&one, (d < md ? dt_box : gt_box) + 4 * i, NULL, bounds, bounds + (r->m[i] / 2 + 1), fg + d, areas + d);
    bounds += 2 * (r->m[i] / 2 + 1);
  }
  for (g = 0; g < ng; g++) {
    const double *G = gt_box + 4 * g;
    for (d = 0; d < md; d++) {
      double in, val = 0;
      /* as iou_range: pycocotools' box prefilter, -1 for sizes that differ */
      if (boxes_meet(dt_box + 4 * d, G, min_num, max_num, &in)) {
        if (dt->h[d] != gt->h[g] || dt->w[d] != gt->w[g]) {
          val = -1;
        } else {
          uint64_t it = frle_fg_overlap(&fg[d], &fg[md + g], dt->h[d]);
          val = iou_value(it, areas[d], areas[md + g], iscrowd != NULL && iscrowd[g]);
        }
      }
      o[g * md + d] = val;
    }
  }
  free(block);
  return FRLE_OK;
}

/* ---- merge ---- */

/* Two run lists walked in step; the loop shape follows pycocotools so that
 * merge produces its exact runs (zero-length ones included). */
typedef struct {
  const uint32_t *c;
  int64_t m, k;
  uint64_t left;
  int v;
} cursor;

static inline void cur_init(cursor *q, const uint32_t *c, int64_t m) {
  q->c = c;
  q->m = m;
  q->k = 1;
  q->v = 0;
  q->left = m > 0 ? c[0] : 0;
}

/* pycocotools advances past one run per step, so an interior zero-length
 * run flips the value for a step and corrupts the merge; skipping every
 * empty run gives the same result wherever pycocotools is right (only a
 * first count may be 0 in what encoders write). */
static inline void cur_take(cursor *q, uint64_t n) {
  q->left -= n;
  while (!q->left && q->k < q->m) {
    q->left = q->c[q->k++];
    q->v = !q->v;
  }
}

static int64_t merge2(const uint32_t *a, int64_t ma, const uint32_t *b, int64_t mb, int intersect, uint32_t *out) {
  cursor A, B;
  int64_t m = 0;
  uint64_t cc = 0, ct = 1;
  int v = 0, vp;
  cur_init(&A, a, ma);
  cur_init(&B, b, mb);
  while (ct > 0) {
    uint64_t c = A.left < B.left ? A.left : B.left;
    int64_t ka = A.k, kb = B.k;
    cc += c;
    cur_take(&A, c);
    cur_take(&B, c);
    ct = A.left + B.left;
    vp = v;
    v = intersect ? (A.v && B.v) : (A.v || B.v);
    if (v != vp || ct == 0) {
      out[m++] = (uint32_t)cc;
      cc = 0;
    }
    /* runs that disagree on the total would spin; valid input never does */
    if (c == 0 && ct > 0 && A.k == ka && B.k == kb) break;
  }
  return m;
}

/* Pairwise merges of n masks into out ((sum of all m) + n entries). Returns
 * the number of runs, or -1 when out of memory. */
static int64_t merge_pairs(const uint32_t *const *cnts, const int64_t *m, int64_t n, int intersect, uint32_t *out) {
  int64_t i, cur_m;
  if (n <= 0) return 0;
  cur_m = m[0];
  memmove(out, cnts[0], (size_t)cur_m * sizeof(uint32_t));
  for (i = 1; i < n; i++) {
    /* merge into the tail half of out, then move down: out holds at least
     * sum(m)+1 entries and the result never exceeds cur_m + m[i] + 1 */
    uint32_t tmp_stack[256];
    uint32_t *tmp = tmp_stack;
    int64_t need = cur_m + m[i] + 1, k;
    if (need > 256) {
      tmp = (uint32_t *)malloc((size_t)need * sizeof(uint32_t));
      if (!tmp) return -1;
    }
    k = merge2(out, cur_m, cnts[i], m[i], intersect, tmp);
    memcpy(out, tmp, (size_t)k * sizeof(uint32_t));
    if (tmp != tmp_stack) free(tmp);
    cur_m = k;
  }
  return cur_m;
}

/* b[a..z) = v. Most spans are a few words (one run in one image column):
 * a memset call, which compilers make of a plain loop, costs more there than
 * the stores, so short spans take two to four overlapping 16-byte stores
 * (100 SA-1B masks: the union's bitmap fills in 2/3 of the time). */
static inline void words_fill(uint64_t *b, uint64_t a, uint64_t z, uint64_t v) {
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi64x((long long)v);
  uint64_t k;
  if (z < a + 2) {
    if (z > a) b[a] = v;
  } else if (z <= a + 4) {
    _mm_storeu_si128((__m128i *)(b + a), vv);
    _mm_storeu_si128((__m128i *)(b + z - 2), vv);
  } else {
    for (k = a; k + 4 < z; k += 4) {
      _mm_storeu_si128((__m128i *)(b + k), vv);
      _mm_storeu_si128((__m128i *)(b + k + 2), vv);
    }
    _mm_storeu_si128((__m128i *)(b + z - 4), vv);
    _mm_storeu_si128((__m128i *)(b + z - 2), vv);
  }
#else
  for (; a < z; a++) b[a] = v;
#endif
}

/* Sets (set != 0) or clears the bits of mask in *w. */
static inline void word_put(uint64_t *w, uint64_t mask, int set) { *w = set ? *w | mask : *w & ~mask; }

/* Sets (set != 0) or clears bits s .. e-1 of b. */
static inline void bits_put(uint64_t *b, uint64_t s, uint64_t e, int set) {
  uint64_t ws, we, ms, me;
  if (s >= e) return;
  ws = s >> 6;
  we = (e - 1) >> 6;
  ms = ~0ull << (s & 63);
  me = ~0ull >> (63 - ((e - 1) & 63));
  if (ws == we) {
    word_put(b + ws, ms & me, set);
    return;
  }
  word_put(b + ws, ms, set);
  words_fill(b, ws + 1, we, set ? ~0ull : 0);
  word_put(b + we, me, set);
}

/* The value changes in bitmap word k of nw: bit i set where pixel 64 k + i
 * differs from the pixel before it (carry: the top bit of word k - 1, then
 * of word k), except past the last pixel (tail: the last word's pixel bits). */
static FRLE_FORCE_INLINE uint64_t word_changes(const uint64_t *b, uint64_t k, uint64_t nw, uint64_t tail,
                                               uint64_t *carry) {
  uint64_t t = b[k] ^ ((b[k] << 1) | *carry);
  *carry = b[k] >> 63;
  return k == nw - 1 ? t & tail : t;
}

#ifdef FRLE_X86_KERNELS
/* The positions of the value changes in words lo..hi of a bitmap whose
 * words before lo are 0, as absolute 32-bit pixel indices into o (16
 * entries of slack past the last): each word's changes by one byte
 * compress of the indices 0..63, widened 16 at a time (AVX-512 VBMI2; noise
 * has several changes a word, where the bit-at-a-time loop mispredicts
 * its exit once a word). tail: the bits of the last word nw - 1 that are
 * pixels. Returns how many. */
FRLE_TARGET("avx512f,avx512bw,avx512vbmi2,popcnt")
static int64_t change_pos_avx512(const uint64_t *b, uint64_t lo, uint64_t hi, uint64_t nw, uint64_t tail, uint32_t *o) {
  const __m512i idx = _mm512_set_epi64(0x3f3e3d3c3b3a3938, 0x3736353433323130, 0x2f2e2d2c2b2a2928, 0x2726252423222120,
                                       0x1f1e1d1c1b1a1918, 0x1716151413121110, 0x0f0e0d0c0b0a0908, 0x0706050403020100);
  uint64_t k, carry = 0;
  int64_t m = 0;
  for (k = lo; k <= hi; k++) {
    uint64_t t = word_changes(b, k, nw, tail, &carry);
    int64_t n, i;
    __m512i bytes, base;
    if (!t) continue;
    n = frle_popcount64(t);
    bytes = _mm512_maskz_compress_epi8((__mmask64)t, idx);
    base = _mm512_set1_epi32((int)(uint32_t)(k * 64));
    for (i = 0; i < n; i += 16) {
      __m512i pos = _mm512_add_epi32(_mm512_cvtepu8_epi32(_mm512_castsi512_si128(bytes)), base);
      _mm512_storeu_si512((void *)(o + m + i), pos);
      bytes = _mm512_alignr_epi32(_mm512_setzero_si512(), bytes, 4); /* the next 16 bytes down */
    }
    m += n;
  }
  return m;
}
#endif

/* Runs of a bitmap of hw bits whose words outside lo..hi are 0: the
 * canonical runs (a leading 0 when pixel 0 is set, no other empty run),
 * which is what pycocotools' merge gives for valid input. cap bounds the
 * runs: a union or intersection changes value only where one of its inputs
 * does. Returns m, or -1 when out of memory. */
static int64_t bitmap_runs(const uint64_t *b, uint64_t hw, uint64_t lo, uint64_t hi, int64_t cap, uint32_t **out) {
  uint64_t nw = (hw + 63) / 64, k, last = 0, carry = 0;
  /* transitions at bits past hw (the last pixel set, then padding) are not runs */
  uint64_t tail = (hw & 63) ? ~0ull >> (64 - (hw & 63)) : ~0ull;
  int64_t m = 0;
  uint32_t *o = (uint32_t *)frle_spare_take((cap + 17) * (int64_t)sizeof(uint32_t), NULL);
  if (!o) return -1;
  if (hi + 1 < nw) hi++; /* the word after the last set one ends its run */
  if (hi >= nw) hi = nw - 1;
#ifdef FRLE_X86_KERNELS
  /* positions below hw < 2^32, then their differences */
  if (hw <= 0xFFFFFFFFull && frle_bits_level() >= FRLE_ISA_AVX512 && frle_cpu_has(FRLE_CPU_AVX512VBMI2)) {
    int64_t i, n = lo <= hi ? change_pos_avx512(b, lo, hi, nw, tail, o) : 0;
    uint32_t prev = 0;
    for (i = 0; i < n; i++) {
      uint32_t p = o[i];
      o[i] = p - prev;
      prev = p;
    }
    o[n] = (uint32_t)(hw - prev);
    *out = o;
    return n + 1;
  }
#endif
  for (k = lo; k <= hi; k++) {
    uint64_t t = word_changes(b, k, nw, tail, &carry);
    while (t) {
      uint64_t p = k * 64 + (uint64_t)frle_ctz64(t);
      o[m++] = (uint32_t)(p - last);
      last = p;
      t &= t - 1;
    }
  }
  o[m++] = (uint32_t)(hw - last);
  *out = o;
  return m;
}

static int64_t merge_bitmap(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw, int intersect,
                            uint32_t **out) {
  uint64_t nw = (hw + 63) / 64, glo = nw, ghi = 0;
  uint64_t *b = (uint64_t *)frle_spare_take((int64_t)((nw + 1) * sizeof(uint64_t)), NULL), *tmp = NULL;
  uint8_t *u;
  int64_t i, r, cap = 1;
  if (!b) return -1;
  memset(b, intersect ? 0xFF : 0, (size_t)nw * sizeof(uint64_t));
  if (intersect && (hw & 63)) b[nw - 1] = ~0ull >> (64 - (hw & 63)); /* bits past hw stay 0 */
  for (i = 0; i < n; i++) {
    const uint32_t *c = cnts[i];
    uint64_t pos = 0, lo = 1, hi = 0;
    int64_t j;
    if (m[i] >= 2) fg_words(c, m[i], hw, &lo, &hi);
    if (lo > hi) { /* no foreground */
      if (intersect) memset(b, 0, (size_t)nw * sizeof(uint64_t));
      continue;
    }
    if (lo < glo) glo = lo;
    if (hi > ghi) ghi = hi;
    /* a run a word or more over the words its foreground spans (noise): the
     * mask's toggle words, then one pass of those words (which costs more
     * than span fills below that) */
    if ((uint64_t)m[i] > hi - lo + 1) {
      if (!tmp) {
        if (!(tmp = (uint64_t *)frle_spare_take((int64_t)((nw + 1) * (sizeof(uint64_t) + 1)), NULL))) {
          frle_spare_give(b);
          return -1;
        }
        memset(tmp, 0, (size_t)(nw + 1) * (sizeof(uint64_t) + 1));
      }
      u = (uint8_t *)(tmp + nw + 1);
      runs_toggles(tmp, u, c, m[i]);
      px_words(b + lo, tmp, u, lo, hi, intersect ? PX_AND : PX_OR);
      /* toggles past the foreground: in the word after hi, and the spare word */
      tmp[hi + 1] = tmp[nw] = 0;
      u[hi + 1] = u[nw] = 0;
      if (intersect) { /* no foreground outside lo..hi */
        memset(b, 0, (size_t)lo * sizeof(uint64_t));
        memset(b + hi + 1, 0, (size_t)(nw - hi - 1) * sizeof(uint64_t));
      }
      continue;
    }
    /* union: set the foreground runs; intersection: clear the background
     * (a constant each, so that every call is an inlined copy) */
    for (j = 0; j < m[i]; j++) {
      uint64_t e = pos + c[j];
      if ((j & 1) != intersect) {
        if (intersect) bits_put(b, pos, e, 0);
        else bits_put(b, pos, e, 1);
      }
      pos = e;
    }
  }
  frle_spare_give(tmp);
  for (i = 0; i < n; i++) cap += m[i];
  if (intersect) { /* the intersection can be set anywhere its first mask is */
    glo = 0;
    ghi = nw - 1;
  }
  r = glo > ghi ? bitmap_runs(b, hw, 0, 0, cap, out) : bitmap_runs(b, hw, glo, ghi, cap, out);
  frle_spare_give(b);
  return r;
}

int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw, int intersect,
                        uint32_t **out) {
  int64_t i, total = 0, r;
  uint32_t *o;
  *out = NULL;
  for (i = 0; i < n; i++) total += m[i];
  /* pairwise merges cost about n * total / 2 steps; the bitmap hw / 64 words
   * a few times over plus one pass over the runs */
  if (n >= 2 && hw > 0 && hw / 64 < (uint64_t)(n / 2) * (uint64_t)total)
    return merge_bitmap(cnts, m, n, hw, intersect != 0, out);
  o = (uint32_t *)frle_spare_take((total + n + 1) * (int64_t)sizeof(uint32_t), NULL);
  if (!o) return -1;
  r = merge_pairs(cnts, m, n, intersect, o);
  if (r < 0) {
    frle_spare_give(o);
    return -1;
  }
  *out = o;
  return r;
}
