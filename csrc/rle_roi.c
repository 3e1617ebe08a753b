/* roi_align fused into decode (see rle_transform.h): separable bilinear
 * weights and the runs of the sampled columns only, never the dense mask. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_transform.h"

typedef struct {
  const float *boxes;
  float scale;
  int sampling, aligned;
  int64_t ph, pw;
  uint64_t h, w;
  uint8_t *out;
  int64_t mask_stride, row_stride;
} rctx;

typedef struct {
  int64_t lo, hi;
  float wl, wh;
  int valid;
} samp;

/* One bilinear sample coordinate, torchvision's pre_calc_for_bilinear_interpolate
 * along one axis (size = height or width). */
static inline samp axis_sample(float v, uint64_t size) {
  samp s;
  s.valid = !(v < -1.0 || v > (float)size);
  s.lo = s.hi = 0;
  s.wl = s.wh = 0;
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
    if (cols[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

static int roi_one(void *vctx, int64_t i, const uint32_t *cnts, int64_t m, frle_scratch *scr, frle_error *err) {
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
  if (c->sampling > 0) {
    gh = gw = c->sampling;
  } else {
    float th = rh / (float)PH, tw = rw / (float)PW;
    gh = (int64_t)th;
    if ((float)gh < th) gh++;
    gw = (int64_t)tw;
    if ((float)gw < tw) gw++;
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
  need = (size_t)nxs * (sizeof(samp) + 4 * sizeof(int64_t)) + (size_t)PH * (R + 1) * sizeof(double) +
         (size_t)(2 * nxs) * PH * sizeof(double) + 64;
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
    for (k = 1; k < ncols; k++)
      if (cols[k] != cols[u - 1]) cols[u++] = cols[k];
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
      x0 = s / h;
      x1 = (e - 1) / h;
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
        a -= R0;
        bb -= R0;
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

int frle_roi_align(const frle_src *src, int64_t n, uint64_t h, uint64_t w, const float *boxes, float spatial_scale,
                   int sampling_ratio, int aligned, int64_t ph, int64_t pw, uint8_t *out, int64_t mask_stride,
                   int64_t row_stride, int nthreads, frle_error *err) {
  rctx c = {.boxes = boxes,
            .scale = spatial_scale,
            .sampling = sampling_ratio,
            .aligned = aligned,
            .ph = ph,
            .pw = pw,
            .h = h,
            .w = w,
            .out = out,
            .mask_stride = mask_stride,
            .row_stride = row_stride};
  return frle_batch_apply(src, n, h, w, roi_one, &c, nthreads, err);
}
