/*
 * pycocotools' area, toBbox, iou and merge computed on runs, without
 * decoding: the one implementation of each, behind both the fast and the
 * general path of fastrle.mask, with pycocotools' results to the bit.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rle.h"
#include "rle_compat.h"   /* frle_ctz64, frle_popcount64 */
#include "rle_dispatch.h" /* FRLE_X86_KERNELS */
#include "rle_platform.h" /* frle_parallel_for */
#include "rle_features.h" /* frle_fg, frle_fg_overlap */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
typedef struct {
  uint64_t mul;
  uint32_t d;
} divu32;

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

/* Past fg run j (odd) at position cc, with ys and ye at their limits: the
 * runs left can only move xe (and, had cc wrapped, xs). Where the positions
 * left stay below 2^32 they only grow, so xe is the column of the last pixel
 * of the last non-empty foreground run: 1, with *xe updated; else 0. */
static int bbox_rest(const uint32_t *cnts, int64_t j, int64_t m, uint32_t cc, divu32 dh, uint32_t *xe) {
  uint64_t s = cc;
  int64_t k;
  for (k = j + 1; k < m; k++) s += cnts[k];
  if (s > UINT32_MAX) return 0;
  for (k = m - 1; k > j; k -= 2) {
    if (cnts[k]) {
      uint32_t x = divu32_q(dh, (uint32_t)(s - 1));
      if (x > *xe) *xe = x;
      return 1;
    }
    s -= (uint64_t)cnts[k] + cnts[k - 1];
  }
  return 1;
}

static void bbox_impl(const uint32_t *cnts, int64_t m, uint64_t h64, uint64_t w64, int coco, double bb[4]) {
  /* uint32 arithmetic on purpose: pycocotools' results, wraps included */
  uint32_t h = (uint32_t)h64, w = (uint32_t)w64, xs = w, ys = h, xe = 0, ye = 0, cc = 0;
  int64_t j, any = 0, rest_tried = 0;
  divu32 dh;
  m = (m / 2) * 2;
  /* h == 0: no pixel can exist (pycocotools divides by zero here) */
  if (m == 0 || h == 0) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  dh = divu32_init(h);
  /* one (background, foreground) pair a step; selects, not branches, since
   * whether a run spans columns follows the shape */
  for (j = 1; j < m;) {
    int64_t stop = m - j > 256 ? j + 256 : m;
    for (; j < stop; j += 2) {
      uint32_t start = cc + cnts[j - 1], n = cnts[j], end, xs_, ys_, xe_, ye_;
      int span;
      cc = start + n;
      if (n == 0) continue;
      any = 1;
      end = cc - 1;
      xs_ = divu32_q(dh, start);
      ys_ = start - xs_ * h;
      xe_ = divu32_q(dh, end);
      ye_ = end - xe_ * h;
      span = xs_ < xe_;
      if (span) {
        ys_ = 0;
        ye_ = h - 1;
      }
      xs = xs_ < xs ? xs_ : xs;
      xe = xe_ > xe ? xe_ : xe;
      ys = ys_ < ys ? ys_ : ys;
      ye = ye_ > ye ? ye_ : ye;
    }
    /* noise and other many-run masks reach every row early: the rest is a
     * sum (checked between blocks of pairs, off the per-run path) */
    if (j < m && ys == 0 && ye == h - 1 && !rest_tried) {
      rest_tried = 1;
      if (bbox_rest(cnts, j - 2, m, cc, dh, &xe)) break;
    }
  }
  if (!any && !coco) {
    bb[0] = bb[1] = bb[2] = bb[3] = 0;
    return;
  }
  bb[0] = xs;
  bb[2] = (uint32_t)(xe - xs + 1);
  bb[1] = ys;
  bb[3] = (uint32_t)(ye - ys + 1);
}

void frle_bbox_coco(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 1, bb);
}

void frle_bbox(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, double bb[4]) {
  bbox_impl(cnts, m, h, w, 0, bb);
}

/* ---- boxes ---- */

typedef struct {
  const uint32_t *const *cnts;
  const int64_t *m;
  const uint64_t *h, *w;
  double *bb;
} bbox_ctx;

