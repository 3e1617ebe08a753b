/* Internals shared by the C core's translation units. Not installed. */
#ifndef FASTRLE_RLE_INTERNAL_H
#define FASTRLE_RLE_INTERNAL_H

#include "rle.h"

/* Per-thread work memory, grown on demand and reused across masks, so the
 * hot loop never calls malloc for masks of a size already seen. */
struct frle_scratch {
  uint32_t *seg;   int64_t seg_cap;   /* column segments: x, y0, y1 triples */
  uint32_t *ev;    int64_t ev_cap;    /* transition intervals: x, ya, yb */
  int64_t  *row;   int64_t row_cap;   /* per-row offsets into tr (h+1) */
  uint32_t *tr;    int64_t tr_cap;    /* transition columns, grouped by row */
  uint64_t *pos;   int64_t pos_cap;   /* encode: boundary positions */
  uint64_t ylo, yhi;                  /* rows holding transitions */
};

/* Make *buf hold at least n elements of size elem; returns 0 on failure. */
int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem);

#define FRLE_GROW(ptr, cap, n) frle_grow((void **)&(ptr), &(cap), (n), sizeof(*(ptr)))

#endif
