/* Spatial features on runs; see rle_features.h. */
#include "rle_features.h"

#include <stdlib.h>

/* Sum of the integers a..b (a <= b), halving before multiplying so that the
 * product cannot overflow where the result fits. */
static uint64_t tri(uint64_t a, uint64_t b) {
  uint64_t s = a + b, k = b - a + 1;
  return (s % 2 == 0) ? (s / 2) * k : s * (k / 2);
}

void frle_moments(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h, uint64_t *area, uint64_t *sx,
                  uint64_t *sy) {
  for (int64_t i = 0; i < n; i++) {
    const uint32_t *c = arena + offsets[i];
    int64_t m = offsets[i + 1] - offsets[i];
    uint64_t pos = 0, a = 0, x = 0, y = 0;
    for (int64_t k = 0; k < m; k++) {
      uint64_t len = c[k];
      if ((k & 1) && len) {
        /* Foreground run [pos, pos+len): a partial first column, full middle
         * columns, a partial last column, each summed in closed form. */
        uint64_t e = pos + len - 1;
        uint64_t c0 = pos / h, r0 = pos % h, c1 = e / h, r1 = e % h;
        a += len;
        if (c0 == c1) {
          x += c0 * len;
          y += tri(r0, r1);
        } else {
          x += c0 * (h - r0) + c1 * (r1 + 1);
          y += tri(r0, h - 1) + tri(0, r1);
          if (c1 > c0 + 1) {
            uint64_t full = c1 - c0 - 1;
            x += tri(c0 + 1, c1 - 1) * h;
            y += full * tri(0, h - 1);
          }
        }
      }
      pos += len;
    }
    area[i] = a;
    sx[i] = x;
    sy[i] = y;
  }
}

/* First interval whose end lies beyond pos (binary search). */
static int64_t first_after(const uint32_t *e, int64_t k, uint64_t pos) {
  int64_t lo = 0, hi = k;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (e[mid] <= pos) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

uint64_t frle_fg_overlap(const frle_fg *a, const frle_fg *b, uint64_t h) {
  /* Only the columns both boxes share can hold common pixels. */
  uint64_t cx0 = a->x0 > b->x0 ? a->x0 : b->x0;
  uint64_t cx1 = a->x1 < b->x1 ? a->x1 : b->x1;
  uint64_t lo = cx0 * h, hi = (cx1 + 1) * h, acc = 0;
  int64_t i = first_after(a->e, a->k, lo), j = first_after(b->e, b->k, lo);
  while (i < a->k && j < b->k) {
    uint64_t sa = a->s[i], sb = b->s[j], ea = a->e[i], eb = b->e[j];
    if (sa >= hi || sb >= hi) break;
    uint64_t s = sa > sb ? sa : sb, e = ea < eb ? ea : eb;
    if (e > s) acc += e - s;
    if (ea < eb) i++;
    else j++;
  }
  return acc;
}

int frle_fg_boxes_meet(const frle_fg *a, const frle_fg *b) {
  return a->k && b->k && a->x0 <= b->x1 && b->x0 <= a->x1 && a->y0 <= b->y1 && b->y0 <= a->y1;
}

uint64_t frle_fg_build(const uint32_t *c, int64_t m, uint64_t h, uint32_t *starts, uint32_t *ends, frle_fg *f) {
  uint64_t pos = 0, a = 0;
  f->s = starts;
  f->e = ends;
  f->k = 0;
  f->y0 = h;
  f->y1 = 0;
  for (int64_t k = 0; k < m; k++) {
    uint64_t len = c[k];
    if ((k & 1) && len) {
      uint64_t e = pos + len;
      starts[f->k] = (uint32_t)pos;
      ends[f->k] = (uint32_t)e;
      f->k++;
      a += len;
      uint64_t c0 = pos / h, c1 = (e - 1) / h, r0 = pos % h, r1 = (e - 1) % h;
      if (c0 != c1) {
        r0 = 0;
        r1 = h - 1;
      } /* spans a column break: all rows */
      if (r0 < f->y0) f->y0 = r0;
      if (r1 > f->y1) f->y1 = r1;
    }
    pos += len;
  }
  if (f->k) {
    f->x0 = f->s[0] / h;
    f->x1 = (f->e[f->k - 1] - 1) / h;
  }
  return a;
}

int frle_intersections(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h, uint64_t w,
                       uint64_t *inter) {
  (void)w;
  if (n <= 0) return 0;
  int64_t total = offsets[n] - offsets[0];
  /* Each mask has at most m/2 + 1 foreground runs. */
  uint64_t cap = (uint64_t)total / 2 + (uint64_t)n + 1;
  uint32_t *starts = malloc(cap * sizeof(uint32_t));
  uint32_t *ends = malloc(cap * sizeof(uint32_t));
  frle_fg *fl = malloc((size_t)n * sizeof(frle_fg));
  uint64_t *area = malloc((size_t)n * sizeof(uint64_t));
  if (!starts || !ends || !fl || !area) {
    free(starts);
    free(ends);
    free(fl);
    free(area);
    return -1;
  }
  uint64_t used = 0;
  for (int64_t i = 0; i < n; i++) {
    area[i] = frle_fg_build(arena + offsets[i], offsets[i + 1] - offsets[i], h, starts + used, ends + used, &fl[i]);
    used += (uint64_t)fl[i].k;
  }
  for (int64_t i = 0; i < n; i++) {
    inter[i * n + i] = area[i];
    for (int64_t j = i + 1; j < n; j++) {
      uint64_t v = 0;
      /* Bounding-box prefilter: disjoint boxes share no pixel. */
      if (frle_fg_boxes_meet(&fl[i], &fl[j])) v = frle_fg_overlap(&fl[i], &fl[j], h);
      inter[i * n + j] = v;
      inter[j * n + i] = v;
    }
  }
  free(starts);
  free(ends);
  free(fl);
  free(area);
  return 0;
}