static void bbox_range(void *vctx, int64_t b, int64_t e, int tid) {
  bbox_ctx *c = (bbox_ctx *)vctx;
  int64_t i;
  (void)tid;
  for (i = b; i < e; i++) frle_bbox_coco(c->cnts[i], c->m[i], c->h[i], c->w[i], c->bb + 4 * i);
}

void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h, const uint64_t *w, int64_t n,
                         double *bb, int nthreads) {
  bbox_ctx c = {.cnts = cnts, .m = m, .h = h, .w = w, .bb = bb};
  frle_parallel_for(n, nthreads, bbox_range, &c);
}

/* ---- pycocotools' box prefilter (bbIou) ---- */

/* Whether bbIou goes on past its overlap test for boxes D and G ([x, y, w,
 * h]); then *in = the area they share. The one home of the rule, for box
 * IoU (mn, mx = fmin, fmax, as pycocotools, NaN included) and for the mask
 * IoU's prefilter (plain compares: boxes of masks hold no NaN, and the
 * zero's sign fmin may differ in cancels out). */
typedef double (*minmax_fn)(double, double);
static inline double min_num(double a, double b) { return a < b ? a : b; }
static inline double max_num(double a, double b) { return a > b ? a : b; }

static inline int boxes_meet(const double *D, const double *G, minmax_fn mn, minmax_fn mx, double *in) {
  double wd, ht;
  wd = mn(D[2] + D[0], G[2] + G[0]) - mx(D[0], G[0]);
  if (wd <= 0) return 0;
  ht = mn(D[3] + D[1], G[3] + G[1]) - mx(D[1], G[1]);
  if (ht <= 0) return 0;
  *in = wd * ht;
  return 1;
}

void frle_bbox_iou(const double *dt, const double *gt, int64_t md, int64_t ng, const uint8_t *iscrowd, double *o) {
  int64_t g, d;
  for (g = 0; g < ng; g++) {
    const double *G = gt + g * 4;
    double ga = G[2] * G[3];
    int crowd = iscrowd != NULL && iscrowd[g];
    for (d = 0; d < md; d++) {
      const double *D = dt + d * 4;
      double da = D[2] * D[3], in, un;
      o[g * md + d] = 0;
      if (!boxes_meet(D, G, fmin, fmax, &in)) continue;
      un = crowd ? da : da + ga - in;
      o[g * md + d] = in / un;
    }
  }
}

/* ---- IoU ---- */

typedef struct {
  const frle_runs *dt, *gt;
  const uint8_t *crowd;
  double *o;
  const double *db, *gb;    /* pycocotools boxes, for its prefilter */
  const frle_fg *df, *gf;   /* foreground intervals */
  const uint64_t *da, *ga;  /* areas */
  uint64_t **dbm, **gbm;    /* bitmaps of the masks with many runs a word, else NULL */
  int self;                 /* dt and gt are the same masks */
} iou_ctx;

/* Bit k of the result: the XOR of bits 0..k of x. */
static inline uint64_t prefix_xor(uint64_t x) {
  x ^= x << 1;
  x ^= x << 2;
  x ^= x << 4;
  x ^= x << 8;
  x ^= x << 16;
  return x ^ (x << 32);
}

/* The bitmap of one mask's runs (strictly parsed: they sum to hw) into b,
 * nw zeroed words. Every run end toggles the value: pass 1 gathers a word's
 * toggle bits in a register and stores it, with selects and no branch per
 * run (noise has several runs a word) and no read-modify-write through
 * memory; pass 2 turns toggles into pixels by prefix XOR, word by word, with
 * the value carried from the word before. Empty runs toggle twice and
 * cancel. */
static void runs_bitmap(uint64_t *b, uint64_t nw, uint64_t hw, const uint32_t *c, int64_t m) {
  uint64_t pos = 0, cw = 0, acc = 0, carry = 0, k;
  int64_t j;
  for (j = 0; j < m; j++) {
    uint64_t in, w, bit;
    pos += c[j];
    in = pos < hw; /* the end at hw toggles nothing */
    bit = in << (pos & 63);
    w = in ? pos >> 6 : cw;
    acc = (w == cw ? acc : 0) ^ bit;
    b[w] = acc;
    cw = w;
  }
  for (k = 0; k < nw; k++) {
    uint64_t word = prefix_xor(b[k]) ^ carry;
    b[k] = word;
    carry = (uint64_t)0 - (word >> 63);
  }
  if (hw & 63) b[nw - 1] &= ~0ull >> (64 - (hw & 63));
}

