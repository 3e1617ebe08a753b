/* Transforms fused into decode (see rle_transform.h): each mask goes from
 * its runs straight to the output the model wants, never through the dense
 * full-resolution mask.
 *
 * Two writers for the nearest modes, both on the same index maps:
 *  - rows:    row spans of the source (rle_decode.c's transposition), then
 *             each output row from its source row's spans. Cost: the mask's
 *             outline plus one pass over the output. Used near full size.
 *  - scatter: walk the runs (column segments) and fill the output rectangle
 *             each one maps to. Cost: the runs plus the output foreground;
 *             no transposition, so it wins when the output is small.
 * area always scatters into exact integer accumulators; roi_align uses
 * separable bilinear weights and the runs of the sampled columns only. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_transform.h"

void frle_nearest_map(int64_t in, int64_t out, int exact, int64_t *map) {
  int64_t i;
  for (i = 0; i < out; i++) map[i] = frle_nearest_src(i, in, out, exact);
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
  int rows;                        /* use the row-span writer */
  int64_t rowbytes;
} dctx;

/* Bits [lo, hi) of one byte, 0 <= lo < hi <= 8, column c at bit 7-c (big)
 * or c (little). */
static inline uint8_t bmask(unsigned lo, unsigned hi, int little) {
  if (little) return (uint8_t)(((1u << hi) - 1) & ~((1u << lo) - 1));
  return (uint8_t)((0xFFu >> lo) & (0xFFu << (8 - hi)));
}

static inline void set_bits(uint8_t *row, uint64_t c0, uint64_t c1, int little) {
  uint64_t b0 = c0 >> 3, b1 = c1 >> 3;
  unsigned l0 = (unsigned)(c0 & 7), l1 = (unsigned)(c1 & 7);
  if (b0 == b1) { row[b0] |= bmask(l0, l1, little); return; }
  if (l0) { row[b0] |= bmask(l0, 8, little); b0++; }
  if (b1 > b0) memset(row + b0, 0xFF, (size_t)(b1 - b0));
  if (l1) row[b1] |= bmask(0, l1, little);
}

static inline void fill_row(const frle_xform *x, uint8_t *row, uint64_t c0, uint64_t c1) {
  if (x->flip_h) { uint64_t t = c0; c0 = x->ow - c1; c1 = x->ow - t; }
  if (x->packed) set_bits(row, c0, c1, x->little);
  else if (c1 - c0 == 1) row[c0] = 1;
  else memset(row + c0, 1, (size_t)(c1 - c0));
}

/* Output rows [r0, r1) x columns [c0, c1) (before flips) set to 1. */
static void fill_rect(const dctx *c, uint8_t *base, uint64_t r0, uint64_t r1, uint64_t c0, uint64_t c1) {
  const frle_xform *x = c->x;
  uint64_t r;
  if (r0 >= r1 || c0 >= c1) return;
  if (x->flip_v) { uint64_t t = r0; r0 = x->oh - r1; r1 = x->oh - t; }
  for (r = r0; r < r1; r++) fill_row(x, base + (int64_t)r * x->row_stride, c0, c1);
}

static void zero_rows(const frle_xform *x, uint8_t *base, int64_t rowbytes) {
  uint64_t r;
  if (x->row_stride == rowbytes) { memset(base, 0, (size_t)(rowbytes * (int64_t)x->oh)); return; }
  for (r = 0; r < x->oh; r++) memset(base + (int64_t)r * x->row_stride, 0, (size_t)rowbytes);
}

/* nearest, rows writer: each output row from its source row's spans; rows
 * that repeat a source row (upscaling) are copies of the previous one. */
static int write_rows(const dctx *c, const uint32_t *cnts, int64_t m, frle_scratch *scr, uint8_t *base) {
  const frle_xform *x = c->x;
  uint64_t r;
  int64_t prev_sy = -1;
  uint8_t *prev = NULL;
  int prev_empty = 0;
  int rc = frle_row_transitions(cnts, m, c->h, c->w, scr);
  if (rc != FRLE_OK) return rc;
  for (r = 0; r < x->oh; r++) {
    uint64_t oy = x->flip_v ? x->oh - 1 - r : r;
    int64_t sy = c->rmap[oy], t, t0, t1;
    uint8_t *p = base + (int64_t)r * x->row_stride;
    if (sy == prev_sy) {
      if (!(prev_empty && x->zeroed)) memcpy(p, prev, (size_t)c->rowbytes);
      continue;
    }
    prev_sy = sy; prev = p;
    if ((uint64_t)sy < scr->ylo || (uint64_t)sy >= scr->yhi) {
      t0 = t1 = 0;
    } else {
      t0 = (uint64_t)sy == scr->ylo ? 0 : scr->row[sy - 1];
      t1 = scr->row[sy];
    }
    if (!x->zeroed) memset(p, 0, (size_t)c->rowbytes);
    prev_empty = 1;
    for (t = t0; t + 1 < t1; t += 2) {
      uint64_t c0 = (uint64_t)c->cfirst[scr->tr[t]], c1 = (uint64_t)c->cfirst[scr->tr[t + 1]];
      if (c0 < c1) { fill_row(x, p, c0, c1); prev_empty = 0; }
    }
  }
  return FRLE_OK;
}

