/* Connected components on the runs (see rle_components.h).
 *
 * A column segment (a foreground run cut at column ends) is vertically
 * connected, so it lies in one component, and a component is a union of
 * segments: union-find joins the segments of neighbouring columns whose rows
 * overlap (connectivity 4) or touch, diagonals included (8). Segments come
 * out of the runs in column-major order, which is also the order a
 * component's own runs are written in, so neither the labels nor the output
 * RLEs need the mask's row spans: memory is O(runs + w), never O(h*w). */
#include <stdlib.h>
#include <string.h>
#include "rle_components.h"
#include "rle_internal.h"
#include "rle_platform.h"

typedef struct {
  uint64_t key;            /* cv2's order: the minimum over the pixels (rle_components.h) */
  uint64_t area, sx, sy;   /* pixels, exact sums of x and of y */
  uint32_t x0, x1, y0, y1; /* bounding box, inclusive */
} comp;

typedef struct {
  uint64_t key;
  uint32_t c;
} keyed;

/* One thread's work memory, grown on demand and reused across masks. */
typedef struct {
  uint32_t *seg; /* x, y0, y1 per segment ([y0, y1) of column x), linear order */
  uint32_t *id;  /* per segment: union-find parent, then its component */
  comp *cs;
  keyed *ks;
  uint32_t *rank; /* per component: label - 1 (components()) or keep flag (remove_small) */
  uint32_t *by;   /* segments grouped by label */
  int64_t *start; /* per label: its first entry in by */
  uint32_t *cnt;  /* counts being written */
  int64_t seg_cap, id_cap, cs_cap, ks_cap, rank_cap, by_cap, start_cap, cnt_cap;
  int64_t nseg, nc;
} work;

static void work_free(work *wk) {
  free(wk->seg);
  free(wk->id);
  free(wk->cs);
  free(wk->ks);
  free(wk->rank);
  free(wk->by);
  free(wk->start);
  free(wk->cnt);
}

/* The segments of the runs of value fg (1: the mask, 0: its complement). A
 * run that continues one of the same value (a zero-length run between)
 * extends its segment, so a column's segments are disjoint and apart. */
static int segments(work *wk, const uint32_t *c, int64_t m, uint64_t h, int fg) {
  uint64_t pos = 0, x = 0, cs = 0;
  int64_t j, k = 0;
  for (j = 0; j < m; j++) {
    uint64_t s = pos, e = pos + c[j], y;
    pos = e;
    if ((int)(j & 1) != fg || s == e) continue;
    y = column_of(s, h, &x, &cs);
    while (s < e) {
      uint64_t take = h - y < e - s ? h - y : e - s;
      if (k && wk->seg[3 * k - 3] == (uint32_t)x && wk->seg[3 * k - 1] == (uint32_t)y) {
        wk->seg[3 * k - 1] = (uint32_t)(y + take);
      } else {
        if (!FRLE_GROW(wk->seg, wk->seg_cap, 3 * k + 3)) return FRLE_ERR_NOMEM;
        wk->seg[3 * k] = (uint32_t)x;
        wk->seg[3 * k + 1] = (uint32_t)y;
        wk->seg[3 * k + 2] = (uint32_t)(y + take);
        k++;
      }
      s += take;
      if (s < e) { /* the run goes on in the next column */
        x++;
        cs += h;
        y = 0;
      }
    }
  }
  wk->nseg = k;
  return FRLE_OK;
}

/* Roots are the lowest index of their set, so parent[a] <= a throughout. */
static inline uint32_t find(uint32_t *p, uint32_t a) {
  while (p[a] != a) {
    p[a] = p[p[a]];
    a = p[a];
  }
  return a;
}

static inline void unite(uint32_t *p, uint32_t a, uint32_t b) {
  a = find(p, a);
  b = find(p, b);
  if (a < b) p[b] = a;
  else if (b < a) p[a] = b;
}

/* Label the segments: wk->id[i] = component of segment i, components in
 * order of their first segment, with their stats in wk->cs[0 .. wk->nc). */
