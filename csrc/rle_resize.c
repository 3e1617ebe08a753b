/* Resizes fused into decode (see rle_transform.h): each mask goes from
 * its runs straight to the output the model wants, never through the dense
 * full-resolution mask.
 *
 * nearest modes: the source runs are resampled through the row and column
 * index maps into the runs of the output mask (column-major at oh x ow),
 * whose row spans (rle_decode.c's transposition, at output size) are then
 * written one output row at a time, in address order. Cost: the source
 * runs, the output's outline and one pass over the output; column-wise
 * stores (which alias in the caches at power-of-two row strides) are never
 * made. Flips and bit-packing happen as the rows are written (packed rows
 * a 64-bit word at a time, straight into the output).
 * area accumulates exact integer coverage column by column. roi_align is in
 * rle_roi.c; the nearest index maps in rle_transform.c. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_transform.h"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Copy a row assembled in cache to the output with non-temporal stores, so
 * the output lines are written without being read first (one pass of DRAM
 * writes, as in rle_decode.c). Short rows and the unaligned ends take plain
 * stores. Callers fence (stream_done) before the output is read. */
static void stream_row(uint8_t *dst, const uint8_t *src, size_t n) {
#if defined(__SSE2__)
  size_t head = (size_t)((64 - ((uintptr_t)dst & 63)) & 63), i;
  if (n >= head + 64) { /* whole lines only: a partly streamed line costs a read */
    memcpy(dst, src, head);
    for (i = head; i + 64 <= n; i += 64) {
      _mm_stream_si128((__m128i *)(dst + i), _mm_loadu_si128((const __m128i *)(src + i)));
      _mm_stream_si128((__m128i *)(dst + i + 16), _mm_loadu_si128((const __m128i *)(src + i + 16)));
      _mm_stream_si128((__m128i *)(dst + i + 32), _mm_loadu_si128((const __m128i *)(src + i + 32)));
      _mm_stream_si128((__m128i *)(dst + i + 48), _mm_loadu_si128((const __m128i *)(src + i + 48)));
    }
    memcpy(dst + i, src + i, n - i);
    return;
  }
#endif
  memcpy(dst, src, n);
}

static inline void stream_done(void) {
#if defined(__SSE2__)
  _mm_sfence();
#endif
}

/* first[x] = the first output index whose source index is >= x, for x in
 * [0, in]: a source span [a, b) covers output [first[a], first[b]). The map
 * is non-decreasing, so this is its inverse. */
static void first_of(const int64_t *map, int64_t out, int64_t in, int64_t *first) {
  int64_t x, o = 0;
  for (x = 0; x <= in; x++) {
    while (o < out && map[o] < x) o++;
    first[x] = o;
  }
}

typedef struct {
  const frle_xform *x;
  uint64_t h, w;
  const int64_t *rmap, *cmap;      /* nearest: source row/col per output row/col */
  const int64_t *rfirst, *cfirst;  /* their inverses, h+1 and w+1 entries */
  int identity;                    /* both maps are the identity */
  int64_t rowbytes;
} dctx;

static inline void fill_row(const frle_xform *x, uint8_t *row, uint64_t c0, uint64_t c1) {
  if (x->flip_h) {
    uint64_t t = c0;
    c0 = x->ow - c1;
    c1 = x->ow - t;
  }
  if (c1 - c0 == 1) row[c0] = 1;
  else memset(row + c0, 1, (size_t)(c1 - c0));
}

/* Packed rows are written 64 pixels at a time: a word of all zeros or all
 * ones between two span boundaries, a masked word where a boundary falls.
 * Word i of a row is bytes [8i, 8i+8), pixel 8i+j at bit j of the
 * little-endian word ("little"), or at bit 7-j%8 of its byte ("big": the
 * bits of each byte reversed). The last word of a row may be partial.
 * prefix[o][k] is pixels [0, k) of a word in order o (0 big, 1 little), so
 * pixels [lo, hi) are prefix[o][hi] & ~prefix[o][lo]. */