/* nearest, scatter writer: every foreground run, split into the column
 * segments it covers, fills the output rectangle it maps to. */
static void write_scatter(const dctx *c, const uint32_t *cnts, int64_t m, uint8_t *base) {
  const frle_xform *x = c->x;
  const int64_t *rf = c->rfirst, *cf = c->cfirst;
  uint64_t h = c->h, pos = 0;
  int64_t j;
  if (!x->zeroed) zero_rows(x, base, c->rowbytes);
  for (j = 1; j < m; j += 2) {
    uint64_t s = pos + cnts[j - 1], e = s + cnts[j], x0, x1, y0, y1;
    pos = e;
    if (s == e) continue;
    x0 = s / h; y0 = s - x0 * h;
    x1 = (e - 1) / h; y1 = e - x1 * h;
    if (x0 == x1) {
      if (cf[x0] < cf[x0 + 1]) fill_rect(c, base, rf[y0], rf[y1], cf[x0], cf[x0 + 1]);
      continue;
    }
    fill_rect(c, base, rf[y0], x->oh, cf[x0], cf[x0 + 1]);
    if (x1 > x0 + 1) fill_rect(c, base, 0, x->oh, cf[x0 + 1], cf[x1]);
    fill_rect(c, base, 0, rf[y1], cf[x1], cf[x1 + 1]);
  }
}

/* area: coverage in exact integers. With one source pixel ow units wide and
 * one output cell w units wide (rows likewise), a pixel's overlap with a
 * cell is ovx * ovy units, and a cell holds h*w units: the sum over its
 * foreground pixels, divided once, is the exact fraction. Columns come in
 * increasing order, and a source column touches at most two output
 * columns (ow <= w), so two accumulator columns (by parity) suffice. */
typedef struct {
  const dctx *c;
  uint8_t *base;
  uint64_t *acc[2];
  int64_t ox[2];            /* output column held by each slot, -1: none */
  uint64_t lo[2], hi[2];    /* rows touched in each slot */
} area_state;

static void area_flush(area_state *st, int k) {
  const frle_xform *x = st->c->x;
  double inv = 1.0 / ((double)st->c->h * (double)st->c->w);
  uint64_t oy, ox;
  if (st->ox[k] < 0) return;
  ox = (uint64_t)st->ox[k];
  if (x->flip_h) ox = x->ow - 1 - ox;
  for (oy = st->lo[k]; oy < st->hi[k]; oy++) {
    uint64_t v = st->acc[k][oy], r = x->flip_v ? x->oh - 1 - oy : oy;
    float f;
    if (!v) continue;
    st->acc[k][oy] = 0;
    f = (float)((double)v * inv);
    memcpy(st->base + (int64_t)r * x->row_stride + ox * sizeof(float), &f, sizeof(float));
  }
  st->ox[k] = -1;
}

/* Add source column segment rows [ya, yb) of source column sx. */
static void area_add(area_state *st, uint64_t sx, uint64_t ya, uint64_t yb) {
  const frle_xform *x = st->c->x;
  uint64_t h = st->c->h, w = st->c->w, oh = x->oh, ow = x->ow;
  uint64_t xa = sx * ow, xb = xa + ow, ox, oxe = (xb - 1) / w;
  uint64_t ua = ya * oh, ub = yb * oh, oya = ua / h, oyb = (ub - 1) / h;
  for (ox = xa / w; ox <= oxe; ox++) {
    uint64_t ca = ox * w, cb = ca + w, ovx = (xb < cb ? xb : cb) - (xa > ca ? xa : ca), oy;
    int k = (int)(ox & 1);
    uint64_t *acc;
    if (st->ox[k] != (int64_t)ox) {
      area_flush(st, k);
      st->ox[k] = (int64_t)ox;
      st->lo[k] = oya; st->hi[k] = oyb + 1;
    }
    if (oya < st->lo[k]) st->lo[k] = oya;
    if (oyb + 1 > st->hi[k]) st->hi[k] = oyb + 1;
    acc = st->acc[k];
    for (oy = oya; oy <= oyb; oy++) {
      uint64_t ra = oy * h, rb = ra + h;
      acc[oy] += ovx * ((ub < rb ? ub : rb) - (ua > ra ? ua : ra));
    }
  }
}

