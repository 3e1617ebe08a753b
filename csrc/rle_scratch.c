/* Per-thread scratch memory: see rle_scratch.h. */
#include <stdlib.h>
#include "rle_internal.h"

int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem) {
  int64_t c;
  void *p;
  if (n <= *cap) return 1;
  c = *cap ? *cap : 64;
  while (c < n) c *= 2;
  p = realloc(*buf, (size_t)c * elem);
  if (!p) return 0;
  *buf = p;
  *cap = c;
  return 1;
}

frle_scratch *frle_scratch_new(void) { return (frle_scratch *)calloc(1, sizeof(frle_scratch)); }

void frle_scratch_free(frle_scratch *s) {
  if (!s) return;
  free(s->seg);
  free(s->ev);
  free(s->row);
  free(s->tr);
  free(s->pos);
  free(s->aux);
  free(s->rcnt);
  free(s->rseg);
  free(s->stage);
  free(s->bits);
  free(s->bwork);
  free(s);
}
