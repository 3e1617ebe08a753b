/* Batch operations behind fastrle.mask; see rle_dropin.h. */
#define _GNU_SOURCE
#include "rle_dropin.h"

#include <stdlib.h>
#include <string.h>
#include "rle_features.h"
#include "rle_platform.h" /* frle_parallel_for, FRLE_MAX_THREADS */
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ---- parsing ---- */

typedef struct {
  const frle_src *src;
  const uint64_t *hw;
  int strict;
  uint32_t *out;
  const int64_t *offs;
  int64_t *m;
  frle_error err[FRLE_MAX_THREADS]; /* per range: its first failure, code 0 if none */
} parse_ctx;

static int parse_one(const frle_src *s, uint64_t hw, int strict, uint32_t *dst, int64_t *m,
                     frle_error *err) {
  uint64_t sum = 0;
  int64_t j;
  if (s->str) return frle_parse(s->str, s->len, hw, strict, dst, m, err);
  for (j = 0; j < s->m; j++) sum += dst[j] = s->cnts[j];
  *m = s->m;
  if (strict && sum != hw) {
    err->pos = s->m; err->value = (int64_t)sum;
    return sum < hw ? FRLE_ERR_SUM_SHORT : FRLE_ERR_SUM_LONG;
  }
  return FRLE_OK;
}

static void parse_range(void *vctx, int64_t b, int64_t e, int tid) {
  parse_ctx *c = (parse_ctx *)vctx;
  int64_t i;
  for (i = b; i < e; i++) {
    frle_error *err = &c->err[tid];
    int rc = parse_one(&c->src[i], c->hw[i], c->strict, c->out + c->offs[i], &c->m[i], err);
    if (rc != FRLE_OK) { err->code = rc; err->index = i; return; }
  }
}