/* (generated; values as little-endian words) */
/* clang-format off */
static const uint64_t prefix[2][65] = {
    {/* big */
     0x0000000000000000ULL, 0x0000000000000080ULL, 0x00000000000000C0ULL,
     0x00000000000000E0ULL, 0x00000000000000F0ULL, 0x00000000000000F8ULL,
     0x00000000000000FCULL, 0x00000000000000FEULL, 0x00000000000000FFULL,
     0x00000000000080FFULL, 0x000000000000C0FFULL, 0x000000000000E0FFULL,
     0x000000000000F0FFULL, 0x000000000000F8FFULL, 0x000000000000FCFFULL,
     0x000000000000FEFFULL, 0x000000000000FFFFULL, 0x000000000080FFFFULL,
     0x0000000000C0FFFFULL, 0x0000000000E0FFFFULL, 0x0000000000F0FFFFULL,
     0x0000000000F8FFFFULL, 0x0000000000FCFFFFULL, 0x0000000000FEFFFFULL,
     0x0000000000FFFFFFULL, 0x0000000080FFFFFFULL, 0x00000000C0FFFFFFULL,
     0x00000000E0FFFFFFULL, 0x00000000F0FFFFFFULL, 0x00000000F8FFFFFFULL,
     0x00000000FCFFFFFFULL, 0x00000000FEFFFFFFULL, 0x00000000FFFFFFFFULL,
     0x00000080FFFFFFFFULL, 0x000000C0FFFFFFFFULL, 0x000000E0FFFFFFFFULL,
     0x000000F0FFFFFFFFULL, 0x000000F8FFFFFFFFULL, 0x000000FCFFFFFFFFULL,
     0x000000FEFFFFFFFFULL, 0x000000FFFFFFFFFFULL, 0x000080FFFFFFFFFFULL,
     0x0000C0FFFFFFFFFFULL, 0x0000E0FFFFFFFFFFULL, 0x0000F0FFFFFFFFFFULL,
     0x0000F8FFFFFFFFFFULL, 0x0000FCFFFFFFFFFFULL, 0x0000FEFFFFFFFFFFULL,
     0x0000FFFFFFFFFFFFULL, 0x0080FFFFFFFFFFFFULL, 0x00C0FFFFFFFFFFFFULL,
     0x00E0FFFFFFFFFFFFULL, 0x00F0FFFFFFFFFFFFULL, 0x00F8FFFFFFFFFFFFULL,
     0x00FCFFFFFFFFFFFFULL, 0x00FEFFFFFFFFFFFFULL, 0x00FFFFFFFFFFFFFFULL,
     0x80FFFFFFFFFFFFFFULL, 0xC0FFFFFFFFFFFFFFULL, 0xE0FFFFFFFFFFFFFFULL,
     0xF0FFFFFFFFFFFFFFULL, 0xF8FFFFFFFFFFFFFFULL, 0xFCFFFFFFFFFFFFFFULL,
     0xFEFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL,
    },
    {/* little */
     0x0000000000000000ULL, 0x0000000000000001ULL, 0x0000000000000003ULL,
     0x0000000000000007ULL, 0x000000000000000FULL, 0x000000000000001FULL,
     0x000000000000003FULL, 0x000000000000007FULL, 0x00000000000000FFULL,
     0x00000000000001FFULL, 0x00000000000003FFULL, 0x00000000000007FFULL,
     0x0000000000000FFFULL, 0x0000000000001FFFULL, 0x0000000000003FFFULL,
     0x0000000000007FFFULL, 0x000000000000FFFFULL, 0x000000000001FFFFULL,
     0x000000000003FFFFULL, 0x000000000007FFFFULL, 0x00000000000FFFFFULL,
     0x00000000001FFFFFULL, 0x00000000003FFFFFULL, 0x00000000007FFFFFULL,
     0x0000000000FFFFFFULL, 0x0000000001FFFFFFULL, 0x0000000003FFFFFFULL,
     0x0000000007FFFFFFULL, 0x000000000FFFFFFFULL, 0x000000001FFFFFFFULL,
     0x000000003FFFFFFFULL, 0x000000007FFFFFFFULL, 0x00000000FFFFFFFFULL,
     0x00000001FFFFFFFFULL, 0x00000003FFFFFFFFULL, 0x00000007FFFFFFFFULL,
     0x0000000FFFFFFFFFULL, 0x0000001FFFFFFFFFULL, 0x0000003FFFFFFFFFULL,
     0x0000007FFFFFFFFFULL, 0x000000FFFFFFFFFFULL, 0x000001FFFFFFFFFFULL,
     0x000003FFFFFFFFFFULL, 0x000007FFFFFFFFFFULL, 0x00000FFFFFFFFFFFULL,
     0x00001FFFFFFFFFFFULL, 0x00003FFFFFFFFFFFULL, 0x00007FFFFFFFFFFFULL,
     0x0000FFFFFFFFFFFFULL, 0x0001FFFFFFFFFFFFULL, 0x0003FFFFFFFFFFFFULL,
     0x0007FFFFFFFFFFFFULL, 0x000FFFFFFFFFFFFFULL, 0x001FFFFFFFFFFFFFULL,
     0x003FFFFFFFFFFFFFULL, 0x007FFFFFFFFFFFFFULL, 0x00FFFFFFFFFFFFFFULL,
     0x01FFFFFFFFFFFFFFULL, 0x03FFFFFFFFFFFFFFULL, 0x07FFFFFFFFFFFFFFULL,
     0x0FFFFFFFFFFFFFFFULL, 0x1FFFFFFFFFFFFFFFULL, 0x3FFFFFFFFFFFFFFFULL,
     0x7FFFFFFFFFFFFFFFULL, 0xFFFFFFFFFFFFFFFFULL,
    }};
