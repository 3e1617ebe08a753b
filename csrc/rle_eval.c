/*
 * pycocotools' COCOeval.evaluateImg and .accumulate (2.0.11) in C. Each loop
 * follows cocoeval.py statement by statement; the comments quote the line
 * they stand for where the float64 order matters.
 */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "rle.h"
#include "rle_eval.h"
#include "rle_platform.h" /* frle_parallel_for */

/* numpy's less-than for floats: NaN sorts after every number. */
static inline int np_lt(double a, double b) { return a < b || (b != b && a == a); }

/* Stable: the merge takes from the left run on ties, as numpy's mergesort. */
void frle_argsort_desc(int64_t *idx, int64_t n, const double *key, int64_t *tmp) {
  int64_t width, i;
  if (n < 2) return;
  for (i = 1; i < n && n <= 16; i++) { /* insertion sort: stable */
    int64_t v = idx[i], j = i;
    while (j > 0 && np_lt(-key[v], -key[idx[j - 1]])) {
      idx[j] = idx[j - 1];
      j--;
    }
    idx[j] = v;
  }
  if (n <= 16) return;
  for (width = 1; width < n; width *= 2) {
    for (i = 0; i < n; i += 2 * width) {
      int64_t a = i, am = i + width < n ? i + width : n, b = am, bm = i + 2 * width < n ? i + 2 * width : n, o = i;
      while (a < am && b < bm) tmp[o++] = np_lt(-key[idx[b]], -key[idx[a]]) ? idx[b++] : idx[a++];
      while (a < am) tmp[o++] = idx[a++];
      while (b < bm) tmp[o++] = idx[b++];
    }
    memcpy(idx, tmp, (size_t)n * sizeof(int64_t));
  }
}

/* ---- loadRes: area and box ---- */

#define AB_CHUNK 256 /* masks parsed per frle_parse_many call */

typedef struct {
  const frle_src *src;
  const int64_t *hs, *ws;
  uint32_t *area;
  double *bb;
  frle_error err[FRLE_MAX_THREADS]; /* each range's first failure */
} ab_ctx;

static void ab_range(void *vctx, int64_t b, int64_t e, int tid) {
  ab_ctx *c = (ab_ctx *)vctx;
  uint64_t hw[AB_CHUNK];
  int64_t offs[AB_CHUNK], m[AB_CHUNK], i, j, cap = 0;
  uint32_t *buf = NULL;
  frle_error *err = &c->err[tid];
  for (i = b; i < e; i += AB_CHUNK) {
    int64_t k = e - i < AB_CHUNK ? e - i : AB_CHUNK, total = 0;
    int rc;
    for (j = 0; j < k; j++) {
      const frle_src *s = &c->src[i + j];
      if (c->hs[i + j] < 0 || c->ws[i + j] < 0 ||
          frle_check_size((uint64_t)c->hs[i + j], (uint64_t)c->ws[i + j], &hw[j]) != FRLE_OK) {
        err->code = FRLE_ERR_SIZE;
        err->index = i + j;
        err->pos = err->value = 0;
        free(buf);
        return;
      }
      offs[j] = total;
      total += s->str ? s->len : s->m; /* at most one count per character */
    }
    if (total > cap) {
      uint32_t *grown = (uint32_t *)realloc(buf, (size_t)(total > 1 ? total : 1) * sizeof(uint32_t));
      if (!grown) {
        err->code = FRLE_ERR_NOMEM;
        err->index = i;
        err->pos = err->value = 0;
        free(buf);
        return;
      }
      buf = grown;
      cap = total;
    }
    rc = frle_parse_many(c->src + i, hw, k, 0, buf, offs, m, 1, err);
    if (rc != FRLE_OK) {
      err->code = rc;
      err->index += i;
      free(buf);
      return;
    }
    for (j = 0; j < k; j++) {
      c->area[i + j] = (uint32_t)frle_area(buf + offs[j], m[j]);
      frle_bbox_coco(buf + offs[j], m[j], (uint64_t)c->hs[i + j], (uint64_t)c->ws[i + j], c->bb + 4 * (i + j));
    }
  }
  free(buf);
}

