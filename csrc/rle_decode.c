/* Decode runs into dense masks: row-major through row spans, or column-major
 * as the runs come. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rle_compat.h"
#include "rle_dispatch.h"
#include "rle_internal.h"
#include "rle_platform.h"
#if defined(FRLE_SSE2)
#include <emmintrin.h>
#endif

/* Foreground runs of zeroed column-major decode; most are short, and a call
 * to memset costs more than the stores for them. */
static inline void fill_ones(uint8_t *p, uint32_t n) {
  if (n >= 64) {
    memset(p, 1, n);
    return;
  }
  while (n >= 8) {
    uint64_t v = 0x0101010101010101ull;
    memcpy(p, &v, 8);
    p += 8;
    n -= 8;
  }
  while (n--) *p++ = 1;
}

/* Fill n <= 64 bytes with overlapping stores: a few instructions whatever
 * n is, where a byte loop would take up to 63 iterations. */
static inline void fill_small(uint8_t *p, uint64_t n, uint8_t v) {
  uint64_t rep = 0x0101010101010101ull * v;
  if (n >= 8) {
    uint8_t *e = p + n - 8;
    for (; p < e; p += 8) memcpy(p, &rep, 8);
    memcpy(e, &rep, 8);
  } else if (n >= 4) {
    uint32_t r4 = (uint32_t)rep;
    memcpy(p, &r4, 4);
    memcpy(p + n - 4, &r4, 4);
  } else if (n) {
    p[0] = v;
    p[n / 2] = v;
    p[n - 1] = v;
  }
}

/* Non-temporal line stores: SSE2 (with AVX2 and AVX-512 line fills picked
 * at run time) on x86, stnp on AArch64 (GCC/Clang; the NEON fill level);
 * plain stores elsewhere. Picked at run time, so builds stay portable (no
 * -march flags). */
#if defined(FRLE_SSE2)
#define LW_SSE2 1
#elif defined(FRLE_NEON_KERNELS) && defined(FRLE_GNUC)
#include <arm_neon.h>
#define LW_NEON 1
#endif

/* The fill level rle_dispatch.c picked (FRLE_ISA caps it), cached: racing
 * first calls store the same value. */
static int fill_cached = -1;
static inline int fill_level(void) {
  int l = frle_load_relaxed(&fill_cached);
  if (l < 0) {
    l = frle_fill_level();
    frle_store_relaxed(&fill_cached, l);
  }
  return l;
}

#if defined(LW_SSE2)
/* Stream v over whole lines [a, end): one store instruction per line where
 * the CPU has AVX-512, since at memory speed the store port is the limit. */
static void line_fill_sse2(uint8_t *a, uint8_t *end, uint8_t v) {
  __m128i x = _mm_set1_epi8((char)v);
  for (; a < end; a += 64) {
    _mm_stream_si128((__m128i *)a, x);
    _mm_stream_si128((__m128i *)(a + 16), x);
    _mm_stream_si128((__m128i *)(a + 32), x);
    _mm_stream_si128((__m128i *)(a + 48), x);
  }
}

#ifdef FRLE_X86_KERNELS
#include <immintrin.h>
FRLE_TARGET("avx2") static void line_fill_avx2(uint8_t *a, uint8_t *end, uint8_t v) {
  __m256i x = _mm256_set1_epi8((char)v);
  for (; a < end; a += 64) {
    _mm256_stream_si256((__m256i *)a, x);
    _mm256_stream_si256((__m256i *)(a + 32), x);
  }
}

FRLE_TARGET("avx512f") static void line_fill_avx512(uint8_t *a, uint8_t *end, uint8_t v) {
  __m512i x = _mm512_set1_epi32((int)(0x01010101u * v));
  for (; a < end; a += 64) _mm512_stream_si512((__m512i *)a, x);
}
#endif

static inline int stream_ok(void) { return 1; }

static inline void line_fill(uint8_t *a, uint8_t *end, uint8_t v) {
#ifdef FRLE_X86_KERNELS
  int l = fill_level();
  if (l == FRLE_ISA_AVX512) line_fill_avx512(a, end, v);
  else if (l == FRLE_ISA_AVX2) line_fill_avx2(a, end, v);
  else
#endif
    line_fill_sse2(a, end, v);
}

static inline void stream_line(uint8_t *L, const uint8_t *buf) {
  const __m128i *b = (const __m128i *)buf;
  _mm_stream_si128((__m128i *)L, b[0]);
  _mm_stream_si128((__m128i *)(L + 16), b[1]);
  _mm_stream_si128((__m128i *)(L + 32), b[2]);
  _mm_stream_si128((__m128i *)(L + 48), b[3]);
}

static inline void stream_fence(void) { _mm_sfence(); }

#elif defined(LW_NEON)
/* stnp: a store pair with a hint not to keep the line in cache. */
static inline void stnp2(uint8_t *p, uint8x16_t x, uint8x16_t y) {
  __asm__ volatile("stnp %q1, %q2, [%0]" : : "r"(p), "w"(x), "w"(y) : "memory");
}

/* FRLE_ISA=scalar (or any x86 name) turns the stnp stores off. */
static inline int stream_ok(void) { return fill_level() == FRLE_ISA_NEON; }

static inline void line_fill(uint8_t *a, uint8_t *end, uint8_t v) {
  uint8x16_t x = vdupq_n_u8(v);
  for (; a < end; a += 64) {
    stnp2(a, x, x);
    stnp2(a + 32, x, x);
  }
}

static inline void stream_line(uint8_t *L, const uint8_t *b) {
  stnp2(L, vld1q_u8(b), vld1q_u8(b + 16));
  stnp2(L + 32, vld1q_u8(b + 32), vld1q_u8(b + 48));
}

/* order the stores before the caller's next (the threads' join orders them
 * for other threads) */
static inline void stream_fence(void) { __asm__ volatile("dmb ishst" : : : "memory"); }

#endif

const char *frle_fill_isa(void) {
#if defined(LW_SSE2)
  switch (fill_level()) {
    case FRLE_ISA_AVX512: return "avx512";
    case FRLE_ISA_AVX2: return "avx2";
    default: return "sse2";
  }
#elif defined(LW_NEON)
  return stream_ok() ? "neon" : "scalar";
#else
  return "scalar";
#endif
}

/* Writes every byte of [lo, hi) in address order, one span at a time.
 * Whole cache lines go out with non-temporal stores, so the output costs one
 * pass of DRAM writes and no reads: a plain store would first read each line
 * in. Lines that span boundaries cut are assembled in a local buffer and then
 * streamed whole, so they are not read either; only the first and last line
 * of [lo, hi), which may hold a neighbour's bytes, take plain stores. */
typedef struct {
  uint8_t *lo, *hi;
  uint8_t *line; /* aligned address of the line being assembled, or NULL */
  int skip_zero; /* output is zero already: leave whole zero lines alone */
  int stream;    /* non-temporal stores (see lw_init) */
#if defined(LW_SSE2)
  __m128i buf[4]; /* 16-byte aligned, for the stream stores */
#else
  uint8_t buf[64];
#endif
} line_writer;

/* Outputs smaller than this take plain stores: they fit in a core's L2, where
 * plain stores are faster, and the caller reads them next (one COCO mask of
 * 480x640 decodes 1.2x faster so). */
