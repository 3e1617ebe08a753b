/* Batches: validate every mask first, then write, on a few threads. */
#include <stdlib.h>
#include <string.h>
#include "rle_internal.h"
#include "rle_platform.h"

typedef struct job job;
typedef int (*phase_fn)(job *jb, int64_t begin, int64_t end, frle_scratch *scr, frle_error *err);

struct job {
  const frle_src *src;
  int64_t n;
  uint64_t h, w, hw;
  int zeroed;
  char order;
  const int64_t *offsets; /* arena start per mask */
  uint32_t *arena;
  int64_t *m;
  uint8_t *out;
  /* encode */
  const uint8_t *in;
  int64_t mask_stride, row_stride;
  int colmajor, nonzero;
  char **strs;
  int64_t *lens;
  phase_fn phase;
  struct worker *wk; /* one per thread (run_job) */
  /* frle_batch_apply */
  frle_mask_fn fn;
  void *ctx;
};

typedef struct worker {
  frle_scratch *scr;
  frle_error err;
  int rc;
} worker;

/* One thread's range of masks in the current phase; its scratch memory
 * stays with its slot from phase to phase. */
static void run_range(void *ctx, int64_t b, int64_t e, int tid) {
  job *jb = (job *)ctx;
  worker *wk = &jb->wk[tid];
  if (!wk->scr) wk->scr = frle_scratch_new();
  wk->rc = wk->scr ? jb->phase(jb, b, e, wk->scr, &wk->err) : FRLE_ERR_NOMEM;
}

/* Runs phases[] over masks [0, n) split into contiguous ranges, one per
 * thread (frle_parallel_for). Each phase is a fork and a join, so no phase
 * starts before the previous one has finished everywhere: nothing is
 * written before every mask has been validated. On failure it reports the
 * error of the lowest mask index, independent of scheduling. */
static int run_job(job *jb, const phase_fn *phases, int nphase, int nthreads, frle_error *err) {
  worker one;
  int i, p, rc = FRLE_OK;
  int64_t best = -1;

  nthreads = frle_thread_count(nthreads, jb->n);
  jb->wk = nthreads > 1 ? (worker *)calloc((size_t)nthreads, sizeof(worker)) : NULL;
  if (!jb->wk) {
    jb->wk = &one;
    nthreads = 1;
  } /* no memory for more: one thread */
  memset(jb->wk, 0, sizeof(worker) * (size_t)nthreads);
  for (i = 0; i < nthreads; i++) jb->wk[i].err.index = -1;

  for (p = 0; p < nphase && rc == FRLE_OK; p++) {
    jb->phase = phases[p];
    frle_parallel_for(jb->n, nthreads, run_range, jb);
    for (i = 0; i < nthreads; i++) {
      worker *wk = &jb->wk[i];
      if (wk->rc != FRLE_OK && (best < 0 || wk->err.index < best)) {
        best = wk->err.index;
        *err = wk->err;
        err->code = rc = wk->rc;
      }
    }
  }
  for (i = 0; i < nthreads; i++) frle_scratch_free(jb->wk[i].scr);
  if (jb->wk != &one) free(jb->wk);
  jb->wk = NULL;
  return rc;
}

static const uint32_t *counts_of(const job *jb, int64_t i) { return jb->arena + jb->offsets[i]; }

static int phase_write(job *jb, int64_t b, int64_t e, frle_scratch *scr, frle_error *err) {
  int64_t i;
  for (i = b; i < e; i++) {
    uint8_t *dst = jb->out + (uint64_t)i * jb->hw;
    err->index = i;
    if (jb->order == 'F') {
      frle_decode_colmajor(counts_of(jb, i), jb->m[i], dst, jb->zeroed);
    } else {
      int rc = frle_decode_rowmajor(counts_of(jb, i), jb->m[i], jb->h, jb->w, dst, jb->zeroed, scr);
      if (rc != FRLE_OK) return rc;
    }
  }
  return FRLE_OK;
}

static int phase_apply(job *jb, int64_t b, int64_t e, frle_scratch *scr, frle_error *err) {
  int64_t i;
  for (i = b; i < e; i++) {
    int rc;
    err->index = i;
    rc = jb->fn(jb->ctx, i, counts_of(jb, i), jb->m[i], scr, err);
    if (rc != FRLE_OK) return rc;
  }
  return FRLE_OK;
}

/* Parse and validate every mask into an arena (the batch parse,
 * frle_parse_many), then run `second` over all masks: the shared body of
 * frle_decode_batch and frle_batch_apply. */
