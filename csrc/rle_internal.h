/* Internals shared by the C core's translation units. Not installed. */
#ifndef FASTRLE_RLE_INTERNAL_H
#define FASTRLE_RLE_INTERNAL_H

#include "rle.h"
#include "rle_dispatch.h"

/* Per-thread work memory, grown on demand and reused across masks, so the
 * hot loop never calls malloc for masks of a size already seen. */
struct frle_scratch {
  uint32_t *seg;   int64_t seg_cap;   /* column segments: x, y0, y1 triples */
  uint32_t *ev;    int64_t ev_cap;    /* transition intervals: x, ya, yb */
  int64_t  *row;   int64_t row_cap;   /* per-row offsets into tr (h+1) */
  uint32_t *tr;    int64_t tr_cap;    /* transition columns, grouped by row */
  uint64_t *pos;   int64_t pos_cap;   /* encode: boundary positions */
  uint64_t ylo, yhi;                  /* rows holding transitions */
  uint8_t  *aux;   int64_t aux_cap;   /* transforms: bytes of work memory */
  uint32_t *rcnt;  int64_t rcnt_cap;  /* transforms: runs of the resized mask */
  uint32_t *rseg;  int64_t rseg_cap;  /* transforms: one column's segments */
};

/* Make *buf hold at least n elements of size elem; returns 0 on failure. */
int frle_grow(void **buf, int64_t *cap, int64_t n, size_t elem);

#define FRLE_GROW(ptr, cap, n) frle_grow((void **)&(ptr), &(cap), (n), sizeof(*(ptr)))

/* Row spans of one validated mask (runs sum to h*w), without writing it:
 * afterwards rows [scr->ylo, scr->yhi) hold foreground (ylo == yhi: none),
 * and row y's span boundaries are scr->tr[start .. scr->row[y]), where start
 * is 0 for y == ylo and scr->row[y-1] otherwise: sorted x0,x1 pairs, each a
 * foreground span [x0, x1). Returns FRLE_OK or FRLE_ERR_NOMEM. */
int frle_row_transitions(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w,
                         frle_scratch *scr);

/* Batches of per-mask work: every mask is parsed and validated first (as in
 * frle_decode_batch), then fn(ctx, i, counts, m, scr, err) runs for each
 * mask i on nthreads threads. fn returns FRLE_OK or an error code. */
typedef int (*frle_mask_fn)(void *ctx, int64_t i, const uint32_t *cnts, int64_t m,
                            frle_scratch *scr, frle_error *err);
int frle_batch_apply(const frle_src *src, int64_t n, uint64_t h, uint64_t w,
                     frle_mask_fn fn, void *ctx, int nthreads, frle_error *err);

/* The vector parse behind frle_parse (rle_parse_simd.c): 1 when it parsed
 * s into cnts[0 .. *m) and every check passed; 0 when the caller must run
 * the scalar parse (an error anywhere, or no vector kernel), with cnts then
 * partly written. */
int frle_parse_fast(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m);

/* One kernel by level (FRLE_ISA_*, rle_dispatch.h), for tests: as
 * frle_parse_fast, or -1 where this CPU or build lacks the kernel. */
int frle_parse_fast_isa(int level, const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts,
                        int64_t *m);

/* The decode's line fill in use (rle_decode.c): "avx512", "avx2", "sse2",
 * or "scalar" in a build without SSE2. */
const char *frle_fill_isa(void);

#endif