#define FRLE_STREAM_MIN ((uint64_t)1 << 20)

static inline void lw_init(line_writer *lw, uint8_t *lo, uint8_t *hi, int skip_zero) {
  lw->lo = lo;
  lw->hi = hi;
  lw->line = NULL;
  lw->skip_zero = skip_zero;
#if defined(LW_SSE2) || defined(LW_NEON)
  lw->stream = (uint64_t)(hi - lo) >= FRLE_STREAM_MIN && stream_ok();
#else
  lw->stream = 0;
#endif
}

static inline void lw_flush(line_writer *lw) {
  uint8_t *L = lw->line, *b = (uint8_t *)lw->buf;
  lw->line = NULL;
#if defined(LW_SSE2) || defined(LW_NEON)
  if (lw->stream && L >= lw->lo && L + 64 <= lw->hi) {
    stream_line(L, b);
    return;
  }
#endif
  {
    uint8_t *a = L < lw->lo ? lw->lo : L, *e = L + 64 > lw->hi ? lw->hi : L + 64;
    memcpy(a, b + (a - L), (size_t)(e - a));
  }
}

static inline void lw_span(line_writer *lw, uint8_t *a, uint8_t *b, uint8_t v) {
  while (a < b) {
    uint8_t *L = (uint8_t *)((uintptr_t)a & ~(uintptr_t)63), *e;
    if (a == L && b - a >= 64) { /* whole lines; a >= lo, so they are ours */
      uint8_t *end = (uint8_t *)((uintptr_t)b & ~(uintptr_t)63);
      if (!(v == 0 && lw->skip_zero)) {
#if defined(LW_SSE2) || defined(LW_NEON)
        if (lw->stream) line_fill(a, end, v);
        else
#endif
          memset(a, v, (size_t)(end - a));
      }
      a = end;
      continue;
    }
    lw->line = L;
    e = b < L + 64 ? b : L + 64;
    fill_small((uint8_t *)lw->buf + (a - L), (uint64_t)(e - a), v);
    a = e;
    if (a == L + 64 || a == lw->hi) lw_flush(lw);
  }
}

/* Non-temporal stores are weakly ordered: fence before others may read. */
static inline void lw_done(line_writer *lw) {
  if (lw->line) lw_flush(lw);
#if defined(LW_SSE2) || defined(LW_NEON)
  if (lw->stream) stream_fence();
#endif
}

void frle_decode_colmajor(const uint32_t *cnts, int64_t m, uint8_t *out, int zeroed) {
  uint64_t pos = 0;
  int64_t j;
  line_writer lw;
  if (zeroed) {
    for (j = 1; j < m; j += 2) {
      pos += cnts[j - 1];
      fill_ones(out + pos, cnts[j]);
      pos += cnts[j];
    }
    return;
  }
  for (j = 0; j < m; j++) pos += cnts[j];
  lw_init(&lw, out, out + pos, 0);
  pos = 0;
  for (j = 0; j < m; j++) {
    lw_span(&lw, out + pos, out + pos + cnts[j], (uint8_t)(j & 1));
    pos += cnts[j];
  }
  lw_done(&lw);
}

/* Appends the interval y0 .. y1-1 of column x to ev (x, y0, y1) when it is
 * not empty, and counts it into the per-row difference array. Branch-free:
 * whether boundaries of neighbouring columns coincide is data, not a
 * pattern the branch predictor can learn. Returns the new ne. */
static FRLE_FORCE_INLINE int64_t put_interval(uint32_t *ev, int64_t ne, int64_t *row, uint32_t x, uint32_t y0,
                                              uint32_t y1) {
  int64_t c = y1 > y0;
  ev[ne] = x;
  ev[ne + 1] = y0;
  ev[ne + 2] = y1;
  row[y0] += c;
  row[y1] -= c;
  return ne + 3 * c;
}

/* Emit the rows where exactly one of two sorted boundary lists is inside:
 * the parity of the merged boundaries. Each list holds y0,y1 pairs. Also
 * counts each interval into the per-row difference array. */
static inline int64_t xor_intervals(const uint32_t *a, int64_t na, const uint32_t *b, int64_t nb, uint32_t x,
                                    uint32_t *ev, int64_t ne, int64_t *row) {
  int64_t i = 0, j = 0;
  uint32_t open = 0;
  int odd = 0;
  if (na == 2 && nb == 2) { /* one segment each: the common case in blobs */
    uint32_t a0 = a[0], a1 = a[1], b0 = b[0], b1 = b[1];
    uint32_t lo0 = a0 < b0 ? a0 : b0, hi0 = a0 < b0 ? b0 : a0;
    uint32_t lo1 = a1 < b1 ? a1 : b1, hi1 = a1 < b1 ? b1 : a1;
    if (a1 <= b0 || b1 <= a0) { /* disjoint: each segment as it is */
      lo0 = a0;
      hi0 = a1;
      lo1 = b0;
      hi1 = b1;
    }
    ne = put_interval(ev, ne, row, x, lo0, hi0);
    return put_interval(ev, ne, row, x, lo1, hi1);
  }
  if (nb == 0) { /* a column next to an empty one: its segments as they are */
    for (i = 0; i < na; i += 2) ne = put_interval(ev, ne, row, x, a[i], a[i + 1]);
    return ne;
  }
  /* merge: the smaller head each step, picked without a branch */
  while (i < na && j < nb) {
    uint32_t ai = a[i], bj = b[j];
    int ta = ai <= bj;
    uint32_t y = ta ? ai : bj;
    i += ta;
    j += 1 - ta;
    if (odd) ne = put_interval(ev, ne, row, x, open, y);
    open = y;
    odd ^= 1;
  }
  for (; i < na; i++) {
    if (odd) ne = put_interval(ev, ne, row, x, open, a[i]);
    open = a[i];
    odd ^= 1;
  }
  for (; j < nb; j++) {
    if (odd) ne = put_interval(ev, ne, row, x, open, b[j]);
    open = b[j];
    odd ^= 1;
  }
  return ne;
}

