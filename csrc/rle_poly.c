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
      cnt[0][v & 255]++;
      cnt[1][(v >> 8) & 255]++;
      cnt[2][(v >> 16) & 255]++;
      cnt[3][v >> 24]++;
    }
    for (pass = 0; pass < 4; pass++) {
      int64_t *c = cnt[pass], sum = 0;
      int sh = 8 * pass, b;
      if (c[(src[0] >> sh) & 255] == n) continue; /* one bucket: already in order */
      for (b = 0; b < 256; b++) {
        int64_t t = c[b];
        c[b] = sum;
        sum += t;
      }
      for (i = 0; i < n; i++) dst[c[(src[i] >> sh) & 255]++] = src[i];
      {
        uint32_t *t = src;
        src = dst;
        dst = t;
      }
    }
    if (src != a) memcpy(a, src, (size_t)n * sizeof(uint32_t));
  }
}

/* Sort a[0..n) (positions x*h + y, x = col[i]) by a counting sort on the
 * columns in [xmin, xmax], then insertion sort within each column.
 * Returns 0 when out of memory. */
static int sort_by_column(uint32_t *a, const uint32_t *col, int64_t n, uint32_t xmin, uint32_t xmax, uint32_t *tmp) {
  int64_t ncol = (int64_t)(xmax - xmin) + 2, i, j, c;
  int64_t stack[1024], *start = ncol <= 1024 ? stack : (int64_t *)malloc((size_t)ncol * sizeof(int64_t));
  if (!start) return 0;
  memset(start, 0, (size_t)ncol * sizeof(int64_t));
  for (i = 0; i < n; i++) start[col[i] - xmin + 1]++;
  for (c = 1; c < ncol; c++) start[c] += start[c - 1];
  for (i = 0; i < n; i++) tmp[start[col[i] - xmin]++] = a[i];
  /* start[c] is now the end of column c */
  for (c = 0, i = 0; c < ncol - 1; c++) {
    int64_t e = start[c];
    for (j = i + 1; j < e; j++) {
      uint32_t v = tmp[j];
      int64_t k = j;
      for (; k > i && tmp[k - 1] > v; k--) tmp[k] = tmp[k - 1];
      tmp[k] = v;
    }
    i = e;
  }
  memcpy(a, tmp, (size_t)n * sizeof(uint32_t));
  if (start != stack) free(start);
  return 1;
}

/* One upsampled boundary point after another: where the boundary crosses a
 * pixel column (downsampled), record the crossing's linear position. */
typedef struct {
  int pu, pv, have;
  uint64_t h, w;
  uint32_t *a;           /* linear positions x*h + y */
  uint32_t *col;         /* their columns x, for the column sort */
  uint32_t xmin, xmax;
  int64_t n;
} crossings;

/* pycocotools computes xd = (xi + .5) / 5 - .5 and keeps the point when xd
 * is an integer in [0, w-1]; then y = ceil(clamp((yi + .5) / 5 - .5, 0, h)).
 * (xi + .5) / 5 - .5 is q + {-.4, -.2, 0, .2, .4} for xi = 5q + {0..4}, far
 * from the rounding error, so it is an integer exactly when xi = 5q + 2, and
 * then equals q = (xi - 2) / 5. Likewise for y. Integer arithmetic gives the
 * same points without a division per boundary point. */
static inline void emit_crossing(crossings *c, int64_t xi, int64_t yi) {
  int64_t yq;
  if (yi < 2) yq = 0;
  else if (yi - 2 > 5 * (int64_t)c->h) yq = (int64_t)c->h;
  else yq = (yi + 2) / 5; /* ceil((yi - 2) / 5) */
  uint32_t x = (uint32_t)((xi - 2) / 5);
  if (x < c->xmin) c->xmin = x;
  if (x > c->xmax) c->xmax = x;
  c->col[c->n] = x;
  c->a[c->n++] = x * (uint32_t)c->h + (uint32_t)yq;
}

static inline int column_ok(const crossings *c, int64_t xi) { return xi >= 2 && (uint64_t)((xi - 2) / 5) <= c->w - 1; }

static inline void cross_point(crossings *c, int u, int v) {
  if (c->have && u != c->pu) {
    int64_t xi = u < c->pu ? u : (int64_t)u - 1;
    if ((xi - 2) % 5 == 0 && column_ok(c, xi)) emit_crossing(c, xi, v < c->pv ? v : c->pv);
  }
  c->pu = u;
  c->pv = v;
  c->have = 1;
}

static inline int64_t mod5(int64_t x) {
  int64_t r = x % 5;
  return r < 0 ? r + 5 : r;
}