static int write_area(const dctx *c, const uint32_t *cnts, int64_t m, frle_scratch *scr, uint8_t *base) {
  const frle_xform *x = c->x;
  uint64_t h = c->h, pos = 0;
  int64_t j;
  area_state st;
  if (!FRLE_GROW(scr->aux, scr->aux_cap, (int64_t)(2 * x->oh * sizeof(uint64_t)))) return FRLE_ERR_NOMEM;
  memset(scr->aux, 0, 2 * x->oh * sizeof(uint64_t));
  st.c = c; st.base = base;
  st.acc[0] = (uint64_t *)scr->aux; st.acc[1] = st.acc[0] + x->oh;
  st.ox[0] = st.ox[1] = -1;
  st.lo[0] = st.lo[1] = st.hi[0] = st.hi[1] = 0;
  if (!x->zeroed) zero_rows(x, base, c->rowbytes);
  for (j = 1; j < m; j += 2) {
    uint64_t s = pos + cnts[j - 1], e = s + cnts[j], x0, x1, sx;
    pos = e;
    if (s == e) continue;
    x0 = s / h; x1 = (e - 1) / h;
    for (sx = x0; sx <= x1; sx++)
      area_add(&st, sx, sx == x0 ? s - x0 * h : 0, sx == x1 ? e - x1 * h : h);
  }
  area_flush(&st, 0);
  area_flush(&st, 1);
  return FRLE_OK;
}

static int transform_one(void *vctx, int64_t i, const uint32_t *cnts, int64_t m,
                         frle_scratch *scr, frle_error *err) {
  const dctx *c = (const dctx *)vctx;
  uint8_t *base = c->x->out + i * c->x->mask_stride;
  (void)err;
  if (c->x->oh == 0 || c->x->ow == 0) return FRLE_OK;
  if (c->x->mode == FRLE_AREA) return write_area(c, cnts, m, scr, base);
  if (c->rows) return write_rows(c, cnts, m, scr, base);
  write_scatter(c, cnts, m, base);
  return FRLE_OK;
}

int frle_decode_transform(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                          const frle_xform *x, int nthreads, frle_error *err) {
  dctx c;
  int64_t *maps = NULL;
  int rc;
  if (n == 0) return FRLE_OK;
  memset(&c, 0, sizeof(c));
  c.x = x; c.h = h; c.w = w;
  c.rowbytes = x->mode == FRLE_AREA ? (int64_t)(x->ow * sizeof(float))
             : x->packed ? (int64_t)((x->ow + 7) / 8) : (int64_t)x->ow;
  if (x->mode != FRLE_AREA && h && w && x->oh && x->ow) {
    int exact = x->mode == FRLE_NEAREST_EXACT;
    maps = (int64_t *)malloc((size_t)(x->oh + x->ow + h + w + 2) * sizeof(int64_t));
    if (!maps) {
      err->code = FRLE_ERR_NOMEM; err->index = 0;
      return FRLE_ERR_NOMEM;
    }
    c.rmap = maps; c.cmap = maps + x->oh;
    c.rfirst = c.cmap + x->ow; c.cfirst = c.rfirst + h + 1;
    frle_nearest_map((int64_t)h, (int64_t)x->oh, exact, (int64_t *)c.rmap);
    frle_nearest_map((int64_t)w, (int64_t)x->ow, exact, (int64_t *)c.cmap);
    first_of(c.rmap, (int64_t)x->oh, (int64_t)h, (int64_t *)c.rfirst);
    first_of(c.cmap, (int64_t)x->ow, (int64_t)w, (int64_t *)c.cfirst);
    /* Scatter costs the output's foreground in narrow rectangles; rows
     * cost the transposition plus whole output rows. Near full size, or
     * larger, rows win; well below it, scatter does. */
    c.rows = x->oh * x->ow * 2 > h * w;
  }
  rc = frle_batch_apply(src, n, h, w, transform_one, &c, nthreads, err);
  free(maps);
  return rc;
}

/* ---- roi_align ---- */