int frle_area_bbox_many(const frle_src *src, const int64_t *hs, const int64_t *ws, int64_t n, uint32_t *area,
                        double *bb, int nthreads, frle_error *err) {
  ab_ctx *c = (ab_ctx *)malloc(sizeof(ab_ctx));
  int t, k = frle_thread_count(nthreads, n), rc = FRLE_OK;
  if (!c) return FRLE_ERR_NOMEM;
  c->src = src;
  c->hs = hs;
  c->ws = ws;
  c->area = area;
  c->bb = bb;
  for (t = 0; t < k; t++) c->err[t].code = FRLE_OK;
  frle_parallel_for(n, k, ab_range, c);
  for (t = 0; t < k; t++) { /* ranges are in index order: the first failure is the lowest mask */
    if (c->err[t].code != FRLE_OK) {
      *err = c->err[t];
      rc = err->code;
      break;
    }
  }
  free(c);
  return rc;
}

/* ---- evaluate ---- */

/* Match i: 16 bits wide when every pair has at most INT16_MAX gts, else 32. */
static inline void match_put(const frle_eval *ev, int64_t i, int64_t v) {
  if (ev->match16) ev->match16[i] = (int16_t)v;
  else ev->match[i] = (int32_t)v;
}

static inline int64_t match_get(const frle_eval *ev, int64_t i) { return ev->match16 ? ev->match16[i] : ev->match[i]; }

typedef struct {
  frle_eval *ev;
  int status[FRLE_MAX_THREADS];    /* each range's first failure */
  int64_t bad_pair[FRLE_MAX_THREADS];
  int side[FRLE_MAX_THREADS];
  frle_error err[FRLE_MAX_THREADS];
} eval_ctx;

/* per-thread scratch, sized for the largest pair of the range (the runs
 * buffers grow as needed) */
typedef struct {
  int64_t *tmp, *gtind, *drow;
  uint8_t *ig, *igs, *crowd;
  double *gtm, *dbox, *gbox;
  const uint32_t **dc, **gc;
  int64_t *dm, *gm;
  uint64_t *dh, *dw, *gh, *gw;
  frle_src *lsrc;
  uint64_t *lhw;
  int64_t *loffs;
  uint32_t *runs[2];
  int64_t runs_cap[2];
  double *lmat, *rowmax; /* one area range's IoUs in gtind order (grown as needed), each dt's maximum */
  int64_t lmat_cap;
} eval_scratch;

/* Parse the n masks idx[0..n) of one side into s->runs[side]: c[j], m[j],
 * h[j], w[j] describe mask j. On failure err->index is the failing mask's
 * position j in idx. */
static int parse_side(const frle_src *src, const int64_t *hs, const int64_t *ws, const int64_t *idx, int64_t n,
                      int side, eval_scratch *s, const uint32_t **c, int64_t *m, uint64_t *h, uint64_t *w,
                      frle_error *err) {
  int64_t j, total = 0;
  int rc;
  for (j = 0; j < n; j++) {
    int64_t k = idx[j];
    h[j] = (uint64_t)hs[k];
    w[j] = (uint64_t)ws[k];
    if (hs[k] < 0 || ws[k] < 0 || frle_check_size(h[j], w[j], &s->lhw[j]) != FRLE_OK) {
      err->code = FRLE_ERR_SIZE;
      err->index = j;
      err->pos = 0;
      err->value = 0;
      return FRLE_ERR_SIZE;
    }
    s->lsrc[j] = src[k];
    s->loffs[j] = total;
    total += src[k].str ? src[k].len : src[k].m; /* at most one count per character */
  }
  if (total > s->runs_cap[side]) {
    uint32_t *grown = (uint32_t *)realloc(s->runs[side], (size_t)total * sizeof(uint32_t));
    if (!grown) return FRLE_ERR_NOMEM;
    s->runs[side] = grown;
    s->runs_cap[side] = total;
  }
  rc = frle_parse_many(s->lsrc, s->lhw, n, 1, s->runs[side], s->loffs, m, 1, err);
  if (rc != FRLE_OK) return rc;
  for (j = 0; j < n; j++) c[j] = s->runs[side] + s->loffs[j];
  return FRLE_OK;
}