/* clang-format on */

static inline void put_word(uint8_t *row, size_t rb, size_t i, uint64_t v) {
  size_t off = i * 8;
  v = FRLE_WORD_LE(v);
  if (off + 8 <= rb) memcpy(row + off, &v, 8);
  else if (off < rb) memcpy(row + off, &v, rb - off); /* the row's partial last word */
}

static inline void fill_words(uint8_t *row, size_t rb, size_t i0, size_t i1, uint64_t v) {
  size_t a = i0 * 8, b = i1 * 8 < rb ? i1 * 8 : rb;
  if (b <= a) return;
  if (b - a <= 32) { /* short gaps (many-span rows): word stores, no call */
    for (; a + 8 <= b; a += 8) memcpy(row + a, &v, 8);
    if (a < b) memcpy(row + a, &v, b - a);
    return;
  }
  memset(row + a, (int)(v & 0xFF), b - a);
}

/* One packed row, written in place from its sorted spans tr[0..nt) (x0, x1
 * pairs), every word once and in order. Mirrored spans (flip_h) are taken
 * in reverse, which keeps them sorted. */
static void pack_row(const frle_xform *x, uint8_t *row, size_t rb, const uint32_t *tr, int64_t nt) {
  const uint64_t *pre = prefix[x->little ? 1 : 0];
  size_t cur = 0; /* the word being assembled in acc */
  uint64_t acc = 0;
  int64_t k;
  for (k = 0; k + 1 < nt; k += 2) {
    uint64_t a, b;
    size_t wa, wb;
    if (x->flip_h) {
      a = x->ow - tr[nt - 1 - k];
      b = x->ow - tr[nt - 2 - k];
    } else {
      a = tr[k];
      b = tr[k + 1];
    }
    if (a >= b) continue;
    wa = (size_t)(a >> 6);
    wb = (size_t)(b >> 6);
    if (wa > cur) {
      put_word(row, rb, cur, acc);
      fill_words(row, rb, cur + 1, wa, 0);
      cur = wa;
      acc = 0;
    }
    if (wa == wb) {
      acc |= pre[b & 63] & ~pre[a & 63];
      continue;
    }
    put_word(row, rb, cur, acc | ~pre[a & 63]);
    fill_words(row, rb, wa + 1, wb, ~(uint64_t)0);
    cur = wb;
    acc = pre[b & 63];
  }
  put_word(row, rb, cur, acc);
  fill_words(row, rb, cur + 1, (rb + 7) / 8, 0);
}

/* The runs of the resized mask, built from the source runs: column-major
 * counts over oh x ow (starting with background, as COCO's). Source column
 * sx is output columns [cf[sx], cf[sx+1]), and its segment of rows [y0, y1)
 * is output rows [rf[y0], rf[y1]). Columns come in increasing order, so the
 * output runs do too; a source column's segments are gathered, then copied
 * to each of its output columns (several when upscaling). */