static int label(work *wk, int conn) {
  int64_t S = wk->nseg, i, pb = 0, pe = 0, cb = 0, nc = 0;
  uint64_t touch = conn == 8 ? 1 : 0;
  const uint32_t *seg = wk->seg;
  uint32_t *id;
  wk->nc = 0;
  if (S == 0) return FRLE_OK;
  if (!FRLE_GROW(wk->id, wk->id_cap, S) || !FRLE_GROW(wk->cs, wk->cs_cap, S)) return FRLE_ERR_NOMEM;
  id = wk->id;
  for (i = 0; i < S; i++) id[i] = (uint32_t)i;
  /* neighbouring columns: a merge walk over their segments, each sorted by row */
  while (cb < S) {
    uint32_t x = seg[3 * cb];
    int64_t ce = cb + 1;
    while (ce < S && seg[3 * ce] == x) ce++;
    if (pe > pb && (uint64_t)seg[3 * pb] + 1 == x) {
      int64_t a = pb, b = cb;
      while (a < pe && b < ce) {
        uint64_t a0 = seg[3 * a + 1], a1 = seg[3 * a + 2], b0 = seg[3 * b + 1], b1 = seg[3 * b + 2];
        if (a0 < b1 + touch && b0 < a1 + touch) unite(id, (uint32_t)a, (uint32_t)b);
        if (a1 < b1) a++;
        else b++;
      }
    }
    pb = cb;
    pe = ce;
    cb = ce;
  }
  /* flatten: a parent has a lower index, so its component is known already */
  for (i = 0; i < S; i++) {
    uint32_t p = id[i], c, x = seg[3 * i], y0 = seg[3 * i + 1], y1 = seg[3 * i + 2];
    uint64_t len = (uint64_t)(y1 - y0), key, sy;
    comp *k;
    if (p == (uint32_t)i) {
      c = (uint32_t)nc++;
      k = &wk->cs[c];
      memset(k, 0, sizeof(*k));
      k->key = UINT64_MAX;
      k->x0 = x;
      k->y0 = y0;
      k->y1 = y1 - 1;
    } else {
      c = id[p];
      k = &wk->cs[c];
    }
    id[i] = c;
    key = conn == 8 ? ((uint64_t)(y0 >> 1) << 32 | (x >> 1)) : ((uint64_t)y0 << 32 | x);
    if (key < k->key) k->key = key;
    /* sum of y0 .. y1-1 = len * (y0 + y1 - 1) / 2: halve the even factor first */
    sy = (uint64_t)y0 + y1 - 1;
    sy = len % 2 == 0 ? (len / 2) * sy : len * (sy / 2);
    k->area += len;
    k->sx += (uint64_t)x * len;
    k->sy += sy;
    k->x1 = x; /* segments go by column */
    if (y0 < k->y0) k->y0 = y0;
    if (y1 - 1 > k->y1) k->y1 = y1 - 1;
  }
  wk->nc = nc;
  return FRLE_OK;
}

/* Counts writer: pixels [a, b) have value v; runs of equal value merge. */
typedef struct {
  int64_t m;
  uint64_t len;
  int val;
} runs_out;

static inline void put(uint32_t *cnt, runs_out *r, uint64_t n, int v) {
  if (n == 0) return;
  if (v == r->val) {
    r->len += n;
  } else {
    cnt[r->m++] = (uint32_t)r->len;
    r->val = v;
    r->len = n;
  }
}

/* Writes into wk->cnt the counts of an hw-pixel mask whose pixels in the
 * listed segments (of column height h; linear order) are v and all others
 * !v, canonical as pycocotools encodes: only the first run may be empty.
 * list == NULL: the segments i in [0, k) with keep[id[i]]; else segments
 * list[0 .. k). Returns the number of counts, or -1 when out of memory. */
static int64_t write_counts(work *wk, const uint32_t *list, int64_t k, const uint32_t *keep, uint64_t h, uint64_t hw,
                            int v) {
  runs_out r = {0, 0, 0};
  uint64_t cur = 0;
  int64_t t;
  if (!FRLE_GROW(wk->cnt, wk->cnt_cap, 2 * k + 2)) return -1;
  for (t = 0; t < k; t++) {
    uint32_t i = list ? list[t] : (uint32_t)t;
    uint64_t p, q;
    if (!list && !keep[wk->id[i]]) continue;
    p = (uint64_t)wk->seg[3 * i] * h + wk->seg[3 * i + 1];
    q = p + (wk->seg[3 * i + 2] - wk->seg[3 * i + 1]);
    put(wk->cnt, &r, p - cur, !v);
    put(wk->cnt, &r, q - p, v);
    cur = q;
  }
  put(wk->cnt, &r, hw - cur, !v);
  wk->cnt[r.m++] = (uint32_t)r.len;
  return r.m;
}

