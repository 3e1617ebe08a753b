/* Per-thread scratch memory of the C core (rle_scratch.c): one frle_scratch
 * per thread, grown on demand and reused across masks. Not installed. */
#ifndef FASTRLE_RLE_SCRATCH_H
#define FASTRLE_RLE_SCRATCH_H

#include <stddef.h>
#include <stdint.h>
#include "rle.h" /* frle_scratch_new, frle_scratch_free */

/* Per-thread work memory, grown on demand and reused across masks, so the
 * hot loop never calls malloc for masks of a size already seen. */
struct frle_scratch {
  uint32_t *seg;
  int64_t seg_cap;   /* column segments: x, y0, y1 triples */
  uint32_t *ev;
  int64_t ev_cap;    /* transition intervals: x, ya, yb */
  int64_t *row;
  int64_t row_cap;   /* per-row offsets into tr (h+1) */
  uint32_t *tr;
  int64_t tr_cap;    /* transition columns, grouped by row */
  uint64_t *pos;
  int64_t pos_cap;   /* encode: boundary positions */
  uint64_t ylo, yhi;                  /* rows holding transitions */
  uint8_t *aux;
  int64_t aux_cap;   /* transforms: bytes of work memory */
  uint32_t *rcnt;
  int64_t rcnt_cap;  /* transforms: runs of the resized mask */
  uint32_t *rseg;
  int64_t rseg_cap;  /* transforms: one column's segments */
  uint8_t *stage;
  int64_t stage_cap;  /* decode: a band of output rows, expanded then copied out */
  int64_t stage_zero; /* stage[0 .. stage_zero) is zero (its users clear what they write) */
  uint64_t *bits;
  int64_t bits_cap;  /* decode: the mask as bits, a word per (band of 64 rows, column) */
  int64_t bits_zero; /* bits[0 .. bits_zero) are zero (the bit decode clears what it set) */
  uint64_t *bwork;
  int64_t bwork_cap; /* decode: per band, its touched blocks; one block's row words per group */
};

/* Make *buf hold at least n elements of size elem; returns 0 on failure. */
int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem);

#define FRLE_GROW(ptr, cap, n) frle_grow((void **)&(ptr), &(cap), (n), sizeof(*(ptr)))

#endif
