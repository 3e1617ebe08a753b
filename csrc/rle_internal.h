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

/* Steps 1-3 of the row-major decode of one validated mask of height h:
 * the foreground as row spans. Rows [scr->ylo, scr->yhi) hold foreground
 * (ylo == yhi when the mask is empty); row y's span boundaries are
 * scr->tr[start..scr->row[y]), x0,x1 pairs sorted by x, spans [x0, x1),
 * where start is scr->row[y-1] (0 for y == ylo). Returns FRLE_OK or
 * FRLE_ERR_NOMEM. */
int frle_row_transitions(const uint32_t *cnts, int64_t m, uint64_t h, frle_scratch *scr);

/* Make *buf hold at least n elements of size elem; returns 0 on failure. */
int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem);

#define FRLE_GROW(ptr, cap, n) frle_grow((void **)&(ptr), &(cap), (n), sizeof(*(ptr)))

#endif