int frle_row_transitions(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, frle_scratch *scr) {
  int64_t j, nb = 0, ncol = 0, ne = 0, g, total;
  uint64_t pos = 0, y;
  uint32_t *bnd, *seg, *ev, *tr;
  int64_t *row;

  scr->ylo = scr->yhi = 0;
  if (h == 1) { /* one row: its spans are the foreground runs themselves */
    if (!FRLE_GROW(scr->tr, scr->tr_cap, m + 2) || !FRLE_GROW(scr->row, scr->row_cap, 2)) return FRLE_ERR_NOMEM;
    tr = scr->tr;
    for (j = 1; j < m; j += 2) {
      uint64_t s = pos + cnts[j - 1], e = s + cnts[j];
      pos = e;
      tr[nb] = (uint32_t)s;
      tr[nb + 1] = (uint32_t)e;
      nb += 2 * (s != e);
    }
    scr->row[0] = nb;
    if (nb) scr->yhi = 1;
    return FRLE_OK;
  }

  if (h == 0 || w == 0) return FRLE_OK; /* no pixels */

  /* 1. Foreground runs split at column ends: per column, sorted y0,y1
   *    boundary pairs in bnd[], and the columns that have any in seg[] as
   *    (x, first boundary) pairs. Memory grows with the segments (a check
   *    per segment, a call only to grow), never with w, which may be 2^32
   *    for an empty mask. The column of a run start follows from the last
   *    one without a division unless the run skipped a column. */
  if (!FRLE_GROW(scr->tr, scr->tr_cap, m + 4) || !FRLE_GROW(scr->seg, scr->seg_cap, m + 4)) return FRLE_ERR_NOMEM;
  bnd = scr->tr; /* boundaries live in tr until step 3 */
  seg = scr->seg;
  {
    uint64_t x = 0, cs = 0; /* column of the last run start, and x * h */
    for (j = 1; j < m; j += 2) {
      uint64_t s = pos + cnts[j - 1], e = s + cnts[j];
      pos = e;
      if (s == e) continue;
      column_of(s, h, &x, &cs);
      if (nb + 4 > scr->tr_cap || 2 * ncol + 4 > scr->seg_cap) { /* room for one more segment */
        if (!FRLE_GROW(scr->tr, scr->tr_cap, nb + 4) || !FRLE_GROW(scr->seg, scr->seg_cap, 2 * ncol + 4))
          return FRLE_ERR_NOMEM;
        bnd = scr->tr;
        seg = scr->seg;
      }
      if (ncol == 0 || seg[2 * ncol - 2] != (uint32_t)x) {
        seg[2 * ncol] = (uint32_t)x;
        seg[2 * ncol + 1] = (uint32_t)nb;
        ncol++;
      }
      bnd[nb] = (uint32_t)(s - cs);
      while (e > cs + h) { /* the run goes on in the next column */
        bnd[nb + 1] = (uint32_t)h;
        nb += 2;
        x++;
        cs += h;
        if (nb + 4 > scr->tr_cap || 2 * ncol + 4 > scr->seg_cap) {
          if (!FRLE_GROW(scr->tr, scr->tr_cap, nb + 4) || !FRLE_GROW(scr->seg, scr->seg_cap, 2 * ncol + 4))
            return FRLE_ERR_NOMEM;
          bnd = scr->tr;
          seg = scr->seg;
        }
        seg[2 * ncol] = (uint32_t)x;
        seg[2 * ncol + 1] = (uint32_t)nb;
        ncol++;
        bnd[nb] = 0;
      }
      bnd[nb + 1] = (uint32_t)(e - cs);
      nb += 2;
    }
  }
  if (ncol == 0) return FRLE_OK;

  /* 2. Row transitions between neighbouring columns x-1 and x: the XOR of
   *    their segments, as intervals of rows (x, ya, yb), counted per row in
   *    a difference array. Columns go in order, so rows stay sorted by x. */
  /* worst case: every boundary, of both neighbours, starts an interval */
  if (!FRLE_GROW(scr->row, scr->row_cap, (int64_t)h + 1) || !FRLE_GROW(scr->ev, scr->ev_cap, 3 * (2 * nb + 4)))
    return FRLE_ERR_NOMEM;
  row = scr->row;
  ev = scr->ev;
  memset(row, 0, (h + 1) * sizeof(int64_t));
  {
    int64_t c;
    for (c = 0; c < ncol; c++) {
      uint32_t x = seg[2 * c];
      int64_t cb = seg[2 * c + 1], cn = (c + 1 < ncol ? (int64_t)seg[2 * c + 3] : nb) - cb;
      if (c > 0) {
        uint32_t px = seg[2 * c - 2];
        int64_t pb = seg[2 * c - 1], pn = cb - pb;
        if (px + 1 == x) {
          ne = xor_intervals(bnd + pb, pn, bnd + cb, cn, x, ev, ne, row);
          continue;
        }
        ne = xor_intervals(bnd + pb, pn, NULL, 0, px + 1, ev, ne, row);
      }
      ne = xor_intervals(bnd + cb, cn, NULL, 0, x, ev, ne, row);
    }
    {
      uint32_t px = seg[2 * ncol - 2];
      int64_t pb = seg[2 * ncol - 1];
      ne = xor_intervals(bnd + pb, nb - pb, NULL, 0, px + 1, ev, ne, row);
    }
  }

  /* 3. Bucket the transitions by row: prefix-sum, fill. Only rows
   *    [y0, y1) can hold transitions; small masks skip the rest. */
  {
    uint64_t y0 = h, y1 = 0;
    int64_t run = 0;
    for (g = 0; g < ne; g += 3) {
      if (ev[g + 1] < y0) y0 = ev[g + 1];
      if (ev[g + 2] > y1) y1 = ev[g + 2];
    }
    total = 0;
    for (y = y0; y < y1; y++) { /* row[y] becomes the start of row y */
      int64_t n;
      run += row[y];
      n = run;
      row[y] = total;
      total += n;
    }
    if (!FRLE_GROW(scr->tr, scr->tr_cap, total)) return FRLE_ERR_NOMEM;
    tr = scr->tr;
    for (g = 0; g < ne; g += 3) {
      uint32_t x = ev[g], ye = ev[g + 2];
      for (y = ev[g + 1]; y < ye; y++) tr[row[y]++] = x;
    }
    /* row[y] now holds the end of row y, which is the start of row y+1 */
    scr->ylo = y0;
    scr->yhi = y1;
  }
  return FRLE_OK;
}

/* Bit-band decode: its cost is set by the foreground's extent and the
 * runs, not by the row spans, whose transpose (frle_row_transitions)
 * dominates masks of many thin spans. The mask is first held as bits, one
 * 64-bit word per (band of 64 rows, column), each column segment OR-ing a
 * range of bits into the words of the bands it crosses. Then each band's
 * 64x64 blocks that hold foreground are transposed to row words, and row
 * by row each word is shifted to where the row starts in its line: a word
 * per output line, expanded to bytes and streamed out. Lines away from the
 * foreground are zero lines (left alone with zeroed). */
#define BB_ROWS 64
/* widest band (64 * w output bytes): its row words stay in L1 and L2 */
#define BB_STAGE_MAX ((uint64_t)512 << 10)
/* largest mask (pixels): its bit copy, an eighth of it, stays in L2 or L3 */
#define BB_PIXELS_MAX ((uint64_t)64 << 20)
/* Masks of few, long runs (blobs) decode faster through row spans without
 * the AVX-512 block kernel (a scalar 64x64 transpose costs about 1,300
 * operations): there the bit path is taken only below this many foreground
 * pixels per run (measured on 1500x2250 masks: blobs have about 240, stars
 * 37). */
#define BB_THIN_PX_PER_RUN 48

/* a[i] bit j becomes a[j] bit i (a 64x64 bit matrix, in place): swap
 * the off-diagonal blocks of halving size. */
static void transpose64(uint64_t *a) {
  uint64_t mk = 0x00000000FFFFFFFFull;
  int j, k;
  for (j = 32; j != 0; j >>= 1, mk ^= (mk << j)) {
    for (k = 0; k < 64; k = ((k | j) + 1) & ~j) {
      uint64_t t = ((a[k] >> j) ^ a[k | j]) & mk;
      a[k] ^= t << j;
      a[k | j] ^= t;
    }
  }
}

#ifdef FRLE_X86_KERNELS
/* byte 8*yb + (7-l) of word group k takes byte 8*l + yb: the byte
 * transpose, each word's bytes reversed for the affine step */