typedef struct {
  uint32_t *cnt;
  int64_t ncnt, cap;   /* output counts */
  uint64_t cur;                       /* output position the counts reach */
  uint32_t *seg;
  int64_t nseg, segcap; /* current source column: r0, r1 pairs */
  int fail;
} resampler;

static inline void rs_fg(resampler *q, uint64_t p0, uint64_t p1) {
  if (p0 >= p1) return;
  if (q->ncnt && p0 == q->cur) {
    q->cnt[q->ncnt - 1] += (uint32_t)(p1 - p0);
    q->cur = p1;
    return;
  }
  if (!FRLE_GROW(q->cnt, q->cap, q->ncnt + 3)) {
    q->fail = 1;
    return;
  }
  q->cnt[q->ncnt++] = (uint32_t)(p0 - q->cur);
  q->cnt[q->ncnt++] = (uint32_t)(p1 - p0);
  q->cur = p1;
}

static inline void rs_seg(resampler *q, uint64_t r0, uint64_t r1) {
  if (r0 >= r1) return;
  if (q->nseg && q->seg[q->nseg - 1] == r0) {
    q->seg[q->nseg - 1] = (uint32_t)r1;
    return;
  }
  if (!FRLE_GROW(q->seg, q->segcap, q->nseg + 2)) {
    q->fail = 1;
    return;
  }
  q->seg[q->nseg++] = (uint32_t)r0;
  q->seg[q->nseg++] = (uint32_t)r1;
}

static void rs_column(resampler *q, const dctx *c, uint64_t sx) {
  uint64_t ox, oh = c->x->oh;
  int64_t k;
  for (ox = (uint64_t)c->cfirst[sx]; ox < (uint64_t)c->cfirst[sx + 1]; ox++)
    for (k = 0; k < q->nseg; k += 2) rs_fg(q, ox * oh + q->seg[k], ox * oh + q->seg[k + 1]);
  q->nseg = 0;
}

static int resample(const dctx *c, const uint32_t *cnts, int64_t m, frle_scratch *scr, int64_t *mout) {
  const int64_t *rf = c->rfirst, *cf = c->cfirst;
  uint64_t h = c->h, oh = c->x->oh, pos = 0, sx = 0;
  int64_t j;
  int have = 0;
  resampler q;
  q.cnt = scr->rcnt;
  q.cap = scr->rcnt_cap;
  q.ncnt = 0;
  q.cur = 0;
  q.seg = scr->rseg;
  q.segcap = scr->rseg_cap;
  q.nseg = 0;
  q.fail = 0;
  for (j = 1; j < m && !q.fail; j += 2) {
    uint64_t s = pos + cnts[j - 1], e = s + cnts[j], x0, x1, y0, y1;
    pos = e;
    if (s == e) continue;
    x0 = s / h;
    y0 = s - x0 * h;
    x1 = (e - 1) / h;
    y1 = e - x1 * h;
    if (have && sx != x0) rs_column(&q, c, sx);
    sx = x0;
    have = 1;
    if (x0 == x1) {
      rs_seg(&q, rf[y0], rf[y1]);
      continue;
    }
    rs_seg(&q, rf[y0], oh);
    rs_column(&q, c, x0);
    /* whole source columns x0+1 .. x1-1: one span of whole output columns */
    rs_fg(&q, cf[x0 + 1] * oh, cf[x1] * oh);
    sx = x1;
    rs_seg(&q, 0, rf[y1]);
  }
  if (have && !q.fail) rs_column(&q, c, sx);
  if (!q.fail && FRLE_GROW(q.cnt, q.cap, q.ncnt + 1)) q.cnt[q.ncnt++] = (uint32_t)(oh * c->x->ow - q.cur);
  else q.fail = 1;
  /* hand the (possibly grown) buffers back to the scratch */
  scr->rcnt = q.cnt;
  scr->rcnt_cap = q.cap;
  scr->rseg = q.seg;
  scr->rseg_cap = q.segcap;
  *mout = q.ncnt;
  return q.fail ? FRLE_ERR_NOMEM : FRLE_OK;
}

/* nearest: resample the runs to the output grid, find its row spans, and
 * write each output row once, in order: assembled in a row buffer in cache,
 * then streamed out. With zeroed, only rows with foreground are written. */
