/* Polygons to runs. The rasterisation rule (5x upsampling, y-boundary
 * crossings, rounding) is pycocotools' rleFrPoly (Simplified BSD, Piotr
 * Dollar and Tsung-Yi Lin), reproduced step for step so that results are
 * identical to the pixel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rle.h"

/* Sort n uint32 keys: insertion sort for a few, else an LSD radix sort on
 * bytes (tmp holds n), skipping bytes that are equal in every key. qsort's
 * comparator calls cost more than the rasterising for COCO polygons. */
static void sort_u32(uint32_t *a, int64_t n, uint32_t *tmp) {
  int64_t i, j;
  if (n <= 32) {
    for (i = 1; i < n; i++) {
      uint32_t v = a[i];
      for (j = i; j > 0 && a[j - 1] > v; j--) a[j] = a[j - 1];
      a[j] = v;
    }
    return;
  }
  {
    int64_t cnt[4][256];
    int pass;
    uint32_t *src = a, *dst = tmp;
    memset(cnt, 0, sizeof(cnt));
    for (i = 0; i < n; i++) {
      uint32_t v = a[i];
      cnt[0][v & 255]++; cnt[1][(v >> 8) & 255]++; cnt[2][(v >> 16) & 255]++; cnt[3][v >> 24]++;
    }
    for (pass = 0; pass < 4; pass++) {
      int64_t *c = cnt[pass], sum = 0;
      int sh = 8 * pass, b;
      if (c[(src[0] >> sh) & 255] == n) continue; /* one bucket: already in order */
      for (b = 0; b < 256; b++) { int64_t t = c[b]; c[b] = sum; sum += t; }
      for (i = 0; i < n; i++) dst[c[(src[i] >> sh) & 255]++] = src[i];
      { uint32_t *t = src; src = dst; dst = t; }
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof(uint32_t));
  }
}

/* One upsampled boundary point after another: where the boundary crosses a
 * pixel column (downsampled), record the crossing's linear position. */
typedef struct {
  int pu, pv, have;
  uint64_t h, w;
  uint32_t *a;
  int64_t n;
} crossings;

/* pycocotools computes xd = (xi + .5) / 5 - .5 and keeps the point when xd
 * is an integer in [0, w-1]; then y = ceil(clamp((yi + .5) / 5 - .5, 0, h)).
 * (xi + .5) / 5 - .5 is q + {-.4, -.2, 0, .2, .4} for xi = 5q + {0..4}, far
 * from the rounding error, so it is an integer exactly when xi = 5q + 2, and
 * then equals q = (xi - 2) / 5. Likewise for y. Integer arithmetic gives the
 * same points without a division per boundary point. */
static inline void cross_point(crossings *c, int u, int v) {
  if (c->have && u != c->pu) {
    int64_t xi = u < c->pu ? u : (int64_t)u - 1;
    if ((xi - 2) % 5 == 0 && xi >= 2 && (uint64_t)((xi - 2) / 5) <= c->w - 1) {
      int64_t yi = v < c->pv ? v : c->pv, yq;
      if (yi < 2) yq = 0;
      else if (yi - 2 > 5 * (int64_t)c->h) yq = (int64_t)c->h;
      else yq = (yi + 2) / 5; /* ceil((yi - 2) / 5) */
      c->a[c->n++] = (uint32_t)((xi - 2) / 5) * (uint32_t)c->h + (uint32_t)yq;
    }
  }
  c->pu = u; c->pv = v; c->have = 1;
}

int frle_from_poly(const double *xy, int64_t k, uint64_t h64, uint64_t w64,
                   uint32_t **cnts_out, int64_t *m_out) {
  const double scale = 5;
  int64_t j, m = 0, np;
  int *x = NULL, *y = NULL;
  uint32_t *a = NULL, *b = NULL, *tmp = NULL;
  crossings cr;
  int rc = FRLE_ERR_NOMEM;

  *cnts_out = NULL; *m_out = 0;
  x = (int *)malloc(sizeof(int) * (size_t)(2 * k + 2));
  if (!x) goto done;
  y = x + k + 1;
  x[0] = y[0] = 0; /* k == 0: an empty polygon, an empty mask */
  for (j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2 + 0] + .5);
  x[k] = x[0];
  for (j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
  y[k] = y[0];
  /* dense points along every edge: at most one crossing each */
  for (j = 0; j < k; j++) {
    uint32_t dx = (uint32_t)abs(x[j] - x[j + 1]), dy = (uint32_t)abs(y[j] - y[j + 1]);
    m += (int64_t)(dx > dy ? dx : dy) + 1;
  }
  a = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(2 * m + 2));
  b = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(m + 1));
  if (!a || !b) goto done;
  tmp = a + m + 1;
  cr.have = 0; cr.h = h64; cr.w = w64; cr.a = a; cr.n = 0; cr.pu = cr.pv = 0;
  /* the points of pycocotools' rleFrPoly, in its order, each paired with
   * the one before it (across edges too) as its downsampling pass does */
  for (j = 0; j < k; j++) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, d, flip;
    double s;
    dx = abs(xe - xs); dy = abs(ys - ye);
    flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { t = xs; xs = xe; xe = t; t = ys; ys = ye; ye = t; }
    s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    if (dx >= dy) {
      for (d = 0; d <= dx; d++) {
        t = flip ? dx - d : d; cross_point(&cr, t + xs, (int)(ys + s * t + .5));
      }
    } else {
      for (d = 0; d <= dy; d++) {
        t = flip ? dy - d : d; cross_point(&cr, (int)(xs + s * t + .5), t + ys);
      }
    }
  }
  /* runs from the sorted crossing positions */
  np = cr.n;
  a[np++] = (uint32_t)(h64 * w64);
  sort_u32(a, np, tmp);
  {
    uint32_t p = 0;
    for (j = 0; j < np; j++) { uint32_t t = a[j]; a[j] -= p; p = t; }
  }
  j = m = 0;
  b[m++] = a[j++];
  while (j < np) {
    if (a[j] > 0) b[m++] = a[j++];
    else { j++; if (j < np) b[m - 1] += a[j++]; }
  }
  *cnts_out = b; b = NULL;
  *m_out = m;
  rc = FRLE_OK;
done:
  free(x); free(a); free(b);
  return rc;
}