static const uint8_t tr_idx[64] = {56, 48, 40, 32, 24, 16, 8,  0, 57, 49, 41, 33, 25, 17, 9,  1,
                                   58, 50, 42, 34, 26, 18, 10, 2, 59, 51, 43, 35, 27, 19, 11, 3,
                                   60, 52, 44, 36, 28, 20, 12, 4, 61, 53, 45, 37, 29, 21, 13, 5,
                                   62, 54, 46, 38, 30, 22, 14, 6, 63, 55, 47, 39, 31, 23, 15, 7};
/* the same without the reversal: each byte of the row words comes out
 * with its bits reversed (np.packbits' big order, for the packed decode) */
static const uint8_t tr_idx_big[64] = {0, 8,  16, 24, 32, 40, 48, 56, 1, 9,  17, 25, 33, 41, 49, 57,
                                       2, 10, 18, 26, 34, 42, 50, 58, 3, 11, 19, 27, 35, 43, 51, 59,
                                       4, 12, 20, 28, 36, 44, 52, 60, 5, 13, 21, 29, 37, 45, 53, 61,
                                       6, 14, 22, 30, 38, 46, 54, 62, 7, 15, 23, 31, 39, 47, 55, 63};

/* The 64 row words of a block, in the order bb_perm gives (rw[i] is row
 * bb_perm[i]): a byte transpose within each register (vpermb), an 8x8 bit
 * transpose within each word (gf2p8affineqb) and three rounds of unpacks.
 * idx: tr_idx, or tr_idx_big for bytes with their bits reversed. */
FRLE_TARGET("avx512f,avx512bw,avx512vbmi,gfni")
static void transpose64_avx512(const uint64_t *blk, uint64_t *rw, const uint8_t *idx) {
  __m512i ix = _mm512_loadu_si512((const void *)idx);
  __m512i unit = _mm512_set1_epi64((long long)0x8040201008040201ull);
  __m512i q[8], a[8], b[8];
  int k;
  for (k = 0; k < 8; k++) {
    __m512i z = _mm512_loadu_si512((const void *)(blk + 8 * k));
    q[k] = _mm512_gf2p8affine_epi64_epi8(unit, _mm512_permutexvar_epi8(ix, z), 0);
  }
  for (k = 0; k < 4; k++) {
    a[2 * k] = _mm512_unpacklo_epi8(q[2 * k], q[2 * k + 1]);
    a[2 * k + 1] = _mm512_unpackhi_epi8(q[2 * k], q[2 * k + 1]);
  }
  /* a[2p + s1]: pair p, stage-1 half s1 */
  for (k = 0; k < 2; k++) {
    int s1;
    for (s1 = 0; s1 < 2; s1++) {
      __m512i x = a[4 * k + s1], y = a[4 * k + 2 + s1];
      b[4 * k + 2 * s1] = _mm512_unpacklo_epi16(x, y);
      b[4 * k + 2 * s1 + 1] = _mm512_unpackhi_epi16(x, y);
    }
  }
  /* b[4h + 2 s1 + s2]: h = which four of the eight words */
  for (k = 0; k < 4; k++) {
    __m512i lo = _mm512_unpacklo_epi32(b[k], b[4 + k]), hi = _mm512_unpackhi_epi32(b[k], b[4 + k]);
    _mm512_storeu_si512((void *)(rw + 16 * k), lo);
    _mm512_storeu_si512((void *)(rw + 16 * k + 8), hi);
  }
}

/* Line word v as the 64 bytes of line L (64-aligned), 1 where v has a
 * bit, with AVX2: 128-bit lane j of a half spreads bytes 2j and 2j+1 of
 * its 32 bits over 8 bytes each, and each byte keeps its own bit. */
FRLE_TARGET("avx2")
static inline void line_bits_avx2(uint8_t *L, uint64_t v, int stream) {
  const __m256i spread = _mm256_setr_epi64x(0, 0x0101010101010101ll, 0x0202020202020202ll, 0x0303030303030303ll);
  const __m256i bitsel = _mm256_set1_epi64x((long long)0x8040201008040201ull), one = _mm256_set1_epi8(1);
  __m256i lo = _mm256_set1_epi32((int)(uint32_t)v), hi = _mm256_set1_epi32((int)(uint32_t)(v >> 32));
  lo = _mm256_min_epu8(_mm256_and_si256(_mm256_shuffle_epi8(lo, spread), bitsel), one);
  hi = _mm256_min_epu8(_mm256_and_si256(_mm256_shuffle_epi8(hi, spread), bitsel), one);
  if (stream) {
    _mm256_stream_si256((__m256i *)L, lo);
    _mm256_stream_si256((__m256i *)(L + 32), hi);
  } else {
    _mm256_storeu_si256((__m256i *)L, lo);
    _mm256_storeu_si256((__m256i *)(L + 32), hi);
  }
}

/* The same with AVX-512: streamed, or plain stores. */
FRLE_TARGET("avx512f,avx512bw")
static inline void line_bits_avx512(uint8_t *L, uint64_t v, int stream) {
  __m512i x = _mm512_maskz_mov_epi8(_cvtu64_mask64(v), _mm512_set1_epi8(1));
  if (stream) _mm512_stream_si512((__m512i *)L, x);
  else _mm512_storeu_si512((void *)L, x);
}
#endif

/* row of rw[i] for each block kernel: the AVX-512 one's unpack order
 * (word q of stored register f = 4 s1 + 2 s2 + s3 is row
 * 16 (q >> 1) + 8 s1 + 4 s2 + 2 s3 + (q & 1)), and the identity */
static uint8_t bb_perm_avx512[64], bb_perm_id[64], bb_iperm_avx512[64];

/* byte b as 8 bytes of its bits, lowest first, and the permutations above:
 * filled once per process (frle_once orders the writes before any reader's
 * use, on weakly ordered CPUs too) */
static uint8_t expand_tab[256][8];
static frle_once_t expand_once = FRLE_ONCE_INIT;

static void expand_fill(void) {
  int b, j;
  for (b = 0; b < 256; b++)
    for (j = 0; j < 8; j++) expand_tab[b][j] = (uint8_t)((b >> j) & 1);
  for (b = 0; b < 64; b++) {
    /* stored register f (rw + 8 f) is unpack k's lo (f = 2k) or hi (2k+1),
     * k = 2 s1 + s2; so s3 = f & 1, s2 = (f >> 1) & 1, s1 = f >> 2 */
    int f = b >> 3, qw = b & 7;
    bb_perm_avx512[b] = (uint8_t)(16 * (qw >> 1) + 8 * (f >> 2) + 4 * ((f >> 1) & 1) + 2 * (f & 1) + (qw & 1));
    bb_perm_id[b] = (uint8_t)b;
  }
  for (b = 0; b < 64; b++) bb_iperm_avx512[bb_perm_avx512[b]] = (uint8_t)b;
}

static void expand_init(void) { frle_once(&expand_once, expand_fill); }

/* Line word v as the 64 bytes at L, 1 where v has a bit, through the
 * table: streamed (L 64-aligned), or plain stores. */
static inline void line_bits_scalar(uint8_t *L, uint64_t v, int stream) {
#if defined(LW_SSE2)
  __m128i t[4]; /* aligned, for stream_line */
#else
  uint64_t t[8];
#endif
  uint8_t *p = stream ? (uint8_t *)t : L;
  int c;
  for (c = 0; c < 8; c++, v >>= 8) memcpy(p + 8 * c, expand_tab[v & 0xff], 8);
#if defined(LW_SSE2) || defined(LW_NEON)
  if (stream) stream_line(L, (const uint8_t *)t);
#endif
}