int frle_parse_many(const frle_src *src, const uint64_t *hw, int64_t n, int strict,
                    uint32_t *out, const int64_t *offs, int64_t *m, int nthreads,
                    frle_error *err) {
  parse_ctx *c = (parse_ctx *)calloc(1, sizeof(parse_ctx));
  int i, rc = FRLE_OK;
  if (!c) { err->code = FRLE_ERR_NOMEM; err->index = 0; return FRLE_ERR_NOMEM; }
  c->src = src; c->hw = hw; c->strict = strict; c->out = out; c->offs = offs; c->m = m;
  frle_parallel_for(n, nthreads, parse_range, c);
  /* ranges are in index order: the first range with a failure has the lowest index */
  for (i = 0; i < FRLE_MAX_THREADS; i++) {
    if (c->err[i].code != FRLE_OK) { *err = c->err[i]; rc = err->code; break; }
  }
  free(c);
  return rc;
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

void frle_bbox_coco_many(const uint32_t *const *cnts, const int64_t *m, const uint64_t *h,
                         const uint64_t *w, int64_t n, double *bb, int nthreads) {
  bbox_ctx c;
  c.cnts = cnts; c.m = m; c.h = h; c.w = w; c.bb = bb;
  frle_parallel_for(n, nthreads, bbox_range, &c);
}

/* ---- IoU ---- */

typedef struct {
  const frle_runs *dt, *gt;
  const uint8_t *crowd;
  double *o;
  const double *db, *gb;    /* pycocotools boxes, for its prefilter */
  const frle_fg *df, *gf;   /* foreground intervals */
  const uint64_t *da, *ga;  /* areas */
  int self;                 /* dt and gt are the same masks */
} iou_ctx;

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
      double wd, ht, val = 0, mirror = 0;
      /* pycocotools' box prefilter: its box IoU is > 0 exactly when the
       * boxes overlap (boxes of masks have positive sides), and every such
       * value is then replaced; so only the overlap test is needed */
      wd = (D[2] + D[0] < G[2] + G[0] ? D[2] + D[0] : G[2] + G[0]) - (D[0] > G[0] ? D[0] : G[0]);
      ht = (D[3] + D[1] < G[3] + G[1] ? D[3] + D[1] : G[3] + G[1]) - (D[1] > G[1] ? D[1] : G[1]);
      if (wd > 0 && ht > 0) {
        if (c->dt->h[d] != c->gt->h[g] || c->dt->w[d] != c->gt->w[g]) {
          val = mirror = -1;
        } else {
          uint64_t it = frle_fg_overlap(&c->df[d], &c->gf[g], c->dt->h[d]);
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
static void build_fg(const frle_runs *r, const double *bb, uint32_t *s, uint32_t *e, frle_fg *f,
                     uint64_t *area) {
  int64_t i, j;
  for (i = 0; i < r->n; i++) {
    const uint32_t *c = r->cnts[i];
    uint64_t pos = 0, a = 0;
    int64_t k = 0;
    for (j = 0; j + 1 < r->m[i]; j += 2) {
      uint64_t st = pos + c[j], len = c[j + 1];
      pos = st + len;
      if (!len) continue;
      s[k] = (uint32_t)st; e[k] = (uint32_t)pos; k++;
      a += len;
    }
    f[i].s = s; f[i].e = e; f[i].k = k;
    f[i].x0 = k ? (uint64_t)bb[4 * i] : 0;
    f[i].x1 = k ? (uint64_t)(bb[4 * i] + bb[4 * i + 2]) - 1 : 0;
    f[i].y0 = f[i].y1 = 0; /* unused: the prefilter has compared the boxes */
    area[i] = a;
    s += k; e += k;
  }
}

int frle_iou_runs(const frle_runs *dt, const frle_runs *gt, const uint8_t *iscrowd,
                  double *o, int nthreads) {
  iou_ctx c;
  int self = dt == gt;
  int64_t md = dt->n, ng = self ? 0 : gt->n, cd = fg_capacity(dt), cg = self ? 0 : fg_capacity(gt);
  int64_t nm = md + ng;
  /* one block: boxes, interval lists, areas, interval bounds */
  char *block = (char *)malloc((size_t)nm * (4 * sizeof(double) + sizeof(frle_fg) + sizeof(uint64_t))
                               + (size_t)(cd + cg) * 2 * sizeof(uint32_t) + 1);
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
  c.dt = dt; c.gt = gt; c.crowd = iscrowd; c.o = o; c.db = boxes; c.gb = boxes + 4 * md;
  c.df = fg; c.gf = fg + md; c.da = areas; c.ga = areas + md; c.self = self;
  if (self) { c.gb = boxes; c.gf = fg; c.ga = areas; }
  frle_parallel_for(self ? md : gt->n, nthreads, iou_range, &c);
  free(block);
  return FRLE_OK;
}

/* ---- merge ---- */

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

static inline void bits_set(uint64_t *b, uint64_t s, uint64_t e) {
  uint64_t ws, we, ms, me;
  if (s >= e) return;
  ws = s >> 6; we = (e - 1) >> 6;
  ms = ~0ull << (s & 63); me = ~0ull >> (63 - ((e - 1) & 63));
  if (ws == we) { b[ws] |= ms & me; return; }
  b[ws] |= ms;
  words_fill(b, ws + 1, we, ~0ull);
  b[we] |= me;
}

static inline void bits_clear(uint64_t *b, uint64_t s, uint64_t e) {
  uint64_t ws, we, ms, me;
  if (s >= e) return;
  ws = s >> 6; we = (e - 1) >> 6;
  ms = ~0ull << (s & 63); me = ~0ull >> (63 - ((e - 1) & 63));
  if (ws == we) { b[ws] &= ~(ms & me); return; }
  b[ws] &= ~ms;
  words_fill(b, ws + 1, we, 0);
  b[we] &= ~me;
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
      uint64_t p = k * 64 + (uint64_t)__builtin_ctzll(t);
      o[m++] = (uint32_t)(p - last);
      last = p;
      t &= t - 1;
    }
  }
  o[m++] = (uint32_t)(hw - last);
  *out = o;
  return m;
}

static int64_t merge_bitmap(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw,
                            int intersect, uint32_t **out) {
  uint64_t nw = (hw + 63) / 64;
  uint64_t *b = (uint64_t *)malloc((size_t)nw * sizeof(uint64_t));
  int64_t i, j, r, cap = 1;
  if (!b) return -1;
  memset(b, intersect ? 0xFF : 0, (size_t)nw * sizeof(uint64_t));
  if (intersect && (hw & 63)) b[nw - 1] = ~0ull >> (64 - (hw & 63)); /* bits past hw stay 0 */
  for (i = 0; i < n; i++) {
    const uint32_t *c = cnts[i];
    uint64_t pos = 0;
    /* union: set the foreground runs; intersection: clear the background */
    for (j = 0; j < m[i]; j++) {
      uint64_t e = pos + c[j];
      if ((j & 1) != intersect) {
        if (intersect) bits_clear(b, pos, e); else bits_set(b, pos, e);
      }
      pos = e;
    }
  }
  for (i = 0; i < n; i++) cap += m[i];
  r = bitmap_runs(b, hw, cap, out);
  free(b);
  return r;
}

int64_t frle_merge_many(const uint32_t *const *cnts, const int64_t *m, int64_t n, uint64_t hw,
                        int intersect, uint32_t **out) {
  int64_t i, total = 0, r;
  uint32_t *o;
  *out = NULL;
  for (i = 0; i < n; i++) total += m[i];
  /* pairwise merges cost about n * total / 2 steps; the bitmap hw / 64 words
   * a few times over plus one pass over the runs */
  if (n >= 3 && hw > 0 && hw / 64 < (uint64_t)(n / 2) * (uint64_t)total)
    return merge_bitmap(cnts, m, n, hw, intersect != 0, out);
  o = (uint32_t *)malloc((size_t)(total + n + 1) * sizeof(uint32_t));
  if (!o) return -1;
  r = frle_merge(cnts, m, n, intersect, o);
  if (r < 0) { free(o); return -1; }
  *out = o;
  return r;
}