/* Whether a mask of m runs over hw pixels has several runs a 64-pixel word
 * (noise): then a bitmap and popcounts beat walking its runs. */
static inline int many_runs(int64_t m, uint64_t hw) { return (uint64_t)m * 8 > (hw + 63) / 64; }

/* Bitmaps of a side's many-run masks (NULL for the others) in one block;
 * bm itself is NULL where no mask qualifies. Returns 0 when out of memory. */
static int build_bitmaps(const frle_runs *r, uint64_t ***bm) {
  int64_t i, words = 0;
  uint64_t *block;
  *bm = NULL;
  for (i = 0; i < r->n; i++)
    if (many_runs(r->m[i], r->h[i] * r->w[i])) words += (int64_t)((r->h[i] * r->w[i] + 63) / 64);
  if (!words) return 1;
  *bm = (uint64_t **)malloc((size_t)r->n * sizeof(uint64_t *) + (size_t)words * sizeof(uint64_t));
  if (!*bm) return 0;
  block = (uint64_t *)(*bm + r->n);
  memset(block, 0, (size_t)words * sizeof(uint64_t));
  for (i = 0; i < r->n; i++) {
    uint64_t hw = r->h[i] * r->w[i], nw = (hw + 63) / 64;
    (*bm)[i] = NULL;
    if (!many_runs(r->m[i], hw)) continue;
    runs_bitmap(block, nw, hw, r->cnts[i], r->m[i]);
    (*bm)[i] = block;
    block += nw;
  }
  return 1;
}

/* Common pixels of two bitmaps over words a..b (inclusive); the popcnt
 * instruction where the CPU has it (x86-64's baseline lacks it). */
#define AND_POPCOUNT(name, attr)                                                                                       \
  attr static uint64_t name(const uint64_t *x, const uint64_t *y, uint64_t a, uint64_t b) {                            \
    uint64_t k, acc = 0;                                                                                               \
    for (k = a; k <= b; k++) acc += (uint64_t)frle_popcount64(x[k] & y[k]);                                            \
    return acc;                                                                                                        \
  }
AND_POPCOUNT(and_popcount_plain, )
#ifdef FRLE_X86_KERNELS
AND_POPCOUNT(and_popcount_hw, FRLE_TARGET("popcnt"))
#endif

static uint64_t and_popcount(const uint64_t *x, const uint64_t *y, uint64_t a, uint64_t b) {
#ifdef FRLE_X86_KERNELS
  if (frle_cpu_has(FRLE_CPU_POPCNT)) return and_popcount_hw(x, y, a, b);
#endif
  return and_popcount_plain(x, y, a, b);
}

/* pycocotools' value for an intersection of it pixels: uint32 arithmetic,
 * |d AND g| / |d OR g|, or / |d| for a crowd g, and 0 for no intersection.
 * (|d OR g| = |d| + |g| - |d AND g|: the runs of both sum to h*w.) */
static inline double iou_value(uint64_t it, uint64_t ad, uint64_t ag, int crowd) {
  uint64_t un = crowd ? ad : ad + ag - it;
  if (it == 0) un = 1;
  return (double)(uint32_t)it / (double)(uint32_t)un;
}

