/* Overlays drawn straight from runs: masks become row spans (the transform
 * of the row-major decode), fills blend along those spans and contours are
 * spans too, so no mask is ever decoded densely.
 *
 * Two phases, each a fork and a join:
 *  1. per mask (threads take masks as they come): check the runs, build the
 *     row spans, the contour spans and the colour's blend tables;
 *  2. per band of rows (one band per thread): every mask's fill in draw
 *     order, then every mask's contour in draw order. A pixel belongs to one
 *     band, so it sees the masks in exactly the single-thread order.
 * Nothing is written to the image before phase 1 has succeeded for all. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_platform.h"

/* One mask's spans: row ylo+r's fill spans are xs[off[r]..off[r+1]) and its
 * contour spans cxs[coff[r]..coff[r+1]), as x0,x1 pairs ([x0, x1)). */
typedef struct {
  uint64_t ylo, yhi;
  int64_t *off, *coff;
  uint32_t *xs, *cxs;
  int64_t xs_cap, cxs_cap;
  uint16_t add[48];    /* c[k % 3] * alpha + 127: 16 pixels of the fill's addend */
  int rc;
} mask_spans;

typedef struct {
  const uint32_t *arena;
  const int64_t *offsets, *order;
  int64_t k;
  uint64_t h, w, hw;
  const uint8_t *colors;
  int alpha, cw;
  uint8_t *img;
  mask_spans *ms;
  int64_t next; /* phase 1: next mask position to take */
} render_job;

/* out = A ∩ B for sorted, disjoint x0,x1 pair lists. out needs na+nb
 * entries. Returns the entries written. */
static int64_t intersect(const uint32_t *a, int64_t na, const uint32_t *b, int64_t nb, uint32_t *out) {
  int64_t i = 0, j = 0, n = 0;
  while (i < na && j < nb) {
    uint32_t lo = a[i] > b[j] ? a[i] : b[j], hi = a[i + 1] < b[j + 1] ? a[i + 1] : b[j + 1];
    if (lo < hi) {
      out[n++] = lo;
      out[n++] = hi;
    }
    if (a[i + 1] < b[j + 1]) i += 2;
    else j += 2;
  }
  return n;
}

/* Spans of row r shrunk by cw at both ends: the horizontal erosion (the
 * image border is background, and spans never leave the image). */
static int64_t shrink(const uint32_t *s, int64_t n, uint32_t cw, uint32_t *out) {
  int64_t i, k = 0;
  for (i = 0; i < n; i += 2) {
    if ((uint64_t)s[i] + 2u * (uint64_t)cw < (uint64_t)s[i + 1]) {
      out[k++] = s[i] + cw;
      out[k++] = s[i + 1] - cw;
    }
  }
  return k;
}

/* The contour spans: every row's spans minus its eroded spans, where the
 * erosion is the intersection of the horizontally shrunk spans of rows
 * y-cw..y+cw (empty when one of them is outside the mask's rows, hence also
 * outside the image). */
static int build_contours(mask_spans *ms, uint32_t cw) {
  int64_t nrows = (int64_t)(ms->yhi - ms->ylo), r, q, tot = ms->off[nrows];
  int64_t *hoff = NULL, ecap = 0, ncx = 0;
  uint32_t *hx = NULL, *e1 = NULL, *e2 = NULL;
  int rc = FRLE_ERR_NOMEM;

  ms->coff = (int64_t *)malloc((size_t)(nrows + 1) * sizeof(int64_t));
  hoff = (int64_t *)malloc((size_t)(nrows + 1) * sizeof(int64_t));
  hx = (uint32_t *)malloc((size_t)(tot ? tot : 1) * sizeof(uint32_t));
  if (!ms->coff || !hoff || !hx) goto done;
  hoff[0] = 0;
  for (r = 0; r < nrows; r++)
    hoff[r + 1] = hoff[r] + shrink(ms->xs + ms->off[r], ms->off[r + 1] - ms->off[r], cw, hx + hoff[r]);
  /* An intersection of sorted disjoint span lists has fewer spans than
   * its operands together, so the running erosion of rows lo..q never
   * holds more entries than those rows' spans: tot bounds it. */
  if (!FRLE_GROW(e1, ecap, tot + 2)) goto done;
  ecap = 0;
  if (!FRLE_GROW(e2, ecap, tot + 2)) goto done;
  ms->coff[0] = 0;
  for (r = 0; r < nrows; r++) {
    const uint32_t *s = ms->xs + ms->off[r];
    int64_t ns = ms->off[r + 1] - ms->off[r], ne = 0, i, j = 0;
    const uint32_t *e = e1;
    if (r >= (int64_t)cw && r + (int64_t)cw < nrows) {
      int64_t lo = r - (int64_t)cw;
      ne = hoff[lo + 1] - hoff[lo];
      memcpy(e1, hx + hoff[lo], (size_t)ne * sizeof(uint32_t));
      for (q = lo + 1; q <= r + (int64_t)cw && ne; q++) {
        int64_t n2 = intersect(e1, ne, hx + hoff[q], hoff[q + 1] - hoff[q], e2);
        uint32_t *t = e1;
        e1 = e2;
        e2 = t;
        ne = n2;
      }
      e = e1;
    }
    /* E lies inside S (the row itself is one of the intersected rows), so
     * each S span is cut by the E spans it contains: at most ns + ne ends. */
    if (!FRLE_GROW(ms->cxs, ms->cxs_cap, ncx + ns + ne + 2)) goto done;
    for (i = 0; i < ns; i += 2) {
      uint32_t cur = s[i], b = s[i + 1];
      while (j < ne && e[j] < b) {
        if (e[j] > cur) {
          ms->cxs[ncx++] = cur;
          ms->cxs[ncx++] = e[j];
        }
        cur = e[j + 1];
        j += 2;
      }
      if (cur < b) {
        ms->cxs[ncx++] = cur;
        ms->cxs[ncx++] = b;
      }
    }
    ms->coff[r + 1] = ncx;
  }
  rc = FRLE_OK;
done:
  free(hoff);
  free(hx);
  free(e1);
  free(e2);
  return rc;
}