/* The staging memory, at least n bytes, all zero (its users clear what
 * they write, so only grown memory is zeroed). 0 when out of memory. */
static int stage_zeroed(frle_scratch *scr, int64_t n) {
  if (!FRLE_GROW(scr->stage, scr->stage_cap, n)) return 0;
  if (scr->stage_zero < scr->stage_cap) {
    memset(scr->stage, 0, (size_t)scr->stage_cap);
    scr->stage_zero = scr->stage_cap;
  }
  return 1;
}

/* The bits of one mask: nbands * wpad column words in bits (all zero
 * between calls: each band's are cleared as they are transposed), and per
 * band a bitmap of its touched groups of 64 columns (gw words each). */
typedef struct {
  uint64_t h, w, nbands, wpad, gw;
  uint64_t *bits, *touched, *rows; /* rows: one block's 64 row words per group */
  const uint8_t *perm;             /* rows[x0 + i] is row perm[i] of its block */
  const uint8_t *iperm;            /* and row r is rows[x0 + iperm[r]] */
  int avx512;
} bitband;

/* The build's place in the runs (bb_build): the run ends so far, column
 * x (cs = x * h), the word of band kb in it whose bits acc holds, and
 * where the column's words and block marks start. */
typedef struct {
  uint64_t pos, x, cs, kb, acc;
  uint64_t *col;  /* column x's word of band 0: band b's is col[b * wpad] */
  uint8_t *cmark; /* its group's marks: band b's is cmark[b] */
} bb_state;

/* OR v into band b's word of the column, and mark its block. */
static FRLE_FORCE_INLINE void bb_put(bb_state *t, uint64_t wpad, uint64_t b, uint64_t v) {
  t->acc = (b == t->kb ? t->acc : 0) | v;
  t->kb = b;
  t->col[b * wpad] = t->acc;
  t->cmark[b] = 1;
}

static FRLE_FORCE_INLINE void bb_column(bb_state *t, uint64_t *bits, uint8_t *mark, uint64_t nbands) {
  t->col = bits + t->x;
  t->cmark = mark + (t->x >> 6) * nbands;
  t->kb = ~0ull;
}

/* A run [s, e) that is empty or leaves the column or band the last run
 * ended in. */
static void bb_run_slow(bb_state *t, uint64_t s, uint64_t e, uint64_t h, uint64_t wpad, uint64_t nbands, uint64_t *bits,
                        uint8_t *mark) {
  uint64_t x0 = t->x, cs;
  t->pos = e;
  if (s == e) return;
  column_of(s, h, &t->x, &t->cs);
  if (t->x != x0) bb_column(t, bits, mark, nbands);
  cs = t->cs;
  for (;;) {
    uint64_t ce = cs + h, se = e < ce ? e : ce, y0 = s - cs, y1 = se - cs, b;
    uint64_t b0 = y0 / BB_ROWS, b1 = (y1 - 1) / BB_ROWS;
    uint64_t lo = ~0ull << (y0 % BB_ROWS), hi = ~0ull >> (63 - (y1 - 1) % BB_ROWS);
    if (b0 == b1) {
      bb_put(t, wpad, b0, lo & hi);
    } else {
      bb_put(t, wpad, b0, lo);
      for (b = b0 + 1; b < b1; b++) bb_put(t, wpad, b, ~0ull);
      bb_put(t, wpad, b1, hi);
    }
    if (e <= ce) break;
    s = ce;
    t->x++;
    t->cs = cs = ce;
    bb_column(t, bits, mark, nbands);
  }
}

/* The runs p[-1], p[0] (a background and a foreground run) from p on
 * while each foreground run lies in one band, or two, of the last run's
 * column: most runs. Positions are kept from the column's start (r: where
 * the last run ended), and t in registers. Returns the first pair it did
 * not take. (An empty run is taken only where it starts at most h into the
 * column, and sets no bit.) */
static FRLE_FORCE_INLINE const uint32_t *bb_fast(bb_state *t, const uint32_t *p, const uint32_t *pend, uint64_t h,
                                                 uint64_t wpad) {
  uint64_t r = t->pos - t->cs, kb = t->kb, acc = t->acc, *col = t->col;
  uint8_t *cmark = t->cmark;
  for (; p < pend; p += 2) {
    uint64_t d = r + p[-1], e = d + p[0], y1 = e - 1, bd = d >> 6;
    if (y1 >= h) break;
    if (((d ^ y1) >> 6) != 0) { /* two bands (stars: half their runs), or more */
      if ((y1 >> 6) - bd != 1) break;
      r = e;
      col[bd * wpad] = (bd == kb ? acc : 0) | (~0ull << (d & 63));
      cmark[bd] = 1;
      kb = bd + 1;
      acc = (2ull << (y1 & 63)) - 1; /* rows up to y1 (2 << 63 is 0) */
      col[kb * wpad] = acc;
      cmark[kb] = 1;
      continue;
    }
    r = e;
    acc = (bd == kb ? acc : 0) | ((2ull << (y1 & 63)) - (1ull << (d & 63))); /* bits d..y1 */
    kb = bd;
    col[bd * wpad] = acc;
    cmark[bd] = 1;
  }
  t->pos = t->cs + r;
  t->kb = kb;
  t->acc = acc;
  return p;
}

static const uint32_t *bb_fast_plain(bb_state *t, const uint32_t *p, const uint32_t *pend, uint64_t h, uint64_t wpad) {
  return bb_fast(t, p, pend, h, wpad);
}

#ifdef FRLE_X86_KERNELS
/* shlx and shrx: no copies for the shift counts */
FRLE_TARGET("bmi2")
static const uint32_t *bb_fast_bmi2(bb_state *t, const uint32_t *p, const uint32_t *pend, uint64_t h, uint64_t wpad) {
  return bb_fast(t, p, pend, h, wpad);
}
#endif

/* Step 1: OR every column segment's bits into the band words.
 *
 * A column's runs come in order, so each (band, column) word gets all its
 * runs in one stretch: its bits gather in a register (acc) and every run
 * stores acc whole, a plain store. An OR into memory per run made each run
 * wait on the last one's store (runs of 1-3 pixels: noise, strokes). The
 * touched blocks are marked a byte each (a plain store too), column group
 * by column group (mark[g * nbands + b]), and gathered into bb->touched at
 * the end. Runs inside one or two bands of the last run's column take a
 * tight loop on locals (bb_fast); the others, bb_run_slow. */