static void iou_range(void *vctx, int64_t b, int64_t e, int tid) {
  iou_ctx *c = (iou_ctx *)vctx;
  int64_t md = c->dt->n, v, g, d, dend;
  (void)tid;
  for (v = b; v < e; v++) {
    const double *G;
    /* self: pair (d, g) for d <= g gives both cells; columns alternate
     * from both ends so that contiguous ranges hold equal work */
    g = !c->self ? v : (v & 1) ? md - 1 - v / 2 : v / 2;
    G = c->gb + 4 * g;
    dend = c->self ? g + 1 : md;
    for (d = 0; d < dend; d++) {
      const double *D = c->db + 4 * d;
      double in, val = 0, mirror = 0;
      /* pycocotools' box prefilter: where bbIou gives a value, rleIou
       * replaces it; elsewhere the cell stays 0 */
      if (boxes_meet(D, G, min_num, max_num, &in)) {
        if (c->dt->h[d] != c->gt->h[g] || c->dt->w[d] != c->gt->w[g]) {
          val = mirror = -1;
        } else {
          uint64_t it;
          if (c->dbm && c->gbm && c->dbm[d] && c->gbm[g]) {
            /* only the columns both boxes share can hold common pixels */
            uint64_t h = c->dt->h[d], x0 = c->df[d].x0 > c->gf[g].x0 ? c->df[d].x0 : c->gf[g].x0;
            uint64_t x1 = c->df[d].x1 < c->gf[g].x1 ? c->df[d].x1 : c->gf[g].x1;
            it = and_popcount(c->dbm[d], c->gbm[g], x0 * h / 64, ((x1 + 1) * h - 1) / 64);
          } else {
            it = frle_fg_overlap(&c->df[d], &c->gf[g], c->dt->h[d]);
          }
          val = iou_value(it, c->da[d], c->ga[g], c->crowd != NULL && c->crowd[g]);
          /* the mirrored cell exists only when dt and gt are the same masks:
           * otherwise d and g index different sides (and iscrowd is gt's) */
          if (c->self) mirror = iou_value(it, c->da[g], c->ga[d], c->crowd != NULL && c->crowd[d]);
        }
      }
      c->o[g * md + d] = val;
      if (c->self) c->o[d * md + g] = mirror; /* (dt g, gt d); d == g writes the same cell twice */
    }
  }
}

static int64_t fg_capacity(const frle_runs *r) {
  int64_t i, cap = 0;
  for (i = 0; i < r->n; i++) cap += r->m[i] / 2 + 1;
  return cap;
}

/* Foreground interval lists of all masks of one side into s/e (room for
 * fg_capacity). The column range comes from the box (pycocotools' box is the
 * tight box of a valid non-empty mask), so the pass needs no division. */
static void build_fg(const frle_runs *r, const double *bb, uint32_t *s, uint32_t *e, frle_fg *f, uint64_t *area) {
  int64_t i, j;
  for (i = 0; i < r->n; i++) {
    const uint32_t *c = r->cnts[i];
    uint64_t pos = 0, a = 0;
    int64_t k = 0;
    for (j = 0; j + 1 < r->m[i]; j += 2) {
      uint64_t st = pos + c[j], len = c[j + 1];
      pos = st + len;
      if (!len) continue;
      s[k] = (uint32_t)st;
      e[k] = (uint32_t)pos;
      k++;
      a += len;
    }
    f[i].s = s;
    f[i].e = e;
    f[i].k = k;
    f[i].x0 = k ? (uint64_t)bb[4 * i] : 0;
    f[i].x1 = k ? (uint64_t)(bb[4 * i] + bb[4 * i + 2]) - 1 : 0;
    f[i].y0 = f[i].y1 = 0; /* unused: the prefilter has compared the boxes */
    area[i] = a;
    s += k;
    e += k;
  }
}

int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd, double *o, int nthreads) {
  iou_ctx c;
  int self = dt == gt;
  int64_t md = dt->n, ng = self ? 0 : gt->n, cd = fg_capacity(dt), cg = self ? 0 : fg_capacity(gt);
  int64_t nm = md + ng;
  /* one block: boxes, interval lists, areas, interval bounds */
  char *block = (char *)malloc((size_t)nm * (4 * sizeof(double) + sizeof(frle_fg) + sizeof(uint64_t)) +
                               (size_t)(cd + cg) * 2 * sizeof(uint32_t) + 1);
  double *boxes = (double *)block;
  frle_fg *fg = (frle_fg *)(boxes + 4 * nm);
  uint64_t *areas = (uint64_t *)(fg + nm);
  uint32_t *bounds = (uint32_t *)(areas + nm);
  if (!block) return FRLE_ERR_NOMEM;
  frle_bbox_coco_many(dt->cnts, dt->m, dt->h, dt->w, md, boxes, 1);
  build_fg(dt, boxes, bounds, bounds + cd, fg, areas);
  if (!self) { /* the same masks on both sides are prepared once */
    frle_bbox_coco_many(gt->cnts, gt->m, gt->h, gt->w, ng, boxes + 4 * md, 1);
    build_fg(gt, boxes + 4 * md, bounds + 2 * cd, bounds + 2 * cd + cg, fg + md, areas + md);
  }
  c.dt = dt;
  c.gt = gt;
  c.crowd = iscrowd;
  c.o = o;
  c.db = boxes;
  c.gb = boxes + 4 * md;
  c.df = fg;
  c.gf = fg + md;
  c.da = areas;
  c.ga = areas + md;
  c.self = self;
  if (self) {
    c.gb = boxes;
    c.gf = fg;
    c.ga = areas;
  }
  c.dbm = c.gbm = NULL;
  if (!build_bitmaps(dt, &c.dbm) || (!self && !build_bitmaps(gt, &c.gbm))) {
    free(c.dbm);
    free(block);
    return FRLE_ERR_NOMEM;
  }
  if (self) c.gbm = c.dbm;
  frle_parallel_for(self ? md : gt->n, nthreads, iou_range, &c);
  free(c.dbm);
  if (!self) free(c.gbm);
  free(block);
  return FRLE_OK;
}