static int iou_pair(const frle_eval *ev, int64_t p, int64_t D, int64_t G, eval_scratch *s, int *side, frle_error *err) {
  const int64_t *di = ev->dt_idx + ev->dt_off[p], *gi = ev->gt_idx + ev->gt_off[p];
  double *o = ev->iou + ev->iou_off[p];
  int64_t j;
  if (ev->boxes) {
    for (j = 0; j < D; j++) memcpy(s->dbox + 4 * j, ev->dt_box + 4 * di[j], 4 * sizeof(double));
    for (j = 0; j < G; j++) memcpy(s->gbox + 4 * j, ev->gt_box + 4 * gi[j], 4 * sizeof(double));
    frle_bbox_iou(s->dbox, s->gbox, D, G, s->crowd, o);
    return FRLE_OK;
  } else {
    frle_runs rd, rg;
    const int64_t *drow = di; /* the dts' masks: rows of dt_src */
    int rc;
    *side = 0;
    rc = parse_side(ev->gt_src, ev->gt_h, ev->gt_w, gi, G, 0, s, s->gc, s->gm, s->gh, s->gw, err);
    if (rc != FRLE_OK) {
      err->index = gi[err->index];
      return rc;
    }
    if (ev->dt_row) {
      for (j = 0; j < D; j++) s->drow[j] = ev->dt_row[di[j]];
      drow = s->drow;
    }
    *side = 1;
    rc = parse_side(ev->dt_src, ev->dt_h, ev->dt_w, drow, D, 1, s, s->dc, s->dm, s->dh, s->dw, err);
    if (rc != FRLE_OK) {
      err->index = di[err->index];
      return rc;
    }
    if (ev->dt_mbox)
      for (j = 0; j < D; j++) memcpy(s->dbox + 4 * j, ev->dt_mbox + 4 * drow[j], 4 * sizeof(double));
    rd.cnts = s->dc;
    rd.m = s->dm;
    rd.h = s->dh;
    rd.w = s->dw;
    rd.n = D;
    rg.cnts = s->gc;
    rg.m = s->gm;
    rg.h = s->gh;
    rg.w = s->gw;
    rg.n = G;
    return frle_iou_runs_few(&rd, &rg, ev->dt_mbox ? s->dbox : NULL, NULL, s->crowd, o);
  }
}