static int write_nearest(const dctx *c, const uint32_t *cnts, int64_t m, frle_scratch *scr, uint8_t *base) {
  const frle_xform *x = c->x;
  uint64_t r;
  int64_t m2;
  size_t rb = (size_t)c->rowbytes;
  uint8_t *row, *zero;
  int rc = FRLE_OK;
  const uint32_t *rc2 = cnts;
  m2 = m;
  if (!c->identity) { /* full size (packed, flipped, strided): the runs as they are */
    rc = resample(c, cnts, m, scr, &m2);
    rc2 = scr->rcnt;
  }
  if (rc != FRLE_OK) return rc;
  if (x->packed && !x->flip_h && frle_bits_pays(rc2, m2, x->oh, x->ow)) /* packed rows are its row words */
    return frle_decode_bits_packed(rc2, m2, x->oh, x->ow, base, x->row_stride, x->flip_v, x->little, x->zeroed, scr);
  rc = frle_row_transitions(rc2, m2, x->oh, x->ow, scr);
  if (rc != FRLE_OK) return rc;
  if (!FRLE_GROW(scr->aux, scr->aux_cap, (int64_t)(2 * rb))) return FRLE_ERR_NOMEM;
  row = scr->aux;
  zero = row + rb;
  memset(zero, 0, rb);
  for (r = 0; r < x->oh; r++) {
    uint8_t *p = base + (int64_t)(x->flip_v ? x->oh - 1 - r : r) * x->row_stride;
    int64_t t, t1;
    if (r < scr->ylo || r >= scr->yhi) {
      if (x->zeroed) continue;
      if (x->packed) memset(p, 0, rb); /* an eighth of the bytes: plain stores keep up */
      else stream_row(p, zero, rb);
      continue;
    }
    t = r == scr->ylo ? 0 : scr->row[r - 1];
    t1 = scr->row[r];
    if (x->packed) { /* straight to the output, a word at a time */
      pack_row(x, p, rb, scr->tr + t, t1 - t);
      continue;
    }
    memset(row, 0, rb);
    for (; t + 1 < t1; t += 2) fill_row(x, row, scr->tr[t], scr->tr[t + 1]);
    stream_row(p, row, rb);
  }
  stream_done();
  return FRLE_OK;
}

/* area: coverage in exact integers. With one source pixel oh units tall
 * and ow units wide, an output cell is h units tall and w wide, so a
 * pixel's overlap with a cell is ovy * ovx units and a cell holds h*w: the
 * sum over its foreground pixels, divided once, is the exact fraction.
 * Output row oy takes the source rows it overlaps (at most h/oh + 2), each
 * row's spans add their overlap to an accumulator per output column, and
 * the row goes out as float32, streamed. */