/* frle_iou_runs for few pairs a mask (see rle.h). Masks whose box meets no
 * box of the other side get no interval list: their cells are 0. */
int frle_iou_runs_few(const frle_runs *dt, const frle_runs *gt, const double *dt_box, const double *gt_box,
                      const uint8_t *iscrowd, double *o) {
  int64_t md = dt->n, ng = gt->n, nm = md + ng, cd = fg_capacity(dt), cg = fg_capacity(gt), d, g;
  size_t nbox = (size_t)(dt_box ? 0 : md) + (size_t)(gt_box ? 0 : ng);
  char *block = (char *)malloc((size_t)nm * (sizeof(frle_fg) + sizeof(uint64_t) + 1) + nbox * 4 * sizeof(double) +
                               (size_t)(cd + cg) * 2 * sizeof(uint32_t) + 1);
  frle_fg *fg = (frle_fg *)(void *)block;
  uint64_t *areas = (uint64_t *)(fg + nm);
  double *boxes = (double *)(areas + nm);
  uint32_t *bounds = (uint32_t *)(boxes + 4 * nbox);
  uint8_t *meets = (uint8_t *)(bounds + 2 * (cd + cg)); /* the mask's box meets one of the other side */
  frle_runs one;
  if (!block) return FRLE_ERR_NOMEM;
  if (!dt_box) {
    frle_bbox_coco_many(dt->cnts, dt->m, dt->h, dt->w, md, boxes, 1);
    dt_box = boxes;
    boxes += 4 * md;
  }
  if (!gt_box) {
    frle_bbox_coco_many(gt->cnts, gt->m, gt->h, gt->w, ng, boxes, 1);
    gt_box = boxes;
  }
  memset(meets, 0, (size_t)nm);
  for (g = 0; g < ng; g++)
    for (d = 0; d < md; d++) {
      double in;
      if (boxes_meet(dt_box + 4 * d, gt_box + 4 * g, min_num, max_num, &in)) meets[d] = meets[md + g] = 1;
    }
  /* interval lists of the masks that meet another, one at a time */
  for (d = 0; d < nm; d++) {
    const frle_runs *r = d < md ? dt : gt;
    int64_t i = d < md ? d : d - md;
    if (!meets[d]) continue;
    one.cnts = r->cnts + i;
    one.m = r->m + i;
    one.h = r->h + i;
    one.w = r->w + i;
    one.n = 1;
    build_fg(&one, (d < md ? dt_box : gt_box) + 4 * i, bounds, bounds + (r->m[i] / 2 + 1), fg + d, areas + d);
    bounds += 2 * (r->m[i] / 2 + 1);
  }
  for (g = 0; g < ng; g++) {
    const double *G = gt_box + 4 * g;
    for (d = 0; d < md; d++) {
      double in, val = 0;
      /* as iou_range: pycocotools' box prefilter, -1 for sizes that differ */
      if (boxes_meet(dt_box + 4 * d, G, min_num, max_num, &in)) {
        if (dt->h[d] != gt->h[g] || dt->w[d] != gt->w[g]) {
          val = -1;
        } else {
          uint64_t it = frle_fg_overlap(&fg[d], &fg[md + g], dt->h[d]);
          val = iou_value(it, areas[d], areas[md + g], iscrowd != NULL && iscrowd[g]);
        }
      }
      o[g * md + d] = val;
    }
  }
  free(block);
  return FRLE_OK;
}

