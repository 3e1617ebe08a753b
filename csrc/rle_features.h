/*
 * Spatial features of COCO RLE masks computed on the runs, without dense
 * decoding: areas, centroids and pairwise intersection counts.
 *
 * Input is a ragged table of parsed, validated counts (as frle_parse gives):
 * mask i's runs are arena[offsets[i] .. offsets[i+1]), alternating
 * background/foreground and starting with background, in column-major
 * order over an h x w image (h*w <= FRLE_MAX_PIXELS). All masks share h, w.
 * No function here takes the GIL or allocates unless it says so.
 */
#ifndef FASTRLE_RLE_FEATURES_H
#define FASTRLE_RLE_FEATURES_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Per mask: area[i] = foreground pixels; sx[i], sy[i] = exact sums of the
 * foreground pixels' column (x) and row (y) indices. The sums are exact in
 * uint64 for every valid size (each is below 2^63 when h*w < 2^32). */
void frle_moments(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h, uint64_t *area, uint64_t *sx,
                  uint64_t *sy);

/* inter[i*n + j] = |mask i AND mask j| for all i, j (symmetric; the diagonal
 * is the area). Pairs whose bounding boxes do not overlap cost nothing; the
 * others are merge-walked over the columns both boxes share only.
 * Allocates work memory; returns 0, or -1 when out of memory. */
int frle_intersections(const uint32_t *arena, const int64_t *offsets, int64_t n, uint64_t h, uint64_t w,
                       uint64_t *inter);

/* Building blocks of frle_intersections, shared with the drop-in's IoU
 * (rle_ops.c). A mask as sorted, disjoint foreground intervals [s, e) of
 * linear (column-major) positions, plus its bounding box in columns and rows
 * (inclusive; k == 0 means empty and the box is meaningless). */
typedef struct {
  const uint32_t *s, *e;
  int64_t k;
  uint64_t x0, x1, y0, y1;
} frle_fg;

/* Fill f from validated counts c[0..m) of a mask of height h (> 0 when any
 * foreground run is non-empty); starts/ends need room for m/2 + 1 entries.
 * Returns the area. */
uint64_t frle_fg_build(const uint32_t *c, int64_t m, uint64_t h, uint32_t *starts, uint32_t *ends, frle_fg *f);

/* Whether the boxes of two non-empty masks overlap. */
int frle_fg_boxes_meet(const frle_fg *a, const frle_fg *b);

/* |a AND b| for two masks of the same height h, walking only the columns
 * both boxes share. */
uint64_t frle_fg_overlap(const frle_fg *a, const frle_fg *b, uint64_t h);

#ifdef __cplusplus
}
#endif
#endif /* FASTRLE_RLE_FEATURES_H */