static int bb_build(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, frle_scratch *scr, bitband *bb) {
  uint64_t ngroups = (w + 63) / 64, b, g, nbands = (h + BB_ROWS - 1) / BB_ROWS;
  uint64_t wpad = ngroups * 64, gw = (ngroups + 63) / 64, nmark = nbands * ngroups, *bits;
  const uint32_t *p = cnts + 1, *pend = cnts + m; /* p[-1], p[0]: a background and a foreground run */
  uint8_t *mark;
  bb_state t;
#ifdef FRLE_X86_KERNELS
  int bmi2 = frle_use_bmi2();
#endif
  expand_init();
  bb->h = h;
  bb->w = w;
  bb->nbands = nbands;
  bb->wpad = wpad;
  bb->gw = gw;
  bb->avx512 = 0;
  bb->perm = bb->iperm = bb_perm_id;
#ifdef FRLE_X86_KERNELS
  if (frle_bits_level() == FRLE_ISA_AVX512) {
    bb->avx512 = 1;
    bb->perm = bb_perm_avx512;
    bb->iperm = bb_iperm_avx512;
  }
#endif
  /* bwork: touched, one block's row words per group, then the marks */
  if (!FRLE_GROW(scr->bits, scr->bits_cap, (int64_t)(nbands * wpad)) ||
      !FRLE_GROW(scr->bwork, scr->bwork_cap, (int64_t)(nbands * gw + wpad + (nmark + 7) / 8)))
    return FRLE_ERR_NOMEM;
  bb->bits = bits = scr->bits;
  bb->touched = scr->bwork;
  bb->rows = bb->touched + nbands * gw;
  mark = (uint8_t *)(bb->rows + wpad);
  if (scr->bits_zero < scr->bits_cap) { /* grown: zero the new words once */
    memset(bits + scr->bits_zero, 0, (size_t)(scr->bits_cap - scr->bits_zero) * sizeof(uint64_t));
    scr->bits_zero = scr->bits_cap;
  }
  memset(bb->touched, 0, nbands * gw * sizeof(uint64_t));
  memset(mark, 0, nmark);
  t.pos = t.x = t.cs = t.acc = 0;
  bb_column(&t, bits, mark, nbands);
  while (p < pend) {
#ifdef FRLE_X86_KERNELS
    if (bmi2) p = bb_fast_bmi2(&t, p, pend, h, wpad);
    else
#endif
      p = bb_fast_plain(&t, p, pend, h, wpad);
    if (p >= pend) break;
    {
      uint64_t s = t.pos + p[-1];
      bb_run_slow(&t, s, s + p[0], h, wpad, nbands, bits, mark);
    }
    p += 2;
  }
  /* the marks as touched bits: only groups from the first run's column
   * (at or past cnts[0]) to the last one's (t.x) can have any */
  for (g = m > 1 ? cnts[0] / h / 64 : ngroups; g <= t.x / 64 && g < ngroups; g++)
    for (b = 0; b < nbands; b++) bb->touched[b * gw + (g >> 6)] |= (uint64_t)mark[g * nbands + b] << (g & 63);
  return FRLE_OK;
}

/* Whether band b has foreground. */
static inline int bb_any(const bitband *bb, uint64_t b) {
  uint64_t q;
  for (q = 0; q < bb->gw; q++)
    if (bb->touched[b * bb->gw + q]) return 1;
  return 0;
}

/* Step 2: band b's touched blocks to row words (bb->rows), its column words
 * cleared. With big (the AVX-512 kernel only: bb->avx512), each byte of the
 * row words has its bits reversed. */
static void bb_transpose(bitband *bb, uint64_t b, int big) {
  uint64_t q, *band = bb->bits + b * bb->wpad;
  (void)big; /* read by the AVX-512 kernel only: unused where there is none */
  for (q = 0; q < bb->gw; q++) {
    uint64_t tw = bb->touched[b * bb->gw + q];
    while (tw) {
      uint64_t x0 = (q * 64 + (uint64_t)frle_ctz64(tw)) * 64;
      tw &= tw - 1;
#ifdef FRLE_X86_KERNELS
      if (bb->avx512) transpose64_avx512(band + x0, bb->rows + x0, big ? tr_idx_big : tr_idx);
      else
#endif
      {
        memcpy(bb->rows + x0, band + x0, 64 * sizeof(uint64_t));
        transpose64(bb->rows + x0);
      }
      memset(band + x0, 0, 64 * sizeof(uint64_t));
    }
  }
}

typedef void (*line_bits_fn)(uint8_t *L, uint64_t v, int stream);

/* Zero whole lines [a, e). */
static inline void zero_lines(uint8_t *a, uint8_t *e, int stream) {
#if defined(LW_SSE2) || defined(LW_NEON)
  if (stream) {
    line_fill(a, e, 0);
    return;
  }
#endif
  (void)stream;
  memset(a, 0, (size_t)(e - a));
}

/* Step 4, writing one band's bytes [A, E) line by line in address order:
 * whole lines k0 <= k < k1 from L0 (streamed where stream says), and the
 * lines the band may share with its neighbours (line 0 when A is not
 * aligned, line k1 when E is not), which take plain stores of the band's
 * own bytes only. Without zeroed, the lines no word was given for are zero
 * lines. */
typedef struct {
  uint8_t *A, *E, *L0;
  uint64_t k0, k1, next; /* next: the first whole line not yet written */
  int first, last;       /* shared lines written (or none to write) */
  int zeroed, stream;
} band_out;

static inline void bo_init(band_out *bo, uint8_t *A, uint8_t *E, int zeroed, int stream) {
  uintptr_t o = (uintptr_t)A & 63;
  bo->A = A;
  bo->E = E;
  bo->L0 = A - o;
  bo->k0 = o != 0;
  bo->k1 = (uint64_t)(E - bo->L0) >> 6;
  bo->next = bo->k0;
  bo->first = !o;
  bo->last = !((uintptr_t)E & 63);
  bo->zeroed = zeroed;
  bo->stream = stream;
}

/* The bytes of [A, E) in line L from line word v, with plain stores. */
static FRLE_FORCE_INLINE void edge_line(const band_out *bo, uint8_t *L, uint64_t v, line_bits_fn put) {
  uint8_t t[64], *a = L < bo->A ? bo->A : L, *e = L + 64 > bo->E ? bo->E : L + 64;
  put(t, v, 0);
  memcpy(a, t + (a - L), (size_t)(e - a));
}

/* Line k's word v (lines come in increasing k). */
static FRLE_FORCE_INLINE void bo_word(band_out *bo, uint64_t k, uint64_t v, line_bits_fn put) {
  uint8_t *L = bo->L0 + 64 * k;
  if (k >= bo->k0 && k < bo->k1) {
    if (!bo->zeroed && k > bo->next) zero_lines(bo->L0 + 64 * bo->next, L, bo->stream);
    put(L, v, bo->stream);
    bo->next = k + 1;
  } else if (k <= bo->k1) {
    edge_line(bo, L, v, put);
    bo->first |= k == 0;
    bo->last |= k == bo->k1;
  }
}

/* The rest of the band: without zeroed, zeros where no word was given. */
static FRLE_FORCE_INLINE void bo_done(band_out *bo, line_bits_fn put) {
  if (bo->zeroed) return;
  if (bo->k1 > bo->next) zero_lines(bo->L0 + 64 * bo->next, bo->L0 + 64 * bo->k1, bo->stream);
  if (!bo->first) edge_line(bo, bo->L0, 0, put);
  if (!bo->last) edge_line(bo, bo->L0 + 64 * bo->k1, 0, put);
}

/* Band b's touched groups as runs [g0[i], g1[i]] of adjacent groups; the
 * number of runs. frle_bits_pays keeps a band to at most BB_STAGE_MAX /
 * BB_ROWS columns, so it has at most BB_SEGS_MAX runs. */