/* ---- merge ---- */

/* Two run lists walked in step; the loop shape follows pycocotools so that
 * merge produces its exact runs (zero-length ones included). */
typedef struct {
  const uint32_t *c;
  int64_t m, k;
  uint64_t left;
  int v;
} cursor;

static inline void cur_init(cursor *q, const uint32_t *c, int64_t m) {
  q->c = c;
  q->m = m;
  q->k = 1;
  q->v = 0;
  q->left = m > 0 ? c[0] : 0;
}

/* pycocotools advances past one run per step, so an interior zero-length
 * run flips the value for a step and corrupts the merge; skipping every
 * empty run gives the same result wherever pycocotools is right (only a
 * first count may be 0 in what encoders write). */
static inline void cur_take(cursor *q, uint64_t n) {
  q->left -= n;
  while (!q->left && q->k < q->m) {
    q->left = q->c[q->k++];
    q->v = !q->v;
  }
}

static int64_t merge2(const uint32_t *a, int64_t ma, const uint32_t *b, int64_t mb, int intersect, uint32_t *out) {
  cursor A, B;
  int64_t m = 0;
  uint64_t cc = 0, ct = 1;
  int v = 0, vp;
  cur_init(&A, a, ma);
  cur_init(&B, b, mb);
  while (ct > 0) {
    uint64_t c = A.left < B.left ? A.left : B.left;
    int64_t ka = A.k, kb = B.k;
    cc += c;
    cur_take(&A, c);
    cur_take(&B, c);
    ct = A.left + B.left;
    vp = v;
    v = intersect ? (A.v && B.v) : (A.v || B.v);
    if (v != vp || ct == 0) {
      out[m++] = (uint32_t)cc;
      cc = 0;
    }
    /* runs that disagree on the total would spin; valid input never does */
    if (c == 0 && ct > 0 && A.k == ka && B.k == kb) break;
  }
  return m;
}

/* Pairwise merges of n masks into out ((sum of all m) + n entries). Returns
 * the number of runs, or -1 when out of memory. */
