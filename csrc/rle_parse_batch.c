/* The batch parse of many masks (frle_parse_many, rle.h): compressed strings
 * or given counts with their sum check, on threads. */
#define _GNU_SOURCE
#include "rle.h"

#include <stdlib.h>
#include <string.h>
#include "rle_internal.h" /* frle_fail */
#include "rle_platform.h" /* frle_parallel_for, FRLE_MAX_THREADS */

/* ---- parsing ---- */

typedef struct {
  const frle_src *src;
  const uint64_t *hw;
  int strict;
  uint32_t *out;
  const int64_t *offs;
  int64_t *m;
  frle_error *err; /* per range: its first failure, code 0 if none */
} parse_ctx;

/* Ranges whose errors live on the stack: a call on one mask costs no allocation. */
#define PARSE_LOCAL_RANGES 8

/* The counts-sum check (see rle_internal.h): its one home. */
int frle_check_sum(const uint32_t *cnts, int64_t m, uint64_t hw, frle_error *err) {
  uint64_t sum = 0;
  int64_t j;
  for (j = 0; j < m; j++) sum += cnts[j];
  if (sum == hw) return FRLE_OK;
  err->pos = m;
  err->value = (int64_t)sum;
  return sum < hw ? FRLE_ERR_SUM_SHORT : FRLE_ERR_SUM_LONG;
}

/* One mask: a string is parsed, given counts are copied (and, strict, their
 * sum checked by frle_check_sum). */
static int parse_one(const frle_src *s, uint64_t hw, int strict, uint32_t *dst, int64_t *m, frle_error *err) {
  if (s->str) return frle_parse(s->str, s->len, hw, strict, dst, m, err);
  if (s->m) memcpy(dst, s->cnts, (size_t)s->m * sizeof(uint32_t));
  *m = s->m;
  return strict ? frle_check_sum(dst, s->m, hw, err) : FRLE_OK;
}

static void parse_range(void *vctx, int64_t b, int64_t e, int tid) {
  parse_ctx *c = (parse_ctx *)vctx;
  int64_t i;
  for (i = b; i < e; i++) {
    frle_error *err = &c->err[tid];
    int rc = parse_one(&c->src[i], c->hw[i], c->strict, c->out + c->offs[i], &c->m[i], err);
    if (rc != FRLE_OK) {
      err->code = rc;
      err->index = i;
      return;
    }
  }
}

int frle_parse_many(const frle_src *src, const uint64_t *hw, int64_t n, int strict, uint32_t *out, const int64_t *offs,
                    int64_t *m, int nthreads, frle_error *err) {
  frle_error local[PARSE_LOCAL_RANGES];
  parse_ctx c = {.src = src, .hw = hw, .strict = strict, .out = out, .offs = offs, .m = m, .err = local};
  int i, k = frle_thread_count(nthreads, n), rc = FRLE_OK;
  if (k > PARSE_LOCAL_RANGES && !(c.err = (frle_error *)malloc((size_t)k * sizeof(frle_error))))
    return frle_fail(err, FRLE_ERR_NOMEM, 0);
  for (i = 0; i < k; i++) c.err[i].code = FRLE_OK;
  frle_parallel_for(n, k, parse_range, &c);
  /* ranges are in index order: the first range with a failure has the lowest index */
  for (i = 0; i < k; i++) {
    if (c.err[i].code != FRLE_OK) {
      *err = c.err[i];
      rc = err->code;
      break;
    }
  }
  if (c.err != local) free(c.err);
  return rc;
}
