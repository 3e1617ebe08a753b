/* Contours of masks from their runs (rle_contour.c): the borders that
 * OpenCV's findContours (Suzuki & Abe border following, OpenCV >= 4.9
 * rules) finds on the decoded (h, w) mask, with the same points, order,
 * start points, orientation and hierarchy. */
#ifndef FASTRLE_RLE_CONTOUR_H
#define FASTRLE_RLE_CONTOUR_H

#include <stdint.h>
#include "rle.h"

/* Retrieval modes (cv2.RETR_EXTERNAL, cv2.RETR_CCOMP) and point rules
 * (cv2.CHAIN_APPROX_NONE, cv2.CHAIN_APPROX_SIMPLE). */
enum { FRLE_CONTOUR_EXTERNAL = 0, FRLE_CONTOUR_CCOMP = 1 };
enum { FRLE_APPROX_NONE = 0, FRLE_APPROX_SIMPLE = 1 };

/* Where the tracer keeps a mask's pixel values (the output is the same):
 * AUTO chooses per mask (rle_contour.c, use_crop): CROP, the bounding box
 * as bytes, while it is small or small for the mask's runs; else SPARSE,
 * the row spans and a byte per pixel only for the pixels next to the
 * background, memory proportional to the runs and the perimeter. */
enum { FRLE_STORE_AUTO = 0, FRLE_STORE_CROP = 1, FRLE_STORE_SPARSE = 2 };
#define FRLE_CROP_BYTES ((int64_t)1 << 22)
#define FRLE_CROP_PER_BOUNDARY 64

/* The rings of one mask in cv2's output order. Ring r has the points
 * xy[2*off[r] .. 2*off[r+1]) as x, y pairs, and hier[4*r .. 4*r+4) is cv2's
 * hierarchy row: next, previous, first child, parent (-1: none). */
typedef struct {
  int32_t *xy;
  int64_t *off; /* nrings + 1 entries */
  int32_t *hier;
  int64_t nrings;
} frle_rings;

/* With outline, each ring is instead its pixel outline: the corners of
 * the boundary between the ring's pixels and the background they face, in
 * the ring's orientation, as integers: (X, Y) is the top-left corner of
 * pixel (X, Y); with FRLE_APPROX_SIMPLE only the corners where it turns. */
/* The rings of masks i in [0, n): counts arena + offsets[i] .. offsets[i+1],
 * on nthreads threads, the pixel values in store (FRLE_STORE_*). out[0 .. n)
 * is written; free each with frle_rings_free, or move them all with
 * frle_rings_pack. Returns FRLE_OK, or, with err naming the lowest such
 * mask, FRLE_ERR_SUM_SHORT / FRLE_ERR_SUM_LONG (counts that do not sum to
 * h[i] * w[i]; err's pos and value as the parse's) or FRLE_ERR_SIZE (a side
 * longer than 2^31 - 3: points are int32), checked before any tracing; or
 * FRLE_ERR_NOMEM (a mask that failed); on failure nothing is left
 * allocated in out. */
int frle_contours(const uint32_t *arena, const int64_t *offsets, const uint64_t *h, const uint64_t *w, int64_t n,
                  int mode, int approx, int outline, int store, int nthreads, frle_rings *out, frle_error *err);

/* frle_contours on masks not parsed yet: src[i] (rle.h), h[i] x w[i]
 * (h[i] * w[i] checked by frle_check_size), each parsed strictly (strings)
 * or sum-checked (given counts) on the threads. On a failure of the parse
 * or the sums, the returned code and err are of a mask that failed, not
 * always the lowest: the caller's parse (frle_parse_many) names it. */
int frle_contours_src(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode, int approx,
                      int outline, int store, int nthreads, frle_rings *out, frle_error *err);

/* What frle_contours_src_each hands each mask's rings to: mask i's rings
 * in r, valid during the call (freed after it). Returns 0 to go on; any
 * other value (choose one that is no FRLE_* code, e.g. -1) stops the job,
 * which then returns it. */
typedef int (*frle_rings_sink)(void *ctx, int64_t i, frle_rings *r);

/* frle_contours_src, each mask's rings handed to sink on the calling
 * thread as soon as it and every mask taken before it are traced (on
 * several threads masks are taken longest counts first, not in index
 * order), while the other threads
 * trace the rest: the caller's work on the rings overlaps the tracing.
 * out[0 .. n) is scratch (nothing is left in it). Each mask goes to sink
 * at most once; on a failure (returned as frle_contours_src's) the masks
 * already handed over are the caller's to drop. */
int frle_contours_src_each(const frle_src *src, const uint64_t *h, const uint64_t *w, int64_t n, int mode, int approx,
                           int outline, int store, int nthreads, frle_rings *out, frle_rings_sink sink, void *ctx,
                           frle_error *err);

void frle_rings_free(frle_rings *r);

/* Moves the rings of out[0 .. n) into flat arrays and frees them, on
 * nthreads threads (one below FRLE_PACK_SERIAL_POINTS points): mask i's rings become rings rbase[i] .. rbase[i+1]
 * (rbase[i+1] - rbase[i] == out[i].nrings), its points start at point
 * pbase[i] (pbase[i+1] - pbase[i] its point count); ring r is the points
 * off[r] .. off[r+1] of xy (x, y pairs; off has rbase[n] + 1 entries) and
 * its hierarchy row is hier[4*r .. 4*r+4), ring numbers within its mask. */
#define FRLE_PACK_SERIAL_POINTS ((int64_t)1 << 20) /* fewer points: the pack on one thread */
void frle_rings_pack(frle_rings *out, int64_t n, const int64_t *rbase, const int64_t *pbase, int32_t *xy, int64_t *off,
                     int32_t *hier, int nthreads);

#endif