static int write_area(const dctx *c, const uint32_t *cnts, int64_t m, frle_scratch *scr, uint8_t *base) {
  const frle_xform *x = c->x;
  uint64_t h = c->h, w = c->w, oh = x->oh, ow = x->ow, oy;
  size_t rb = (size_t)c->rowbytes;
  double inv = 1.0 / ((double)h * (double)w);
  uint64_t *acc;
  float *row, *zero;
  int rc = frle_row_transitions(cnts, m, h, w, scr);
  if (rc != FRLE_OK) return rc;
  if (!FRLE_GROW(scr->aux, scr->aux_cap, (int64_t)(ow * sizeof(uint64_t) + 2 * rb))) return FRLE_ERR_NOMEM;
  acc = (uint64_t *)scr->aux;
  row = (float *)(acc + ow);
  zero = row + ow;
  memset(acc, 0, ow * sizeof(uint64_t));
  memset(zero, 0, rb);
  for (oy = 0; oy < oh; oy++) {
    uint8_t *p = base + (int64_t)(x->flip_v ? oh - 1 - oy : oy) * x->row_stride;
    uint64_t ya = oy * h / oh, yb = ((oy + 1) * h - 1) / oh, y, lo = ow, hi = 0, ox;
    if (ya < scr->ylo) ya = scr->ylo;
    if (yb >= scr->yhi) yb = scr->yhi - 1;
    for (y = ya; scr->yhi > 0 && y <= yb; y++) {
      uint64_t ra = y * oh, rb2 = ra + oh, ca = oy * h, cb = ca + h;
      uint64_t ovy = (rb2 < cb ? rb2 : cb) - (ra > ca ? ra : ca);
      int64_t t = y == scr->ylo ? 0 : scr->row[y - 1], t1 = scr->row[y];
      for (; t + 1 < t1; t += 2) {
        uint64_t ua = (uint64_t)scr->tr[t] * ow, ub = (uint64_t)scr->tr[t + 1] * ow;
        uint64_t oxa = ua / w, oxb = (ub - 1) / w;
        if (ua >= ub) continue;
        if (oxa < lo) lo = oxa;
        if (oxb + 1 > hi) hi = oxb + 1;
        if (oxa == oxb) {
          acc[oxa] += ovy * (ub - ua);
          continue;
        }
        acc[oxa] += ovy * ((oxa + 1) * w - ua);
        for (ox = oxa + 1; ox < oxb; ox++) acc[ox] += ovy * w;
        acc[oxb] += ovy * (ub - oxb * w);
      }
    }
    if (lo >= hi) {
      if (!x->zeroed) stream_row(p, (const uint8_t *)zero, rb);
      continue;
    }
    memset(row, 0, rb);
    for (ox = lo; ox < hi; ox++) {
      row[x->flip_h ? ow - 1 - ox : ox] = (float)((double)acc[ox] * inv);
      acc[ox] = 0;
    }
    stream_row(p, (const uint8_t *)row, rb);
  }
  stream_done();
  return FRLE_OK;
}

static int transform_one(void *vctx, int64_t i, const uint32_t *cnts, int64_t m, frle_scratch *scr, frle_error *err) {
  const dctx *c = (const dctx *)vctx;
  uint8_t *base = c->x->out + i * c->x->mask_stride;
  (void)err;
  if (c->x->oh == 0 || c->x->ow == 0) return FRLE_OK;
  if (c->x->mode == FRLE_AREA) return write_area(c, cnts, m, scr, base);
  return write_nearest(c, cnts, m, scr, base);
}

int frle_decode_transform(const frle_src *src, int64_t n, uint64_t h, uint64_t w, const frle_xform *x, int nthreads,
                          frle_error *err) {
  dctx c;
  int64_t *maps = NULL;
  int rc;
  if (n == 0) return FRLE_OK;
  memset(&c, 0, sizeof(c));
  c.x = x;
  c.h = h;
  c.w = w;
  c.rowbytes = x->mode == FRLE_AREA ? (int64_t)(x->ow * sizeof(float))
               : x->packed          ? (int64_t)((x->ow + 7) / 8)
                                    : (int64_t)x->ow;
  if (x->mode != FRLE_AREA && h && w && x->oh && x->ow) {
    int exact = x->mode == FRLE_NEAREST_EXACT;
    maps = (int64_t *)malloc((size_t)(x->oh + x->ow + h + w + 2) * sizeof(int64_t));
    if (!maps) return frle_fail(err, FRLE_ERR_NOMEM, 0);
    c.rmap = maps;
    c.cmap = maps + x->oh;
    c.rfirst = c.cmap + x->ow;
    c.cfirst = c.rfirst + h + 1;
    frle_nearest_map((int64_t)h, (int64_t)x->oh, (int64_t)x->ow, exact, (int64_t *)c.rmap);
    frle_nearest_map((int64_t)w, (int64_t)x->ow, (int64_t)x->oh, exact, (int64_t *)c.cmap);
    first_of(c.rmap, (int64_t)x->oh, (int64_t)h, (int64_t *)c.rfirst);
    first_of(c.cmap, (int64_t)x->ow, (int64_t)w, (int64_t *)c.cfirst);
    c.identity = x->oh == h && x->ow == w;
    {
      uint64_t k;
      for (k = 0; c.identity && k < h; k++) c.identity = c.rmap[k] == (int64_t)k;
      for (k = 0; c.identity && k < w; k++) c.identity = c.cmap[k] == (int64_t)k;
    }
  }
  rc = frle_batch_apply(src, n, h, w, transform_one, &c, nthreads, err);
  free(maps);
  return rc;
}