static int cmp_key(const void *a, const void *b) {
  uint64_t x = ((const keyed *)a)->key, y = ((const keyed *)b)->key;
  return (x > y) - (x < y);
}

/* ---- one mask ---- */

typedef struct {
  const uint32_t *arena;
  const int64_t *offsets;
  const uint64_t *h, *w;
  int64_t n;
  int conn, holes;
  double thresh;
  frle_cc *cc;
  uint8_t *changed;
  char **strs;
  int64_t *lens;
  int (*one)(void *job, int64_t i, work *wk, frle_error *err);
  int64_t next;    /* the next mask a thread takes */
  frle_error *err; /* per thread: its lowest failing mask, code 0 if none */
} job;

static void set_stats(int64_t *st, double *ce, uint64_t x0, uint64_t y0, uint64_t wd, uint64_t ht, uint64_t area,
                      uint64_t sx, uint64_t sy) {
  st[0] = (int64_t)x0;
  st[1] = (int64_t)y0;
  st[2] = (int64_t)wd;
  st[3] = (int64_t)ht;
  st[4] = (int64_t)area;
  ce[0] = (double)sx / (double)area;
  ce[1] = (double)sy / (double)area;
}

/* Label 0: every background pixel. Its box from the background runs, its
 * sums as the whole image's minus the components'. */
static void background(const uint32_t *c, int64_t m, uint64_t h, uint64_t w, const work *wk, int64_t *st, double *ce) {
  uint64_t hw = h * w, fa = 0, fx = 0, fy = 0, pos = 0, xs = UINT64_MAX, xe = 0, ys = UINT64_MAX, ye = 0, tx, ty;
  int64_t k, j;
  for (k = 0; k < wk->nc; k++) {
    fa += wk->cs[k].area;
    fx += wk->cs[k].sx;
    fy += wk->cs[k].sy;
  }
  if (fa == hw) { /* cv2's row for a label of no pixel */
    static const uint64_t nan_bits = 0x7ff8000000000000ull;
    st[0] = -1;
    st[1] = INT32_MAX;
    st[2] = st[3] = st[4] = 0;
    memcpy(&ce[0], &nan_bits, sizeof(double));
    memcpy(&ce[1], &nan_bits, sizeof(double));
    return;
  }
  for (j = 0; j < m; j++) {
    uint64_t s = pos, e = pos + c[j];
    pos = e;
    if (j & 1 || s == e) continue;
    {
      uint64_t a = s / h, b = (e - 1) / h, ya = s - a * h, yb = e - 1 - b * h;
      if (a < b) ya = 0, yb = h - 1;
      if (a < xs) xs = a;
      if (b > xe) xe = b;
      if (ya < ys) ys = ya;
      if (yb > ye) ye = yb;
    }
  }
  /* sums over all h*w pixels: below 2^63 since h*w < 2^32 */
  tx = h * (w % 2 ? w * ((w - 1) / 2) : (w / 2) * (w - 1));
  ty = w * (h % 2 ? h * ((h - 1) / 2) : (h / 2) * (h - 1));
  set_stats(st, ce, xs, ys, xe - xs + 1, ye - ys + 1, hw - fa, tx - fx, ty - fy);
}