/* Phase 1 for one mask: check, spans, contour spans, blend tables. */
static int prepare(render_job *jb, int64_t pos, frle_scratch *scr) {
  mask_spans *ms = &jb->ms[pos];
  int64_t i = jb->order[pos], m = jb->offsets[i + 1] - jb->offsets[i], nrows, r, tot;
  const uint32_t *cnts = jb->arena + jb->offsets[i];
  uint64_t y;
  const uint8_t *c = jb->colors + 3 * i;
  int a = jb->alpha, rc, p;
  frle_error err;

  rc = frle_check_sum(cnts, m, jb->hw, &err);
  if (rc != FRLE_OK) return rc;
  for (p = 0; p < 48; p++) ms->add[p] = (uint16_t)(c[p % 3] * a + 127);
  if (jb->hw == 0) return FRLE_OK;
  rc = frle_row_transitions(cnts, m, jb->h, jb->w, scr);
  if (rc != FRLE_OK) return rc;
  ms->ylo = scr->ylo;
  ms->yhi = scr->yhi;
  nrows = (int64_t)(ms->yhi - ms->ylo);
  if (nrows == 0) return FRLE_OK;
  tot = scr->row[ms->yhi - 1];
  ms->off = (int64_t *)malloc((size_t)(nrows + 1) * sizeof(int64_t));
  ms->xs = (uint32_t *)malloc((size_t)(tot ? tot : 1) * sizeof(uint32_t));
  if (!ms->off || !ms->xs) return FRLE_ERR_NOMEM;
  memcpy(ms->xs, scr->tr, (size_t)tot * sizeof(uint32_t));
  ms->off[0] = 0;
  for (y = ms->ylo, r = 0; y < ms->yhi; y++, r++) ms->off[r + 1] = scr->row[y];
  if (jb->cw > 0) return build_contours(ms, (uint32_t)jb->cw);
  return FRLE_OK;
}

static void phase_prepare(render_job *jb) {
  frle_scratch *scr = frle_scratch_new();
  for (;;) {
    int64_t pos = frle_fetch_add64(&jb->next, 1);
    if (pos >= jb->k) break;
    jb->ms[pos].rc = scr ? prepare(jb, pos, scr) : FRLE_ERR_NOMEM;
  }
  frle_scratch_free(scr);
}

/* p = (p * mul + add) / 255 over the bytes [p, e) of whole pixels, in
 * uint16 lanes: t <= 255*255 + 127 and (t + 1 + (t >> 8)) >> 8 equals
 * t / 255 for every such t (checked exhaustively), so no lane overflows and
 * the compiler vectorises the 48-byte blocks (16 pixels, the period of the
 * RGB addend). */
static inline void blend(uint8_t *p, uint8_t *e, const uint16_t *add, uint16_t mul) {
  int k;
  for (; e - p >= 48; p += 48) {
    for (k = 0; k < 48; k++) {
      uint16_t t = (uint16_t)((uint16_t)p[k] * mul + add[k]);
      p[k] = (uint8_t)((uint16_t)(t + 1 + (t >> 8)) >> 8);
    }
  }
  for (k = 0; p < e; p++, k++) {
    uint16_t t = (uint16_t)((uint16_t)*p * mul + add[k]);
    *p = (uint8_t)((uint16_t)(t + 1 + (t >> 8)) >> 8);
  }
}

