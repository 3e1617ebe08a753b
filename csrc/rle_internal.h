/* Internals shared by the C core's translation units. Not installed. */
#ifndef FASTRLE_RLE_INTERNAL_H
#define FASTRLE_RLE_INTERNAL_H

#include "rle.h"
#include "rle_compat.h" /* FRLE_FORCE_INLINE */
#include "rle_dispatch.h"
#include "rle_scratch.h"

/* Row spans of one validated mask (runs sum to h*w), without writing it:
 * afterwards rows [scr->ylo, scr->yhi) hold foreground (ylo == yhi: none),
 * and row y's span boundaries are scr->tr[start .. scr->row[y]), where start
 * is 0 for y == ylo and scr->row[y-1] otherwise: sorted x0,x1 pairs, each a
 * foreground span [x0, x1). Returns FRLE_OK or FRLE_ERR_NOMEM. */
int frle_row_transitions(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, frle_scratch *scr);

/* Whether the bit-band decode (rle_decode.c) is the faster one for a
 * validated h x w mask of runs cnts[0..m). */
int frle_bits_pays(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w);

/* Packed rows of a validated h x w mask through the bit bands: row r's
 * ceil(w/8) bytes, np.packbits' order (little: bit j of byte k is pixel
 * 8k+j; else pixel 8k+7-j), at base + r' * stride, where r' is r (flip_v:
 * h-1-r). zeroed: the rows are zero already. FRLE_OK or FRLE_ERR_NOMEM. */
int frle_decode_bits_packed(const uint32_t *cnts, int64_t m, uint64_t h, uint64_t w, uint8_t *base, int64_t stride,
                            int flip_v, int little, int zeroed, frle_scratch *scr);

/* Batches of per-mask work: every mask is parsed and validated first (as in
 * frle_decode_batch), then fn(ctx, i, counts, m, scr, err) runs for each
 * mask i on nthreads threads. fn returns FRLE_OK or an error code. */
typedef int (*frle_mask_fn)(void *ctx, int64_t i, const uint32_t *cnts, int64_t m, frle_scratch *scr, frle_error *err);
int frle_batch_apply(const frle_src *src, int64_t n, uint64_t h, uint64_t w, frle_mask_fn fn, void *ctx, int nthreads,
                     frle_error *err);

/* A failure of mask `index` with no position or value (size, memory, or a
 * code handed up) into *err; returns code. */
static inline int frle_fail(frle_error *err, int code, int64_t index) {
  err->code = code;
  err->index = index;
  err->pos = 0;
  err->value = 0;
  return code;
}

/* Move column x (and cs = x * h) forward to the column holding position s
 * of a column-major h-row mask, which is at or past cs; returns s's row.
 * Runs come in order, so this is an add unless a run skipped a whole
 * column (rle_decode.c, rle_components.c). */
static FRLE_FORCE_INLINE uint64_t column_of(uint64_t s, uint64_t h, uint64_t *x, uint64_t *cs) {
  uint64_t d = s - *cs;
  if (d >= h) {
    if (d < 2 * h) {
      (*x)++;
      *cs += h;
    } else {
      *x = s / h;
      *cs = *x * h;
    }
    d = s - *cs;
  }
  return d;
}

/* The runs cnts[0 .. m) of a table the caller did not parse (it may come
 * from anywhere) must sum to hw: FRLE_OK, or FRLE_ERR_SUM_SHORT /
 * FRLE_ERR_SUM_LONG with err->pos = m and err->value = the sum (the
 * parse's pos and value), the index left to the caller. */
int frle_check_sum(const uint32_t *cnts, int64_t m, uint64_t hw, frle_error *err); /* rle_parse_batch.c */

/* The vector parse behind frle_parse (rle_parse_simd.c): 1 when it parsed
 * s into cnts[0 .. *m) and every check passed; 0 when the caller must run
 * the scalar parse (an error anywhere, or no vector kernel), with cnts then
 * partly written. */
int frle_parse_fast(const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m);

/* One kernel by level (FRLE_ISA_*, rle_dispatch.h), for tests: as
 * frle_parse_fast, or -1 where this CPU or build lacks the kernel. */
int frle_parse_fast_isa(int level, const char *s, int64_t len, uint64_t hw, int strict, uint32_t *cnts, int64_t *m);

/* The decode's line fill in use (rle_decode.c): "avx512", "avx2", "sse2"
 * (x86), "neon" (AArch64 stnp), or "scalar" (plain stores). */
const char *frle_fill_isa(void);

#endif