static int eval_pair(const frle_eval *ev, int64_t p, eval_scratch *s, int *side, frle_error *err) {
  int64_t g0 = ev->gt_off[p], G = ev->gt_off[p + 1] - g0, d0 = ev->dt_off[p], Dall = ev->dt_off[p + 1] - d0;
  int64_t D = ev->dt_n[p], T = ev->T, a, t, d, j, k;
  const int64_t *gi = ev->gt_idx + g0, *di = ev->dt_idx + d0;
  const double *o = ev->iou + ev->iou_off[p];
  if (G == 0 && Dall == 0) return FRLE_OK; /* evaluateImg returns None */
  /* inds = np.argsort([-d['score'] for d in dt], kind='mergesort'); dt[0:maxDet] */
  frle_argsort_desc(ev->dt_idx + d0, Dall, ev->dt_score, s->tmp);
  for (j = 0; j < G; j++) s->crowd[j] = ev->gt_crowd[gi[j]];
  if (D > 0 && G > 0) {
    int rc = iou_pair(ev, p, D, G, s, side, err);
    if (rc != FRLE_OK) return rc;
    if (D * G > s->lmat_cap) {
      double *grown = (double *)realloc(s->lmat, (size_t)(D * G) * sizeof(double));
      if (!grown) return FRLE_ERR_NOMEM;
      s->lmat = grown;
      s->lmat_cap = D * G;
    }
  }
  for (a = 0; a < ev->A; a++) {
    double lo = ev->area_rng[2 * a], hi = ev->area_rng[2 * a + 1];
    int64_t mt = ev->match_off[p] + a * T * D; /* this area range's matches */
    if (G > 0)
      for (j = 0; j < T * D; j++) match_put(ev, mt + j, -1);
    /* g['_ignore'] = g['ignore'] or (g['area'] < aRng[0] or g['area'] > aRng[1]) */
    for (j = 0; j < G; j++) {
      double ar = ev->gt_area[gi[j]];
      s->ig[j] = ev->gt_ign[gi[j]] || ar < lo || ar > hi;
    }
    /* gtind = np.argsort(_ignore, kind='mergesort'): 0s then 1s, each in order */
    k = 0;
    for (j = 0; j < G; j++)
      if (!s->ig[j]) s->gtind[k++] = j;
    for (j = 0; j < G; j++)
      if (s->ig[j]) s->gtind[k++] = j;
    for (j = 0; j < G; j++) s->igs[j] = s->ig[s->gtind[j]];
    if (D == 0 || G == 0) continue; /* len(ious) == 0 */
    /* the IoUs in gtind's order, a row per dt (contiguous for the loop
     * below), and each row's maximum: a dt whose every IoU is below the
     * threshold matches nothing there (a NaN could match: no maximum) */
    for (d = 0; d < D; d++) {
      double *row = s->lmat + d * G, mx = -HUGE_VAL;
      for (j = 0; j < G; j++) {
        double v = o[s->gtind[j] * D + d];
        row[j] = v;
        if (v != v) mx = HUGE_VAL;
        else if (v > mx) mx = v;
      }
      s->rowmax[d] = mx;
    }
    for (t = 0; t < T; t++) {
      double thr = ev->iou_thrs[t], cap = 1 - 1e-10;
      for (j = 0; j < G; j++) s->gtm[j] = 0;
      for (d = 0; d < D; d++) {
        double iou = cap < thr ? cap : thr; /* min([t, 1-1e-10]) */
        const double *row = s->lmat + d * G;
        int64_t m = -1;
        if (s->rowmax[d] < iou) continue;
        for (j = 0; j < G; j++) {
          int64_t gl = s->gtind[j];
          double v;
          if (s->gtm[j] > 0 && !s->crowd[gl]) continue;
          if (m > -1 && s->igs[m] == 0 && s->igs[j] == 1) break;
          v = row[j];
          if (v < iou) continue;
          iou = v;
          m = j;
        }
        if (m == -1) continue;
        s->gtm[m] = ev->dt_id[di[d]];
        match_put(ev, mt + t * D + d, s->gtind[m]);
      }
    }
  }
  return FRLE_OK;
}

static void eval_range(void *vctx, int64_t b, int64_t e, int tid) {
  eval_ctx *c = (eval_ctx *)vctx;
  const frle_eval *ev = c->ev;
  int64_t p, maxg = 1, maxd = 1, maxn;
  eval_scratch s;
  char *block;
  size_t off = 0;
  for (p = b; p < e; p++) {
    int64_t g = ev->gt_off[p + 1] - ev->gt_off[p], d = ev->dt_off[p + 1] - ev->dt_off[p];
    if (g > maxg) maxg = g;
    if (d > maxd) maxd = d;
  }
  maxn = maxg > maxd ? maxg : maxd;
  block =
    (char *)malloc((size_t)maxd * (2 * sizeof(int64_t) + 5 * sizeof(double) + sizeof(void *) + 3 * 8) +
                   (size_t)maxg * (sizeof(int64_t) + 3 + sizeof(double) + 4 * sizeof(double) + sizeof(void *) + 3 * 8) +
                   (size_t)maxn * (sizeof(frle_src) + 2 * 8) + 64);
  if (!block) {
    c->status[tid] = FRLE_ERR_NOMEM;
    c->bad_pair[tid] = b;
    return;
  }
#define TAKE(field, type, count)                                                                                       \
  s.field = (type *)(void *)(block + off);                                                                             \
  off += (size_t)(count) * sizeof(type);
  TAKE(tmp, int64_t, maxd)
  TAKE(drow, int64_t, maxd)
  TAKE(dbox, double, 4 * maxd)
  TAKE(rowmax, double, maxd)
  TAKE(dc, const uint32_t *, maxd)
  TAKE(dm, int64_t, maxd)
  TAKE(dh, uint64_t, maxd)
  TAKE(dw, uint64_t, maxd)
  TAKE(gtind, int64_t, maxg)
  TAKE(gtm, double, maxg)
  TAKE(gbox, double, 4 * maxg)
  TAKE(gc, const uint32_t *, maxg)
  TAKE(gm, int64_t, maxg)
  TAKE(gh, uint64_t, maxg)
  TAKE(gw, uint64_t, maxg)
  TAKE(lsrc, frle_src, maxn)
  TAKE(lhw, uint64_t, maxn)
  TAKE(loffs, int64_t, maxn)
  TAKE(ig, uint8_t, maxg)
  TAKE(igs, uint8_t, maxg)
  TAKE(crowd, uint8_t, maxg)
#undef TAKE
  s.runs[0] = s.runs[1] = NULL;
  s.runs_cap[0] = s.runs_cap[1] = 0;
  s.lmat = NULL;
  s.lmat_cap = 0;
  for (p = b; p < e; p++) {
    int rc = eval_pair(ev, p, &s, &c->side[tid], &c->err[tid]);
    if (rc != FRLE_OK) {
      c->status[tid] = rc;
      c->bad_pair[tid] = p;
      break;
    }
  }
  free(s.runs[0]);
  free(s.runs[1]);
  free(s.lmat);
  free(block);
}