static int cc_one(void *vjob, int64_t i, work *wk, frle_error *err) {
  job *jb = (job *)vjob;
  const uint32_t *c = jb->arena + jb->offsets[i];
  int64_t m = jb->offsets[i + 1] - jb->offsets[i], nc, k, t, used = 0, cap = 0;
  uint64_t h = jb->h[i], w = jb->w[i], hw = h * w;
  frle_cc *o = &jb->cc[i];
  int rc;

  if ((rc = frle_check_sum(c, m, hw, err)) != FRLE_OK) return rc; /* the table may come from anywhere */
  if ((rc = segments(wk, c, m, h, 1)) != FRLE_OK) return rc;
  if ((rc = label(wk, jb->conn)) != FRLE_OK) return rc;
  nc = wk->nc;
  o->stats = (int64_t *)malloc((size_t)(nc + 1) * 5 * sizeof(int64_t));
  o->centroids = (double *)malloc((size_t)(nc + 1) * 2 * sizeof(double));
  o->ends = (int64_t *)malloc((size_t)(nc ? nc : 1) * sizeof(int64_t));
  if (!o->stats || !o->centroids || !o->ends) return FRLE_ERR_NOMEM;
  o->n = nc;
  background(c, m, h, w, wk, o->stats, o->centroids);
  if (nc == 0) return FRLE_OK;

  /* labels: cv2's order is the order of the components' keys */
  if (!FRLE_GROW(wk->ks, wk->ks_cap, nc) || !FRLE_GROW(wk->rank, wk->rank_cap, nc) ||
      !FRLE_GROW(wk->start, wk->start_cap, nc + 1) || !FRLE_GROW(wk->by, wk->by_cap, wk->nseg))
    return FRLE_ERR_NOMEM;
  for (k = 0; k < nc; k++) {
    wk->ks[k].key = wk->cs[k].key;
    wk->ks[k].c = (uint32_t)k;
  }
  qsort(wk->ks, (size_t)nc, sizeof(keyed), cmp_key);
  for (k = 0; k < nc; k++) {
    const comp *q = &wk->cs[wk->ks[k].c];
    wk->rank[wk->ks[k].c] = (uint32_t)k;
    set_stats(o->stats + 5 * (k + 1), o->centroids + 2 * (k + 1), q->x0, q->y0, (uint64_t)q->x1 - q->x0 + 1,
              (uint64_t)q->y1 - q->y0 + 1, q->area, q->sx, q->sy);
  }

  /* each component's segments, still in linear order, then its counts */
  memset(wk->start, 0, (size_t)(nc + 1) * sizeof(int64_t));
  for (t = 0; t < wk->nseg; t++) wk->start[wk->rank[wk->id[t]] + 1]++;
  for (k = 0; k < nc; k++) wk->start[k + 1] += wk->start[k];
  for (t = 0; t < wk->nseg; t++) wk->by[wk->start[wk->rank[wk->id[t]]]++] = (uint32_t)t;
  for (k = nc; k > 0; k--) wk->start[k] = wk->start[k - 1]; /* back to starts */
  wk->start[0] = 0;
  for (k = 0; k < nc; k++) {
    int64_t mk = write_counts(wk, wk->by + wk->start[k], wk->start[k + 1] - wk->start[k], NULL, h, hw, 1), need;
    if (mk < 0) return FRLE_ERR_NOMEM;
    need = used + frle_string_bound(mk) + 1;
    if (!FRLE_GROW(o->strs, cap, need)) return FRLE_ERR_NOMEM;
    used += frle_to_string(wk->cnt, mk, o->strs + used);
    o->ends[k] = used;
  }
  return FRLE_OK;
}

static int small_one(void *vjob, int64_t i, work *wk, frle_error *err) {
  job *jb = (job *)vjob;
  const uint32_t *c = jb->arena + jb->offsets[i];
  int64_t m = jb->offsets[i + 1] - jb->offsets[i], nc, k, mk, best = -1, kept = 0, small = 0;
  uint64_t h = jb->h[i], hw = h * jb->w[i];
  uint32_t *keep;
  int rc;

  if ((rc = frle_check_sum(c, m, hw, err)) != FRLE_OK) return rc; /* the table may come from anywhere */
  /* SAM labels `holes ^ mask`: the complement for holes */
  if ((rc = segments(wk, c, m, h, !jb->holes)) != FRLE_OK) return rc;
  if ((rc = label(wk, 8)) != FRLE_OK) return rc;
  nc = wk->nc;
  if (!FRLE_GROW(wk->rank, wk->rank_cap, nc ? nc : 1)) return FRLE_ERR_NOMEM;
  keep = wk->rank;
  for (k = 0; k < nc; k++) {
    const comp *q = &wk->cs[k];
    keep[k] = !((double)q->area < jb->thresh); /* SAM: small when size < area_thresh */
    small += !keep[k];
    kept += keep[k];
    /* np.argmax over cv2's labels: the largest, the lowest label among equals */
    if (best < 0 || q->area > wk->cs[best].area || (q->area == wk->cs[best].area && q->key < wk->cs[best].key))
      best = k;
  }
  jb->changed[i] = small > 0;
  if (!small) return FRLE_OK;
  /* holes: filled unless a large hole (the mask's label 0 stays); islands:
   * the large components, or the largest when none is */
  if (!jb->holes && !kept) keep[best] = 1;
  mk = write_counts(wk, NULL, wk->nseg, keep, h, hw, !jb->holes);
  if (mk < 0) return FRLE_ERR_NOMEM;
  jb->strs[i] = (char *)malloc((size_t)frle_string_bound(mk) + 1);
  if (!jb->strs[i]) return FRLE_ERR_NOMEM;
  jb->lens[i] = frle_to_string(wk->cnt, mk, jb->strs[i]);
  return FRLE_OK;
}