#define BB_SEGS_MAX ((BB_STAGE_MAX / BB_ROWS / 64 + 1) / 2)
static int bb_segments(const bitband *bb, uint64_t b, uint32_t *g0, uint32_t *g1) {
  uint64_t q;
  int n = 0;
  for (q = 0; q < bb->gw; q++) {
    uint64_t tw = bb->touched[b * bb->gw + q];
    while (tw) {
      uint64_t g = q * 64 + (uint64_t)frle_ctz64(tw);
      tw &= tw - 1;
      if (n && g1[n - 1] + 1 == g) {
        g1[n - 1] = (uint32_t)g;
      } else {
        g0[n] = g1[n] = (uint32_t)g;
        n++;
      }
    }
  }
  return n;
}

/* Line k's word lw, in address order: held in (*pk, *pv) until the next
 * line is known, and ORed into the held one when it is the same line. */
static FRLE_FORCE_INLINE void rows_hold(band_out *bo, uint64_t *pk, uint64_t *pv, uint64_t k, uint64_t lw,
                                        line_bits_fn put) {
  if (k == *pk) {
    *pv |= lw;
    return;
  }
  if (*pk != ~0ull) bo_word(bo, *pk, *pv, put);
  *pk = k;
  *pv = lw;
}

/* Steps 3 and 4, row by row in address order, straight from the row
 * words: a row's line words are its group words shifted by the row's
 * offset in its first line, so no band of line words is built and none is
 * searched for set words (that search took a mispredicted branch about
 * twice per row of a blob). Rows with no bits are skipped; in the others
 * every line of each run of touched groups is written, zero words too
 * (with zeroed they are zeros already), so no branch depends on the bits.
 * Only a run's first and last line can be another row's too: those go
 * through rows_hold, in address order, and with zeroed the lines between
 * are written straight out (without zeroed, everything goes through
 * rows_hold, which keeps bo_word's zero fill in order). */
static FRLE_FORCE_INLINE void bb_rows_impl(const bitband *bb, uint64_t b, uint8_t *A, uint8_t *E, int zeroed,
                                           int stream, line_bits_fn put) {
  band_out bo;
  uint64_t w = bb->w, nr = (uint64_t)(E - A) / w, r, pv = 0, pk = ~0ull;
  uint32_t g0[BB_SEGS_MAX], g1[BB_SEGS_MAX];
  int i, nseg = bb_segments(bb, b, g0, g1);
  bo_init(&bo, A, E, zeroed, stream);
  for (r = 0; r < nr; r++) {
    const uint64_t *rw = bb->rows + bb->iperm[r]; /* group g's word: rw[64 * g] */
    uint64_t s = (uintptr_t)(A + r * w) & 63, any = 0, g, ge;
    uint64_t k0 = (uint64_t)(A + r * w - s - bo.L0) >> 6; /* group g's bits start at bit s of line k0 + g */
    uint64_t glast = (s + w - 1) >> 6;                     /* the row's last byte is in line k0 + glast */
    for (i = 0; i < nseg; i++)
      for (g = g0[i]; g <= g1[i]; g++) any |= rw[64 * g];
    if (!any) continue;
    for (i = 0; i < nseg; i++) {
      uint64_t v = rw[64 * g0[i]], prev = v;
      /* the line after the run's last group, if the row reaches into it
       * (the last group's padding can reach a line or more past the row:
       * the next row's lines, which must come in order) */
      ge = g1[i] + 1 < glast ? g1[i] + 1 : glast;
      rows_hold(&bo, &pk, &pv, k0 + g0[i], v << s, put); /* the run's first line: maybe the row before's too */
      for (g = g0[i] + 1; g < ge; g++) { /* lines of this row alone, whole lines of the band */
        uint64_t lw;
        v = rw[64 * g];
        lw = (v << s) | ((prev >> 1) >> (63 - s));
        prev = v;
        if (zeroed) put(bo.L0 + 64 * (k0 + g), lw, stream); /* in any order: no zero fill to keep */
        else rows_hold(&bo, &pk, &pv, k0 + g, lw, put);
      }
      if (ge > g0[i]) { /* the run's last line: maybe the row after's too */
        v = ge <= g1[i] ? rw[64 * ge] : 0;
        rows_hold(&bo, &pk, &pv, k0 + ge, (v << s) | ((prev >> 1) >> (63 - s)), put);
      }
    }
  }
  if (pk != ~0ull) bo_word(&bo, pk, pv, put);
  bo_done(&bo, put);
}

/* bb_rows_impl per line writer, zeroed and not each its own copy (with
 * zeroed a constant, bo_word's zero fill drops out of the loop: 7% of a
 * zeroed decode of blobs) */
#define BB_ROWS_FN(name, attr, put)                                                                                    \
  attr static void name(const bitband *bb, uint64_t b, uint8_t *A, uint8_t *E, int zeroed, int stream) {               \
    if (zeroed) bb_rows_impl(bb, b, A, E, 1, stream, put);                                                             \
    else bb_rows_impl(bb, b, A, E, 0, stream, put);                                                                    \
  }
BB_ROWS_FN(bb_rows, , line_bits_scalar)
#ifdef FRLE_X86_KERNELS
BB_ROWS_FN(bb_rows_avx2, FRLE_TARGET("avx2"), line_bits_avx2)
BB_ROWS_FN(bb_rows_avx512, FRLE_TARGET("avx512f,avx512bw"), line_bits_avx512)
#endif

typedef void (*bb_rows_fn)(const bitband *bb, uint64_t b, uint8_t *A, uint8_t *E, int zeroed, int stream);

static int decode_bitband(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, uint8_t *out, int zeroed,
                          frle_scratch *scr) {
  bitband bb;
  uint64_t b;
  line_writer lw;
  bb_rows_fn rows = bb_rows;
  int rc = bb_build(cnts, m, h, w, scr, &bb);
  if (rc != FRLE_OK) return rc;
#ifdef FRLE_X86_KERNELS
  if (bb.avx512) rows = bb_rows_avx512;
  else if (fill_level() >= FRLE_ISA_AVX2) rows = bb_rows_avx2;
#endif
  lw_init(&lw, out, out + h * w, zeroed); /* for its stream choice and fence only */
  for (b = 0; b < bb.nbands; b++) {
    uint64_t y = b * BB_ROWS, nr = h - y < BB_ROWS ? h - y : BB_ROWS;
    uint8_t *a = out + y * w;
    if (!bb_any(&bb, b)) { /* only zero lines (not through rows: that was 2% slower on blobs) */
      band_out bo;
      if (zeroed) continue;
      bo_init(&bo, a, a + nr * w, 0, lw.stream);
      bo_done(&bo, line_bits_scalar);
      continue;
    }
    bb_transpose(&bb, b, 0);
    rows(&bb, b, a, a + nr * w, zeroed, lw.stream);
  }
  lw_done(&lw);
  return FRLE_OK;
}

/* byte-wise bit reversal of a word: np.packbits' big bit order */
static inline uint64_t reverse_bits_in_bytes(uint64_t v) {
  v = ((v >> 1) & 0x5555555555555555ull) | ((v & 0x5555555555555555ull) << 1);
  v = ((v >> 2) & 0x3333333333333333ull) | ((v & 0x3333333333333333ull) << 2);
  return ((v >> 4) & 0x0f0f0f0f0f0f0f0full) | ((v & 0x0f0f0f0f0f0f0f0full) << 4);
}