int frle_eval_run(frle_eval *ev, int nthreads) {
  eval_ctx *c = (eval_ctx *)calloc(1, sizeof(eval_ctx));
  int t, best = -1, rc;
  if (!c) return FRLE_ERR_NOMEM;
  c->ev = ev;
  frle_parallel_for(ev->npairs, nthreads, eval_range, c);
  for (t = 0; t < FRLE_MAX_THREADS; t++) /* the failure of the lowest pair */
    if (c->status[t] != FRLE_OK && (best < 0 || c->bad_pair[t] < c->bad_pair[best])) best = t;
  rc = best < 0 ? FRLE_OK : c->status[best];
  if (best >= 0) {
    ev->err = c->err[best];
    ev->err.code = rc;
    ev->err_side = c->side[best];
  }
  free(c);
  return rc;
}

/* ---- accumulate ---- */

typedef struct {
  const frle_accum *ac;
  int status;
  int per_k; /* one unit of work per category (every area range), else per (category, area range) */
} accum_ctx;

/* len(x[0:s]) for a list of n items */
static inline int64_t slice_len(int64_t n, int64_t s) {
  if (s < 0) s = n + s < 0 ? 0 : n + s;
  return s < n ? s : n;
}

static inline int gt_ignored(const frle_eval *ev, int64_t g, int64_t a) {
  double ar = ev->gt_area[g];
  return ev->gt_ign[g] || ar < ev->area_rng[2 * a] || ar > ev->area_rng[2 * a + 1];
}

/* The first position q in tpos[0..n) with tpos[q] > j (n if none). */
static inline int64_t first_after(const int64_t *tpos, int64_t n, int64_t j) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (tpos[mid] <= j) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* The cells (k, a, m) of one (k, a), every m. The stable sort of a subset
 * is the full stable sort with the others left out, and each m keeps a
 * prefix of every image's dts, so one sort serves every m.
 *
 * pycocotools builds rc and pr for every dt, then pr's running maximum from
 * the right. Only R entries are read, so this keeps the cumulative tp and fp
 * counts and divides where pycocotools' values are read: rc at the binary
 * search's probes, pr at the dts that raise tp (pr falls, in float64 too, at
 * every other dt: the numerator stays and the rounded denominator does not
 * shrink), so the maximum of pr over positions >= j is the larger of pr[j]
 * and the maximum over the tp-raising positions after j. Each value is the
 * same float64 expression as pycocotools', so every result is its bits. */