/* ---- batches ---- */

/* One thread: masks as they come (sizes vary a lot), its lowest failure kept. */
static void run_range(void *vjob, int64_t b, int64_t e, int tid) {
  job *jb = (job *)vjob;
  work wk;
  frle_error *best = &jb->err[tid];
  (void)b;
  (void)e;
  memset(&wk, 0, sizeof(wk));
  for (;;) {
    int64_t i = frle_fetch_add64(&jb->next, 1);
    frle_error err = {0, i, 0, 0};
    int rc;
    if (i >= jb->n) break;
    rc = jb->one(jb, i, &wk, &err);
    if (rc != FRLE_OK && (best->code == FRLE_OK || i < best->index)) {
      *best = err;
      best->code = rc;
      best->index = i;
    }
  }
  work_free(&wk);
}

/* Runs jb->one over every mask; returns the failure of the lowest mask. */
static int run_job(job *jb, int nthreads, frle_error *err) {
  frle_error errs[FRLE_MAX_THREADS];
  int k = frle_thread_count(nthreads, jb->n), t, rc = FRLE_OK;
  for (t = 0; t < k; t++) frle_fail(&errs[t], FRLE_OK, -1);
  jb->err = errs;
  jb->next = 0;
  frle_parallel_for(k, k, run_range, jb);
  for (t = 0; t < k; t++) {
    if (errs[t].code != FRLE_OK && (rc == FRLE_OK || errs[t].index < err->index)) {
      *err = errs[t];
      rc = errs[t].code;
    }
  }
  return rc;
}

int frle_components(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                    int connectivity, frle_cc *out, int nthreads, frle_error *err) {
  job jb = {.arena = arena, .offsets = offsets, .h = h, .w = w, .n = n, .conn = connectivity == 4 ? 4 : 8, .cc = out};
  int rc;
  if (n <= 0) return FRLE_OK;
  memset(out, 0, (size_t)n * sizeof(frle_cc));
  jb.one = cc_one;
  rc = run_job(&jb, nthreads, err);
  if (rc != FRLE_OK) frle_cc_free(out, n);
  return rc;
}

void frle_cc_free(frle_cc *out, int64_t n) {
  int64_t i;
  for (i = 0; i < n; i++) {
    free(out[i].stats);
    free(out[i].centroids);
    free(out[i].strs);
    free(out[i].ends);
    memset(&out[i], 0, sizeof(frle_cc));
  }
}

int frle_remove_small(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                      double area_thresh, int holes, uint8_t *changed, char **strs, int64_t *lens, int nthreads,
                      frle_error *err) {
  job jb = {.arena = arena,
            .offsets = offsets,
            .h = h,
            .w = w,
            .n = n,
            .holes = holes != 0,
            .thresh = area_thresh,
            .changed = changed,
            .strs = strs,
            .lens = lens};
  int64_t i;
  int rc;
  if (n <= 0) return FRLE_OK;
  for (i = 0; i < n; i++) {
    strs[i] = NULL;
    lens[i] = 0;
    changed[i] = 0;
  }
  jb.one = small_one;
  rc = run_job(&jb, nthreads, err);
  if (rc != FRLE_OK) {
    for (i = 0; i < n; i++) {
      free(strs[i]);
      strs[i] = NULL;
      changed[i] = 0;
    }
  }
  return rc;
}
