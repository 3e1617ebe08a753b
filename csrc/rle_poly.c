/* Polygons to runs. The rasterisation rule (5x upsampling, y-boundary
 * crossings, rounding) is pycocotools' rleFrPoly (Simplified BSD, Piotr
 * Dollar and Tsung-Yi Lin), reproduced step for step so that results are
 * identical to the pixel. */
#include <math.h>
#include <stdlib.h>
#include "rle.h"

static int cmp_u32(const void *a, const void *b) {
  uint32_t c = *(const uint32_t *)a, d = *(const uint32_t *)b;
  return c > d ? 1 : c < d ? -1 : 0;
}

int frle_from_poly(const double *xy, int64_t k, uint64_t h64, uint64_t w64,
                   uint32_t **cnts_out, int64_t *m_out) {
  const double scale = 5;
  int64_t j, m = 0, np;
  int *x = NULL, *y = NULL, *u = NULL, *v = NULL;
  uint32_t *a = NULL, *b = NULL;
  uint32_t h = (uint32_t)h64;
  int rc = FRLE_ERR_NOMEM;

  *cnts_out = NULL; *m_out = 0;
  x = (int *)malloc(sizeof(int) * (size_t)(k + 1));
  y = (int *)malloc(sizeof(int) * (size_t)(k + 1));
  if (!x || !y) goto done;
  x[0] = y[0] = 0; /* k == 0: an empty polygon, an empty mask */
  for (j = 0; j < k; j++) x[j] = (int)(scale * xy[j * 2 + 0] + .5);
  x[k] = x[0];
  for (j = 0; j < k; j++) y[j] = (int)(scale * xy[j * 2 + 1] + .5);
  y[k] = y[0];
  /* dense points along every edge */
  for (j = 0; j < k; j++) {
    uint32_t dx = (uint32_t)abs(x[j] - x[j + 1]), dy = (uint32_t)abs(y[j] - y[j + 1]);
    m += (int64_t)(dx > dy ? dx : dy) + 1;
  }
  u = (int *)malloc(sizeof(int) * (size_t)(m ? m : 1));
  v = (int *)malloc(sizeof(int) * (size_t)(m ? m : 1));
  if (!u || !v) goto done;
  m = 0;
  for (j = 0; j < k; j++) {
    int xs = x[j], xe = x[j + 1], ys = y[j], ye = y[j + 1], dx, dy, t, d, flip;
    double s;
    dx = abs(xe - xs); dy = abs(ys - ye);
    flip = (dx >= dy && xs > xe) || (dx < dy && ys > ye);
    if (flip) { t = xs; xs = xe; xe = t; t = ys; ys = ye; ye = t; }
    s = dx >= dy ? (double)(ye - ys) / dx : (double)(xe - xs) / dy;
    if (dx >= dy) {
      for (d = 0; d <= dx; d++) {
        t = flip ? dx - d : d; u[m] = t + xs; v[m] = (int)(ys + s * t + .5); m++;
      }
    } else {
      for (d = 0; d <= dy; d++) {
        t = flip ? dy - d : d; v[m] = t + ys; u[m] = (int)(xs + s * t + .5); m++;
      }
    }
  }
  /* points where the boundary crosses a pixel column, downsampled */
  np = m; m = 0;
  free(x); free(y);
  x = (int *)malloc(sizeof(int) * (size_t)(np ? np : 1));
  y = (int *)malloc(sizeof(int) * (size_t)(np ? np : 1));
  if (!x || !y) goto done;
  for (j = 1; j < np; j++) {
    double xd, yd;
    if (u[j] == u[j - 1]) continue;
    xd = (double)(u[j] < u[j - 1] ? u[j] : u[j] - 1);
    xd = (xd + .5) / scale - .5;
    if (floor(xd) != xd || xd < 0 || xd > (double)(w64 - 1)) continue;
    yd = (double)(v[j] < v[j - 1] ? v[j] : v[j - 1]);
    yd = (yd + .5) / scale - .5;
    if (yd < 0) yd = 0; else if (yd > (double)h64) yd = (double)h64;
    yd = ceil(yd);
    x[m] = (int)xd; y[m] = (int)yd; m++;
  }
  /* runs from the sorted crossing positions */
  np = m;
  a = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(np + 1));
  b = (uint32_t *)malloc(sizeof(uint32_t) * (size_t)(np + 1));
  if (!a || !b) goto done;
  for (j = 0; j < np; j++) a[j] = (uint32_t)x[j] * h + (uint32_t)y[j];
  a[np++] = (uint32_t)(h64 * w64);
  qsort(a, (size_t)np, sizeof(uint32_t), cmp_u32);
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
  free(x); free(y); free(u); free(v); free(a); free(b);
  return rc;
}