/* Phase 2: rows [y0, y1) of the image, every mask in order. */
static void phase_draw(render_job *jb, uint64_t y0, uint64_t y1) {
  int64_t pos, t;
  uint64_t y, w = jb->w;
  uint16_t mul = (uint16_t)(255 - jb->alpha);
  for (pos = 0; pos < jb->k; pos++) { /* fills */
    const mask_spans *ms = &jb->ms[pos];
    uint64_t a = ms->ylo > y0 ? ms->ylo : y0, b = ms->yhi < y1 ? ms->yhi : y1;
    for (y = a; y < b; y++) {
      int64_t r = (int64_t)(y - ms->ylo);
      uint8_t *line = jb->img + y * w * 3;
      for (t = ms->off[r]; t < ms->off[r + 1]; t += 2) {
        blend(line + (uint64_t)ms->xs[t] * 3, line + (uint64_t)ms->xs[t + 1] * 3, ms->add, mul);
      }
    }
  }
  if (jb->cw <= 0) return;
  for (pos = 0; pos < jb->k; pos++) { /* contours, at full opacity */
    const mask_spans *ms = &jb->ms[pos];
    const uint8_t *c = jb->colors + 3 * jb->order[pos];
    uint8_t c0 = c[0], c1 = c[1], c2 = c[2];
    uint64_t a = ms->ylo > y0 ? ms->ylo : y0, b = ms->yhi < y1 ? ms->yhi : y1;
    if (!ms->coff) continue;
    for (y = a; y < b; y++) {
      int64_t r = (int64_t)(y - ms->ylo);
      uint8_t *line = jb->img + y * w * 3;
      for (t = ms->coff[r]; t < ms->coff[r + 1]; t += 2) {
        uint8_t *p = line + (uint64_t)ms->cxs[t] * 3, *e = line + (uint64_t)ms->cxs[t + 1] * 3;
        for (; p < e; p += 3) {
          p[0] = c0;
          p[1] = c1;
          p[2] = c2;
        }
      }
    }
  }
}

/* Phase 1 on one thread (its range is its slot: threads take masks as they
 * come); phase 2 on one band of rows [y0, y1). */
static void prepare_range(void *ctx, int64_t b, int64_t e, int tid) {
  (void)b;
  (void)e;
  (void)tid;
  phase_prepare((render_job *)ctx);
}

static void draw_range(void *ctx, int64_t y0, int64_t y1, int tid) {
  (void)tid;
  phase_draw((render_job *)ctx, (uint64_t)y0, (uint64_t)y1);
}

int frle_render(const uint32_t *arena, const int64_t *offsets, const int64_t *order, int64_t k, uint64_t h, uint64_t w,
                const uint8_t *colors, int alpha, int contour_width, uint8_t *img, int nthreads, frle_error *err) {
  render_job jb = {.arena = arena,
                   .offsets = offsets,
                   .order = order,
                   .k = k,
                   .h = h,
                   .w = w,
                   .colors = colors,
                   .alpha = alpha < 0 ? 0 : (alpha > 255 ? 255 : alpha),
                   .cw = contour_width < 0 ? 0 : contour_width,
                   .img = img};
  int64_t pos;
  int rc = FRLE_OK;

  frle_fail(err, FRLE_OK, -1); /* no failure yet */
  if (frle_check_size(h, w, &jb.hw) != FRLE_OK) return frle_fail(err, FRLE_ERR_SIZE, k ? order[0] : 0);
  if (k <= 0) return FRLE_OK;
  jb.ms = (mask_spans *)calloc((size_t)k, sizeof(mask_spans));
  if (!jb.ms) return frle_fail(err, FRLE_ERR_NOMEM, order[0]);

  /* a thread per 64K pixels at most: starting one costs more than that */
  nthreads = frle_thread_count(nthreads, (int64_t)(jb.hw >> 16));
  frle_parallel_for(frle_thread_count(nthreads, k), nthreads, prepare_range, &jb);
  for (pos = 0; pos < k; pos++) { /* the first failure in draw order */
    if (jb.ms[pos].rc != FRLE_OK) {
      rc = jb.ms[pos].rc;
      err->code = rc;
      err->index = order[pos];
      break;
    }
  }
  if (rc == FRLE_OK && h && w) {
    /* bands of at least 16 rows: fewer threads for small images */
    int64_t most = (int64_t)(h / 16) > 0 ? (int64_t)(h / 16) : 1;
    frle_parallel_for((int64_t)h, frle_thread_count(nthreads, most), draw_range, &jb);
  }
  for (pos = 0; pos < k; pos++) {
    free(jb.ms[pos].off);
    free(jb.ms[pos].coff);
    free(jb.ms[pos].xs);
    free(jb.ms[pos].cxs);
  }
  free(jb.ms);
  return rc;
}