static int accum_cells(const frle_accum *ac, int64_t kp, int64_t ap0, int64_t ap1) {
  const frle_eval *ev = ac->ev;
  int64_t k0 = ac->k_list[kp], a0 = ac->a_list[ap0], T = ev->T, R = ac->R, ap;
  int64_t I0 = ac->I0, AI = ac->A0 * ac->I0, n_el = 0, npig, x, t, r, nd, mp, s;
  int64_t *pair, *dloc, *idx, *tmp, *area, *sub, *ctp, *cfp, *tpos;
  double *score, *prv;
  uint8_t *st;
  char *block;
  int any = 0;
  /* E = [evalImgs[Nk + Na + i] for i in i_list], None dropped; room for the
   * longest prefix any m keeps */
  for (x = 0; x < ac->ni; x++) {
    int64_t n = k0 * AI + a0 * I0 + ac->i_list[x], p = (n / AI) * I0 + n % I0, most = 0;
    if (!ac->present[p]) continue;
    for (mp = 0; mp < ac->nm; mp++) {
      int64_t take = slice_len(ev->dt_n[p], ac->m_list[mp]);
      if (take > most) most = take;
    }
    n_el += most;
  }
  block = (char *)malloc((size_t)(n_el + 1) * (10 * sizeof(int64_t) + 2 * sizeof(double) + (size_t)T));
  if (!block) return FRLE_ERR_NOMEM;
  pair = (int64_t *)(void *)block;
  dloc = pair + n_el + 1;
  idx = dloc + n_el + 1;
  tmp = idx + n_el + 1;
  area = tmp + n_el + 1;
  sub = area + n_el + 1;
  ctp = sub + n_el + 1;
  cfp = ctp + n_el + 1;
  tpos = cfp + n_el + 1;
  score = (double *)(void *)(tpos + n_el + 1);
  prv = score + n_el + 1;
  st = (uint8_t *)(void *)(prv + n_el + 1);
  nd = 0;
  for (x = 0; x < ac->ni; x++) {
    int64_t n = k0 * AI + a0 * I0 + ac->i_list[x], p = (n / AI) * I0 + n % I0, aa = (n % AI) / I0, d;
    int64_t most = 0;
    if (!ac->present[p]) continue;
    any = 1;
    for (mp = 0; mp < ac->nm; mp++) {
      int64_t take = slice_len(ev->dt_n[p], ac->m_list[mp]);
      if (take > most) most = take;
    }
    for (d = 0; d < most; d++) { /* np.concatenate([e['dtScores'][0:maxDet] for e in E]) */
      pair[nd] = p;
      dloc[nd] = d;
      area[nd] = aa;
      score[nd] = ev->dt_score[ev->dt_idx[ev->dt_off[p] + d]];
      idx[nd] = nd;
      nd++;
    }
  }
  if (!any) { /* len(E) == 0: continue (for every a and m) */
    free(block);
    return FRLE_OK;
  }
  /* inds = np.argsort(-dtScores, kind='mergesort') */
  frle_argsort_desc(idx, nd, score, tmp);
  for (ap = ap0; ap < ap1; ap++) {
    if (ap > ap0) { /* another area range over the same dts (ap1 > ap0 + 1 only when every i < I0) */
      for (s = 0; s < nd; s++) area[s] = ac->a_list[ap];
    }
    npig = 0;
    for (x = 0; x < ac->ni; x++) {
      int64_t n = k0 * AI + ac->a_list[ap] * I0 + ac->i_list[x], p = (n / AI) * I0 + n % I0, aa = (n % AI) / I0, j;
      if (!ac->present[p]) continue;
      for (j = ev->gt_off[p]; j < ev->gt_off[p + 1]; j++) npig += !gt_ignored(ev, ev->gt_idx[j], aa);
    }
    if (npig == 0) continue; /* npig == 0: continue (for every m) */
  /* each dt's part at each threshold, in the sorted order: st[t*nd + s] is 0
   * (dtIgnore), 1 (a tp) or 2 (a fp) */
    for (s = 0; s < nd; s++) {
      int64_t e = idx[s], p = pair[e], d = dloc[e], D = ev->dt_n[p], aa = area[e];
      double ar = ev->dt_area[ev->dt_idx[ev->dt_off[p] + d]];
      int out_a = ar < ev->area_rng[2 * aa] || ar > ev->area_rng[2 * aa + 1];
      for (t = 0; t < T; t++) {
        int64_t m = ev->gt_off[p + 1] > ev->gt_off[p] ? match_get(ev, ev->match_off[p] + (aa * T + t) * D + d) : -1;
        double dtm = 0;
        int ig = 0;
        if (m >= 0) {
          int64_t g = ev->gt_idx[ev->gt_off[p] + m];
          dtm = ev->gt_id[g];
          ig = gt_ignored(ev, g, aa);
        }
        if (dtm == 0 && !ig) ig = out_a; /* np.logical_and(dtm == 0, a): unmatched dt outside the area range */
        st[t * nd + s] = ig ? 0 : dtm != 0 ? 1 : 2;
      }
    }
    for (mp = 0; mp < ac->nm; mp++) {
      int64_t maxdet = ac->m_list[mp], ns = 0;
      for (s = 0; s < nd; s++) { /* this m's dts, in the sorted order */
        int64_t e = idx[s];
        if (dloc[e] < slice_len(ev->dt_n[pair[e]], maxdet)) sub[ns++] = s;
      }
      for (t = 0; t < T; t++) {
        int64_t tp = 0, fp = 0, ntp = 0, q;
        int64_t out_r = ((t * ac->K + kp) * ac->A + ap) * ac->M + mp;
        const uint8_t *stt = st + t * nd;
        for (s = 0; s < ns; s++) { /* tp_sum, fp_sum = np.cumsum(tps), np.cumsum(fps) */
          uint8_t c = stt[sub[s]];
          if (c == 1) {
            tp++;
            tpos[ntp++] = s;
          } else if (c == 2) {
            fp++;
          }
          ctp[s] = tp;
          cfp[s] = fp;
        }
        /* pr = tp / (fp + tp + np.spacing(1)) where tp rises, then the running
       * maximum from the right over those positions */
        for (q = 0; q < ntp; q++) {
          int64_t j = tpos[q];
          prv[q] = (double)ctp[j] / ((double)cfp[j] + (double)ctp[j] + DBL_EPSILON);
        }
        for (q = ntp - 1; q > 0; q--)
          if (prv[q] > prv[q - 1]) prv[q - 1] = prv[q];
        /* rc = tp / npig */
        ac->recall[out_r] = ns ? (double)ctp[ns - 1] / (double)npig : 0;
        for (r = 0; r < R; r++) {
          int64_t o = (((t * R + r) * ac->K + kp) * ac->A + ap) * ac->M + mp;
          ac->precision[o] = 0;
          ac->scores[o] = 0;
        }
        for (r = 0; r < R; r++) {
          /* np.searchsorted(rc, p.recThrs, side='left'); an index past the end
         * raises IndexError, which ends the loop (the rest stay 0) */
          double v = ac->rec_thrs[r], pr;
          int64_t lo = 0, hi = ns, o = (((t * R + r) * ac->K + kp) * ac->A + ap) * ac->M + mp;
          while (lo < hi) {
            int64_t mid = lo + (hi - lo) / 2;
            if (np_lt((double)ctp[mid] / (double)npig, v)) lo = mid + 1;
            else hi = mid;
          }
          if (lo >= ns) break;
          pr = (double)ctp[lo] / ((double)cfp[lo] + (double)ctp[lo] + DBL_EPSILON);
          q = first_after(tpos, ntp, lo);
          if (q < ntp && prv[q] > pr) pr = prv[q];
          ac->precision[o] = pr;
          ac->scores[o] = score[idx[sub[lo]]];
        }
      }
    }
  }
  free(block);
  return FRLE_OK;
}

static void accum_range(void *vctx, int64_t b, int64_t e, int tid) {
  accum_ctx *c = (accum_ctx *)vctx;
  const frle_accum *ac = c->ac;
  int64_t j;
  (void)tid;
  for (j = b; j < e; j++) {
    int rc = c->per_k ? accum_cells(ac, j, 0, ac->na) : accum_cells(ac, j / ac->na, j % ac->na, j % ac->na + 1);
    if (rc != FRLE_OK) {
      c->status = rc;
      return;
    }
  }
}

int frle_accumulate(const frle_accum *ac, int nthreads) {
  accum_ctx c;
  int64_t x;
  c.ac = ac;
  c.status = FRLE_OK;
  /* every image index below I0: a category's dts are the same for every
   * area range (evalImgs[Nk + Na + i] is pair k0*I0 + i), one sort serves all */
  c.per_k = 1;
  for (x = 0; x < ac->ni; x++)
    if (ac->i_list[x] >= ac->I0) c.per_k = 0;
  frle_parallel_for(c.per_k ? ac->nk : ac->nk * ac->na, nthreads, accum_range, &c);
  return c.status;
}