typedef struct {
  const float *boxes;
  float scale;
  int sampling, aligned;
  int64_t ph, pw;
  uint64_t h, w;
  uint8_t *out;
  int64_t mask_stride, row_stride;
} rctx;

typedef struct { int64_t lo, hi; float wl, wh; int valid; } samp;

/* One bilinear sample coordinate, torchvision's pre_calc_for_bilinear_interpolate
 * along one axis (size = height or width). */
static inline samp axis_sample(float v, uint64_t size) {
  samp s;
  s.valid = !(v < -1.0 || v > (float)size);
  s.lo = s.hi = 0; s.wl = s.wh = 0;
  if (!s.valid) return s;
  if (v <= 0) v = 0;
  s.lo = (int64_t)v;
  if (s.lo >= (int64_t)size - 1) {
    s.hi = s.lo = (int64_t)size - 1;
    v = (float)s.lo;
  } else {
    s.hi = s.lo + 1;
  }
  s.wh = v - (float)s.lo;           /* ly, lx */
  s.wl = (float)(1. - s.wh);        /* hy, hx */
  return s;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return x < y ? -1 : x > y;
}

static int64_t find_col(const int64_t *cols, int64_t n, int64_t x) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = (lo + hi) / 2;
    if (cols[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo;
}

static int roi_one(void *vctx, int64_t i, const uint32_t *cnts, int64_t m,
                   frle_scratch *scr, frle_error *err) {
  const rctx *c = (const rctx *)vctx;
  const float *b = c->boxes + 4 * i;
  const int64_t PH = c->ph, PW = c->pw;
  uint64_t h = c->h, w = c->w;
  float off = c->aligned ? 0.5f : 0.0f;
  float rsw = b[0] * c->scale - off, rsh = b[1] * c->scale - off;
  float rew = b[2] * c->scale - off, reh = b[3] * c->scale - off;
  float rw = rew - rsw, rh = reh - rsh, bh, bw;
  int64_t gh, gw, count, ph, pw, iy, ix, nxs, ncols, R0 = -1, R1 = -1, R, k;
  uint8_t *base = c->out + i * c->mask_stride;
  samp *xs;
  int64_t *cols, *xl, *xh;
  double *P, *v;
  size_t need;
  (void)err;

  if (!c->aligned) {
    if (rw < 1.f) rw = 1.f;
    if (rh < 1.f) rh = 1.f;
  }
  bh = rh / (float)PH;
  bw = rw / (float)PW;
  /* the Python layer bounds the grids, so these casts are defined */
  if (c->sampling > 0) { gh = gw = c->sampling; }
  else {
    float th = rh / (float)PH, tw = rw / (float)PW;
    gh = (int64_t)th; if ((float)gh < th) gh++;
    gw = (int64_t)tw; if ((float)gw < tw) gw++;
  }
  count = gh * gw > 1 ? gh * gw : 1;
  for (ph = 0; ph < PH; ph++) memset(base + ph * c->row_stride, 0, (size_t)PW * sizeof(float));
  if (gh <= 0 || gw <= 0 || h == 0 || w == 0) return FRLE_OK;

  /* rows: the support of the sample rows, then per-bin prefix sums of the
   * row weights over it, so a column segment [a, b) weighs P[b] - P[a] */
  for (ph = 0; ph < PH; ph++)
    for (iy = 0; iy < gh; iy++) {
      float yy = rsh + (float)ph * bh + (float)((float)iy + .5f) * bh / (float)gh;
      samp s = axis_sample(yy, h);
      if (!s.valid) continue;
      if (R0 < 0 || s.lo < R0) R0 = s.lo;
      if (s.hi > R1) R1 = s.hi;
    }
  nxs = PW * gw;
  if (R0 < 0) return FRLE_OK;
  R = R1 - R0 + 1;
  need = (size_t)nxs * (sizeof(samp) + 4 * sizeof(int64_t)) + (size_t)PH * (R + 1) * sizeof(double)
       + (size_t)(2 * nxs) * PH * sizeof(double) + 64;
  if (!FRLE_GROW(scr->aux, scr->aux_cap, (int64_t)need)) return FRLE_ERR_NOMEM;
  P = (double *)scr->aux;
  v = P + PH * (R + 1);
  xs = (samp *)(v + 2 * nxs * PH);
  cols = (int64_t *)(xs + nxs);
  xl = cols + 2 * nxs;
  xh = xl + nxs;
  memset(P, 0, (size_t)PH * (R + 1) * sizeof(double));
  for (ph = 0; ph < PH; ph++) {
    double *Pp = P + ph * (R + 1);
    int64_t r;
    for (iy = 0; iy < gh; iy++) {
      float yy = rsh + (float)ph * bh + (float)((float)iy + .5f) * bh / (float)gh;
      samp s = axis_sample(yy, h);
      if (!s.valid) continue;
      Pp[s.lo - R0 + 1] += s.wl;
      Pp[s.hi - R0 + 1] += s.wh;
    }
    for (r = 0; r < R; r++) Pp[r + 1] += Pp[r];
  }

  /* columns: every sample's two columns, sorted and unique */
  ncols = 0;
  for (pw = 0; pw < PW; pw++)
    for (ix = 0; ix < gw; ix++) {
      float xx = rsw + (float)pw * bw + (float)((float)ix + .5f) * bw / (float)gw;
      samp s = axis_sample(xx, w);
      xs[pw * gw + ix] = s;
      if (!s.valid) continue;
      cols[ncols++] = s.lo;
      cols[ncols++] = s.hi;
    }
  if (ncols == 0) return FRLE_OK;
  for (k = 1; k < ncols && cols[k - 1] <= cols[k]; k++) {}
  if (k < ncols) qsort(cols, (size_t)ncols, sizeof(int64_t), cmp_i64);
  {
    int64_t u = 1;
    for (k = 1; k < ncols; k++) if (cols[k] != cols[u - 1]) cols[u++] = cols[k];
    ncols = u;
  }
  memset(v, 0, (size_t)ncols * PH * sizeof(double));

  /* the runs, read up to the last sampled column: each foreground segment
   * of a sampled column adds its rows' weights to that column's sums */
  {
    uint64_t pos = 0, next = (uint64_t)cols[0] * h;
    int64_t j, kc = 0;
    for (j = 1; j < m && kc < ncols; j += 2) {
      uint64_t s = pos + cnts[j - 1], e = s + cnts[j], x0, x1;
      int64_t kk;
      pos = e;
      if (e <= next || s == e) continue;
      x0 = s / h; x1 = (e - 1) / h;
      while (kc < ncols && (uint64_t)cols[kc] < x0) kc++;
      if (kc == ncols) break;
      next = (uint64_t)cols[kc] * h;
      for (kk = kc; kk < ncols && (uint64_t)cols[kk] <= x1; kk++) {
        uint64_t cx = (uint64_t)cols[kk];
        int64_t a = cx == x0 ? (int64_t)(s - x0 * h) : 0, bb = cx == x1 ? (int64_t)(e - x1 * h) : (int64_t)h;
        double *vk = v + kk * PH;
        if (a < R0) a = R0;
        if (bb > R1 + 1) bb = R1 + 1;
        if (a >= bb) continue;
        a -= R0; bb -= R0;
        for (ph = 0; ph < PH; ph++) vk[ph] += P[ph * (R + 1) + bb] - P[ph * (R + 1) + a];
      }
    }
  }

  /* out[ph][pw] = sum over the bin's column samples of the weighted sums */
  for (k = 0; k < nxs; k++) {
    if (!xs[k].valid) continue;
    xl[k] = find_col(cols, ncols, xs[k].lo);
    xh[k] = find_col(cols, ncols, xs[k].hi);
  }
  for (ph = 0; ph < PH; ph++) {
    float *orow = (float *)(base + ph * c->row_stride);
    for (pw = 0; pw < PW; pw++) {
      double acc = 0;
      for (ix = 0; ix < gw; ix++) {
        k = pw * gw + ix;
        if (!xs[k].valid) continue;
        acc += (double)xs[k].wl * v[xl[k] * PH + ph] + (double)xs[k].wh * v[xh[k] * PH + ph];
      }
      orow[pw] = (float)(acc / (double)count);
    }
  }
  return FRLE_OK;
}

int frle_roi_align(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                   const float *boxes, float spatial_scale, int sampling_ratio, int aligned,
                   int64_t ph, int64_t pw, uint8_t *out, int64_t mask_stride, int64_t row_stride,
                   int nthreads, frle_error *err) {
  rctx c;
  c.boxes = boxes; c.scale = spatial_scale; c.sampling = sampling_ratio; c.aligned = aligned;
  c.ph = ph; c.pw = pw; c.h = h; c.w = w;
  c.out = out; c.mask_stride = mask_stride; c.row_stride = row_stride;
  return frle_batch_apply(src, n, h, w, roi_one, &c, nthreads, err);
}