/* Whether the bit-band decode is the faster one for this mask. Outputs
 * under FRLE_STREAM_MIN (in cache) keep the row spans' plain stores. */
/* Whether the mask's foreground runs are short: fewer than BB_THIN_PX_PER_RUN
 * pixels each on average. */
static int thin_runs(const uint32_t *cnts, int64_t m) {
  uint64_t area = 0;
  int64_t j;
  for (j = 1; j < m; j += 2) area += cnts[j];
  return area < (uint64_t)BB_THIN_PX_PER_RUN * (uint64_t)(m / 2);
}

int frle_bits_pays(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w) {
  if (h < 2 || w < 2 || h * w < FRLE_STREAM_MIN || h * w > BB_PIXELS_MAX || (uint64_t)BB_ROWS * w > BB_STAGE_MAX)
    return 0;
  return frle_bits_level() != FRLE_ISA_SCALAR || thin_runs(cnts, m);
}

#if defined(LW_SSE2) || defined(LW_NEON)
/* The bytes [A, E) from src (src - A a multiple of 64; NULL: zeros): the
 * whole lines streamed, the partial ones at either end (which may hold a
 * neighbour's bytes) with plain stores. */
static void span_stream(uint8_t *A, uint8_t *E, const uint8_t *src) {
  uint8_t *L = (uint8_t *)(((uintptr_t)A + 63) & ~(uintptr_t)63), *Le = (uint8_t *)((uintptr_t)E & ~(uintptr_t)63);
  if (L > Le) { /* inside one line */
    if (src) memcpy(A, src, (size_t)(E - A));
    else memset(A, 0, (size_t)(E - A));
    return;
  }
  if (src) {
    uint8_t *p;
    memcpy(A, src, (size_t)(L - A));
    for (p = L; p < Le; p += 64) stream_line(p, src + (p - A));
    memcpy(Le, src + (Le - A), (size_t)(E - Le));
  } else {
    memset(A, 0, (size_t)(L - A));
    line_fill(L, Le, 0);
    memset(Le, 0, (size_t)(E - Le));
  }
}
#endif

int frle_decode_bits_packed(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, uint8_t *base, int64_t stride,
                            int flip_v, int little, int zeroed, frle_scratch *scr) {
  bitband bb;
  uint64_t b, rb = (w + 7) / 8;
  uint8_t *stage = NULL;
  int big, rc = bb_build(cnts, m, h, w, scr, &bb);
  if (rc != FRLE_OK) return rc;
  big = !little && bb.avx512; /* the block kernel reverses the bits of each byte */
#if defined(LW_SSE2) || defined(LW_NEON)
  /* Contiguous rows, as large as an output the unpacked decode streams:
   * each band's rows are assembled in cache and streamed out whole, since
   * a plain store to a row not in cache first reads its lines in (the
   * rows are an eighth of the unpacked bytes, but these reads cost noise
   * 15% more time). */
  if (!zeroed && stride == (int64_t)rb && h * w >= FRLE_STREAM_MIN && stream_ok()) {
    if (!stage_zeroed(scr, (int64_t)(BB_ROWS * rb) + 128)) return FRLE_ERR_NOMEM;
    stage = scr->stage + ((64 - ((uintptr_t)scr->stage & 63)) & 63);
  }
#endif
  for (b = 0; b < bb.nbands; b++) {
    uint64_t y = b * BB_ROWS, nr = h - y < BB_ROWS ? h - y : BB_ROWS, r, q;
    /* the band's output rows [A, A + nr * rb) when stage is set, and the
     * stage's copy of them (same offset in a line) */
    uint8_t *A = base + (int64_t)(flip_v ? h - y - nr : y) * stride, *sA = NULL;
    int any = bb_any(&bb, b);
    if (stage) {
      sA = stage + ((uintptr_t)A & 63);
#if defined(LW_SSE2) || defined(LW_NEON)
      if (!any) span_stream(A, A + nr * rb, NULL);
#endif
    } else if (!zeroed) { /* an eighth of the bytes: plain stores keep up */
      for (r = 0; r < nr; r++) memset(base + (int64_t)(flip_v ? h - 1 - y - r : y + r) * stride, 0, rb);
    }
    if (!any) continue;
    bb_transpose(&bb, b, big);
    for (q = 0; q < bb.gw; q++) {
      uint64_t tw = bb.touched[b * bb.gw + q];
      while (tw) {
        uint64_t x0 = (q * 64 + (uint64_t)frle_ctz64(tw)) * 64, i, nb = rb - x0 / 8 < 8 ? rb - x0 / 8 : 8;
        const uint64_t *rw = bb.rows + x0;
        tw &= tw - 1;
        for (i = 0; i < 64; i++) {
          uint64_t v = rw[i], pr = bb.perm[i], yy = y + pr;
          uint8_t *dst;
          if (!v || pr >= nr) continue;
          if (!little && !big) v = reverse_bits_in_bytes(v);
          v = FRLE_WORD_LE(v);
          if (sA) dst = sA + (flip_v ? nr - 1 - pr : pr) * rb;
          else dst = base + (int64_t)(flip_v ? h - 1 - yy : yy) * stride;
          memcpy(dst + x0 / 8, &v, (size_t)nb);
        }
      }
    }
#if defined(LW_SSE2) || defined(LW_NEON)
    if (sA) { /* out, and the stage left zero */
      span_stream(A, A + nr * rb, sA);
      memset(sA, 0, nr * rb);
    }
#endif
  }
#if defined(LW_SSE2) || defined(LW_NEON)
  if (stage) stream_fence();
#endif
  return FRLE_OK;
}

int frle_decode_rowmajor(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, uint8_t *out, int zeroed,
                         frle_scratch *scr) {
  uint64_t y;
  int rc;

  if (h == 1 || w == 1) { /* both orders are the same bytes */
    frle_decode_colmajor(cnts, m, out, zeroed);
    return FRLE_OK;
  }
  if (frle_bits_pays(cnts, m, h, w)) return decode_bitband(cnts, m, h, w, out, zeroed, scr);
  rc = frle_row_transitions(cnts, m, h, w, scr);
  if (rc != FRLE_OK) return rc;
  if (scr->ylo >= scr->yhi) { /* no foreground */
    if (!zeroed) {
      line_writer lw;
      lw_init(&lw, out, out + h * w, 0);
      lw_span(&lw, out, out + h * w, 0);
      lw_done(&lw);
    }
    return FRLE_OK;
  }

  /* 4. Write the spans, in address order: the background between two
   *    foreground spans is one span even when it crosses rows. With zeroed,
   *    lines of pure background are skipped, and lines holding foreground
   *    are still written whole (zeros included), so no line is read. */
  {
    int64_t start = 0, t;
    uint8_t *cur = out;
    line_writer lw;
    lw_init(&lw, out, out + h * w, zeroed);
    for (y = scr->ylo; y < scr->yhi; y++) {
      int64_t end = scr->row[y];
      uint8_t *line = out + y * w;
      for (t = start; t + 1 < end; t += 2) {
        uint8_t *a = line + scr->tr[t], *b = line + scr->tr[t + 1];
        lw_span(&lw, cur, a, 0);
        lw_span(&lw, a, b, 1);
        cur = b;
      }
      start = end;
    }
    lw_span(&lw, cur, out + h * w, 0);
    lw_done(&lw);
  }
  return FRLE_OK;
}
