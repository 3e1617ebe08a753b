/* Area, boxes, merge and IoU computed on runs, without decoding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rle.h"

uint64_t frle_area(const uint32_t *cnts, int64_t m) {
  uint64_t a = 0;
  int64_t j;
  for (j = 1; j < m; j += 2) a += cnts[j];
  return a;
}

/* x / d for uint32 x and a fixed d, by one multiply: with M = ceil(2^64 / d),
 * floor(x * M / 2^64) is exact for every x < 2^32 (the error term x * (M*d -
 * 2^64) stays below 2^64). Boxes need two divisions per foreground run, and
 * a hardware divide costs several times more. */
typedef struct { uint64_t mul; uint32_t d; } divu32;

static inline divu32 divu32_init(uint32_t d) {
  divu32 v;
  v.d = d;
  v.mul = d > 1 ? UINT64_MAX / d + 1 : 0;
  return v;
}

static inline uint32_t divu32_q(divu32 v, uint32_t x) {
#ifdef __SIZEOF_INT128__
  return v.d > 1 ? (uint32_t)(((unsigned __int128)x * v.mul) >> 64) : x;
#else
  return x / v.d;
#endif
}

static void bbox_impl(const uint32_t *cnts, int64_t m, uint64_t h64, uint64_t w64,
                      int coco, double bb[4]) {
  /* uint32 arithmetic on purpose: pycocotools' results, wraps included */
  uint32_t h = (uint32_t)h64, w = (uint32_t)w64, xs = w, ys = h, xe = 0, ye = 0, cc = 0;
  int64_t j, any = 0;
  divu32 dh;
  m = (m / 2) * 2;
  /* h == 0: no pixel can exist (pycocotools divides by zero here) */
  if (m == 0 || h == 0) { bb[0] = bb[1] = bb[2] = bb[3] = 0; return; }
  dh = divu32_init(h);
  /* one (background, foreground) pair a step; selects, not branches, since
   * whether a run spans columns follows the shape */
  for (j = 1; j < m; j += 2) {
    uint32_t start = cc + cnts[j - 1], n = cnts[j], end, xs_, ys_, xe_, ye_;
    int span;
    cc = start + n;
    if (n == 0) continue;
    any = 1;
    end = cc - 1;
    xs_ = divu32_q(dh, start); ys_ = start - xs_ * h;
    xe_ = divu32_q(dh, end); ye_ = end - xe_ * h;
    span = xs_ < xe_;
    if (span) { ys_ = 0; ye_ = h - 1; }
    xs = xs_ < xs ? xs_ : xs;
    xe = xe_ > xe ? xe_ : xe;
    ys = ys_ < ys ? ys_ : ys;
    ye = ye_ > ye ? ye_ : ye;
  }
  if (!any && !coco) { bb[0] = bb[1] = bb[2] = bb[3] = 0; return; }
  bb[0] = xs; bb[2] = (uint32_t)(xe - xs + 1);
  bb[1] = ys; bb[3] = (uint32_t)(ye - ys + 1);
}

void frle_bbox_coco(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 1, bb);
}

void frle_bbox(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 0, bb);
}

/* Two run lists walked in step; the loop shape follows pycocotools so that
 * merge produces its exact runs (zero-length ones included). */
typedef struct {
  const uint32_t *c;
  int64_t m, k;
  uint64_t left;
  int v;
} cursor;

static inline void cur_init(cursor *q, const uint32_t *c, int64_t m) {
  q->c = c; q->m = m; q->k = 1; q->v = 0; q->left = m > 0 ? c[0] : 0;
}

/* pycocotools advances past one run per step, so an interior zero-length
 * run flips the value for a step and corrupts merge and iou; skipping every
 * empty run gives the same result wherever pycocotools is right (only a
 * first count may be 0 in what encoders write). */
static inline void cur_take(cursor *q, uint64_t n) {
  q->left -= n;
  while (!q->left && q->k < q->m) { q->left = q->c[q->k++]; q->v = !q->v; }
}

static int64_t merge2(const uint32_t *a, int64_t ma, const uint32_t *b, int64_t mb,
                      int intersect, uint32_t *out) {
  cursor A, B;
  int64_t m = 0;
  uint64_t cc = 0, ct = 1;
  int v = 0, vp;
  cur_init(&A, a, ma); cur_init(&B, b, mb);
  while (ct > 0) {
    uint64_t c = A.left < B.left ? A.left : B.left;
    int64_t ka = A.k, kb = B.k;
    cc += c;
    cur_take(&A, c); cur_take(&B, c);
    ct = A.left + B.left;
    vp = v;
    v = intersect ? (A.v && B.v) : (A.v || B.v);
    if (v != vp || ct == 0) { out[m++] = (uint32_t)cc; cc = 0; }
    /* runs that disagree on the total would spin; valid input never does */
    if (c == 0 && ct > 0 && A.k == ka && B.k == kb) break;
  }
  return m;
}

int64_t frle_merge(const uint32_t *const *cnts, const int64_t *m, int64_t n,
                   int intersect, uint32_t *out) {
  int64_t i, cur_m;
  if (n <= 0) return 0;
  cur_m = m[0];
  memmove(out, cnts[0], (size_t)cur_m * sizeof(uint32_t));
  for (i = 1; i < n; i++) {
    /* merge into the tail half of out, then move down: out holds at least
     * sum(m)+1 entries and the result never exceeds cur_m + m[i] + 1 */
    uint32_t tmp_stack[256];
    uint32_t *tmp = tmp_stack;
    int64_t need = cur_m + m[i] + 1, k;
    if (need > 256) {
      tmp = (uint32_t *)malloc((size_t)need * sizeof(uint32_t));
      if (!tmp) return -1;
    }
    k = merge2(out, cur_m, cnts[i], m[i], intersect, tmp);
    memcpy(out, tmp, (size_t)k * sizeof(uint32_t));
    if (tmp != tmp_stack) free(tmp);
    cur_m = k;
  }
  return cur_m;
}

void frle_inter_union(const uint32_t *a, int64_t ma, const uint32_t *b, int64_t mb,
                      uint64_t *inter, uint64_t *uni) {
  cursor A, B;
  uint64_t i = 0, u = 0, ct = 1;
  cur_init(&A, a, ma); cur_init(&B, b, mb);
  while (ct > 0) {
    uint64_t c = A.left < B.left ? A.left : B.left;
    int64_t ka = A.k, kb = B.k;
    if (A.v || B.v) { u += c; if (A.v && B.v) i += c; }
    cur_take(&A, c); cur_take(&B, c);
    ct = A.left + B.left;
    if (c == 0 && ct > 0 && A.k == ka && B.k == kb) break;
  }
  *inter = i; *uni = u;
}

void frle_bbox_iou(const double *dt, const double *gt, int64_t md, int64_t ng,
                   const uint8_t *iscrowd, double *o) {
  int64_t g, d;
  for (g = 0; g < ng; g++) {
    const double *G = gt + g * 4;
    double ga = G[2] * G[3];
    int crowd = iscrowd != NULL && iscrowd[g];
    for (d = 0; d < md; d++) {
      const double *D = dt + d * 4;
      double da = D[2] * D[3], wd, ht, in, un;
      o[g * md + d] = 0;
      wd = fmin(D[2] + D[0], G[2] + G[0]) - fmax(D[0], G[0]);
      if (wd <= 0) continue;
      ht = fmin(D[3] + D[1], G[3] + G[1]) - fmax(D[1], G[1]);
      if (ht <= 0) continue;
      in = wd * ht;
      un = crowd ? da : da + ga - in;
      o[g * md + d] = in / un;
    }
  }
}