int frle_from_poly(const double *xy, int64_t k, uint64_t h64, uint64_t w64, uint32_t **cnts_out, int64_t *m_out) {
  const double scale = 5;
  int64_t j, m = 0, np;
  int *x = NULL, *y = NULL;
  uint32_t *a = NULL, *b = NULL, *tmp = NULL;
  crossings cr;
  int rc = FRLE_ERR_NOMEM;

  *cnts_out = NULL;
  *m_out = 0;
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
  a = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(3 * m + 3));
  b = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(m + 1));
  if (!a || !b) goto done;
  tmp = a + m + 1;
  cr.have = 0;
  cr.h = h64;
  cr.w = w64;
  cr.a = a;
  cr.col = tmp + m + 1;
  cr.n = 0;
  cr.pu = cr.pv = 0;
  cr.xmin = UINT32_MAX;
  cr.xmax = 0;
  /* the points of pycocotools' rleFrPoly, in its order, each paired with
   * the one before it (across edges too) as its downsampling pass does */
  for (j = 0; j < k; j++) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, flip;
    double s;
    dx = abs(xe - xs);
    dy = abs(ys - ye);
    flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) {
      t = xs;
      xs = xe;
      xe = t;
      t = ys;
      ys = ye;
      ye = t;
    }
    s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    if (dx >= dy) {
      /* u moves by one column per point: of the pairs (point d-1, point d),
       * only those whose smaller u is 5q + 2 can cross, every fifth one */
      int64_t r, dd;
      t = flip ? dx : 0;
      cross_point(&cr, t + xs, (int)(ys + s * t + .5)); /* paired with the previous edge */
      if (dx > 0) {
        r = flip ? mod5((int64_t)xs + dx - 2) : mod5(3 - (int64_t)xs);
        for (dd = r ? r : 5; dd <= dx; dd += 5) {
          int tp = flip ? dx - (int)dd + 1 : (int)dd - 1, tc = flip ? dx - (int)dd : (int)dd;
          int up = tp + xs, uc = tc + xs;
          int vp = (int)(ys + s * tp + .5), vc = (int)(ys + s * tc + .5);
          int64_t xi = up < uc ? up : uc;
          if (column_ok(&cr, xi)) emit_crossing(&cr, xi, vp < vc ? vp : vc);
        }
        t = flip ? 0 : dx;
        cr.pu = t + xs;
        cr.pv = (int)(ys + s * t + .5);
      }
    } else {
      /* v moves by one row per point and u = (int)(xs + s*t + .5) by at
       * most one column (|s| < 1), monotonically: a pair (t-1, t) crosses
       * where u steps between X and X+1, for X = 5q + 2 only. Each such
       * step is found from the line's equation, then pinned down with the
       * exact expression, so the points are pycocotools' to the bit. */
      t = flip ? dy : 0;
      cross_point(&cr, (int)(xs + s * t + .5), t + ys); /* paired with the previous edge */
      if (dx > 0) {
        int u0 = (int)(xs + s * 0 + .5), u1 = (int)(xs + s * dy + .5), up = s > 0;
        int64_t lo = u0 < u1 ? u0 : u1, hi = u0 < u1 ? u1 : u0, X;
        X = lo < 2 ? 2 : lo;
        X += mod5(2 - X);
        for (; X < hi && column_ok(&cr, X); X += 5) {
          /* smallest tt in [1, dy] past the step: u(tt) >= X+1 (up), u(tt) <= X (down) */
          double est = ((double)X + .5 - xs) / s;
          int tt = est < 1 ? 1 : est > dy ? dy : (int)est;
#define FRLE_PAST(tv) (up ? (int)(xs + s * (tv) + .5) >= X + 1 : (int)(xs + s * (tv) + .5) <= X)
          while (tt < dy && !FRLE_PAST(tt)) tt++;
          while (tt > 1 && FRLE_PAST(tt - 1)) tt--;
          if (FRLE_PAST(tt) && !FRLE_PAST(tt - 1)) emit_crossing(&cr, X, (int64_t)tt - 1 + ys);
#undef FRLE_PAST
        }
      }
      t = flip ? 0 : dy;
      cr.pu = (int)(xs + s * t + .5);
      cr.pv = t + ys;
    }
  }
  /* runs from the sorted crossing positions */
  np = cr.n;
  if (w64 > 0 && np > 32 && (int64_t)(cr.xmax - cr.xmin) < 4 * np) {
    /* a polygon crosses each column it spans a few times: counting sort by
     * column, then by row within each column; h*w, last, is the largest */
    if (!sort_by_column(a, cr.col, np, cr.xmin, cr.xmax, tmp)) goto done;
    a[np++] = (uint32_t)(h64 * w64);
  } else {
    a[np++] = (uint32_t)(h64 * w64);
    sort_u32(a, np, tmp);
  }
  {
    uint32_t p = 0;
    for (j = 0; j < np; j++) {
      uint32_t t = a[j];
      a[j] -= p;
      p = t;
    }
  }
  j = m = 0;
  b[m++] = a[j++];
  while (j < np) {
    if (a[j] > 0) b[m++] = a[j++];
    else {
      j++;
      if (j < np) b[m - 1] += a[j++];
    }
  }
  *cnts_out = b;
  b = NULL;
  *m_out = m;
  rc = FRLE_OK;
done:
  free(x);
  free(a);
  free(b);
  return rc;
}
