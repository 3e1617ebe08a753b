/* Decode runs into dense masks: row-major through row spans, or column-major
 * as the runs come. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "rle_compat.h"
#include "rle_dispatch.h"
#include "rle_internal.h"
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

/* Appends the interval y0 .. y1-1 of column x to ev (x, y0, y1) and counts
 * it into the per-row difference array. Returns the new ne. */
static inline int64_t put_interval(uint32_t *ev, int64_t ne, int64_t *row, uint32_t x, uint32_t y0, uint32_t y1) {
  ev[ne] = x;
  ev[ne + 1] = y0;
  ev[ne + 2] = y1;
  row[y0]++;
  row[y1]--;
  return ne + 3;
}

/* Emit the rows where exactly one of two sorted boundary lists is inside:
 * the parity of the merged boundaries. Each list holds y0,y1 pairs. Also
 * counts each interval into the per-row difference array. */
static inline int64_t xor_intervals(const uint32_t *a, int64_t na, const uint32_t *b, int64_t nb, uint32_t x,
                                    uint32_t *ev, int64_t ne, int64_t *row) {
  int64_t i = 0, j = 0, k = 0;
  uint32_t open = 0;
  if (na == 2 && nb == 2) { /* one segment each: the common case in blobs */
    uint32_t a0 = a[0], a1 = a[1], b0 = b[0], b1 = b[1], lo0, hi0, lo1, hi1;
    if (a1 <= b0 || b1 <= a0) {
      lo0 = a0;
      hi0 = a1;
      lo1 = b0;
      hi1 = b1;
    } else {
      lo0 = a0 < b0 ? a0 : b0;
      hi0 = a0 < b0 ? b0 : a0;
      lo1 = a1 < b1 ? a1 : b1;
      hi1 = a1 < b1 ? b1 : a1;
    }
    if (hi0 > lo0) ne = put_interval(ev, ne, row, x, lo0, hi0);
    if (hi1 > lo1) ne = put_interval(ev, ne, row, x, lo1, hi1);
    return ne;
  }
  if (nb == 0) { /* a column next to an empty one: its segments as they are */
    for (i = 0; i < na; i += 2) {
      if (a[i + 1] > a[i]) ne = put_interval(ev, ne, row, x, a[i], a[i + 1]);
    }
    return ne;
  }
  while (i < na || j < nb) {
    uint32_t y;
    if (j >= nb || (i < na && a[i] <= b[j])) y = a[i++];
    else y = b[j++];
    if ((k++ & 1) == 0) open = y;
    else if (y > open) ne = put_interval(ev, ne, row, x, open, y);
  }
  return ne;
}

int frle_row_transitions(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, frle_scratch *scr) {
  int64_t j, nb = 0, ncol = 0, ne = 0, g, total;
  uint64_t pos = 0, y;
  uint32_t *bnd;
  int64_t *row;

  scr->ylo = scr->yhi = 0;
  (void)w;
  if (h == 1) { /* one row: its spans are the foreground runs themselves */
    for (j = 1; j < m; j += 2) {
      uint64_t s = pos + cnts[j - 1], e = s + cnts[j];
      pos = e;
      if (s == e) continue;
      if (!FRLE_GROW(scr->tr, scr->tr_cap, nb + 2)) return FRLE_ERR_NOMEM;
      scr->tr[nb++] = (uint32_t)s;
      scr->tr[nb++] = (uint32_t)e;
    }
    if (!FRLE_GROW(scr->row, scr->row_cap, 2)) return FRLE_ERR_NOMEM;
    scr->row[0] = nb;
    if (nb) scr->yhi = 1;
    return FRLE_OK;
  }

  /* 1. Foreground runs split at column ends: per column, sorted y0,y1
   *    boundary pairs in bnd[], and the columns that have any in seg[] as
   *    (x, first boundary) pairs. */
  for (j = 1; j < m; j += 2) {
    uint64_t s = pos + cnts[j - 1], e = s + cnts[j];
    pos = e;
    while (s < e) {
      uint64_t x = s / h, ys = s - x * h;
      uint64_t ce = (x + 1) * h;
      uint64_t se = e < ce ? e : ce;
      if (!FRLE_GROW(scr->tr, scr->tr_cap, nb + 2)) return FRLE_ERR_NOMEM;
      if (ncol == 0 || scr->seg[2 * (ncol - 1)] != (uint32_t)x) {
        if (!FRLE_GROW(scr->seg, scr->seg_cap, 2 * ncol + 2)) return FRLE_ERR_NOMEM;
        scr->seg[2 * ncol] = (uint32_t)x;
        scr->seg[2 * ncol + 1] = (uint32_t)nb;
        ncol++;
      }
      scr->tr[nb++] = (uint32_t)ys;
      scr->tr[nb++] = (uint32_t)(ys + (se - s));
      s = se;
    }
  }
  if (ncol == 0) return FRLE_OK;
  bnd = scr->tr; /* boundaries live in tr until step 3 */

  /* 2. Row transitions between neighbouring columns x-1 and x: the XOR of
   *    their segments, as intervals of rows (x, ya, yb), counted per row in
   *    a difference array. Columns go in order, so rows stay sorted by x. */
  if (!FRLE_GROW(scr->row, scr->row_cap, (int64_t)h + 1)) return FRLE_ERR_NOMEM;
  row = scr->row;
  memset(row, 0, (h + 1) * sizeof(int64_t));
  /* worst case: every boundary, of both neighbours, starts an interval */
  if (!FRLE_GROW(scr->ev, scr->ev_cap, 3 * (2 * nb + 4))) return FRLE_ERR_NOMEM;
  {
    int64_t c;
    for (c = 0; c < ncol; c++) {
      uint32_t x = scr->seg[2 * c];
      int64_t cb = scr->seg[2 * c + 1], cn = (c + 1 < ncol ? scr->seg[2 * c + 3] : nb) - cb;
      if (c > 0) {
        uint32_t px = scr->seg[2 * c - 2];
        int64_t pb = scr->seg[2 * c - 1], pn = cb - pb;
        if (px + 1 == x) {
          ne = xor_intervals(bnd + pb, pn, bnd + cb, cn, x, scr->ev, ne, row);
          continue;
        }
        ne = xor_intervals(bnd + pb, pn, NULL, 0, px + 1, scr->ev, ne, row);
      }
      ne = xor_intervals(bnd + cb, cn, NULL, 0, x, scr->ev, ne, row);
    }
    {
      uint32_t px = scr->seg[2 * ncol - 2];
      int64_t pb = scr->seg[2 * ncol - 1];
      ne = xor_intervals(bnd + pb, nb - pb, NULL, 0, px + 1, scr->ev, ne, row);
    }
  }

  /* 3. Bucket the transitions by row: prefix-sum, fill. Only rows
   *    [y0, y1) can hold transitions; small masks skip the rest. */
  {
    uint64_t y0 = h, y1 = 0;
    int64_t run = 0;
    for (g = 0; g < ne; g += 3) {
      if (scr->ev[g + 1] < y0) y0 = scr->ev[g + 1];
      if (scr->ev[g + 2] > y1) y1 = scr->ev[g + 2];
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
    for (g = 0; g < ne; g += 3) {
      uint32_t x = scr->ev[g];
      for (y = scr->ev[g + 1]; y < scr->ev[g + 2]; y++) scr->tr[row[y]++] = x;
    }
    /* row[y] now holds the end of row y, which is the start of row y+1 */
    scr->ylo = y0;
    scr->yhi = y1;
  }
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