static int parse_then(job *jb, const frle_src *src, int64_t n, uint64_t h, uint64_t w, phase_fn second, int nthreads,
                      frle_error *err) {
  int64_t i, total = 0, *offsets = NULL, *m = NULL;
  uint64_t *hws = NULL;
  uint32_t *arena = NULL;
  int rc;
  uint64_t hw;

  if (n == 0) return FRLE_OK;
  if (frle_check_size(h, w, &hw) != FRLE_OK) return frle_fail(err, FRLE_ERR_SIZE, 0);
  offsets = (int64_t *)malloc((size_t)n * sizeof(int64_t));
  m = (int64_t *)malloc((size_t)n * sizeof(int64_t));
  hws = (uint64_t *)malloc((size_t)n * sizeof(uint64_t));
  for (i = 0; i < n; i++) {
    if (!offsets || !hws) break;
    offsets[i] = total;
    hws[i] = hw;
    total += src[i].str ? src[i].len : src[i].m; /* a string: at most one count per char */
  }
  arena = (uint32_t *)malloc((size_t)(total ? total : 1) * sizeof(uint32_t));
  if (!offsets || !m || !hws || !arena) {
    rc = frle_fail(err, FRLE_ERR_NOMEM, 0);
  } else {
    rc = frle_parse_many(src, hws, n, 1, arena, offsets, m, nthreads, err);
    if (rc == FRLE_OK) {
      jb->src = src;
      jb->n = n;
      jb->h = h;
      jb->w = w;
      jb->hw = hw;
      jb->offsets = offsets;
      jb->arena = arena;
      jb->m = m;
      rc = run_job(jb, &second, 1, nthreads, err);
    }
  }
  free(offsets);
  free(m);
  free(hws);
  free(arena);
  return rc;
}

int frle_batch_apply(const frle_src *src, int64_t n, uint64_t h, uint64_t w, frle_mask_fn fn, void *ctx, int nthreads,
                     frle_error *err) {
  job jb = {.fn = fn, .ctx = ctx};
  return parse_then(&jb, src, n, h, w, phase_apply, nthreads, err);
}

int frle_decode_batch(const frle_src *src, int64_t n, uint64_t h, uint64_t w, uint8_t *out, char order, int zeroed,
                      int nthreads, frle_error *err) {
  job jb = {.zeroed = zeroed, .order = order, .out = out};
  return parse_then(&jb, src, n, h, w, phase_write, nthreads, err);
}

static int phase_encode(job *jb, int64_t b, int64_t e, frle_scratch *scr, frle_error *err) {
  int64_t i, cap = 0, m;
  uint32_t *cnts = NULL;
  int rc = FRLE_OK;
  for (i = b; i < e && rc == FRLE_OK; i++) {
    const uint8_t *mk = jb->in + i * jb->mask_stride;
    err->index = i;
    if (jb->colmajor) {
      m = frle_encode_colmajor(mk, jb->hw, jb->nonzero, &cnts, &cap);
    } else {
      m = frle_encode_rowmajor(mk, jb->h, jb->w, jb->row_stride, jb->nonzero, &cnts, &cap, scr);
    }
    if (m < 0) {
      rc = FRLE_ERR_NOMEM;
      break;
    }
    jb->strs[i] = (char *)malloc((size_t)frle_string_bound(m) + 1);
    if (!jb->strs[i]) {
      rc = FRLE_ERR_NOMEM;
      break;
    }
    jb->lens[i] = frle_to_string(cnts, m, jb->strs[i]);
  }
  free(cnts);
  return rc;
}

int frle_encode_batch(const uint8_t *base, int64_t n, uint64_t h, uint64_t w, int64_t mask_stride, int64_t row_stride,
                      int colmajor, int nonzero, char **strs, int64_t *lens, int nthreads, frle_error *err) {
  job jb = {.n = n,
            .h = h,
            .w = w,
            .in = base,
            .mask_stride = mask_stride,
            .row_stride = row_stride,
            .colmajor = colmajor,
            .nonzero = nonzero,
            .strs = strs,
            .lens = lens};
  phase_fn phases[1] = {phase_encode};
  int rc;
  int64_t i;
  if (n == 0) return FRLE_OK;
  if (frle_check_size(h, w, &jb.hw) != FRLE_OK) return frle_fail(err, FRLE_ERR_SIZE, 0);
  for (i = 0; i < n; i++) strs[i] = NULL;
  rc = run_job(&jb, phases, 1, nthreads, err);
  if (rc != FRLE_OK)
    for (i = 0; i < n; i++) {
      free(strs[i]);
      strs[i] = NULL;
    }
  return rc;
}
