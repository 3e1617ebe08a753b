/*
 * The fork/join runner of the batch parse (frle_parse_many) and of the ops
 * on many masks (rle_ops.c). No function here takes the GIL.
 */
#ifndef FASTRLE_RLE_DROPIN_H
#define FASTRLE_RLE_DROPIN_H

#include <stdint.h>
#include "rle.h"

#ifdef __cplusplus
extern "C" {
#endif

/* fn(ctx, begin, end, tid) over [0, n) split into nthreads contiguous ranges
 * (nthreads <= 0: all CPUs); the caller's thread runs range 0, and a range
 * whose thread cannot start runs on the caller's thread too. */
typedef void (*frle_range_fn)(void *ctx, int64_t begin, int64_t end, int tid);
void frle_parallel_for(int64_t n, int nthreads, frle_range_fn fn, void *ctx);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_DROPIN_H */