static int64_t merge_pairs(const uint32_t *const *cnts, const int64_t *m, int64_t n, int intersect, uint32_t *out) {
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

/* b[a..z) = v. Most spans are a few words (one run in one image column):
 * a memset call, which compilers make of a plain loop, costs more there than
 * the stores, so short spans take two to four overlapping 16-byte stores
 * (100 SA-1B masks: the union's bitmap fills in 2/3 of the time). */
static inline void words_fill(uint64_t *b, uint64_t a, uint64_t z, uint64_t v) {
#if defined(__SSE2__)
  const __m128i vv = _mm_set1_epi64x((long long)v);
  uint64_t k;
  if (z < a + 2) {
    if (z > a) b[a] = v;
  } else if (z <= a + 4) {
    _mm_storeu_si128((__m128i *)(b + a), vv);
    _mm_storeu_si128((__m128i *)(b + z - 2), vv);
  } else {
    for (k = a; k + 4 < z; k += 4) {
      _mm_storeu_si128((__m128i *)(b + k), vv);
      _mm_storeu_si128((__m128i *)(b + k + 2), vv);
    }
    _mm_storeu_si128((__m128i *)(b + z - 4), vv);
    _mm_storeu_si128((__m128i *)(b + z - 2), vv);
  }
#else
  for (; a < z; a++) b[a] = v;
#endif
}

/* Sets (set != 0) or clears the bits of mask in *w. */
static inline void word_put(uint64_t *w, uint64_t mask, int set) { *w = set ? *w | mask : *w & ~mask; }

/* Sets (set != 0) or clears bits s .. e-1 of b. */
static inline void bits_put(uint64_t *b, uint64_t s, uint64_t e, int set) {
  uint64_t ws, we, ms, me;
  if (s >= e) return;
  ws = s >> 6;
  we = (e - 1) >> 6;
  ms = ~0ull << (s & 63);
  me = ~0ull >> (63 - ((e - 1) & 63));
  if (ws == we) {
    word_put(b + ws, ms & me, set);
    return;
  }
  word_put(b + ws, ms, set);
  words_fill(b, ws + 1, we, set ? ~0ull : 0);
  word_put(b + we, me, set);
}

/* Runs of a bitmap of hw bits: the canonical runs (a leading 0 when pixel 0
 * is set, no other empty run), which is what pycocotools' merge gives for
 * valid input. cap bounds the runs: a union or intersection changes value
 * only where one of its inputs does. Returns m, or -1 when out of memory. */
static int64_t bitmap_runs(const uint64_t *b, uint64_t hw, int64_t cap, uint32_t **out) {
  uint64_t nw = (hw + 63) / 64, k, last = 0, carry = 0;
  /* transitions at bits past hw (the last pixel set, then padding) are not runs */
  uint64_t tail = (hw & 63) ? ~0ull >> (64 - (hw & 63)) : ~0ull;
  int64_t m = 0;
  uint32_t *o = (uint32_t *)malloc((size_t)(cap + 1) * sizeof(uint32_t));
  if (!o) return -1;
  for (k = 0; k < nw; k++) {
    uint64_t t = b[k] ^ ((b[k] << 1) | carry);
    carry = b[k] >> 63;
    if (k == nw - 1) t &= tail;
    while (t) {
      uint64_t p = k * 64 + (uint64_t)frle_ctz64(t);
      o[m++] = (uint32_t)(p - last);
      last = p;
      t &= t - 1;
    }
  }
  o[m++] = (uint32_t)(hw - last);
  *out = o;
  return m;
}

static int64_t merge_bitmap(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw, int intersect,
                            uint32_t **out) {
  uint64_t nw = (hw + 63) / 64;
  uint64_t *b = (uint64_t *)malloc((size_t)nw * sizeof(uint64_t)), *tmp = NULL;
  int64_t i, r, cap = 1;
  if (!b) return -1;
  memset(b, intersect ? 0xFF : 0, (size_t)nw * sizeof(uint64_t));
  if (intersect && (hw & 63)) b[nw - 1] = ~0ull >> (64 - (hw & 63)); /* bits past hw stay 0 */
  for (i = 0; i < n; i++) {
    const uint32_t *c = cnts[i];
    uint64_t pos = 0, k;
    int64_t j;
    /* a run a word or more (noise): the mask's bitmap, then one
     * pass of words (which costs more than span fills below that) */
    if ((uint64_t)m[i] > nw) {
      if (!tmp && !(tmp = (uint64_t *)calloc((size_t)nw, sizeof(uint64_t)))) {
        free(b);
        return -1;
      }
      runs_bitmap(tmp, nw, hw, c, m[i]);
      for (k = 0; k < nw; k++) {
        b[k] = intersect ? b[k] & tmp[k] : b[k] | tmp[k];
        tmp[k] = 0; /* zeroed again for the next mask */
      }
      continue;
    }
    /* union: set the foreground runs; intersection: clear the background
     * (a constant each, so that every call is an inlined copy) */
    for (j = 0; j < m[i]; j++) {
      uint64_t e = pos + c[j];
      if ((j & 1) != intersect) {
        if (intersect) bits_put(b, pos, e, 0);
        else bits_put(b, pos, e, 1);
      }
      pos = e;
    }
  }
  free(tmp);
  for (i = 0; i < n; i++) cap += m[i];
  r = bitmap_runs(b, hw, cap, out);
  free(b);
  return r;
}

int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw, int intersect,
                        uint32_t **out) {
  int64_t i, total = 0, r;
  uint32_t *o;
  *out = NULL;
  for (i = 0; i < n; i++) total += m[i];
  /* pairwise merges cost about n * total / 2 steps; the bitmap hw / 64 words
   * a few times over plus one pass over the runs */
  if (n >= 2 && hw > 0 && hw / 64 < (uint64_t)(n / 2) * (uint64_t)total)
    return merge_bitmap(cnts, m, n, hw, intersect != 0, out);
  o = (uint32_t *)malloc((size_t)(total + n + 1) * sizeof(uint32_t));
  if (!o) return -1;
  r = merge_pairs(cnts, m, n, intersect, o);
  if (r < 0) {
    free(o);
    return -1;
  }
  *out = o;
  return r;
}
